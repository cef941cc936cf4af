// The live agent in-process, on a simulated core: real files, real chokidar,
// real hashing. Each test waits for reports through the sink (event-driven,
// generous timeouts); nothing asserts on elapsed time. The schedules are the
// test's to fire (a manual scheduler), and the watchers the agent makes are
// real ones the test can see.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rename, rm, truncate, unlink, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, type AgentDeps } from '../../src/agent/agent.js';
import type { WatcherLike } from '../../src/agent/watch-supervisor.js';
import { Watcher, type WatcherOptions } from '../../src/agent/watcher.js';
import { applyConfig, defaultConfig, type Config } from '../../src/config/config.js';
import { silentLogger } from '../../src/log.js';
import { createHasher } from '../../src/observe/hash.js';
import type { Heartbeat } from '../../src/report/protocol.js';
import type { ReportSink } from '../../src/report/sink.js';
import { parseExpectation } from '../../src/verify/expectation.js';
import type { FindingCode } from '../../src/model/findings.js';
import type { Report } from '../../src/verify/report.js';
import { makeCore, type MadeCore } from '../../scripts/simulated-core.js';
import { ManualScheduler } from '../lib/manual-scheduler.js';

const WAIT_MS = 30_000;

/** Collects what the agent hands over; waits are woken by arrivals, not by polling. */
class CollectingSink implements ReportSink {
  readonly name = 'collect';
  readonly reports: Report[] = [];
  readonly heartbeats: Heartbeat[] = [];
  private waiters: { from: number; pred: (r: Report) => boolean; res: (r: Report) => void }[] = [];

  async report(r: Report): Promise<void> {
    this.reports.push(r);
    const i = this.reports.length - 1;
    this.waiters = this.waiters.filter((w) => {
      if (i < w.from || !w.pred(r)) return true;
      w.res(r);
      return false;
    });
  }

  async heartbeat(b: Heartbeat): Promise<void> {
    this.heartbeats.push(b);
  }

  async close(): Promise<void> {}

  get last(): Report | undefined {
    return this.reports[this.reports.length - 1];
  }

  /** The first report from index `from` on that satisfies `pred`. */
  waitFor(pred: (r: Report) => boolean, what: string, from = this.reports.length): Promise<Report> {
    const seen = this.reports.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        const l = this.last;
        rej(new Error(`no report with ${what} within ${WAIT_MS} ms; last: ${l?.status} ${JSON.stringify(l?.findings.map((f) => [f.code, f.path]))}`));
      }, WAIT_MS);
      this.waiters.push({ from, pred, res: (r) => (clearTimeout(timer), res(r)) });
    });
  }
}

/** The watchers an agent made: each a real one, with what the agent gave it and whether it was closed. */
interface MadeWatcher {
  watcher: Watcher;
  options: WatcherOptions;
  closed: boolean;
}

function recordWatchers(): { made: MadeWatcher[]; createWatcher: (o: WatcherOptions) => WatcherLike } {
  const made: MadeWatcher[] = [];
  return {
    made,
    createWatcher: (options) => {
      const m: MadeWatcher = { watcher: new Watcher(options), options, closed: false };
      made.push(m);
      return {
        start: () => m.watcher.start(),
        isAlive: () => m.watcher.isAlive(),
        close: async () => {
          m.closed = true;
          await m.watcher.close();
        },
      };
    },
  };
}

const has = (r: Report, code: FindingCode, path?: string) => r.findings.some((f) => f.code === code && (path === undefined || f.path === path));
const codes = (r: Report) => [...new Set(r.findings.map((f) => f.code))].sort();
const verified = (r: Report) => r.status === 'VERIFIED' && r.findings.every((f) => f.code === 'WATCH_DEGRADED');

interface Setup {
  dir: string;
  core: MadeCore;
  config: Config;
  sink: CollectingSink;
  agent: Agent;
  scheduler: ManualScheduler;
  watchers: MadeWatcher[];
  abs: (rel: string) => string;
  /** Run before the temporary folder is removed. */
  cleanup: (() => Promise<void>)[];
}

