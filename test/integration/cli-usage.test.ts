// The command line as a new user meets it when something is wrong: a real
// process, exit 2 at once, one message that names the flag or file and what
// to do. Help and version as they are asked for; option tables that line up.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { watch } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCore, type MadeCore } from '../../scripts/simulated-core.js';
import { runCli, BIN } from '../lib/cli-child.js';
import { startAgentProcess } from '../lib/agent-process.js';
import { onLines } from '../lib/lines.js';
import { startMosquitto } from '../lib/mosquitto.js';

const T = { timeout: 120_000 };
/** "At once": a command that cannot run says so in well under this (the state-folder loop ran for minutes). */
const AT_ONCE_MS = 10_000;

async function scratch(t: TestContext): Promise<{ dir: string; core: MadeCore; state: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-cli-usage-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const core = await makeCore({ root: join(dir, 'root') });
  return { dir, core, state: join(dir, 'state') };
}

const version = async () => (JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }).version;

test('help and version as a person asks for them', T, async () => {
  for (const cmd of ['verify', 'run', 'check']) {
    const viaHelp = await runCli(['help', cmd]);
    const viaFlag = await runCli([cmd, '--help']);
    assert.equal(viaHelp.code, 0, viaHelp.stderr);
    assert.equal(viaHelp.stdout, viaFlag.stdout);
    assert.match(viaHelp.stdout, new RegExp(`^Usage: deploy-witness ${cmd} `));
    assert.match(viaHelp.stdout, /\nExit status:\n {2}0 {2}.+\n(?: {2}\d {2}.+\n| {5}.+\n)+/, `${cmd} --help lists its exit codes`);
  }
  const unknown = await runCli(['help', 'frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no command 'frobnicate'; the commands are verify, run and check/);
  const v = await version();
  for (const args of [['version'], ['--version'], ['-v']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${v}\n`);
  }
  const none = await runCli([]);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, '', 'no command is a usage error: the overview goes to stderr');
  assert.match(none.stderr, /deploy-witness help <command>/);
});

/**
 * The column where each option's description starts, for every option line
 * (`  -x, --flag ARG  text` or `  --flag ARG  text`) and every continuation
 * line under one; an option too long for the column stands alone on its line.
 */
function optionColumns(help: string): { line: string; column: number | null }[] {
  const out: { line: string; column: number | null }[] = [];
  let inOption = false;
  for (const line of help.split('\n')) {
    if (/^ {2}(-\w, )?--[a-z]/.test(line)) {
      const gap = / {2,}(?=\S)/.exec(line.slice(2));
      out.push({ line, column: gap ? 2 + gap.index + gap[0].length : null });
      inOption = true;
    } else if (inOption && /^ {5,}\S/.test(line)) {
      out.push({ line, column: line.length - line.trimStart().length });
    } else {
      inOption = false;
    }
  }
  return out;
}

test('every option table lines up: one description column, at least two spaces after each flag', T, async () => {
  const columns = new Set<number>();
  for (const cmd of ['verify', 'run', 'check']) {
    const { stdout } = await runCli([cmd, '--help']);
    const rows = optionColumns(stdout);
    assert.ok(rows.length >= 5, `${cmd}: its options were found`);
    for (const r of rows) {
      if (r.column === null) {
        // Standing alone: its description is on the next line, at the column.
        assert.match(r.line, /^ {2}\S+( \S+)*$/, `${cmd}: ${JSON.stringify(r.line)}`);
        continue;
      }
      columns.add(r.column);
      assert.equal(r.column, 21, `${cmd}: ${JSON.stringify(r.line)} starts its description at column ${r.column}`);
    }
  }
  assert.deepEqual([...columns], [21]);
});

test('a bad flag value names the flag; a config file with several wrong values names them all', T, async (t) => {
  const s = await scratch(t);
  for (const cmd of ['verify', 'run']) {
    const r = await runCli([cmd, '--root', s.core.root, '--state', s.state, '--hash-rate', 'abc']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `deploy-witness ${cmd}: --hash-rate must be a number from 0 to 100000, got "abc"\n`);
  }
  const cfg = join(s.dir, 'several.yaml');
  await writeFile(cfg, 'hashRateLimitMBps: fast\nlogLevel: loud\nwatchBudget: -3\nheartbeatCron: every five minutes\nfrobnicate: 1\n');
  for (const cmd of ['verify', 'run']) {
    const r = await runCli([cmd, '--root', s.core.root, '--state', s.state, '--config', cfg]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, [
      `deploy-witness ${cmd}: ${cfg}: 5 problems:`,
      '  unknown key(s) frobnicate',
      '  hashRateLimitMBps must be a number from 0 to 100000, got "fast"',
      '  logLevel must be one of error, warn, info, debug, got "loud"',
      '  watchBudget must be a number from 0 to 10000000, got -3',
      '  heartbeatCron "every five minutes" is not a valid cron expression (e.g. "*/5 * * * *")',
      '',
    ].join('\n'));
  }
});

test('a bad cron expression is said once: no log lines echoing it', T, async (t) => {
  const s = await scratch(t);
  const cfg = join(s.dir, 'cron.yaml');
  await writeFile(cfg, 'rescanCron: "61 * * * *"\n');
  const r = await runCli(['run', '--root', s.core.root, '--state', s.state, '--config', cfg]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, `deploy-witness run: ${cfg}: rescanCron "61 * * * *" is not a valid cron expression (e.g. "*/5 * * * *")\n`);
  assert.equal(r.stdout, '');
});

test('a YAML or JSON mistake is reported on the line where it is', T, async (t) => {
  const s = await scratch(t);
  const cases: [string, string, string][] = [
    // The parser gives up on a later line; the mistake is where the bracket or quote opens.
    ['bracket.yaml', 'root: /\nlogLevel: [debug\nwatchBudget: 3\n', 'is not valid YAML: line 2, column 11: '],
    ['quote.yaml', 'root: /\nlogLevel: "debug\nwatchBudget: 3\ndebounceMs: 5\n', 'is not valid YAML: line 2, column 11: Missing closing "quote (the " here is never closed; noticed at line 5, column 1)'],
    // Over-indented: the key runs on into line 3, which is the wrong one.
    ['indent.yaml', 'layout:\n  groupJson: a\n   deploymentDir: b\n', 'is not valid YAML: line 3, '],
    ['dup.yaml', 'root: /\nwatchBudget: 3\nroot: /x\n', 'is not valid YAML: line 3, column 1: Map keys must be unique'],
    // JSON is read by the strict JSON reader: the missing comma after line 2 is found at line 3.
    ['missing-comma.json', '{\n  "root": "/"\n  "watchBudget": 3\n}\n', "is not valid JSON: expected ',' or '}' in $ at line 3 column 3"],
  ];
  for (const [name, text, says] of cases) {
    const file = join(s.dir, name);
    await writeFile(file, text);
    const r = await runCli(['verify', '--root', s.core.root, '--state', s.state, '--config', file]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`deploy-witness verify: config file ${file} ${says}`), `${name}: ${r.stderr}`);
  }
});

test('a --root that does not exist or is a file is exit 2 for verify and run, locally and in direct MQTT mode', T, async (t) => {
  const s = await scratch(t);
  const file = join(s.core.root, s.core.paths.groupJson);
  const mqtt = ['--endpoint', '127.0.0.1', '--port', '1', '--cert', join(s.dir, 'no.crt'), '--key', join(s.dir, 'no.key'), '--thing', 'T'];
  for (const [root, says] of [
    [join(s.dir, 'nonexistent'), 'does not exist'],
    [file, 'is a file, not a folder'],
  ] as const) {
    for (const args of [['verify'], ['run'], ['run', ...mqtt]]) {
      const t0 = Date.now();
      const r = await runCli([...args, '--root', root, '--state', s.state]);
      assert.equal(r.code, 2, `${args.join(' ')} --root ${root}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr, `deploy-witness ${args[0]}: root ${root} ${says}: set --root (root in the configuration) to the core's file-system root: / on the device\n`);
      assert.ok(Date.now() - t0 < AT_ONCE_MS);
    }
  }
});

/** Runs the CLI as another user (nobody) when we are root, for what permissions forbid. */
function runAs(uid: number, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { uid, gid: uid, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('every state-folder problem: its own message, exit 2, at once (verify and run)', T, async (t) => {
  const s = await scratch(t);
  const file = join(s.dir, 'a-file');
  await writeFile(file, 'x');
  const fix = 'give another folder with --state (stateDir)';
  const cases: [string, string][] = [
    [file, `state folder ${file} is a file, not a folder: ${fix}`],
    [join(file, 'state'), `state folder ${join(file, 'state')} cannot be made: ${file} is a file, not a folder; ${fix}`],
    // Node's recursive mkdir retries this one without end.
    ['/proc/deploy-witness-state', `state folder /proc/deploy-witness-state cannot be made: /proc does not take new folders (a virtual file system, like /proc); ${fix}`],
  ];
  for (const [state, says] of cases) {
    for (const cmd of ['verify', 'run']) {
      const r = await runCli([cmd, '--root', s.core.root, '--state', state], { deadlineMs: AT_ONCE_MS });
      assert.equal(r.hung, false, `${cmd} --state ${state} hung`);
      assert.equal(r.code, 2, `${cmd} --state ${state}: ${r.stderr}`);
      assert.equal(r.stderr, `deploy-witness ${cmd}: ${says}\n`);
    }
  }
});

test('a state folder this user cannot write: said with the uid, exit 2', T, async (t) => {
  const s = await scratch(t);
  // Root may write anywhere: as root, the command runs as nobody instead.
  const asRoot = process.getuid?.() === 0;
  const uid = asRoot ? 65534 : process.getuid!();
  await chmod(s.dir, 0o755); // the core must stay readable to that user
  const locked = join(s.dir, 'locked');
  await mkdir(locked, { mode: 0o755 });
  if (!asRoot) await chmod(locked, 0o555);
  const run = (args: string[]) => (asRoot ? runAs(uid, args) : runCli(args));
  for (const cmd of ['verify', 'run']) {
    const existing = await run([cmd, '--root', s.core.root, '--state', locked]);
    assert.equal(existing.code, 2, existing.stderr);
    assert.equal(existing.stderr, `deploy-witness ${cmd}: state folder ${locked} is not writable by this user (uid ${uid}): run as the user that owns it, or give another folder with --state (stateDir)\n`);
    const below = await run([cmd, '--root', s.core.root, '--state', join(locked, 'state')]);
    assert.equal(below.code, 2, below.stderr);
    assert.equal(below.stderr, `deploy-witness ${cmd}: state folder ${join(locked, 'state')} cannot be made: ${locked} is not writable by this user (uid ${uid}); give another folder with --state (stateDir)\n`);
  }
});

test('a state folder on a read-only file system: said so, exit 2', T, async (t) => {
  const s = await scratch(t);
  const ro = join(s.dir, 'ro');
  await mkdir(ro);
  // A read-only tmpfs in a mount namespace of our own: no privilege needed where user namespaces are allowed.
  const probe = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o ro tmpfs ${ro}`]);
  if (probe.error || probe.status !== 0) {
    t.skip(`no user and mount namespaces here (unshare -rm: ${probe.error?.message ?? probe.stderr.toString().trim()})`);
    return;
  }
  for (const cmd of ['verify', 'run']) {
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o ro tmpfs "$RO" && exec "$NODE" "$BIN" ${cmd} --root "$ROOT" --state "$RO/state"`], {
      env: { ...process.env, RO: ro, NODE: process.execPath, BIN, ROOT: s.core.root },
      timeout: AT_ONCE_MS,
    });
    assert.equal(r.status, 2, r.stderr.toString());
    assert.equal(r.stderr.toString(), `deploy-witness ${cmd}: state folder ${join(ro, 'state')} cannot be made: ${ro} is on a read-only file system; give another folder with --state (stateDir)\n`);
  }
});

