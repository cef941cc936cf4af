// The agent as a real process in direct mode: MQTT 5 with mutual TLS against a
// real mosquitto (require_certificate), through the real aws-iot-device-sdk-v2
// client. What the cloud sees is checked with mosquitto_sub, against
// hand-written expectations.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Heartbeat, ReportPart } from '../../src/report/protocol.js';
import type { Report } from '../../src/verify/report.js';
import type { CoreSpec } from '../../scripts/simulated-core.js';
import { startMosquitto, type Broker, type Received } from '../lib/mosquitto.js';
import {
  canonicalSha256, directCore, sequenceProblems, startAgentProcess, type DirectCore,
} from '../lib/agent-process.js';

const T = { timeout: 180_000 };
const WAIT = 60_000;

let broker: Broker;
let scratch: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-service-mqtt-'));
  broker = await startMosquitto();
});

after(async () => {
  await broker?.stop();
  await rm(scratch, { recursive: true, force: true });
});

let n = 0;
interface Setup extends DirectCore {
  onReport(m: Received): boolean;
}

/** A fresh core with its own thing; agents started through it are stopped after the test. */
async function setup(t: TestContext, spec: Omit<CoreSpec, 'root' | 'ids'> = {}): Promise<Setup> {
  n += 1;
  const d = await directCore({ dir: join(scratch, `t${n}`), thing: `Core${n}`, broker, spec });
  t.after(() => d.stop());
  return { ...d, onReport: (m) => m.topic === `${d.base}/report` };
}

const json = <X>(m: Received): X => JSON.parse(m.payload) as X;

test('direct MQTT 5 over mutual TLS: the report (retained), the shadow summary, the client ID and thing from group.json', T, async (t) => {
  const s = await setup(t);
  const sub = await broker.subscriber(`${s.base}/#`);
  const shadow = await broker.subscriber(s.shadow);
  t.after(() => Promise.all([sub.close(), shadow.close()]));
  const startedAt = Date.now();
  const agent = s.start(); // no --thing: the core thing of group.json

  const first = json<Report>(await sub.waitFor(s.onReport, WAIT));
  assert.equal(first.schema, 'deploy-witness/report');
  assert.equal(first.thing, s.thing);
  assert.equal(first.status, 'VERIFIED');
  assert.equal(first.expectation, null);
  assert.ok(Number.isInteger(first.sequence) && first.sequence! >= 1, `sequence ${first.sequence}`);
  const at = Date.parse(first.generatedAt);
  assert.ok(at >= startedAt - 1000 && at <= Date.now(), `generatedAt ${first.generatedAt}`);
  assert.equal(first.observed.groupVersionId, s.core.ids.groupVersionId);

  const sh = json<{ state: { reported: Record<string, unknown> } }>(await shadow.waitFor(() => true, WAIT));
  assert.ok(Buffer.byteLength(JSON.stringify(sh)) < 8 * 1024);
  assert.equal(sh.state.reported.status, 'VERIFIED');
  assert.equal(sh.state.reported.groupId, s.core.ids.groupId);
  assert.equal(typeof sh.state.reported.sequence, 'number');

  // The broker knows the agent by <thing>-deploy-witness, never by the bare thing name.
  const brokerLog = await readFile(broker.logFile, 'utf8');
  assert.match(brokerLog, new RegExp(`New client connected from \\S+ as ${s.thing}-deploy-witness \\(p5`));

  // A late subscriber gets the newest report as the retained message.
  const late = await broker.subscriber(`${s.base}/report`);
  t.after(() => late.close());
  const retained = await late.waitFor(() => true, WAIT);
  assert.equal(retained.retain, true);
  assert.equal(retained.qos, 1);
  assert.ok(json<Report>(retained).sequence! >= first.sequence!);

  assert.deepEqual(await agent.term(), { code: 0, signal: null });
  assert.deepEqual(sequenceProblems(sub.messages.filter(s.onReport).map((m) => m.payload)), []);
});