async function startAgent(
  t: TestContext,
  opts: {
    config?: Record<string, unknown>;
    core?: Partial<Parameters<typeof makeCore>[0]>;
    deps?: Partial<AgentDeps>;
    /** Runs on the core before the agent starts. */
    prepare?: (core: MadeCore) => Promise<void>;
  } = {},
): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-agent-'));
  const cleanup: (() => Promise<void>)[] = [];
  // One hook, in order: the agent stops writing to its state folder before the folder goes.
  t.after(async () => {
    for (const fn of cleanup) await fn();
    await rm(dir, { recursive: true, force: true });
  });
  const core = await makeCore({ root: join(dir, 'core'), ...opts.core });
  await opts.prepare?.(core);
  const config = applyConfig(
    defaultConfig(),
    { root: core.root, stateDir: join(dir, 'state'), debounceMs: 50, hashRateLimitMBps: 0, ...opts.config },
    'test',
  );
  const hasher = createHasher({ concurrency: 1 });
  const sink = new CollectingSink();
  const scheduler = new ManualScheduler();
  const w = recordWatchers();
  const agent = new Agent({
    config, logger: silentLogger(), sink, hasher, agentVersion: 'test', scheduler, createWatcher: w.createWatcher, ...opts.deps,
  });
  cleanup.push(() => agent.stop(), () => hasher.close());
  await agent.start();
  return { dir, core, config, sink, agent, scheduler, watchers: w.made, abs: (rel) => join(core.root, rel), cleanup };
}

async function cleanUp(agent: Agent, hasher: { close(): Promise<void> }, dir: string): Promise<void> {
  await agent.stop();
  await hasher.close();
  await rm(dir, { recursive: true, force: true });
}

// ---- start ----

test('start: one VERIFIED report with a new baseline, then watching', async (t) => {
  const s = await startAgent(t);
  assert.equal(s.sink.reports.length, 1);
  const r = s.sink.reports[0]!;
  assert.equal(r.status, 'VERIFIED');
  assert.deepEqual(r.findings, []);
  assert.equal(r.sequence, 1);
  assert.equal(r.observed.baseline.state, 'created');
  assert.equal(r.observed.groupVersionId, s.core.ids.groupVersionId);
  assert.ok(r.checks.lastFullHashAt && r.checks.lastRescanAt, 'the start pass counts as both a full hash and a rescan');
  assert.equal(s.agent.state, 'running');
  assert.deepEqual(s.scheduler.active, ['full-rehash', 'heartbeat', 'rescan']);
  assert.equal(s.scheduler.cronOf('heartbeat'), s.config.heartbeatCron);
  await s.agent.idle();
  assert.equal(s.sink.reports.length, 1, 'nothing changed: nothing more to say');
});

test('restart: the stored baseline is compared and the sequence goes on', async (t) => {
  const s = await startAgent(t);
  await s.agent.stop();
  const hasher = createHasher({ concurrency: 1 });
  const sink = new CollectingSink();
  const again = new Agent({ config: s.config, logger: silentLogger(), sink, hasher, agentVersion: 'test', scheduler: new ManualScheduler() });
  s.cleanup.push(() => again.stop(), () => hasher.close());
  await again.start();
  const r = sink.reports[0]!;
  assert.equal(r.status, 'VERIFIED');
  assert.equal(r.sequence, 2);
  assert.equal(r.observed.baseline.state, 'compared');
  assert.equal(r.observed.bytesHashed, 0, 'unchanged size/mtime/ctime/inode: nothing read again');
});

// ---- file events ----

test('tamper a Lambda file: ARTIFACT_MODIFIED from that file alone; restoring it returns to VERIFIED', async (t) => {
  const s = await startAgent(t);
  const rel = `${s.core.paths.lambdaDir}/config.json`;
  const original = await readFile(s.abs(rel));
  await writeFile(s.abs(rel), '{"handler":"evil.Handler::handle"}\n');
  const bad = await s.sink.waitFor((r) => has(r, 'ARTIFACT_MODIFIED', rel), 'ARTIFACT_MODIFIED');
  assert.equal(bad.status, 'TAMPERED');
  assert.deepEqual(codes(bad), ['ARTIFACT_MODIFIED']);
  assert.equal(s.agent.stats.lastBatchBytes, '{"handler":"evil.Handler::handle"}\n'.length, 'only the changed file was read');
  await writeFile(s.abs(rel), original);
  await s.sink.waitFor(verified, 'VERIFIED');
  assert.equal(s.agent.stats.lastBatchBytes, original.length);
});

test('delete a file: ARTIFACT_MISSING; putting it back returns to VERIFIED', async (t) => {
  const s = await startAgent(t);
  const rel = `${s.core.paths.engineDir}/engine.properties`;
  const original = await readFile(s.abs(rel));
  await unlink(s.abs(rel));
  const bad = await s.sink.waitFor((r) => has(r, 'ARTIFACT_MISSING', rel), 'ARTIFACT_MISSING');
  assert.deepEqual(codes(bad), ['ARTIFACT_MISSING']);
  await writeFile(s.abs(rel), original);
  await s.sink.waitFor(verified, 'VERIFIED');
});