test('a state folder another live agent holds: the message names that agent', T, async (t) => {
  const s = await scratch(t);
  const first = startAgentProcess({ args: ['--root', s.core.root, '--state', s.state] });
  t.after(() => first.term());
  await first.waitForLog((l) => l.message === 'agent started', 60_000);
  const second = await runCli(['run', '--root', s.core.root, '--state', s.state], { deadlineMs: AT_ONCE_MS });
  assert.equal(second.code, 2, second.stderr);
  assert.equal(second.stderr, `deploy-witness run: another agent (process ${first.pid}) is running on state folder ${s.state}: stop it, or give this one its own --state\n`);
  assert.equal(first.running, true);
  assert.equal((await first.term()).code, 0);
});

test('--report-file in a folder that does not exist, or a folder itself: exit 2 naming it, no stack trace', T, async (t) => {
  const s = await scratch(t);
  const missing = join(s.dir, 'missing-dir', 'x.jsonl');
  const cases: [string, string][] = [
    [missing, `--report-file ${missing}: folder ${join(s.dir, 'missing-dir')} does not exist`],
    [s.dir, `--report-file ${s.dir} is not a regular file: give a file path (or - for standard output)`],
  ];
  for (const [file, says] of cases) {
    const r = await runCli(['run', '--root', s.core.root, '--state', s.state, '--report-file', file]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `deploy-witness run: ${says}\n`);
  }
});

