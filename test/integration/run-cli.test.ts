// `deploy-witness run` as a real process: reports as JSON lines on stdout (or
// --report-file), logs on stderr, configuration from a YAML file with flags
// winning, clean exits on SIGTERM/SIGINT, exit 2 on a bad configuration.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { watch } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCore, type MadeCore } from '../../scripts/simulated-core.js';
import { verifyCommand } from '../../src/cli/verify.js';
import { onLines } from '../lib/lines.js';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/bin.js');
const WAIT_MS = 30_000;
/** The Greengrass nucleus gives a component this long between SIGTERM and SIGKILL's worth of patience. */
const STOP_BUDGET_MS = 2_000;
const MAX_LINES = 10_000;

type Doc = Record<string, unknown> & { schema?: string; status?: string; level?: string; message?: string };

interface Stream {
  docs: Doc[];
  text: string[];
}

interface Run {
  child: ChildProcess;
  stdout: Stream;
  stderr: Stream;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** The first line on `which` (seen or to come) that matches. */
  waitFor(which: 'stdout' | 'stderr', pred: (d: Doc) => boolean, what: string): Promise<Doc>;
  dump(): string;
}

function collect(stream: NodeJS.ReadableStream, into: Stream, bus: EventEmitter, name: string): void {
  onLines(stream, (line) => {
    if (!line.trim()) return;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      doc = undefined;
    }
    if (doc && typeof doc === 'object') {
      into.docs.push(doc as Doc);
      if (into.docs.length > MAX_LINES) into.docs.shift();
      bus.emit(name, doc);
    } else {
      into.text.push(line);
      if (into.text.length > MAX_LINES) into.text.shift();
    }
  });
}

