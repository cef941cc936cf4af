// The agent as a Greengrass component: a real process whose environment points
// at a local nucleus double (test/lib/ipc-server.ts) spoken to by the real
// aws-iot-device-sdk-v2 IPC client. Configuration comes from GetConfiguration
// and changes live; reports go out with PublishToIoTCore; the component state
// with UpdateState. Both nucleus flavours: the Java nucleus and nucleus lite.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Heartbeat } from '../../src/report/protocol.js';
import type { Report } from '../../src/verify/report.js';
import { makeCore, type MadeCore } from '../../scripts/simulated-core.js';
import { startIpcServer, type IpcServer, type IpcServerOptions, type RecordedPublish } from '../lib/ipc-server.js';
import {
  canonicalSha256, keepFlowRunning, sequenceProblems, slowNucleus, startAgentProcess, type AgentProcess,
} from '../lib/agent-process.js';

const T = { timeout: 120_000 };
const WAIT = 60_000;
const TOKEN = 'svcuid-7d3e9b1c0a52';
const COMPONENT = 'com.deploywitness.Agent';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-service-ipc-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let n = 0;
interface Setup {
  core: MadeCore;
  stateDir: string;
  server: IpcServer;
  thing: string;
  base: string;
  /** Starts the agent as the recipe does (`run --state ...`) with the nucleus' environment. */
  start(opts?: { args?: string[]; token?: string; socketPath?: string }): AgentProcess;
  /** Parsed reports published so far on <base>/report (or another prefix's). */
  reports(prefix?: string): Report[];
  /** Resolves with the first published report (from index `from` on) that matches. */
  waitReport(pred: (r: Report) => boolean, prefix?: string): Promise<Report>;
}

async function setup(
  t: TestContext,
  configuration: (core: MadeCore) => Record<string, unknown>,
  server: Partial<IpcServerOptions> = {},
): Promise<Setup> {
  const dir = join(scratch, `t${++n}`);
  const core = await makeCore({ root: join(dir, 'root') });
  const stateDir = join(dir, 'state');
  const thing = `GGv2Core${n}`;
  const nucleus = await startIpcServer({ authToken: TOKEN, componentName: COMPONENT, configuration: configuration(core), ...server });
  const stopFlow = keepFlowRunning(join(core.root, core.paths.thingsGraphLog), core.ids.flowName);
  const agents: AgentProcess[] = [];
  t.after(async () => {
    stopFlow();
    for (const a of agents) await a.term();
    await nucleus.close();
  });
  const reports = (prefix = 'deploy-witness') =>
    nucleus.publishes.filter((p) => p.topicName === `${prefix}/${thing}/report`).map((p) => JSON.parse(p.payload.toString('utf8')) as Report);
  return {
    core,
    stateDir,
    server: nucleus,
    thing,
    base: `deploy-witness/${thing}`,
    start(opts = {}) {
      const a = startAgentProcess({
        args: ['--state', stateDir, ...(opts.args ?? [])],
        env: {
          AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: opts.socketPath ?? nucleus.socketPath,
          SVCUID: opts.token ?? TOKEN,
          AWS_IOT_THING_NAME: thing,
        },
      });
      agents.push(a);
      return a;
    },
    reports,
    async waitReport(pred, prefix) {
      let found: Report | undefined;
      await nucleus.waitFor(() => (found = reports(prefix).find(pred)) !== undefined, WAIT);
      return found!;
    },
  };
}

/** The recipe's own accessControl: the nucleus double enforces it, so it must allow every topic the agent uses. */
const RECIPE_ACCESS_CONTROL = (parse(readFileSync(join(process.cwd(), 'recipe.yaml'), 'utf8')) as { ComponentConfiguration: { DefaultConfiguration: { accessControl: unknown } } })
  .ComponentConfiguration.DefaultConfiguration.accessControl;

/** The component configuration a deployment would merge: the recipe's keys, pointed at the test core. */
const componentConfig = (core: MadeCore, extra: Record<string, unknown> = {}) => ({
  root: core.root,
  topicPrefix: 'deploy-witness',
  hashRateLimitMBps: 0,
  hashConcurrency: 1,
  logLevel: 'info',
  debounceMs: 200,
  erroredWhenUnverified: false,
  accessControl: RECIPE_ACCESS_CONTROL,
  ...extra,
});

const payloadOf = (p: RecordedPublish) => p.payload.toString('utf8');

