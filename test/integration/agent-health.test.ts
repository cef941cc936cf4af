// The live agent and local health: a flow that stops running is noticed once
// its window passes, and recovery is noticed when executions resume. The
// clock is injected: the test moves time instead of waiting for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { healthProvider } from '../../src/health/provider.js';
import type { HealthSection } from '../../src/health/health.js';
import { silentLogger } from '../../src/log.js';
import { createHasher } from '../../src/observe/hash.js';
import type { Heartbeat } from '../../src/report/protocol.js';
import type { ReportSink } from '../../src/report/sink.js';
import type { Report } from '../../src/verify/report.js';
import { executionLines } from '../../scripts/simulated-flow-log.js';
import { expectationOf, tempCore } from '../lib/core.js';
import { ManualScheduler } from '../lib/manual-scheduler.js';

const WAIT = 20_000;

function collector() {
  const reports: Report[] = [];
  const beats: Heartbeat[] = [];
  const waiters: { pred: (r: Report) => boolean; res: (r: Report) => void }[] = [];
  const sink: ReportSink = {
    name: 'test',
    async report(any) {
      const r = any as Report; // a Things Graph core: its reports are of that layout
      reports.push(r);
      for (const w of waiters.splice(0)) (w.pred(r) ? w.res(r) : waiters.push(w));
    },
    async heartbeat(b) {
      beats.push(b);
    },
    async close() {},
  };
  const next = (pred: (r: Report) => boolean) =>
    new Promise<Report>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no such report; got ${reports.map((r) => r.status).join(', ')}`)), WAIT);
      waiters.push({ pred, res: (r) => { clearTimeout(t); res(r); } });
    });
  return { sink, reports, beats, next };
}

test('a stalled flow is FAILED once its window passes, and VERIFIED again when executions resume', { timeout: 60_000 }, async () => {
  const core = await tempCore({}, { debounceMs: 50 });
  let offsetMs = 0;
  const now = () => new Date(Date.now() + offsetMs);
  const c = collector();
  const hasher = createHasher({ concurrency: 1, rateLimitMBps: 0 });
  const scheduler = new ManualScheduler();
  const agent = new Agent({
    config: core.config, logger: silentLogger(), sink: c.sink, hasher, agentVersion: 'test', now, scheduler,
    expectation: expectationOf(core.envelope), health: healthProvider(core.config),
  });
  try {
    await agent.start();
    const first = c.reports[0]!;
    assert.equal(first.status, 'VERIFIED', JSON.stringify(first.findings));
    const h = first.health as HealthSection;
    assert.equal(h.flow.state, 'running');
    // The simulated log names "every 10 seconds": the window is 3 periods, at least a minute.
    assert.equal(h.flow.winS, 60);
    assert.equal(h.flow.cadS, 10);

    // Five minutes later, with nothing new in the log: the flow has stopped.
    offsetMs = 5 * 60_000;
    assert.ok(scheduler.fire('heartbeat'));
    const stalled = await c.next((r) => r.status === 'FAILED');
    assert.deepEqual(stalled.findings.map((f) => f.code), ['FLOW_NOT_RUNNING']);
    assert.equal((stalled.health as HealthSection).flow.state, 'stopped');
    await agent.idle();
    const beat = c.beats.at(-1)!;
    assert.equal(beat.status, 'FAILED');
    assert.equal((beat.health as HealthSection).flow.state, 'stopped', 'the heartbeat carries the health section');

    // The flow runs again: a new execution in the log, stamped with the (moved) clock.
    await appendFile(join(core.root, core.paths.thingsGraphLog), executionLines(now(), 99, { timestamps: true }));
    const back = await c.next((r) => r.status === 'VERIFIED' && (r.sequence ?? 0) > (stalled.sequence ?? 0));
    assert.deepEqual(back.findings, []);
    assert.equal((back.health as HealthSection).flow.state, 'running');
  } finally {
    await agent.stop();
    await hasher.close();
    await core.cleanup();
  }
});

test('failing steps in the window are a FLOW_ERRORS warning: reported, still VERIFIED', { timeout: 60_000 }, async () => {
  const core = await tempCore({}, { debounceMs: 50 });
  const c = collector();
  const hasher = createHasher({ concurrency: 1, rateLimitMBps: 0 });
  const agent = new Agent({
    config: core.config, logger: silentLogger(), sink: c.sink, hasher, agentVersion: 'test',
    expectation: expectationOf(core.envelope), health: healthProvider(core.config),
  });
  try {
    await agent.start();
    await appendFile(join(core.root, core.paths.thingsGraphLog), executionLines(new Date(), 7, { timestamps: true, failing: true }));
    const warned = await c.next((r) => r.findings.some((f) => f.code === 'FLOW_ERRORS'));
    assert.equal(warned.status, 'VERIFIED');
    const f = warned.findings.find((x) => x.code === 'FLOW_ERRORS')!;
    assert.equal(f.severity, 'warning');
    assert.match(JSON.stringify(f.actual), /CameraCapture failed/);
  } finally {
    await agent.stop();
    await hasher.close();
    await core.cleanup();
  }
});