test('expected and report/get: answered at once, request IDs echoed, bad input answered with EXPECTATION_INVALID, expectation kept across a restart', T, async (t) => {
  const s = await setup(t);
  const sub = await broker.subscriber(`${s.base}/report`);
  t.after(() => sub.close());
  let agent = s.start();
  await sub.waitFor(s.onReport, WAIT);

  await broker.publish(`${s.base}/expected`, JSON.stringify(s.core.envelope));
  const answered = json<Report>(await sub.waitFor((m) => json<Report>(m).requestId === 'req-0001', WAIT));
  assert.equal(answered.status, 'VERIFIED');
  assert.equal(answered.expectation?.sha256, canonicalSha256(s.core.envelope));
  assert.equal(answered.expectation?.systemInstanceId, s.core.ids.systemInstanceId);

  // Truncated JSON: logged, answered, never a crash; the previous expectation still stands.
  await broker.publish(`${s.base}/expected`, JSON.stringify({ requestId: 'req-bad', expectation: { summary: {} } }));
  const rejected = json<Report>(await sub.waitFor((m) => json<Report>(m).findings.some((f) => f.code === 'EXPECTATION_INVALID'), WAIT));
  assert.equal(rejected.requestId, 'req-bad');
  // A warning in the answer to that request: garbage never turns a VERIFIED device into MISMATCH.
  assert.equal(rejected.status, 'VERIFIED');
  assert.equal(rejected.findings.find((f) => f.code === 'EXPECTATION_INVALID')?.severity, 'warning');
  assert.equal(rejected.expectation?.sha256, canonicalSha256(s.core.envelope));
  await broker.publish(`${s.base}/expected`, '{"expectation": {"summ');
  await agent.waitForLog((l) => l.message === 'expectation rejected' && /not valid JSON/.test(String(l.error)), WAIT);

  await broker.publish(`${s.base}/report/get`, JSON.stringify({ requestId: 'get-1' }));
  const got = json<Report>(await sub.waitFor((m) => json<Report>(m).requestId === 'get-1', WAIT));
  assert.equal(got.status, 'VERIFIED', 'EXPECTATION_INVALID is said once, not kept');
  assert.equal(got.expectation?.sha256, canonicalSha256(s.core.envelope));
  assert.ok(got.sequence! > rejected.sequence!);

  // Any payload asks for the report.
  const before = sub.messages.length;
  await broker.publish(`${s.base}/report/get`, 'please');
  const plain = json<Report>(await sub.waitFor((m) => sub.messages.indexOf(m) >= before && json<Report>(m).sequence! > got.sequence!, WAIT));
  // Nothing to echo: never the previous request's ID, nor the expectation's (that one is in expectation.requestId).
  assert.equal(plain.requestId, null);
  assert.equal(plain.expectation?.requestId, 'req-0001');
  assert.equal(agent.running, true);

  // The expectation is on disk: a restarted agent judges against it from its first report.
  assert.deepEqual(await agent.term(), { code: 0, signal: null });
  const highest = Math.max(...sub.messages.map((m) => json<Report>(m).sequence!));
  agent = s.start();
  const again = json<Report>(await sub.waitFor((m) => json<Report>(m).sequence! > highest, WAIT));
  assert.equal(again.expectation?.sha256, canonicalSha256(s.core.envelope));
  assert.equal(again.status, 'VERIFIED');
  assert.deepEqual(sequenceProblems(sub.messages.map((m) => m.payload)), []);
});