test('run --config from a pipe nobody writes to ends at --input-timeout, not at the 30 s default', T, async (t) => {
  const s = await scratch(t);
  const fifo = join(s.dir, 'config.fifo');
  if (spawnSync('mkfifo', [fifo]).status !== 0) return t.skip('mkfifo failed');
  const r = await runCli(['run', '--root', s.core.root, '--state', s.state, '--config', fifo, '--input-timeout', '1'], { deadlineMs: 15_000 });
  assert.equal(r.hung, false);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^deploy-witness run: cannot read config file ${fifo}: did not end within 1 s`));
  assert.ok(r.ms < 10_000, `${r.ms} ms`);
});

test('--expect - on a terminal says it reads standard input and how to end', T, async (t) => {
  if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) return t.skip('script (util-linux) is not installed');
  const s = await scratch(t);
  const expectation = JSON.stringify(s.core.expectation);
  // `script` gives the command a terminal; what we write to script is typed into it, Ctrl-D ends it.
  const child = spawn('script', ['-qefc', `"$NODE" "$BIN" verify --root "$ROOT" --state "$STATE" --expect -`, '/dev/null'], {
    env: { ...process.env, NODE: process.execPath, BIN, ROOT: s.core.root, STATE: s.state },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const notice = 'deploy-witness verify: reading the expectation from standard input (paste it, then Ctrl-D)';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no notice on the terminal: ${JSON.stringify(out)}`)), 15_000);
    child.stdout.on('data', () => {
      if (out.includes(notice)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  // One line, then end-of-file from the terminal.
  child.stdin.write(`${expectation}\n\x04`);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, out);
  assert.match(out, /deploy-witness: VERIFIED/);

  // Not on a terminal: nothing said, the pipe is read as is.
  const piped = await runCli(['verify', '--root', s.core.root, '--state', s.state, '--expect', '-'], { stdin: expectation });
  assert.equal(piped.code, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, /reading the expectation/);
});