function startRun(t: TestContext, args: string[], opts: { cwd?: string } = {}): Run {
  const env = { ...process.env };
  // Local mode: no nucleus, whatever the machine running the tests has set.
  for (const k of ['AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT', 'SVCUID', 'AWS_IOT_THING_NAME']) delete env[k];
  const child = spawn(process.execPath, [BIN, 'run', ...args], { env, cwd: opts.cwd ?? process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const stdout: Stream = { docs: [], text: [] };
  const stderr: Stream = { docs: [], text: [] };
  collect(child.stdout!, stdout, bus, 'stdout');
  collect(child.stderr!, stderr, bus, 'stderr');
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((res) =>
    child.once('exit', (code, signal) => {
      done = true;
      bus.emit('exit');
      res({ code, signal, at: Date.now() });
    }),
  );
  t.after(async () => {
    if (!done) child.kill('SIGKILL');
    await exited;
  });
  const dump = () =>
    `stdout:\n${[...stdout.docs.map((d) => JSON.stringify(d).slice(0, 300)), ...stdout.text].slice(-20).join('\n')}\n` +
    `stderr:\n${[...stderr.docs.map((d) => JSON.stringify(d).slice(0, 300)), ...stderr.text].slice(-20).join('\n')}`;
  return {
    child,
    stdout,
    stderr,
    exited,
    dump,
    waitFor(which, pred, what) {
      const s = which === 'stdout' ? stdout : stderr;
      const seen = s.docs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((res, rej) => {
        const off = () => {
          clearTimeout(timer);
          bus.off(which, onDoc);
          bus.off('exit', onExit);
        };
        const onDoc = (d: Doc) => {
          if (pred(d)) {
            off();
            res(d);
          }
        };
        const onExit = () => {
          off();
          rej(new Error(`exited before ${what} on ${which}\n${dump()}`));
        };
        const timer = setTimeout(() => {
          off();
          rej(new Error(`no ${what} on ${which} within ${WAIT_MS} ms\n${dump()}`));
        }, WAIT_MS);
        bus.on(which, onDoc);
        if (done) onExit();
        else bus.on('exit', onExit);
      });
    },
  };
}

async function tempCore(t: TestContext, spec: Partial<Parameters<typeof makeCore>[0]> = {}): Promise<{ dir: string; core: MadeCore; state: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-run-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const core = await makeCore({ root: join(dir, 'core'), ...spec });
  return { dir, core, state: join(dir, 'state') };
}

const isReport = (d: Doc) => d.schema === 'deploy-witness/report';
const isLog = (d: Doc) => typeof d.level === 'string' && typeof d.message === 'string';
const findingsOf = (d: Doc) => (d.findings as { code: string; path?: string }[]) ?? [];

/** Sends a signal and resolves with the exit and how long it took. */
async function signalAndWait(run: Run, sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const sent = Date.now();
  run.child.kill(sig);
  // Past the nucleus' patience, kill it so the test reports instead of hanging.
  const guard = setTimeout(() => run.child.kill('SIGKILL'), WAIT_MS);
  const e = await run.exited;
  clearTimeout(guard);
  return { code: e.code, signal: e.signal, ms: e.at - sent };
}

test('reports on stdout, logs on stderr; a tamper is reported; SIGTERM exits 0 promptly', async (t) => {
  const { core, state } = await tempCore(t);
  const run = startRun(t, ['--root', core.root, '--state', state]);
  const first = await run.waitFor('stdout', isReport, 'the first report');
  assert.equal(first.status, 'VERIFIED', run.dump());
  assert.equal(first.sequence, 1);
  await run.waitFor('stderr', (d) => d.message === 'agent started', 'the "agent started" log');

  const rel = `${core.paths.lambdaDir}/config.json`;
  await writeFile(join(core.root, rel), 'tampered\n');
  const bad = await run.waitFor('stdout', (d) => isReport(d) && findingsOf(d).some((f) => f.code === 'ARTIFACT_MODIFIED' && f.path === rel), 'the tamper report');
  assert.equal(bad.status, 'TAMPERED');

  const exit = await signalAndWait(run, 'SIGTERM');
  assert.deepEqual([exit.code, exit.signal], [0, null], run.dump());
  assert.ok(exit.ms < STOP_BUDGET_MS, `stopped in ${exit.ms} ms`);
  // Nothing but reports and heartbeats on stdout; nothing but logs on stderr.
  assert.deepEqual(run.stdout.text, []);
  assert.ok(run.stdout.docs.every((d) => d.schema === 'deploy-witness/report' || d.schema === 'deploy-witness/heartbeat'), run.dump());
  assert.ok(run.stderr.docs.every(isLog), run.dump());
  assert.ok(run.stderr.docs.some((d) => d.message === 'stopping' && d.reason === 'SIGTERM'), run.dump());
});

test('SIGINT stops it cleanly too', async (t) => {
  const { core, state } = await tempCore(t);
  const run = startRun(t, ['--root', core.root, '--state', state]);
  await run.waitFor('stdout', isReport, 'the first report');
  const exit = await signalAndWait(run, 'SIGINT');
  assert.deepEqual([exit.code, exit.signal], [0, null], run.dump());
  assert.ok(exit.ms < STOP_BUDGET_MS, `stopped in ${exit.ms} ms`);
});

test('SIGTERM during a long first pass: exit 0 promptly, no report', async (t) => {
  // ~2 MB at 0.25 MB/s: the first pass would take several seconds.
  const { core, state } = await tempCore(t, { lambdaFiles: 400 });
  await mkdir(state, { recursive: true });
  const locked = new Promise<void>((res) => {
    const w = watch(state, (_e, name) => {
      if (name === 'agent.lock') {
        w.close();
        res();
      }
    });
  });
  const run = startRun(t, ['--root', core.root, '--state', state, '--hash-rate', '0.25']);
  await locked; // the service is up and the first pass is under way
  const exit = await signalAndWait(run, 'SIGTERM');
  assert.deepEqual([exit.code, exit.signal], [0, null], run.dump());
  assert.ok(exit.ms < STOP_BUDGET_MS, `stopped in ${exit.ms} ms`);
  assert.equal(run.stdout.docs.filter(isReport).length, 0, run.dump());
});

test('a bad cron expression in the config file: exit 2 with a message naming it', async (t) => {
  const { dir, core, state } = await tempCore(t);
  const cfg = join(dir, 'config.yaml');
  await writeFile(cfg, 'heartbeatCron: "every five minutes"\n');
  const run = startRun(t, ['--root', core.root, '--state', state, '--config', cfg]);
  const exit = await run.exited;
  assert.equal(exit.code, 2, run.dump());
  assert.ok(
    run.stderr.text.some((l) => /heartbeatCron "every five minutes" is not a valid cron expression/.test(l)),
    run.dump(),
  );
  assert.equal(run.stdout.docs.length, 0, 'no report');
});

test('a config file that is not YAML, and an unknown flag: exit 2 with a clear message', async (t) => {
  const { dir, core, state } = await tempCore(t);
  const cfg = join(dir, 'config.yaml');
  await writeFile(cfg, 'watchBudget: [1, 2\n');
  const bad = startRun(t, ['--root', core.root, '--state', state, '--config', cfg]);
  assert.equal((await bad.exited).code, 2, bad.dump());
  // Where the [ opens, not the line after it where the parser gave up.
  assert.ok(bad.stderr.text.some((l) => l.includes(cfg) && /not valid YAML: line 1, column 14: .*the \[ here is never closed/.test(l)), bad.dump());

  const flag = startRun(t, ['--root', core.root, '--state', state, '--watch-everything']);
  assert.equal((await flag.exited).code, 2, flag.dump());
  assert.ok(flag.stderr.text.some((l) => l.includes('--watch-everything')), flag.dump());
});

test('--config YAML applies, and flags win over it', async (t) => {
  const { dir, core, state } = await tempCore(t);
  const cfg = join(dir, 'config.yaml');
  await writeFile(
    cfg,
    [
      '# what a device owner would write',
      `root: ${join(dir, 'no-such-root')}`,
      'logLevel: debug',
      'watchBudget: 5          # too small on purpose: the file is applied when this shows',
      'heartbeatCron: "*/5 * * * *"',
      '',
    ].join('\n'),
  );
  const run = startRun(t, ['--config', cfg, '--root', core.root, '--state', state, '--log-level', 'warn']);
  const first = await run.waitFor('stdout', isReport, 'the first report');
  // --root won: the core was found and verified...
  assert.equal((first.observed as { groupVersionId: string }).groupVersionId, core.ids.groupVersionId, run.dump());
  // ...the file's watchBudget was applied...
  assert.ok(findingsOf(first).some((f) => f.code === 'WATCH_DEGRADED'), run.dump());
  // ...and --log-level warn beat logLevel: debug (the degradation warning shows, no info or debug lines).
  await run.waitFor('stderr', (d) => d.level === 'warn' && d.message === 'watching degraded', 'the degradation warning');
  const exit = await signalAndWait(run, 'SIGTERM');
  assert.equal(exit.code, 0, run.dump());
  assert.deepEqual(run.stderr.docs.filter((d) => d.level === 'info' || d.level === 'debug'), []);
});

test('--report-file: reports go to the file, logs to stdout', async (t) => {
  const { dir, core, state } = await tempCore(t);
  const file = join(dir, 'reports.jsonl');
  const run = startRun(t, ['--root', core.root, '--state', state, '--report-file', file]);
  await run.waitFor('stdout', (d) => d.message === 'agent started', 'the "agent started" log on stdout');
  const exit = await signalAndWait(run, 'SIGTERM');
  assert.equal(exit.code, 0, run.dump());
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Doc);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.schema, 'deploy-witness/report');
  assert.equal(lines[0]!.status, 'VERIFIED');
  assert.ok(run.stdout.docs.every(isLog), run.dump());
  assert.ok(!run.stdout.docs.some(isReport));
});

test('an unreadable report sequence: exit 2 with a message naming it, and no report numbered afresh', async (t) => {
  const { core, state } = await tempCore(t);
  await mkdir(state, { recursive: true });
  await writeFile(join(state, 'sequence'), 'torn');
  await writeFile(join(state, 'sequence.copy'), '');
  const run = startRun(t, ['--root', core.root, '--state', state]);
  const exit = await run.exited;
  assert.equal(exit.code, 2, run.dump());
  assert.ok(run.stderr.text.some((l) => /the report sequence cannot be read .*sequence: not a sequence number/.test(l)), run.dump());
  assert.equal(run.stdout.docs.length, 0, 'no report');
});

/** `deploy-witness verify --json` in-process: the report it prints. */
async function verifyJson(args: string[]): Promise<Doc> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const err = new PassThrough() as unknown as NodeJS.WriteStream;
  await verifyCommand([...args, '--json'], { stdout: out, stderr: err, env: {} });
  return JSON.parse(text) as Doc;
}