test('a file change is a new verdict at once; heartbeats are small; SIGKILL lets the last will say offline, a restart says online again', T, async (t) => {
  const s = await setup(t);
  const configFile = join(s.dir, 'config.yaml');
  await writeFile(configFile, "heartbeatCron: '*/2 * * * * *'\n");
  const sub = await broker.subscriber(`${s.base}/#`);
  t.after(() => sub.close());
  let agent = s.start(['--config', configFile]);
  await sub.waitFor(s.onReport, WAIT);

  const rel = `${s.core.paths.lambdaDir}/config.json`;
  const original = await readFile(join(s.core.root, rel));
  await writeFile(join(s.core.root, rel), '{"handler":"evil"}\n');
  const tampered = json<Report>(await sub.waitFor((m) => s.onReport(m) && json<Report>(m).status === 'TAMPERED', WAIT));
  assert.deepEqual(tampered.findings.map((f) => [f.code, f.path]), [['ARTIFACT_MODIFIED', rel]]);
  await writeFile(join(s.core.root, rel), original);
  const restored = json<Report>(await sub.waitFor((m) => s.onReport(m) && json<Report>(m).sequence! > tampered.sequence!, WAIT));
  assert.equal(restored.status, 'VERIFIED');

  const beatMsg = await sub.waitFor((m) => m.topic === `${s.base}/heartbeat` && json<Heartbeat>(m).sequence === restored.sequence, WAIT);
  const beat = json<Heartbeat>(beatMsg);
  assert.equal(beat.online, true);
  assert.equal(beat.status, 'VERIFIED');
  assert.equal(beat.thing, s.thing);
  assert.ok(Buffer.byteLength(beatMsg.payload) < 4096, `heartbeat of ${Buffer.byteLength(beatMsg.payload)} bytes`);

  assert.deepEqual(await agent.kill(), { code: null, signal: 'SIGKILL' });
  const will = json<Heartbeat>(await sub.waitFor((m) => m.topic === `${s.base}/heartbeat` && json<Heartbeat>(m).online === false, WAIT));
  assert.equal(will.thing, s.thing);
  const beforeRestart = new Set(sub.messages);

  // Back: the retained heartbeat a newcomer sees is no longer the will. "mqtt5 connected" is
  // logged before the agent resubscribes and publishes: wait for its online heartbeat itself
  // (the broker retains a message before it forwards it, so a newcomer after this sees it).
  agent = s.start(['--config', configFile]);
  await sub.waitFor((m) => !beforeRestart.has(m) && m.topic === `${s.base}/heartbeat` && json<Heartbeat>(m).online === true, WAIT);
  const marker = JSON.stringify({ marker: Math.random() });
  const late = await broker.subscriber(`${s.base}/heartbeat`);
  t.after(() => late.close());
  const retained = await late.waitFor((m) => m.retain, WAIT);
  assert.equal(json<Heartbeat>(retained).online, true, retained.payload);
  await broker.publish(`${s.base}/heartbeat`, marker, { retain: false });
  await late.waitFor((m) => m.payload === marker, WAIT);
  assert.deepEqual(sequenceProblems(sub.messages.filter(s.onReport).map((m) => m.payload)), []);
});

test('broker restart: the agent reconnects and publishes its report again', T, async (t) => {
  const s = await setup(t);
  const sub = await broker.subscriber(`${s.base}/report`);
  const agent = s.start();
  const first = json<Report>(await sub.waitFor(s.onReport, WAIT));
  await sub.close();
  await broker.restart(); // no persistence: whatever report arrives now was published after it
  const after = await broker.subscriber(`${s.base}/report`);
  t.after(() => after.close());
  const again = json<Report>(await after.waitFor((m) => json<Report>(m).sequence! > first.sequence!, 90_000).catch((e) => { throw new Error(`${e}\n${agent.dump()}`); }));
  assert.equal(again.status, 'VERIFIED');
  assert.ok(agent.logs.some((l) => l.message === 'mqtt5 disconnected'), 'the agent saw the broker go');
});

