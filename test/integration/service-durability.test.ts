// Durability of the reports, end to end: the agent as a real process in direct
// MQTT 5 mode against a real mosquitto, the broker stopped for 30 s while the
// verdict changes, the agent SIGKILLed with reports in its spool, and killed
// inside a spool write (a fault injected through the spool's options by a
// small runner, test/lib/faulty-run.ts). A receiver must get every report that
// was spooled, in order, and never a resend as news.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SpoolRecord } from '../../src/report/spool.js';
import type { Report } from '../../src/verify/report.js';
import { startMosquitto, type Broker, type Received, type Subscriber } from '../lib/mosquitto.js';
import { isAtomicTemp } from '../../src/state/atomic.js';
import {
  directCore, killedInSpoolWrite, loggedSequences, sequenceProblems, spooled, waitForDir, type AgentProcess, type DirectCore,
} from '../lib/agent-process.js';

const WAIT = 60_000;
/** The outage to survive: long enough for the client to give up and back off. */
const OUTAGE_MS = 30_000;

let broker: Broker;
let scratch: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-service-durability-'));
  broker = await startMosquitto();
});

after(async () => {
  await broker?.stop();
  await rm(scratch, { recursive: true, force: true });
});

async function setup(t: TestContext, thing: string): Promise<DirectCore> {
  if (!broker.running) await broker.restart(); // an earlier test failed with it down
  const d = await directCore({ dir: join(scratch, thing), thing, broker });
  t.after(() => d.stop());
  return d;
}

const seqOf = (m: Received) => (JSON.parse(m.payload) as Report).sequence!;

/** Distinct sequences in order of first arrival. */
const distinct = (msgs: readonly Received[]) => [...new Set(msgs.map(seqOf))];

/** Waits for the agent's next report log line, after `than`. */
const nextReport = (agent: AgentProcess, than: number, ms = WAIT) =>
  agent.waitForLog((l) => l.message === 'report' && (l.sequence as number) > than, ms).then((l) => l.sequence as number);

/** Reconnecting after an outage waits out the client's backoff (capped at 60 s, jittered). */
const RECONNECT_WAIT = 150_000;

/** Changes a deployed file so that each call is a new verdict (the digest differs each time). */
async function tamper(d: DirectCore, i: number): Promise<void> {
  await writeFile(join(d.core.root, d.core.paths.lambdaDir, 'config.json'), `{"handler":"changed-${i}"}\n`);
}

/** Report sequences of the report entries waiting in the spool, oldest first. */
async function spooledSequences(stateDir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await spooled(stateDir, 'report')) {
    const record = JSON.parse(await readFile(join(stateDir, 'spool', name), 'utf8')) as SpoolRecord;
    out.push((JSON.parse(record.message.payload) as Report).sequence!);
  }
  return out;
}

/** Starts the broker again and subscribes while the agent is frozen, so it cannot publish before the subscriber is in. */
async function brokerBack(agent: AgentProcess | null, topic: string): Promise<Subscriber> {
  agent?.pause();
  try {
    await broker.restart();
    return await broker.subscriber(topic);
  } finally {
    agent?.resume();
  }
}

test('broker stopped for 30 s while the verdict changes: every report delivered after, in order, none lost', { timeout: 300_000 }, async (t) => {
  const d = await setup(t, 'Outage');
  let sub = await broker.subscriber(`${d.base}/report`);
  const agent = d.start();
  // The start report, then the one after connecting.
  const connected = await nextReport(agent, 1);
  await sub.waitFor((m) => seqOf(m) === connected, WAIT);
  const before = distinct(sub.messages);

  const down = Date.now();
  await broker.stop();
  await agent.waitForLog((l) => l.message === 'mqtt5 disconnected', WAIT);
  let last = connected;
  for (let i = 0; i < 5; i++) {
    await tamper(d, i);
    last = await nextReport(agent, last);
  }
  const during = loggedSequences(agent).filter((s) => s > connected);
  assert.equal(during.length, 5, `one report per change: ${during}`);
  // A report is logged just before it is spooled: wait for the files, not the log.
  await waitForDir(join(d.stateDir, 'spool'), (names) => names.filter((n) => n.endsWith('.report.json')).length >= 5, WAIT);
  assert.deepEqual(await spooledSequences(d.stateDir), during, 'all waiting in the spool');
  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));

  sub = await brokerBack(agent, `${d.base}/report`);
  t.after(() => sub.close());
  // After the spooled ones, the report the reconnection triggers.
  const reconnect = await nextReport(agent, last, RECONNECT_WAIT);
  await sub.waitFor((m) => seqOf(m) === reconnect, RECONNECT_WAIT);

  const received = distinct(sub.messages);
  assert.deepEqual(received.filter((s) => s <= last), during, `before the outage ${before}, after ${received}`);
  assert.deepEqual(sequenceProblems(sub.messages.map((m) => m.payload)), []);
  for (const m of sub.messages.filter((x) => during.includes(seqOf(x)))) {
    const r = JSON.parse(m.payload) as Report;
    assert.equal(r.status, 'TAMPERED');
    assert.equal(r.findings[0]?.code, 'ARTIFACT_MODIFIED');
  }
  await waitForDir(join(d.stateDir, 'spool'), (names) => !names.some((n) => n.endsWith('.report.json')), WAIT);
});