/** What a verdict says: its status and its findings, as a set. */
const verdictOf = (d: Doc) => ({
  status: d.status,
  findings: findingsOf(d).map((f) => JSON.stringify(f)).sort(),
});

test('several log regions: verify and run give the same verdict and findings, and follow the region written last', async (t) => {
  const { dir, core, state } = await tempCore(t);
  const user = join(core.root, 'greengrass/ggc/var/log/user');
  const other = 'urn:tdm:us-east-1/123456789012/default:deployment:Before_V003';
  const at = (s: number) => `[${new Date(Date.now() - 60_000 + s * 1000).toISOString()}]`;
  // The group moved from us-east-1 to eu-west-1: the old folder stays, its log older.
  // No trigger line: the flow window is the configured one, so time cannot tip the verdict.
  const oldLog = join(user, 'us-east-1/ThingsGraph/ThingsGraph.log');
  await writeFile(oldLog, `${at(0)}[INFO]-bootstrapping DB\n${at(1)}[INFO]-FlowsBootstrap: registered SDC: ${other}\n`);
  const newLog = join(user, 'eu-west-1/ThingsGraph/ThingsGraph.log');
  await mkdir(dirname(newLog), { recursive: true });
  await writeFile(
    newLog,
    `${at(10)}[INFO]-bootstrapping DB\n${at(11)}[INFO]-FlowsBootstrap: registered SDC: ${core.ids.systemInstanceId}\n` +
      `${at(12)}[INFO]-Initialized ThingsGraph Runtime v1.2.4\n${at(13)}[INFO]-FlowSchedulerClientGreengrassImpl: StartFlowExecution:\n`,
  );
  const sec = Math.floor(Date.now() / 1000);
  await utimes(oldLog, sec - 100, sec - 100);
  await utimes(newLog, sec - 50, sec - 50);
  const cfg = join(dir, 'config.yaml');
  await writeFile(cfg, 'health:\n  flowWindowMinutes: 600\n  diskLowPercent: 0\n');
  const expect = join(dir, 'expect.json');
  await writeFile(expect, JSON.stringify(core.envelope));
  const args = ['--root', core.root, '--state', state, '--config', cfg, '--expect', expect];

  const once = await verifyJson(args);
  assert.equal(once.status, 'VERIFIED', JSON.stringify(once.findings));
  assert.deepEqual((once.observed as { systemInstances: string[] }).systemInstances, [core.ids.systemInstanceId]);
  const run = startRun(t, args);
  const first = await run.waitFor('stdout', isReport, 'the first report');
  assert.deepEqual(verdictOf(first), verdictOf(once), run.dump());

  // Written to again, the old region is the current one: both say the system instance is not registered.
  await appendFile(oldLog, `${at(30)}[INFO]-a line in the old region\n`);
  const moved = await run.waitFor('stdout', (d) => isReport(d) && findingsOf(d).some((f) => f.code === 'SYSTEM_INSTANCE_NOT_REGISTERED'), 'the old region read');
  const again = await verifyJson(args);
  assert.equal(again.status, 'FAILED');
  assert.deepEqual(verdictOf(moved), verdictOf(again), run.dump());
  assert.deepEqual((again.observed as { systemInstances: string[] }).systemInstances, [other]);
  assert.equal((await signalAndWait(run, 'SIGTERM')).code, 0);
});