test('as a component: reads its configuration, says RUNNING, publishes the report (retained) and the shadow, answers expected and report/get', T, async (t) => {
  const s = await setup(t, (core) => componentConfig(core));
  const agent = s.start();
  const first = await s.waitReport(() => true);
  assert.equal(first.thing, s.thing, 'thing from AWS_IOT_THING_NAME');
  assert.equal(first.status, 'VERIFIED');
  await s.server.waitFor(() => s.server.states.includes('RUNNING'), WAIT);
  assert.ok(!s.server.states.includes('ERRORED'));
  assert.ok(s.server.events.some((e) => e.kind === 'getConfiguration' && e.keyPath.length === 0), 'reads the whole configuration');
  assert.ok(s.server.configSubscriptions.length >= 1, 'subscribes to configuration updates');

  const report = s.server.publishes.find((p) => p.topicName === `${s.base}/report`)!;
  assert.equal(report.retain, true);
  assert.equal(report.qos, '1');
  const shadowTopic = `$aws/things/${s.thing}/shadow/name/deploy-witness/update`;
  await s.server.waitFor(() => s.server.publishes.some((p) => p.topicName === shadowTopic), WAIT);
  const shadow = JSON.parse(payloadOf(s.server.publishes.find((p) => p.topicName === shadowTopic)!)) as { state: { reported: Record<string, unknown> } };
  assert.ok(Buffer.byteLength(JSON.stringify(shadow)) < 8 * 1024);
  assert.equal(shadow.state.reported.status, 'VERIFIED');
  assert.equal(shadow.state.reported.groupId, s.core.ids.groupId);
  await s.server.waitFor(() => ['expected', 'report/get'].every((x) => s.server.activeSubscriptions().includes(`${s.base}/${x}`)), WAIT);

  assert.equal(s.server.deliver(`${s.base}/expected`, JSON.stringify(s.core.envelope)), 1);
  const answered = await s.waitReport((r) => r.requestId === 'req-0001');
  assert.equal(answered.status, 'VERIFIED');
  assert.equal(answered.expectation?.sha256, canonicalSha256(s.core.envelope));

  s.server.deliver(`${s.base}/expected`, '{"expectation": {"summary": {"id": 42');
  const rejected = await s.waitReport((r) => r.findings.some((f) => f.code === 'EXPECTATION_INVALID'));
  // A warning in the answer: the device goes on judging by the valid expectation it holds.
  assert.equal(rejected.status, 'VERIFIED');
  assert.equal(rejected.findings.find((f) => f.code === 'EXPECTATION_INVALID')?.severity, 'warning');
  assert.equal(rejected.expectation?.sha256, canonicalSha256(s.core.envelope));
  await agent.waitForLog((l) => l.message === 'expectation rejected', WAIT);

  s.server.deliver(`${s.base}/report/get`, JSON.stringify({ requestId: 'get-7' }));
  const got = await s.waitReport((r) => r.requestId === 'get-7');
  assert.equal(got.status, 'VERIFIED');
  assert.equal(got.expectation?.sha256, canonicalSha256(s.core.envelope), 'still judged against the stored expectation');
  assert.deepEqual(sequenceProblems(s.server.publishes.filter((p) => p.topicName === `${s.base}/report`).map(payloadOf)), []);

  // SIGTERM: a prompt, clean exit.
  assert.deepEqual(await agent.term(), { code: 0, signal: null });
});

test('the first IPC connection is answered with a heartbeat too, not at the next heartbeat time', T, async (t) => {
  // The heartbeat schedule is once a year: a heartbeat now can only be the connection's.
  const s = await setup(t, (core) => componentConfig(core, { heartbeatCron: '0 0 1 1 *' }));
  s.start();
  const first = await s.waitReport(() => true);
  const beats = () => s.server.publishes.filter((p) => p.topicName === `${s.base}/heartbeat`);
  await s.server.waitFor(() => beats().length > 0, WAIT);
  const beat = JSON.parse(payloadOf(beats()[0]!)) as Heartbeat;
  assert.equal(beat.online, true);
  assert.equal(beat.thing, s.thing);
  assert.equal(beat.sequence, first.sequence, 'after the first report, about it');
  assert.equal(beats()[0]!.retain, true, 'retained: it replaces an offline last will');
  assert.equal(s.reports().filter((r) => r.sequence === first.sequence).length, 1, 'one first report answers the connection');
});