test('add a file to a deployed folder: ARTIFACT_ADDED; removing it returns to VERIFIED', async (t) => {
  const s = await startAgent(t);
  const rel = `${s.core.paths.lambdaDir}/lib/implant.jar`;
  await writeFile(s.abs(rel), 'not a jar');
  const bad = await s.sink.waitFor((r) => has(r, 'ARTIFACT_ADDED', rel), 'ARTIFACT_ADDED');
  assert.deepEqual(codes(bad), ['ARTIFACT_ADDED']);
  await unlink(s.abs(rel));
  await s.sink.waitFor(verified, 'VERIFIED');
});

test('replace a file atomically (write + rename): ARTIFACT_MODIFIED, no trace of the temporary file', async (t) => {
  const s = await startAgent(t);
  const rel = `${s.core.paths.lambdaDir}/ThingsGraphConnector.jar`;
  const original = await readFile(s.abs(rel));
  const replace = async (data: Buffer) => {
    const tmp = `${s.abs(rel)}.tmp-${process.pid}`;
    await writeFile(tmp, data);
    await rename(tmp, s.abs(rel));
  };
  const changed = Buffer.from(original);
  changed[100] = changed[100]! ^ 0xff; // one byte, same size
  await replace(changed);
  const bad = await s.sink.waitFor((r) => has(r, 'ARTIFACT_MODIFIED', rel), 'ARTIFACT_MODIFIED');
  assert.deepEqual(codes(bad), ['ARTIFACT_MODIFIED']);
  await replace(original);
  const good = await s.sink.waitFor(verified, 'VERIFIED');
  assert.deepEqual(good.findings, []);
});

test('replace a whole folder: the swapped-in copy is judged file by file; swapping back returns to VERIFIED', async (t) => {
  const s = await startAgent(t);
  const unit = s.abs(s.core.paths.lambdaDir);
  const aside = join(s.dir, 'aside');
  const forged = join(s.dir, 'forged');
  await cp(unit, forged, { recursive: true });
  await writeFile(join(forged, 'config.json'), '{"handler":"forged"}\n');
  await rm(join(forged, 'lib', 'dep-0000.jar'));
  await rename(unit, aside); // out of the watched tree
  await rename(forged, unit);
  const bad = await s.sink.waitFor(
    (r) => has(r, 'ARTIFACT_MODIFIED', `${s.core.paths.lambdaDir}/config.json`) && has(r, 'ARTIFACT_MISSING', `${s.core.paths.lambdaDir}/lib/dep-0000.jar`),
    'the forged folder judged',
  );
  assert.deepEqual(codes(bad), ['ARTIFACT_MISSING', 'ARTIFACT_MODIFIED']);
  assert.equal(bad.findings.length, 2, JSON.stringify(bad.findings));
  await rm(unit, { recursive: true });
  await rename(aside, unit);
  await s.sink.waitFor(verified, 'VERIFIED');
  // The folder now in place is the one watched, not the one renamed away.
  await s.agent.idle();
  const rel = `${s.core.paths.lambdaDir}/lib/dep-0001.jar`;
  await writeFile(s.abs(rel), 'edited in the restored folder');
  await s.sink.waitFor((r) => has(r, 'ARTIFACT_MODIFIED', rel), 'an edit inside the swapped-in folder');
});

test('delete a whole deployed folder: every file is missing; restoring it returns to VERIFIED', async (t) => {
  const s = await startAgent(t);
  const unit = s.abs(s.core.paths.engineDir);
  const aside = join(s.dir, 'engine-aside');
  await rename(unit, aside);
  const bad = await s.sink.waitFor((r) => r.findings.filter((f) => f.code === 'ARTIFACT_MISSING').length === 4, '4 files missing');
  assert.ok(has(bad, 'RUNTIME_FILES_MISSING'), 'engine/ is a runtime folder too');
  await rename(aside, unit);
  await s.sink.waitFor(verified, 'VERIFIED');
});

test('truncate the flow archive: re-inspected (RESOURCE_CORRUPT); restoring it returns to VERIFIED', async (t) => {
  const s = await startAgent(t);
  const rel = s.core.paths.archive;
  const original = await readFile(s.abs(rel));
  await truncate(s.abs(rel), Math.floor(original.length / 2));
  const bad = await s.sink.waitFor((r) => has(r, 'RESOURCE_CORRUPT', rel), 'RESOURCE_CORRUPT');
  assert.ok(has(bad, 'ARTIFACT_MODIFIED', rel));
  await writeFile(s.abs(rel), original);
  await s.sink.waitFor(verified, 'VERIFIED');
});

