// Health against real things: ThingsGraph.log files written to a temp root and
// read back by the real readers (and the incremental cursor), the real
// machine's disks and memory, the real event loop. The clock is passed in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, open, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_LAYOUT, DEFAULT_LOG_PATTERNS } from '../../src/config/layout.js';
import { compilePatterns } from '../../src/observe/log-lines.js';
import { ThingsGraphLogReducer } from '../../src/observe/logs.js';
import { addLines, readThingsGraphLog } from '../lib/logs.js';
import { LogCursor } from '../../src/observe/log-cursor.js';
import type { ThingsGraphLogObservation } from '../../src/model/observation.js';
import { assessFlow, flowFindings } from '../../src/health/flow.js';
import { diskFindings, systemHealth } from '../../src/health/system.js';
import { createAgentMetrics } from '../../src/health/agent-metrics.js';
import { buildHealth } from '../../src/health/health.js';
import { executionLines, flowLogDir, writeFlowLog, type FlowLogScenario } from '../../scripts/simulated-flow-log.js';

const p = compilePatterns(DEFAULT_LOG_PATTERNS);
const N = Date.parse('2024-05-01T12:00:00.000Z');
const S = 1000;
const MIN = 60 * S;
const iso = (ms: number): string => new Date(ms).toISOString();
const OPTS = { windowMinutes: 15 };
const DIR = flowLogDir();

async function tempRoot(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dw-health-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return root;
}

async function scenario(t: Parameters<typeof tempRoot>[0], name: FlowLogScenario, timestamps = true) {
  const root = await tempRoot(t);
  const written = await writeFlowLog(root, name, { now: new Date(N), timestamps });
  const tg = await readThingsGraphLog(root, DEFAULT_LAYOUT, p, { timeline: true });
  assert.deepEqual(tg.files, written.files);
  return { root, written, tg };
}

const codes = (tg: ThingsGraphLogObservation, at: number): string[] => flowFindings(tg, new Date(at), OPTS).map((f) => f.code);

// ---- the scenarios, read from disk ----

test('healthy: running, six executions in the one-minute window; the finding comes exactly at nextCheckAt', async (t) => {
  const { tg } = await scenario(t, 'healthy');
  const { health, findings } = assessFlow(tg, new Date(N), OPTS);
  assert.deepEqual(findings, []);
  assert.equal(health.state, 'running');
  assert.equal(health.windowMs, MIN); // every 10 seconds x 3, raised to a minute
  assert.equal(health.cadenceMs, 10 * S);
  assert.equal(health.lastExecutionAt, iso(N - S));
  assert.equal(health.executionsInWindow, 6); // N-1 s ... N-51 s
  assert.equal(tg.activity.executions, 60);
  assert.equal(health.nextCheckAt?.toISOString(), iso(N + 59 * S));
  assert.deepEqual(codes(tg, N + 59 * S - 1), []);
  assert.deepEqual(codes(tg, N + 59 * S), ['FLOW_NOT_RUNNING']);
});

test('stopped: FLOW_NOT_RUNNING, last execution an hour ago', async (t) => {
  const { tg } = await scenario(t, 'stopped');
  const f = flowFindings(tg, new Date(N), OPTS);
  assert.deepEqual(f.map((x) => [x.code, x.severity]), [['FLOW_NOT_RUNNING', 'error']]);
  assert.equal(f[0]!.message, 'no flow execution for 60 min since the last one (window 60 s)');
  assert.equal(f[0]!.path, `${DIR}/ThingsGraph.log`);
  assert.deepEqual(f[0]!.actual, { lastExecutionAt: iso(N - 60 * MIN), initializedAt: iso(N - 120 * MIN + 700), executions: 360, timesAreBounds: false });
});

test('never started: registered and initialized an hour ago, no execution: FLOW_NOT_RUNNING', async (t) => {
  const { tg } = await scenario(t, 'never-started');
  assert.deepEqual(tg.registered, ['urn:tdm:us-east-1/123456789012/default:Deployment:MyExample01_V001']);
  const f = flowFindings(tg, new Date(N), OPTS);
  assert.deepEqual(f.map((x) => x.code), ['FLOW_NOT_RUNNING']);
  assert.match(f[0]!.message, /since the runtime initialized/);
  assert.equal((f[0]!.actual as { lastExecutionAt: unknown }).lastExecutionAt, null);
});