test('SIGKILL with reports in the spool: delivered after the restart, in order, the sequence goes on, nothing resent as news', { timeout: 240_000 }, async (t) => {
  const d = await setup(t, 'Killed');
  let sub = await broker.subscriber(`${d.base}/report`);
  const agent = d.start();
  const connected = await nextReport(agent, 1);
  await sub.waitFor((m) => seqOf(m) === connected, WAIT);

  await broker.stop();
  await agent.waitForLog((l) => l.message === 'mqtt5 disconnected', WAIT);
  let last = connected;
  for (let i = 0; i < 3; i++) {
    await tamper(d, i);
    last = await nextReport(agent, last);
  }
  const waiting = loggedSequences(agent).filter((s) => s > connected);
  // A report is logged just before it is spooled: wait for the files, not the log.
  await waitForDir(join(d.stateDir, 'spool'), (names) => names.filter((n) => n.endsWith('.report.json')).length >= 3, WAIT);
  assert.deepEqual(await spooledSequences(d.stateDir), waiting);
  assert.deepEqual(await agent.kill(), { code: null, signal: 'SIGKILL' });

  sub = await brokerBack(null, `${d.base}/report`);
  t.after(() => sub.close());
  const again = d.start();
  const firstAfter = await again.waitForLog((l) => l.message === 'report', WAIT).then((l) => l.sequence as number);
  assert.ok(firstAfter > last, `the sequence survives the kill: ${firstAfter} after ${last}`);
  const reconnect = await nextReport(again, firstAfter);
  await sub.waitFor((m) => seqOf(m) === reconnect, WAIT);

  const received = distinct(sub.messages);
  assert.deepEqual(received, [...waiting, firstAfter, reconnect]);
  assert.deepEqual(sequenceProblems(sub.messages.map((m) => m.payload)), []);
  await waitForDir(join(d.stateDir, 'spool'), (names) => !names.some((n) => n.endsWith('.report.json')), WAIT);
});

test('SIGKILL inside a spool write: the torn entry is dropped, what was spooled before is delivered, the verdict is reported again', { timeout: 240_000 }, async (t) => {
  const d = await setup(t, 'Torn');
  await broker.stop();
  // Write 1 and 2: the start report and its shadow summary; write 3: the next report.
  const agent = d.start([], {}, killedInSpoolWrite(3));
  const startSeq = await nextReport(agent, 0);
  await waitForDir(join(d.stateDir, 'spool'), (names) => names.some((n) => n.endsWith('.shadow.json')), WAIT);
  await tamper(d, 1);
  const exit = await agent.exited;
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, agent.dump());
  const torn = loggedSequences(agent).at(-1)!;
  assert.equal(torn, startSeq + 1, 'killed while spooling the report of the change');
  const left = await waitForDir(join(d.stateDir, 'spool'), () => true);
  // Temp files carry the writer's pid: those of the killed process are the torn ones.
  const tornTemps = left.filter((n) => isAtomicTemp(n) && n.includes(`.${agent.pid}.`));
  assert.ok(tornTemps.length > 0, `a torn temp file: ${left}`);
  assert.deepEqual(await spooledSequences(d.stateDir), [startSeq]);

  const sub = await brokerBack(null, `${d.base}/report`);
  t.after(() => sub.close());
  const again = d.start();
  const firstAfter = await again.waitForLog((l) => l.message === 'report', WAIT).then((l) => l.sequence as number);
  assert.ok(firstAfter > torn, `a sequence is never reused: ${firstAfter} after ${torn}`);
  const reconnect = await nextReport(again, firstAfter);
  const answer = await sub.waitFor((m) => seqOf(m) === reconnect, WAIT);

  assert.deepEqual(distinct(sub.messages), [startSeq, firstAfter, reconnect]);
  assert.deepEqual(sequenceProblems(sub.messages.map((m) => m.payload)), []);
  const r = JSON.parse(answer.payload) as Report;
  assert.equal(r.status, 'TAMPERED', 'the change the torn report was about is reported');
  const names = await waitForDir(join(d.stateDir, 'spool'), (n) => !n.some((x) => x.endsWith('.report.json')), WAIT);
  // The running agent may be in the middle of a write of its own (a heartbeat, a shadow
  // update): its temp file is no leftover. The killed process's are, and must be gone.
  const leftover = names.filter((n) => isAtomicTemp(n) && n.includes(`.${agent.pid}.`));
  assert.deepEqual(leftover, [], `temp files of the killed process removed at start: ${names}`);
});