test('tamper the unpacked flow folder: it no longer matches its archive', async (t) => {
  const s = await startAgent(t);
  const rel = `${s.core.paths.flowFolder}/flows/MyExample01.json`;
  const original = await readFile(s.abs(rel));
  await writeFile(s.abs(rel), '{"type":"workflow","name":"MyExample01","activities":["exfiltrate"]}\n');
  const bad = await s.sink.waitFor((r) => has(r, 'ARTIFACT_MODIFIED', rel), 'ARTIFACT_MODIFIED');
  assert.equal(bad.status, 'TAMPERED');
  const messages = bad.findings.filter((f) => f.path === rel).map((f) => f.message).sort();
  // Two witnesses: the baseline (drift) and the archive the folder was unpacked from.
  assert.deepEqual(messages, ['deployed file changed', `file differs from the archive: ${rel}`]);
  await writeFile(s.abs(rel), original);
  await s.sink.waitFor(verified, 'VERIFIED');
});

test('a flow folder unpacked after start is found: RESOURCE_MISSING is over', async (t) => {
  const s = await startAgent(t, { core: { variant: 'resource-missing' } });
  assert.ok(has(s.sink.reports[0]!, 'RESOURCE_MISSING'));
  // Unpacked in a staging place, then moved in, as a resource download would.
  const staged = join(s.dir, 'flow-MyExample01');
  await mkdir(join(staged, 'flows'), { recursive: true });
  await writeFile(join(staged, 'manifest.json'), '{"format":"thingsgraph-deployment","version":1}\n');
  await writeFile(join(staged, 'flows', 'MyExample01.json'), '{}\n');
  await mkdir(s.abs(s.core.paths.flowFolder).replace(/\/flow-MyExample01$/, ''), { recursive: true });
  await rename(staged, s.abs(s.core.paths.flowFolder));
  const r = await s.sink.waitFor((x) => !has(x, 'RESOURCE_MISSING'), 'no RESOURCE_MISSING');
  // Not in the baseline laid down at start: the new files are additions.
  assert.ok(has(r, 'ARTIFACT_ADDED', `${s.core.paths.flowFolder}/manifest.json`), JSON.stringify(r.findings));
});

test('runtime.log: a failed deployment is reported from new bytes; a later success clears it', async (t) => {
  const s = await startAgent(t);
  const log = s.abs(s.core.paths.runtimeLog);
  await appendFile(log, '[2026-11-24T10:00:00.000Z][ERROR]-Deployment failed. {"deploymentId": "dep-2", "errorString": "boom"}\n');
  const bad = await s.sink.waitFor((r) => has(r, 'DEPLOYMENT_FAILED'), 'DEPLOYMENT_FAILED');
  assert.equal(bad.status, 'FAILED');
  assert.equal(bad.observed.deploymentId, 'dep-2');
  await appendFile(
    log,
    '[2026-11-24T10:01:00.000Z][INFO]-Start deployment. {"deploymentId": "dep-3"}\n[2026-11-24T10:01:05.000Z][INFO]-Deployment succeeded. {"deploymentId": "dep-3"}\n',
  );
  const good = await s.sink.waitFor(verified, 'VERIFIED');
  assert.equal(good.observed.deploymentId, 'dep-3');
});

test('runtime.log rotated (renamed to .1, a new one started): the new file is read from its start', async (t) => {
  const s = await startAgent(t);
  const log = s.abs(s.core.paths.runtimeLog);
  await rename(log, `${log}.1`);
  await writeFile(log, '[2026-11-24T11:00:00.000Z][ERROR]-Deployment failed. {"deploymentId": "dep-9", "errorString": "after rotation"}\n');
  const bad = await s.sink.waitFor((r) => has(r, 'DEPLOYMENT_FAILED'), 'DEPLOYMENT_FAILED from the new file');
  assert.equal(bad.observed.deploymentId, 'dep-9');
  assert.match(bad.findings.find((f) => f.code === 'DEPLOYMENT_FAILED')!.message, /after rotation/);
});