test('a deployment so large its findings need parts: the report fits 128 KB, every finding follows in numbered parts, not retained', T, async (t) => {
  const FILES = 2500;
  const s = await setup(t, { lambdaFiles: FILES });
  const sub = await broker.subscriber(`${s.base}/#`);
  const shadow = await broker.subscriber(s.shadow);
  t.after(() => Promise.all([sub.close(), shadow.close()]));
  s.start();
  await sub.waitFor((m) => s.onReport(m) && json<Report>(m).status === 'VERIFIED', WAIT);

  await rm(join(s.core.root, s.core.paths.lambdaDir, 'lib'), { recursive: true });
  const big = await sub.waitFor((m) => s.onReport(m) && json<Report>(m).status === 'TAMPERED', WAIT);
  const report = json<Report>(big);
  assert.ok(Buffer.byteLength(big.payload) <= 128 * 1024, `report of ${Buffer.byteLength(big.payload)} bytes`);
  assert.equal(report.findingsTruncated, true);
  assert.equal(report.counts.ARTIFACT_MISSING, FILES);

  const first = json<ReportPart>(await sub.waitFor((m) => m.topic === `${s.base}/report/part` && json<ReportPart>(m).sequence === report.sequence, WAIT));
  assert.ok(first.of >= 2, `${first.of} parts`);
  const partMsgs: Received[] = [];
  for (let i = 1; i <= first.of; i++) {
    partMsgs.push(await sub.waitFor((m) => {
      if (m.topic !== `${s.base}/report/part`) return false;
      const p = json<ReportPart>(m);
      return p.sequence === report.sequence && p.part === i;
    }, WAIT));
  }
  const parts = partMsgs.map((m) => json<ReportPart>(m));
  for (const [i, m] of partMsgs.entries()) {
    assert.ok(Buffer.byteLength(m.payload) <= 128 * 1024, `part ${i + 1} of ${Buffer.byteLength(m.payload)} bytes`);
    assert.equal(parts[i]!.of, first.of);
    assert.equal(parts[i]!.thing, s.thing);
  }
  const all = parts.flatMap((p) => p.findings);
  const missing = all.filter((f) => f.code === 'ARTIFACT_MISSING').map((f) => f.path).sort();
  const expected = Array.from({ length: FILES }, (_, i) => `${s.core.paths.lambdaDir}/lib/dep-${String(i).padStart(4, '0')}.jar`).sort();
  assert.deepEqual(missing, expected);
  // The report keeps the first findings that fit; the parts carry the whole list.
  assert.deepEqual(report.findings, all.slice(0, report.findings.length));
  assert.ok(report.findings.length < all.length);

  const sh = json<{ state: { reported: Record<string, unknown> } }>(
    await shadow.waitFor((m) => json<{ state: { reported: { sequence: number } } }>(m).state.reported.sequence === report.sequence, WAIT),
  );
  assert.ok(Buffer.byteLength(JSON.stringify(sh)) < 8 * 1024);
  assert.equal(sh.state.reported.findings, all.length);

  // Parts are not retained: a newcomer gets the marker, and no part before it.
  const late = await broker.subscriber(`${s.base}/report/part`);
  t.after(() => late.close());
  const marker = JSON.stringify({ marker: Math.random() });
  await broker.publish(`${s.base}/report/part`, marker);
  await late.waitFor((m) => m.payload === marker, WAIT);
  assert.deepEqual(late.messages.map((m) => m.payload), [marker]);
});

test('direct MQTT with no client certificate, or a wrong one: a clear error and exit code 2, before any verification', T, async (t) => {
  const s = await setup(t);
  const cases: [string[], RegExp][] = [
    [[], /direct MQTT needs mqtt\.cert and mqtt\.key/],
    [['--cert', join(s.dir, 'missing.crt'), '--key', broker.certs.clientKey], /--cert \(mqtt\.cert\): \S*missing\.crt does not exist/],
    [['--cert', broker.certs.clientKey, '--key', broker.certs.clientKey], /--cert \(mqtt\.cert\): \S+ is not a PEM certificate/],
  ];
  for (const [extra, why] of cases) {
    const agent = startAgentProcess({
      args: ['--root', s.core.root, '--state', s.stateDir, '--endpoint', broker.host, '--port', String(broker.port), ...extra],
    });
    t.after(() => agent.term());
    const exit = await agent.exited;
    assert.equal(exit.code, 2, agent.dump());
    assert.ok(agent.text.some((l) => why.test(l)), agent.dump());
    assert.ok(!agent.logs.some((l) => l.message === 'report'), 'nothing verified with a configuration that cannot work');
  }
});