/** `run` as a child whose standard streams the test can close, as a reader that goes away (`| head -1`) does. */
function startRunChild(args: string[]) {
  const env = { ...process.env };
  for (const k of ['AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT', 'SVCUID', 'AWS_IOT_THING_NAME']) delete env[k];
  const child = spawn(process.execPath, [BIN, 'run', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const bus = new EventEmitter();
  onLines(child.stdout, (l) => (lines.stdout.push(l), bus.emit('line')));
  onLines(child.stderr, (l) => (lines.stderr.push(l), bus.emit('line')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const until = (pred: () => boolean, what: string, ms = 60_000) =>
    new Promise<void>((resolve, reject) => {
      if (pred()) return resolve();
      const timer = setTimeout(() => (bus.off('line', check), reject(new Error(`no ${what} within ${ms} ms:\n${lines.stderr.slice(-10).join('\n')}`))), ms);
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          bus.off('line', check);
          resolve();
        }
      };
      bus.on('line', check);
    });
  return { child, lines, exited, until };
}

/** Waits for the exit, killing the child past `ms` so a spinning process fails the test instead of hanging it. */
async function exitWithin(r: ReturnType<typeof startRunChild>, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; hung: boolean }> {
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    r.child.kill('SIGKILL');
  }, ms);
  const e = await r.exited;
  clearTimeout(timer);
  return { ...e, hung };
}

test('run with the reports on stdout: a reader that goes away ends it cleanly, exit 0, once (also with stderr gone)', T, async (t) => {
  for (const closeStderr of [false, true]) {
    const s = await scratch(t);
    const r = startRunChild(['--root', s.core.root, '--state', s.state]);
    t.after(() => r.child.kill('SIGKILL'));
    await r.until(() => r.lines.stdout.some((l) => l.includes('"deploy-witness/report"')) && r.lines.stderr.some((l) => l.includes('"agent started"')), 'first report');
    const logged = r.lines.stderr.length;
    // The reader leaves; the next report (a tamper, said at once) meets EPIPE.
    r.child.stdout.destroy();
    if (closeStderr) r.child.stderr.destroy();
    await writeFile(join(s.core.root, s.core.paths.lambdaDir, 'config.json'), 'tampered\n');
    const e = await exitWithin(r, AT_ONCE_MS * 2);
    assert.equal(e.hung, false, `closeStderr=${closeStderr}: still running: ${r.lines.stderr.slice(-5).join('\n')}`);
    assert.deepEqual([e.code, e.signal], [0, null], r.lines.stderr.join('\n'));
    if (!closeStderr) {
      const after = r.lines.stderr.slice(logged);
      assert.ok(after.some((l) => /"message":"stopping","reason":"standard output closed \(EPIPE\): nobody reads the reports"/.test(l)), after.join('\n'));
      assert.ok(!after.some((l) => /verification step failed|unexpected error/.test(l)), after.join('\n'));
    }
  }
});