test('a stored expectation that cannot be used (broken JSON, a FIFO) is said as a warning in a report and in the log; the agent judges without it', async (t) => {
  for (const kind of ['broken', 'fifo'] as const) {
    const { core, state } = await tempCore(t);
    await mkdir(state, { mode: 0o700 });
    const kept = join(state, 'expectation.json');
    if (kind === 'broken') await writeFile(kept, '{"summary": {"id": "x"', { mode: 0o600 });
    else execFileSync('mkfifo', ['-m', '600', kept]);
    const run = startRun(t, ['--root', core.root, '--state', state]);
    const warned = await run.waitFor('stdout', (d) => isReport(d) && findingsOf(d).some((f) => f.code === 'EXPECTATION_INVALID'), `the warning (${kind})`);
    const f = (warned.findings as { code: string; severity: string; message: string }[]).find((x) => x.code === 'EXPECTATION_INVALID')!;
    assert.equal(f.severity, 'warning');
    assert.match(f.message, /the one kept in expectation\.json \(.+\); judged without it until one is sent again/, kind);
    assert.equal(warned.status, 'VERIFIED', run.dump());
    assert.equal(warned.expectation, null, 'judged without an expectation');
    await run.waitFor('stderr', (d) => d.message === 'stored expectation cannot be used; judging without it until one is sent again' && d.file === 'expectation.json', `the log line (${kind})`);
    const exit = await signalAndWait(run, 'SIGTERM');
    assert.deepEqual([exit.code, exit.signal], [0, null], run.dump());
  }
});