test('failing: still running, FLOW_ERRORS with the window count and the newest lines', async (t) => {
  const { tg } = await scenario(t, 'failing');
  const { health, findings } = assessFlow(tg, new Date(N), OPTS);
  assert.equal(health.state, 'running');
  assert.equal(health.failuresInWindow, 12); // 2 per execution, 6 executions inside the minute
  assert.deepEqual(findings.map((x) => [x.code, x.severity]), [['FLOW_ERRORS', 'warning']]);
  assert.deepEqual((findings[0]!.actual as { newest: unknown }).newest, [
    { at: iso(N - 11 * S + 251), text: 'java.net.SocketTimeoutException: connect timed out' },
    { at: iso(N - S + 250), text: 'StateTransition: step CameraCapture failed: device Camera1 did not answer' },
    { at: iso(N - S + 251), text: 'java.net.SocketTimeoutException: connect timed out' },
  ]);
  // The warning lapses a minute after the newest failure, the running state a minute after the newest start.
  assert.equal(health.nextCheckAt?.toISOString(), iso(N + 59 * S));
});

test('no timestamps: the file mtime bounds every line; the flow looks running until a window after it', async (t) => {
  const { tg, written } = await scenario(t, 'no-timestamps');
  const mtimeMs = (await stat(written.current)).mtimeMs;
  assert.ok(mtimeMs >= N - 741 && mtimeMs <= N - 740, `mtime ${mtimeMs - N}`); // the last line's time: N - 1 s + 260 ms
  const bound = iso(mtimeMs);
  const { health, findings } = assessFlow(tg, new Date(N), OPTS);
  assert.deepEqual(findings, []);
  assert.equal(health.timesAreBounds, true);
  assert.equal(health.lastExecutionAt, bound);
  assert.equal(tg.activity.timeline?.bootstrapAt, bound); // not when it happened: no later than
  const next = health.nextCheckAt!.getTime();
  assert.equal(next, Date.parse(bound) + MIN);
  assert.deepEqual(codes(tg, next - 1), []);
  assert.deepEqual(codes(tg, next), ['FLOW_NOT_RUNNING']);
});

test('stopped without timestamps: the bound still proves it stopped', async (t) => {
  const { tg } = await scenario(t, 'stopped', false);
  const f = flowFindings(tg, new Date(N), OPTS);
  assert.deepEqual(f.map((x) => x.code), ['FLOW_NOT_RUNNING']);
  assert.equal((f[0]!.actual as { timesAreBounds: boolean }).timesAreBounds, true);
});

test('rotated: the run starts in ThingsGraph.log.1 and goes on in ThingsGraph.log', async (t) => {
  const { tg } = await scenario(t, 'rotated');
  assert.equal(tg.activity.executions, 120);
  assert.equal(tg.activity.timeline?.bootstrapAt, iso(N - 20 * MIN - S));
  assert.equal(tg.activity.timeline?.starts.length, 64);
  const { health, findings } = assessFlow(tg, new Date(N), OPTS);
  assert.deepEqual(findings, []);
  assert.equal(health.state, 'running');
  assert.equal(health.lastExecutionAt, iso(N - S));
});

// ---- incremental reading ----

test('a log rotated between two reads: the cursor hands over the rest, the activity goes on', async (t) => {
  const root = await tempRoot(t);
  const { current } = await writeFlowLog(root, 'healthy', { now: new Date(N), timestamps: true });
  const cursor = new LogCursor(current);
  const reducer = new ThingsGraphLogReducer({ timeline: true });
  const feed = async () => {
    const lines = await cursor.readNew();
    addLines(reducer, lines, p, iso((await stat(current)).mtimeMs));
    return lines.length;
  };
  const tg = () => ({ files: [`${DIR}/ThingsGraph.log`], ...reducer.result() });
  assert.ok((await feed()) > 0);
  const T2 = N + 5 * MIN;
  assert.deepEqual(codes(tg(), T2), ['FLOW_NOT_RUNNING']); // nothing new read yet

  let appended = '';
  for (let i = 0; i < 12; i++) appended += executionLines(new Date(N + 9 * S + i * 10 * S), 100 + i, { timestamps: true });
  await appendFile(current, appended);
  await rename(current, `${current}.1`);
  let fresh = '';
  for (let i = 0; i < 18; i++) fresh += executionLines(new Date(N + 129 * S + i * 10 * S), 200 + i, { timestamps: true });
  await writeFile(current, fresh);
  await feed();

  assert.equal(cursor.rotations, 1);
  assert.equal(cursor.rotationsMissed, 0);
  const r = tg();
  assert.equal(r.activity.executions, 60 + 12 + 18);
  assert.equal(r.lastBootstrapAt, iso(N - 10 * MIN - S)); // the same run: no restart in between
  const { health, findings } = assessFlow(r, new Date(T2), OPTS);
  assert.deepEqual(findings, []);
  assert.equal(health.lastExecutionAt, iso(T2 - S));
  assert.equal(health.executionsInWindow, 6);
});