test('run --report-file with its log reader gone keeps reporting to the file, and stops on SIGTERM', T, async (t) => {
  const s = await scratch(t);
  const file = join(s.dir, 'reports.jsonl');
  const r = startRunChild(['--root', s.core.root, '--state', s.state, '--report-file', file]);
  t.after(() => r.child.kill('SIGKILL'));
  await r.until(() => r.lines.stdout.some((l) => l.includes('"agent started"')), 'agent started');
  // Logs go to stdout here: its reader leaves, the next lines meet EPIPE.
  r.child.stdout.destroy();
  r.child.stderr.destroy();
  await writeFile(join(s.core.root, s.core.paths.lambdaDir, 'config.json'), 'tampered\n');
  const tampered = async () => (await readFile(file, 'utf8')).split('\n').some((l) => l.includes('"TAMPERED"'));
  // The report file is written by the agent: watched by the test until the tamper report lands.
  const deadline = Date.now() + 60_000;
  await new Promise<void>((resolve, reject) => {
    const watcher = watch(file, () => {
      void tampered().then((yes) => {
        if (yes) {
          watcher.close();
          resolve();
        } else if (Date.now() > deadline) {
          watcher.close();
          reject(new Error('no TAMPERED report in the file'));
        }
      });
    });
    void tampered().then((yes) => yes && (watcher.close(), resolve()));
  });
  assert.equal(r.child.exitCode, null, 'still running without its log');
  r.child.kill('SIGTERM');
  const e = await exitWithin(r, AT_ONCE_MS);
  assert.deepEqual([e.code, e.signal, e.hung], [0, null, false]);
});

test('a UTF-8 BOM at the start of --expect, --config and --response files is accepted; one inside is named, not shown', T, async (t) => {
  const s = await scratch(t);
  const BOM = '\uFEFF';
  const expect = join(s.dir, 'expect.json');
  await writeFile(expect, `${BOM}${JSON.stringify(s.core.expectation, null, 2)}`);
  const jsonCfg = join(s.dir, 'witness.json');
  await writeFile(jsonCfg, `${BOM}{"logLevel": "warn"}\n`);
  const yamlCfg = join(s.dir, 'witness.yaml');
  await writeFile(yamlCfg, `${BOM}logLevel: warn\n`);
  for (const extra of [[], ['--config', jsonCfg], ['--config', yamlCfg]]) {
    const r = await runCli(['verify', '--root', s.core.root, '--state', s.state, '--expect', expect, ...extra]);
    assert.equal(r.code, 0, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /VERIFIED/);
  }
  const piped = await runCli(['verify', '--root', s.core.root, '--state', s.state, '--expect', '-'], { stdin: `${BOM}${JSON.stringify(s.core.expectation)}` });
  assert.equal(piped.code, 0, piped.stderr);

  // check reads --response before it connects: with a BOM it gets as far as the connection.
  const gone = await startMosquitto();
  const port = gone.port;
  await gone.stop();
  const check = await runCli(['check', '--response', expect, '--endpoint', '127.0.0.1', '--port', String(port), '--connect-timeout', '2',
    '--region', 'us-east-1'], { env: { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x' }, deadlineMs: 30_000 });
  assert.equal(check.code, 2, check.stderr);
  assert.match(check.stderr, /could not connect within 2 s/);
  assert.doesNotMatch(check.stderr, /response|JSON/);

  const inside = join(s.dir, 'inside.json');
  await writeFile(inside, `{"summary": ${BOM}${JSON.stringify((s.core.expectation as { summary: unknown }).summary)}}`);
  const bad = await runCli(['verify', '--root', s.core.root, '--state', s.state, '--expect', inside]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /unexpected character U\+FEFF \(a byte order mark\) at line 1 column 13/);
  assert.ok(!bad.stderr.includes(BOM), 'the message never carries the invisible character itself');
});