test('flags win over the component configuration, and a configuration change applies live', T, async (t) => {
  const s = await setup(t, (core) => componentConfig(core, { thingName: 'FromConfiguration' }));
  s.start({ args: ['--thing', s.thing] });
  await s.waitReport(() => true);
  assert.ok(!s.server.publishes.some((p) => p.topicName.includes('FromConfiguration')), 'the flag won');

  // Another prefix needs its own accessControl: a deployment merges both.
  s.server.updateConfiguration(['accessControl'], JSON.parse(JSON.stringify(RECIPE_ACCESS_CONTROL).replaceAll('"deploy-witness/', '"witness2/')));
  assert.ok(s.server.updateConfiguration(['topicPrefix'], 'witness2') >= 1);
  const moved = await s.waitReport(() => true, 'witness2');
  assert.equal(moved.thing, s.thing);
  await s.server.waitFor(() => s.server.activeSubscriptions().includes(`witness2/${s.thing}/report/get`), WAIT);
  s.server.deliver(`witness2/${s.thing}/report/get`, '{"requestId":"after-move"}');
  const answered = await s.waitReport((r) => r.requestId === 'after-move', 'witness2');
  assert.ok(answered.sequence! > moved.sequence!);
  assert.deepEqual(s.server.states.filter((x) => x === 'ERRORED'), []);
});

test('ERRORED while the agent cannot work (unreadable root, bad configuration), RUNNING again once fixed, never a crash', T, async (t) => {
  const s = await setup(t, (core) => componentConfig(core, { root: join(core.root, 'no-such-folder') }));
  const agent = s.start();
  await s.server.waitFor(() => s.server.states.includes('ERRORED'), WAIT);
  const why = await agent.waitForLog((l) => l.message === 'the agent cannot work', WAIT);
  assert.match(String(why.reason), /root \S*no-such-folder does not exist/);
  assert.equal(s.reports().length, 0);

  // A file for a root: still ERRORED, still waiting, said in its own words.
  const file = join(s.core.root, 'greengrass', 'ggc', 'deployment', 'group', 'group.json');
  s.server.updateConfiguration(['root'], file);
  const notFolder = await agent.waitForLog((l) => l.message === 'the agent cannot work' && /is a file, not a folder/.test(String(l.reason)), WAIT);
  assert.match(String(notFolder.reason), /group\.json is a file, not a folder/);
  assert.equal(agent.running, true);
  assert.equal(s.reports().length, 0);

  s.server.updateConfiguration(['root'], s.core.root);
  await s.waitReport((r) => r.status === 'VERIFIED');
  await s.server.waitFor(() => s.server.states.at(-1) === 'RUNNING', WAIT);

  s.server.updateConfiguration(['hashConcurrency'], 'lots');
  await s.server.waitFor(() => s.server.states.at(-1) === 'ERRORED', WAIT);
  const bad = await agent.waitForLog((l) => l.message === 'the agent cannot work' && /hashConcurrency/.test(String(l.reason)), WAIT);
  assert.match(String(bad.reason), /component configuration: hashConcurrency must be a number/);
  const count = s.reports().length;
  s.server.updateConfiguration(['hashConcurrency'], 2);
  await s.server.waitFor(() => s.server.states.at(-1) === 'RUNNING' && s.reports().length > count, WAIT);
  assert.equal(agent.running, true);
  assert.deepEqual(s.server.states, ['ERRORED', 'RUNNING', 'ERRORED', 'RUNNING']);
});