test('ThingsGraph.log: a runtime restart that registers nothing is reported; the registration clears it', async (t) => {
  const s = await startAgent(t);
  const log = s.abs(s.core.paths.thingsGraphLog);
  await appendFile(log, '[2026-11-24T10:00:00.000Z][INFO]-bootstrapping DB\n[2026-11-24T10:00:01.000Z][INFO]-bootstrapping DB done\n');
  await s.sink.waitFor((r) => has(r, 'SYSTEM_INSTANCE_NOT_REGISTERED'), 'SYSTEM_INSTANCE_NOT_REGISTERED');
  await appendFile(
    log,
    `[2026-11-24T10:00:02.000Z][INFO]-FlowsBootstrap: registered SDC: ${s.core.ids.systemInstanceId}\n[2026-11-24T10:00:03.000Z][INFO]-Initialized ThingsGraph Runtime v1.2.4\n`,
  );
  const good = await s.sink.waitFor(verified, 'VERIFIED');
  assert.equal(good.observed.runtimeVersion, '1.2.4');
});

test('a new group version landing: new baseline, new report, and drift is judged against it', async (t) => {
  const s = await startAgent(t);
  const gj = JSON.parse(await readFile(s.abs(s.core.paths.groupJson), 'utf8')) as { Arn: string; Version: string };
  const next = '11111111-2222-4333-8444-555555555555';
  gj.Arn = gj.Arn.replace(s.core.ids.groupVersionId, next);
  gj.Version = next;
  // As a deployment writes it: a temporary file renamed over the old one.
  const tmp = `${s.abs(s.core.paths.groupJson)}.new`;
  await writeFile(tmp, JSON.stringify(gj));
  await rename(tmp, s.abs(s.core.paths.groupJson));
  const landed = await s.sink.waitFor((r) => r.observed.groupVersionId === next, 'the new group version');
  assert.equal(landed.status, 'VERIFIED', JSON.stringify(landed.findings));
  assert.equal(landed.observed.baseline.state, 'created');
  assert.equal(landed.observed.baseline.treeDigest, landed.observed.treeDigest, 'the baseline is what landed');
  // The new baseline holds the new group.json: tampering with the Lambda is still seen.
  const rel = `${s.core.paths.lambdaDir}/config.json`;
  await writeFile(s.abs(rel), 'tampered\n');
  await s.sink.waitFor((r) => has(r, 'ARTIFACT_MODIFIED', rel), 'ARTIFACT_MODIFIED after the landing');
});

test('group.json cut off mid-write, then whole again', async (t) => {
  const s = await startAgent(t);
  const path = s.abs(s.core.paths.groupJson);
  const original = await readFile(path);
  await writeFile(path, original.subarray(0, 100));
  await s.sink.waitFor((r) => has(r, 'GROUP_DEFINITION_INVALID'), 'GROUP_DEFINITION_INVALID');
  await writeFile(path, original);
  const good = await s.sink.waitFor(verified, 'VERIFIED');
  assert.equal(good.observed.baseline.state, 'compared', 'the same version again: the stored baseline, not a new one');
});

test('a burst of 1,000 file writes yields a bounded number of reports and the right final verdict', async (t) => {
  const s = await startAgent(t, {
    config: { debounceMs: 200 },
    // The folder exists already (in the baseline, empty): the burst is files only.
    prepare: (core) => mkdir(join(core.root, core.paths.lambdaDir, 'burst')),
  });
  const dir = s.abs(`${s.core.paths.lambdaDir}/burst`);
  const before = s.sink.reports.length;
  const batchesBefore = s.agent.stats.batches;
  const otherBefore = s.agent.stats.passes + s.agent.stats.asked;
  const started = Date.now();
  for (let i = 0; i < 1000; i++) await writeFile(join(dir, `f-${i}.bin`), `payload ${i}\n`);
  const all = await s.sink.waitFor((r) => r.findings.filter((f) => f.code === 'ARTIFACT_ADDED').length === 1000, '1000 ARTIFACT_ADDED', before);
  assert.equal(all.status, 'TAMPERED');
  await s.agent.idle();
  const spanMs = Date.now() - started;
  const reports = s.sink.reports.length - before;
  const batches = s.agent.stats.batches - batchesBefore;
  // A slow machine may also see a rescan or the health timer fire during the burst; each may say one thing too.
  const other = s.agent.stats.passes + s.agent.stats.asked - otherBefore;
  // The coalescing contract, whatever the machine's speed: a batch closes after
  // 200 ms of quiet or 800 ms at most, so the burst cannot make more batches
  // than its span allows (one per event would be ~1,000), and each batch says
  // at most one thing.
  const allowed = Math.ceil(spanMs / 800) + 2;
  assert.ok(batches <= allowed, `${batches} batches for 1000 writes over ${spanMs} ms (at most ${allowed})`);
  assert.ok(batches < 100, `${batches} batches`);
  assert.ok(reports <= batches + other, `${reports} reports for ${batches} batches and ${other} other steps`);
  for (let i = 0; i < 1000; i++) await unlink(join(dir, `f-${i}.bin`));
  await s.sink.waitFor(verified, 'VERIFIED');
});