test('measure: a 100 MB log, then a 1 KB append, read incrementally (printed, not asserted)', async (t) => {
  const root = await tempRoot(t);
  const fs = await statfs(root);
  if (fs.bavail * fs.bsize < 1024 ** 3) return t.skip('less than 1 GB free');
  const path = join(root, 'ThingsGraph.log');
  const line = `[2024-05-01T12:00:00.000Z][INFO]-StateTransition: step CameraCapture succeeded ${'x'.repeat(40)}\n`;
  const block = Buffer.from(line.repeat(Math.floor((1024 * 1024) / line.length)));
  const fh = await open(path, 'w');
  try {
    for (let written = 0; written < 100 * 1024 * 1024; written += block.length) await fh.write(block);
  } finally {
    await fh.close();
  }
  const size = (await stat(path)).size;
  const cursor = new LogCursor(path, { from: 'end' });
  await cursor.readNew();
  const before = cursor.bytesRead;
  const append = line.repeat(Math.ceil(1024 / line.length));
  await appendFile(path, append);
  const t0 = performance.now();
  const lines = await cursor.readNew();
  const ms = performance.now() - t0;
  const cost = cursor.bytesRead - before;
  assert.equal(lines.length, Math.ceil(1024 / line.length));
  const msg = `log ${(size / 1024 ** 2).toFixed(1)} MiB; first read from the end: ${before} B; append of ${append.length} B read ${cost} B in ${ms.toFixed(2)} ms`;
  t.diagnostic(msg);
});

// ---- the machine ----

test('systemHealth on this machine: sane numbers; one entry per file system; a missing path is left out, never named for the folder above it', async (t) => {
  const root = await tempRoot(t);
  const here = process.cwd();
  const missing = join(root, 'not', 'there', 'yet');
  const h = await systemHealth([root, missing, here, join(here, 'dist')]);
  assert.deepEqual((await systemHealth([missing, join(root, 'greengrass')])).disks, []);
  assert.ok(h.disks.length >= 1);
  const devs = new Set<number>();
  for (const p of [root, here]) devs.add((await stat(p)).dev);
  assert.equal(h.disks.length, devs.size);
  assert.equal(h.disks[0]!.path, root);
  for (const d of h.disks) {
    assert.ok(d.totalBytes > 0, 'total > 0');
    assert.ok(d.freeBytes >= 0 && d.freeBytes <= d.totalBytes);
    assert.ok(d.freePercent >= 0 && d.freePercent <= 100, `percent ${d.freePercent}`);
  }
  assert.ok(h.memory.totalBytes > 0);
  assert.ok(h.memory.availableBytes > 0 && h.memory.availableBytes <= h.memory.totalBytes);
  assert.equal(h.load.length, 3);
  for (const l of h.load) assert.ok(Number.isFinite(l) && l >= 0);
  assert.ok(h.uptimeSeconds > 0);

  // The disk holding this repository has files on it: never 100% free.
  const repo = (await systemHealth([here])).disks;
  assert.ok(diskFindings(repo, 100).length === 1 && diskFindings(repo, 100)[0]!.code === 'DISK_LOW');
  assert.deepEqual(diskFindings(h.disks, 0), []);
});

test('systemHealth: MemAvailable from meminfo when readable, free memory otherwise', async (t) => {
  const root = await tempRoot(t);
  const info = join(root, 'meminfo');
  await writeFile(info, 'MemTotal:        3884096 kB\nMemFree:          100000 kB\nMemAvailable:     123 kB\n');
  assert.equal((await systemHealth([], { meminfoPath: info })).memory.availableBytes, 123 * 1024);
  const fallback = await systemHealth([], { meminfoPath: join(root, 'absent') });
  assert.ok(fallback.memory.availableBytes > 0);
  assert.deepEqual(fallback.disks, []);
});

test('agent metrics: a blocked event loop shows as delay; CPU and memory are the process own', async () => {
  const m = createAgentMetrics({ resolutionMs: 10 });
  try {
    await sleep(30);
    const end = performance.now() + 200;
    while (performance.now() < end) {
      // block the loop: a slower machine only makes the delay larger
    }
    await sleep(30);
    const r = m.read();
    assert.ok(r.loopDelayMs.max >= 100, `max delay ${r.loopDelayMs.max} ms`);
    assert.ok(r.loopDelayMs.p50 <= r.loopDelayMs.p99 && r.loopDelayMs.p99 <= r.loopDelayMs.max);
    assert.ok(r.cpuPercent > 0 && Number.isFinite(r.cpuPercent));
    assert.ok(r.intervalMs >= 200);
    assert.ok(r.rssBytes > 0 && r.heapUsedBytes > 0);

    const section = buildHealth({ flow: assessFlow({ files: [], bootstrapped: false, initialized: false, registered: [] }, new Date(N), OPTS).health, system: await systemHealth([process.cwd()]), agent: m.read(), watcher: 'watching', spoolDepth: 3 });
    assert.equal(section.flow.state, 'absent');
    assert.equal(section.agent.spool, 3);
    assert.ok(Buffer.byteLength(JSON.stringify(section)) < 1024);
  } finally {
    m.close();
  }
});