test('erroredWhenUnverified: ERRORED while the deployment does not match, RUNNING once it verifies', T, async (t) => {
  const s = await setup(t, (core) => componentConfig(core, { erroredWhenUnverified: true }));
  s.start();
  await s.waitReport(() => true);
  await s.server.waitFor(() => s.server.states.at(-1) === 'RUNNING', WAIT);
  await s.server.waitFor(() => s.server.activeSubscriptions().includes(`${s.base}/expected`), WAIT);

  const wrong = structuredClone(s.core.envelope) as { requestId: string; expectation: { summary: Record<string, unknown> } };
  wrong.requestId = 'wrong-version';
  wrong.expectation.summary.greengrassGroupVersionId = '00000000-0000-4000-8000-000000000000';
  s.server.deliver(`${s.base}/expected`, JSON.stringify(wrong));
  const mismatch = await s.waitReport((r) => r.requestId === 'wrong-version');
  assert.equal(mismatch.status, 'MISMATCH');
  await s.server.waitFor(() => s.server.states.at(-1) === 'ERRORED', WAIT);

  s.server.deliver(`${s.base}/expected`, JSON.stringify(s.core.envelope));
  await s.waitReport((r) => r.requestId === 'req-0001' && r.status === 'VERIFIED');
  await s.server.waitFor(() => s.server.states.at(-1) === 'RUNNING', WAIT);
  assert.deepEqual(s.server.states, ['RUNNING', 'ERRORED', 'RUNNING']);

  // Expectations in quick succession: applied, and stored, in the order they came.
  for (let i = 0; i < 3; i++) {
    const right = { ...s.core.envelope, requestId: `right-${i}` };
    wrong.requestId = `wrong-${i}`;
    s.server.deliver(`${s.base}/expected`, JSON.stringify(wrong));
    s.server.deliver(`${s.base}/expected`, JSON.stringify(right));
    await s.waitReport((r) => r.requestId === `right-${i}` && r.status === 'VERIFIED');
    s.server.deliver(`${s.base}/report/get`, `{"requestId":"settle-${i}"}`);
    const settled = await s.waitReport((r) => r.requestId === `settle-${i}`);
    assert.equal(settled.expectation?.sha256, canonicalSha256(right), `round ${i}: judged against the newer one`);
    assert.deepEqual(JSON.parse(await readFile(join(s.stateDir, 'expectation.json'), 'utf8')), right, `round ${i}: the newer one stored`);
    await s.server.waitFor(() => s.server.states.at(-1) === 'RUNNING', WAIT);
  }
});

test('erroredWhenUnverified with a slow nucleus: a verdict that comes before UpdateState answered still leaves its state', T, async (t) => {
  const s = await setup(t, (core) => componentConfig(core, { erroredWhenUnverified: true }));
  const slow = await slowNucleus(s.server.socketPath, 'UpdateState', 1000);
  t.after(() => slow.close());
  s.start({ socketPath: slow.path });
  await s.waitReport(() => true);
  await s.server.waitFor(() => s.server.activeSubscriptions().includes(`${s.base}/expected`), WAIT);
  const wrong = structuredClone(s.core.envelope) as { requestId: string; expectation: { summary: Record<string, unknown> } };
  wrong.expectation.summary.greengrassGroupVersionId = '00000000-0000-4000-8000-000000000000';
  for (let i = 0; i < 2; i++) {
    // The agent has had every answer (they come before what is delivered next, on one socket).
    await slow.idle();
    wrong.requestId = `wrong-${i}`;
    s.server.deliver(`${s.base}/expected`, JSON.stringify(wrong));
    await s.waitReport((r) => r.requestId === `wrong-${i}` && r.status === 'MISMATCH');
    await s.server.waitFor(() => s.server.states.at(-1) === 'ERRORED', WAIT);
    // The nucleus has yet to answer that ERRORED when the verdict turns back:
    s.server.deliver(`${s.base}/expected`, JSON.stringify({ ...s.core.envelope, requestId: `right-${i}` }));
    await s.waitReport((r) => r.requestId === `right-${i}` && r.status === 'VERIFIED');
    await s.server.waitFor(() => s.server.states.at(-1) === 'RUNNING', WAIT).catch(() => {
      throw new Error(`round ${i}: the nucleus was left with ${s.server.states.join(' ')}`);
    });
  }
});

test('nucleus lite: configuration values as strings, retain dropped, every request answered with a fresh publish', T, async (t) => {
  const s = await setup(t, (core) => componentConfig(core), { mode: 'lite' });
  const agent = s.start();
  const first = await s.waitReport(() => true);
  assert.equal(first.status, 'VERIFIED');
  await s.server.waitFor(() => s.server.states.includes('RUNNING'), WAIT);
  assert.ok(s.server.publishes.every((p) => p.retain === undefined), 'lite records no retain flag');
  await s.server.waitFor(() => s.server.activeSubscriptions().includes(`${s.base}/report/get`), WAIT);

  s.server.deliver(`${s.base}/report/get`, 'anything at all');
  const before = first.sequence!;
  const fresh = await s.waitReport((r) => r.sequence! > before);
  assert.equal(fresh.thing, s.thing);
  s.server.deliver(`${s.base}/expected`, JSON.stringify(s.core.envelope));
  await s.waitReport((r) => r.requestId === 'req-0001' && r.status === 'VERIFIED');
  assert.ok(!agent.logs.some((l) => l.level === 'error'), agent.dump());
});