test('a folder of 2,100 files moved in at once: past the batch cap, one rescan reads it', async (t) => {
  const s = await startAgent(t);
  const staged = join(s.dir, 'staged');
  await mkdir(staged);
  for (let i = 0; i < 2100; i++) await writeFile(join(staged, `f-${i}`), '');
  const before = s.sink.reports.length;
  await rename(staged, s.abs(`${s.core.paths.lambdaDir}/flood`));
  const r = await s.sink.waitFor((x) => x.findings.filter((f) => f.code === 'ARTIFACT_ADDED').length === 2100, '2100 ARTIFACT_ADDED', before);
  assert.equal(r.status, 'TAMPERED');
  await s.agent.idle();
  assert.ok(s.sink.reports.length - before <= 3, `${s.sink.reports.length - before} reports`);
  await rm(s.abs(`${s.core.paths.lambdaDir}/flood`), { recursive: true });
  await s.sink.waitFor(verified, 'VERIFIED');
});

// ---- scheduling ----

test('heartbeat: handed to the sink with the last status; no report when nothing changed', async (t) => {
  const s = await startAgent(t);
  assert.ok(s.scheduler.fire('heartbeat'));
  await s.agent.idle();
  assert.equal(s.sink.heartbeats.length, 1);
  const hb = s.sink.heartbeats[0]!;
  assert.equal(hb.status, 'VERIFIED');
  assert.equal(hb.sequence, 1);
  assert.equal(hb.online, true);
  assert.equal(s.sink.reports.length, 1);
  // The next report says when the heartbeat ran.
  s.agent.requestReport('req-hb');
  await s.agent.idle();
  const r = s.sink.last!;
  assert.equal(r.requestId, 'req-hb');
  assert.ok(r.checks.lastHeartbeatAt, 'lastHeartbeatAt is set');
});

test('rescan and full rehash: silent when nothing changed, and the report says when each ran', async (t) => {
  const s = await startAgent(t);
  const first = s.sink.reports[0]!;
  assert.ok(s.scheduler.fire('rescan'));
  await s.agent.idle();
  assert.ok(s.scheduler.fire('full-rehash'));
  await s.agent.idle();
  assert.equal(s.sink.reports.length, 1, 'no change: no report');
  s.agent.requestReport();
  await s.agent.idle();
  const r = s.sink.last!;
  assert.ok(r.checks.lastFullHashAt! >= first.checks.lastFullHashAt!);
  assert.ok(r.checks.lastRescanAt! >= first.checks.lastRescanAt!);
  assert.ok(r.observed.bytesHashed > 64 * 1024, `a full rehash reads every byte (${r.observed.bytesHashed})`);
});

test('two rescans and a full rehash requested together run as one full rehash', async (t) => {
  const s = await startAgent(t);
  const rel = `${s.core.paths.lambdaDir}/config.json`;
  s.scheduler.fire('rescan');
  s.scheduler.fire('full-rehash');
  s.scheduler.fire('rescan');
  await s.agent.idle();
  s.agent.requestReport();
  await s.agent.idle();
  assert.ok(s.sink.last!.observed.bytesHashed > 64 * 1024, 'the full rehash was not lost to the later rescan');
  assert.ok(!has(s.sink.last!, 'ARTIFACT_MODIFIED', rel));
});

// ---- degradation ----

test('watch budget lowered by configuration: WATCH_DEGRADED, and scheduled rescans still find tampering', async (t) => {
  const s = await startAgent(t, { config: { watchBudget: 5 } });
  assert.equal(s.agent.state, 'degraded');
  assert.equal(s.watchers.length, 0, 'no watcher made');
  const first = s.sink.reports[0]!;
  assert.ok(has(first, 'WATCH_DEGRADED'), JSON.stringify(first.findings));
  assert.equal(first.status, 'VERIFIED', 'a warning: the deployment itself is fine');
  assert.match(first.findings[0]!.message, /budget 5/);
  const rel = `${s.core.paths.lambdaDir}/config.json`;
  const original = await readFile(s.abs(rel));
  await writeFile(s.abs(rel), 'tampered\n');
  assert.ok(s.scheduler.fire('rescan'));
  const bad = await s.sink.waitFor((r) => has(r, 'ARTIFACT_MODIFIED', rel), 'ARTIFACT_MODIFIED by rescan');
  assert.ok(has(bad, 'WATCH_DEGRADED'));
  await writeFile(s.abs(rel), original);
  assert.ok(s.scheduler.fire('rescan'));
  await s.sink.waitFor(verified, 'VERIFIED by rescan');
});

test('a kernel watch limit lower than the budget: WATCH_DEGRADED naming the kernel limit', async (t) => {
  const s = await startAgent(t, { deps: { maxUserWatches: async () => 3 } });
  assert.equal(s.agent.state, 'degraded');
  const f = s.sink.reports[0]!.findings.find((x) => x.code === 'WATCH_DEGRADED');
  assert.ok(f);
  assert.match(f.message, /kernel 3/);
});

test('the watcher failing later with ENOSPC: WATCH_DEGRADED is reported and rescans take over', async (t) => {
  const s = await startAgent(t);
  const before = s.sink.reports.length;
  // The per-user inotify limit is one number for every process of the user, so
  // a test cannot run out of it alone: the error chokidar emits then is handed
  // on the way the real watcher hands chokidar's errors on.
  assert.equal(s.watchers.length, 1);
  const inner = s.watchers[0]!;
  const unrelated = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
  inner.options.onError(unrelated);
  assert.equal(s.agent.state, 'running', 'an error that is not about capacity is only logged');
  assert.equal(inner.closed, false);
  const enospc = Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
  inner.options.onError(enospc);
  const r = await s.sink.waitFor((x) => has(x, 'WATCH_DEGRADED'), 'WATCH_DEGRADED', before);
  assert.match(r.findings.find((f) => f.code === 'WATCH_DEGRADED')!.message, /ENOSPC/);
  assert.equal(s.agent.state, 'degraded');
  assert.equal(inner.closed, true, 'the failed watcher is closed');
  const rel = `${s.core.paths.lambdaDir}/config.json`;
  await writeFile(s.abs(rel), 'tampered\n');
  assert.ok(s.scheduler.fire('rescan'));
  await s.sink.waitFor((x) => has(x, 'ARTIFACT_MODIFIED', rel), 'ARTIFACT_MODIFIED by rescan');
});

test('a watcher that stops delivering events is noticed at the heartbeat and replaced', async (t) => {
  const s = await startAgent(t);
  // Make the watcher deaf the way osquery's once was: its events simply stop.
  assert.equal(s.watchers.length, 1);
  const inner = s.watchers[0]!;
  await inner.watcher.close();
  assert.ok(s.scheduler.fire('heartbeat'));
  await s.agent.idle();
  assert.equal(s.agent.state, 'running');
  assert.equal(s.watchers.length, 2, 'a new watcher');
  assert.equal(inner.closed, true, 'the deaf one is let go');
  const rel = `${s.core.paths.lambdaDir}/config.json`;
  await writeFile(s.abs(rel), 'tampered\n');
  await s.sink.waitFor((r) => has(r, 'ARTIFACT_MODIFIED', rel), 'ARTIFACT_MODIFIED from the new watcher');
});

// ---- expectation and lifecycle ----

test('setExpectation: judged at once against the cloud record, echoing its request ID', async (t) => {
  const s = await startAgent(t);
  const parsed = parseExpectation(JSON.stringify({ ...s.core.envelope, requestId: 'req-42' }));
  assert.ok(parsed.ok);
  s.agent.setExpectation(parsed.expectation);
  const r = await s.sink.waitFor((x) => x.requestId === 'req-42', 'req-42');
  assert.equal(r.status, 'VERIFIED', JSON.stringify(r.findings));
  assert.equal(r.expectation?.greengrassGroupId, s.core.ids.groupId);
  const wrong = parseExpectation(JSON.stringify({ ...s.core.envelope, requestId: 'req-43', expectation: { ...s.core.expectation, summary: { ...(s.core.expectation.summary as object), greengrassGroupVersionId: 'other-version' } } }));
  assert.ok(wrong.ok);
  s.agent.setExpectation(wrong.expectation);
  const m = await s.sink.waitFor((x) => x.requestId === 'req-43', 'req-43');
  assert.equal(m.status, 'MISMATCH');
  assert.ok(has(m, 'GROUP_VERSION_MISMATCH'));
});