test('a wrong auth token: a clear error that never shows the token, and a non-zero exit', T, async (t) => {
  const wrong = 'svcuid-wrong-94c1e7';
  const s = await setup(t, (core) => componentConfig(core));
  const agent = s.start({ token: wrong });
  const exit = await agent.exited;
  assert.notEqual(exit.code, 0);
  // Refused handshakes in a row over half a minute mean a dead token (not one refusal: the nucleus may be restarting).
  assert.ok(s.server.rejectedConnections >= 3, `${s.server.rejectedConnections} refusals`);
  const all = agent.dump() + JSON.stringify(agent.logs) + agent.text.join('\n');
  assert.match(all, /refused the IPC handshake: the auth token \(SVCUID\) was not accepted|closed the connection during the IPC handshake/);
  assert.ok(!all.includes(wrong) && !all.includes(TOKEN), 'no token in the output');
  assert.equal(s.server.publishes.length, 0);
});

test('UnauthorizedError on publish: the log names the missing accessControl entry, the agent retries and does not crash', T, async (t) => {
  const s = await setup(t, (core) => componentConfig(core));
  s.server.failPublishes(2);
  const agent = s.start();
  const hint = await agent.waitForLog((l) => l.level === 'error' && /accessControl/.test(l.message), WAIT);
  assert.match(hint.message, new RegExp(`not authorized to publish to ${s.base}/report: add it to accessControl\\.aws\\.greengrass\\.ipc\\.mqttproxy in the configuration of ${COMPONENT.replace(/\./g, '\\.')}`));
  assert.match(hint.message, /operations \[aws\.greengrass#PublishToIoTCore\] resources \[/);
  // Refused twice, then accepted: the same report goes out, first in line.
  const first = await s.waitReport(() => true);
  assert.deepEqual(s.server.refusedPublishes, [`${s.base}/report`, `${s.base}/report`]);
  assert.equal(first.sequence, 1);
  assert.equal(agent.running, true);
  assert.equal(agent.logs.filter((l) => /accessControl/.test(l.message)).length, 1, 'said once, not per retry');
});

test('the nucleus drops the socket: the agent reconnects, subscribes again, reports again, and goes on answering', T, async (t) => {
  const s = await setup(t, (core) => componentConfig(core));
  const agent = s.start();
  await s.waitReport(() => true);
  await s.server.waitFor(() => s.server.activeSubscriptions().includes(`${s.base}/report/get`), WAIT);
  const before = Math.max(...s.reports().map((r) => r.sequence!));
  const beats = () => s.server.publishes.filter((p) => p.topicName === `${s.base}/heartbeat`);
  const beatsBefore = beats().length;

  s.server.dropConnections();
  await agent.waitForLog((l) => l.message === 'IPC connection lost', WAIT);
  await s.server.waitFor(() => s.server.connections >= 2, WAIT);
  const again = await s.waitReport((r) => r.sequence! > before);
  assert.equal(again.status, 'VERIFIED');
  await s.server.waitFor(() => beats().length > beatsBefore, WAIT);
  const beat = JSON.parse(payloadOf(beats().at(-1)!)) as Heartbeat;
  assert.equal(beat.online, true, 'a heartbeat after reconnecting');
  assert.equal(beat.thing, s.thing);

  await s.server.waitFor(() => s.server.activeSubscriptions().includes(`${s.base}/report/get`), WAIT);
  s.server.deliver(`${s.base}/report/get`, '{"requestId":"after-drop"}');
  await s.waitReport((r) => r.requestId === 'after-drop');
  assert.equal(agent.running, true);
});

test('SVCUID never reaches the log, even at debug level', T, async (t) => {
  const s = await setup(t, (core) => componentConfig(core, { logLevel: 'debug' }));
  const agent = s.start({ args: ['--log-level', 'debug'] });
  await s.waitReport(() => true);
  await agent.term();
  assert.ok(agent.logs.some((l) => l.level === 'debug'), 'debug logging was on');
  assert.ok(!agent.dump().includes(TOKEN) && !JSON.stringify(agent.logs).includes(TOKEN));
});