test('stop: prompt, idempotent, and no reports afterwards', async (t) => {
  const s = await startAgent(t);
  await s.agent.stop();
  assert.equal(s.agent.state, 'stopped');
  await s.agent.stop();
  const n = s.sink.reports.length;
  // Every way work could still arrive is shut: no watcher, no schedule, requests refused.
  assert.ok(s.watchers.length > 0 && s.watchers.every((w) => w.closed), 'every watcher closed');
  assert.deepEqual(s.scheduler.active, [], 'no schedule left');
  await writeFile(s.abs(`${s.core.paths.lambdaDir}/config.json`), 'after stop\n');
  assert.equal(s.scheduler.fire('rescan'), false);
  assert.equal(s.agent.requestReport(), false, 'a request after stop is refused');
  assert.equal(s.agent.connected(), false);
  await s.agent.idle();
  assert.equal(s.sink.reports.length, n);
});

test('stop during the first pass: start gives up quietly and nothing keeps running', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-agent-'));
  const core = await makeCore({ root: join(dir, 'core'), lambdaFiles: 300 });
  // 1 MB/s over ~1.3 MB: the first pass takes about a second, long enough to stop in the middle.
  const config = applyConfig(defaultConfig(), { root: core.root, stateDir: join(dir, 'state'), debounceMs: 50 }, 'test');
  const hasher = createHasher({ concurrency: 1, rateLimitMBps: 1 });
  const sink = new CollectingSink();
  const scheduler = new ManualScheduler();
  const w = recordWatchers();
  const agent = new Agent({ config, logger: silentLogger(), sink, hasher, agentVersion: 'test', scheduler, createWatcher: w.createWatcher });
  t.after(() => cleanUp(agent, hasher, dir));
  const started = agent.start().then(() => 'resolved', (e: Error) => `rejected: ${e.name}`);
  await new Promise((r) => setImmediate(r));
  await agent.stop();
  const outcome = await started;
  assert.equal(outcome, 'resolved', 'a stop is not a failure to start');
  assert.equal(agent.state, 'stopped', `start ${outcome} and left the agent ${agent.state}`);
  assert.ok(w.made.every((m) => m.closed), 'no watcher left open');
  assert.deepEqual(scheduler.active, [], 'no schedules left running');
});

test('a report the sink refused goes out again at the next heartbeat', async (t) => {
  let refuse: (() => void) | null = null;
  const sink = new CollectingSink();
  const flaky: ReportSink = {
    name: 'flaky',
    report: async (r) => {
      if (refuse) {
        refuse();
        refuse = null;
        throw new Error('transport down');
      }
      await sink.report(r);
    },
    heartbeat: (b) => sink.heartbeat(b),
    close: async () => {},
  };
  const s = await startAgent(t, { deps: { sink: flaky } });
  assert.equal(sink.reports.length, 1);
  const refused = new Promise<void>((res) => (refuse = res));
  const rel = `${s.core.paths.lambdaDir}/config.json`;
  await writeFile(s.abs(rel), 'tampered\n');
  await refused;
  await s.agent.idle();
  assert.equal(sink.reports.length, 1, 'the TAMPERED report was refused');
  assert.ok(s.scheduler.fire('heartbeat'));
  const r = await sink.waitFor((x) => has(x, 'ARTIFACT_MODIFIED', rel), 'the refused report, sent again');
  assert.equal(r.status, 'TAMPERED');
  await s.agent.idle();
  assert.equal(sink.heartbeats.at(-1)?.status, 'TAMPERED');
});

test('stop while the watcher is being set up: nothing is left watching or scheduled', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-agent-'));
  const core = await makeCore({ root: join(dir, 'core') });
  const config = applyConfig(defaultConfig(), { root: core.root, stateDir: join(dir, 'state'), debounceMs: 50 }, 'test');
  const hasher = createHasher({ concurrency: 1 });
  const sink = new CollectingSink();
  const scheduler = new ManualScheduler();
  const w = recordWatchers();
  let stopped: Promise<void> | null = null;
  const agent: Agent = new Agent({
    config, logger: silentLogger(), sink, hasher, agentVersion: 'test', scheduler, createWatcher: w.createWatcher,
    // Asked as watching begins, after the first pass: the moment a SIGTERM would hurt most.
    maxUserWatches: async () => {
      stopped = agent.stop();
      return null;
    },
  });
  t.after(() => cleanUp(agent, hasher, dir));
  await agent.start();
  assert.ok(stopped, 'the hook ran');
  await stopped;
  assert.equal(agent.state, 'stopped');
  assert.ok(w.made.every((m) => m.closed), 'no watcher left open');
  assert.deepEqual(scheduler.active, [], 'no schedules left running');
  assert.equal(sink.reports.length, 0, 'nothing reported after stop');
});
