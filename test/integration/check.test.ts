// `deploy-witness check` end to end: mosquitto with mutual TLS, real agents in
// direct MQTT mode on simulated cores, check as a real process. Three cores
// (clean; another group version; a tampered artifact) and a fourth thing with
// no agent, named with --thing and found by group; retained and spooled
// reports that are not answers; an agent that comes back during the wait; a
// deployment that lands during the wait; an older response answered without
// being adopted; MQTT over WebSockets with a SigV4 signature checked at a
// capturing proxy; the page read back from headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Report } from '../../src/verify/report.js';
import type { CheckDocument as AnyCheckDocument } from '../../src/check/document.js';
import type { Row } from '../../src/check/rows.js';

/** A Things Graph check's document. */
type CheckDocument = AnyCheckDocument<Row>;
import { groupJson, makeCore } from '../../scripts/simulated-core.js';
import { startMosquitto, type Broker, type Received } from '../lib/mosquitto.js';
import { AGENT_BIN, canonicalSha256, directCore, type AgentProcess, type DirectCore } from '../lib/agent-process.js';
import { startCaptureProxy, verifyQuerySignature } from '../lib/ws-capture.js';
import { startTcpRelay, type TcpRelay } from '../lib/tcp-relay.js';
import { dumpDom, tableRows } from '../lib/chromium.js';

const T = { timeout: 240_000 };
const WAIT = 60_000;

let broker: Broker;
let scratch: string;
interface Core extends DirectCore {
  agent: AgentProcess | null;
  /** What deploy-system-instance printed for the deployment check asks about. */
  response: Record<string, unknown>;
}
const cores: Record<'clean' | 'otherVersion' | 'tampered', Core> = {} as never;
/** A group with a deployment but no device at all. */
let silentResponse: Record<string, unknown>;
let relay: TcpRelay;
let reports: Awaited<ReturnType<Broker['subscriber']>>;

const uuid = (n: number, k: number) => `${String(n).repeat(8)}-${String(k).repeat(4)}-4${String(k).repeat(3)}-8${String(k).repeat(3)}-${String(n).repeat(12)}`;

function idsFor(n: number) {
  return {
    groupId: uuid(n, 1),
    groupVersionId: uuid(n, 2),
    deploymentId: uuid(n, 3),
    systemInstanceId: `urn:tdm:us-east-1/123456789012/default:deployment:MyExample01_G${n}`,
  };
}

function responseOf(core: { expectation: Record<string, unknown> }, summary: Record<string, unknown> = {}, deploymentId?: string): Record<string, unknown> {
  const base = core.expectation as { summary: Record<string, unknown>; greengrassDeploymentId: string };
  return { summary: { ...base.summary, ...summary }, greengrassDeploymentId: deploymentId ?? base.greengrassDeploymentId };
}

async function startCore(name: keyof typeof cores, n: number, opts: { viaRelay?: boolean; response?: (c: DirectCore) => Record<string, unknown> } = {}): Promise<Core> {
  const ids = idsFor(n);
  const thing = `Check${name[0]!.toUpperCase()}${name.slice(1)}`;
  const port = opts.viaRelay ? relay.port : broker.port;
  const d = await directCore({ dir: join(scratch, name), thing, broker: { ...broker, host: 'localhost', port }, spec: { ids } });
  const core: Core = { ...d, agent: d.start(), response: opts.response ? opts.response(d) : responseOf(d.core) };
  cores[name] = core;
  return core;
}

const json = <X>(m: Received): X => JSON.parse(m.payload) as X;
const reportOfThing = (thing: string) => (m: Received) => m.topic === `deploy-witness/${thing}/report`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function startCheck(args: string[], env: Record<string, string> = {}): { done: Promise<Run> } {
  const t0 = Date.now();
  const child = spawn(process.execPath, [AGENT_BIN, 'check', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return { done: new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr, ms: Date.now() - t0 }));
  }) };
}

const tls = () => ['--endpoint', 'localhost', '--port', String(broker.port), '--cert', broker.certs.clientCert, '--key', broker.certs.clientKey, '--ca', broker.certs.ca];

let nResponse = 0;
async function responseFile(docs: Record<string, unknown>[]): Promise<string> {
  const file = join(scratch, `response-${++nResponse}.json`);
  // JSON lines, as a shell loop over deploy-system-instance calls prints them.
  await writeFile(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  return file;
}

async function check(docs: Record<string, unknown>[], extra: string[]): Promise<Run & { doc: CheckDocument }> {
  const r = await startCheck(['--response', await responseFile(docs), ...tls(), '--json', ...extra]).done;
  let doc: CheckDocument;
  try {
    doc = JSON.parse(r.stdout) as CheckDocument;
  } catch {
    throw new Error(`check printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { ...r, doc };
}

const verdicts = (doc: CheckDocument) => doc.rows.map((r) => [r.thing ?? r.groupName, r.verdict]);

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-check-'));
  broker = await startMosquitto({ websockets: true });
  relay = await startTcpRelay(broker.port);
  reports = await broker.subscriber('deploy-witness/+/report');
  await Promise.all([
    startCore('clean', 1, { viaRelay: true }),
    startCore('otherVersion', 2, { response: (d) => responseOf(d.core, { greengrassGroupVersionId: uuid(2, 9) }) }),
    startCore('tampered', 3),
  ]);
  silentResponse = responseOf(await makeCore({ root: join(scratch, 'silent'), ids: { ...idsFor(4), coreThing: 'CheckSilent' } }));
  // Every agent reported and follows its group's topic.
  for (const c of Object.values(cores)) {
    await reports.waitFor(reportOfThing(c.thing), WAIT);
    await c.agent!.waitForLog((l) => l.message === 'following the group topic', WAIT);
  }
  const t = cores.tampered;
  await writeFile(join(t.core.root, t.core.paths.lambdaDir, 'config.json'), '{"handler":"evil"}\n');
  await reports.waitFor((m) => reportOfThing(t.thing)(m) && json<Report>(m).status === 'TAMPERED', WAIT);
});

after(async () => {
  for (const c of Object.values(cores)) await c.stop();
  await reports?.close();
  await relay?.close();
  await broker?.stop();
  await rm(scratch, { recursive: true, force: true });
});

const all = () => [cores.clean.response, cores.otherVersion.response, cores.tampered.response, silentResponse];
const things = (...cs: string[]) => cs.flatMap((c) => ['--thing', c]);

test('named with --thing: the right verdict for each device, a bad answer wins over silence, the document validates, the page reads back', T, async () => {
  const html = join(scratch, 'check.html');
  const r = await check(all(), [...things('CheckClean', 'CheckOtherVersion', 'CheckTampered', 'CheckSilent'), '--timeout', '6', '--html', html]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(verdicts(r.doc), [['CheckClean', 'VERIFIED'], ['CheckOtherVersion', 'MISMATCH'], ['CheckTampered', 'TAMPERED'], ['CheckSilent', 'NO ANSWER']]);
  const [clean, other, tampered] = r.doc.rows;
  assert.equal(other!.findings[0]!.code, 'GROUP_VERSION_MISMATCH');
  assert.equal(other!.seen?.groupVersionId, uuid(2, 2));
  assert.equal(tampered!.findings[0]!.code, 'ARTIFACT_MODIFIED');
  assert.equal(clean!.systemInstanceRegistered, true);
  assert.equal(clean!.flow, 'running');
  assert.match(r.stderr, /not confirmed: 2 device\(s\) answered something other than VERIFIED, 1 did not answer/);
  // The three run one flow (one archive): the tampered core holds other bytes in the connector's folder.
  assert.equal(r.doc.consistency.length, 1);
  assert.deepEqual(r.doc.consistency[0]!.outliers.map((o) => [o.thing, o.folders.map((f) => f.folder)]), [
    ['CheckTampered', ['greengrass/ggc/deployment/lambda/arn:aws:lambda:*:*:function:ThingsGraphConnector:3']],
  ]);

  const schema = JSON.parse(await readFile(join(process.cwd(), 'schema/check.schema.json'), 'utf8'));
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv);
  const validate = ajv.compile(schema);
  assert.ok(validate(r.doc), JSON.stringify(validate.errors));

  const dom = await dumpDom(html);
  const rows = tableRows(dom, 'devices');
  assert.deepEqual(rows.map((x) => [x.attrs['data-thing'], x.attrs['data-verdict'], x.cells[0], x.cells[2]]), [
    ['CheckClean', 'VERIFIED', 'CheckClean', 'VERIFIED'],
    ['CheckOtherVersion', 'MISMATCH', 'CheckOtherVersion', 'MISMATCH'],
    ['CheckTampered', 'TAMPERED', 'CheckTampered', 'TAMPERED'],
    ['CheckSilent', 'NO ANSWER', 'CheckSilent', 'NO ANSWER'],
  ]);
  assert.equal(rows[0]!.attrs.class, 'good-row');
  assert.equal(rows[3]!.attrs.class, 'silent-row');
  assert.match(dom, /id="outcome">not confirmed: 2 device\(s\) answered something other than VERIFIED/);
});

test('named with --thing: the clean one with the silent one exits 3, without the silent one 1, the clean one alone 0', T, async () => {
  const silent = await check([cores.clean.response, silentResponse], [...things('CheckClean', 'CheckSilent'), '--timeout', '4']);
  assert.equal(silent.code, 3, silent.stderr);
  assert.deepEqual(verdicts(silent.doc), [['CheckClean', 'VERIFIED'], ['CheckSilent', 'NO ANSWER']]);
  assert.match(silent.stderr, /did not answer in time .* check that their agent runs/);

  const bad = await check(all().slice(0, 3), [...things('CheckClean', 'CheckOtherVersion', 'CheckTampered'), '--timeout', '4']);
  assert.equal(bad.code, 1, bad.stderr);
  assert.deepEqual(verdicts(bad.doc), [['CheckClean', 'VERIFIED'], ['CheckOtherVersion', 'MISMATCH'], ['CheckTampered', 'TAMPERED']]);

  const ok = await check([cores.clean.response], [...things('CheckClean'), '--timeout', '30']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.doc.complete, true);
  assert.ok(ok.ms < 15_000, `done as soon as the device said VERIFIED, not at the timeout (${ok.ms} ms)`);
});

test('found by group, without --thing: the same verdicts, and the table', T, async () => {
  const r = await check(all(), ['--timeout', '5']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.doc.mode, 'group');
  assert.deepEqual(verdicts(r.doc), [['CheckClean', 'VERIFIED'], ['CheckOtherVersion', 'MISMATCH'], ['CheckTampered', 'TAMPERED'], ['MyExample01Group', 'NO ANSWER']]);
  assert.equal(r.doc.rows[3]!.groupId, uuid(4, 1));

  const silent = await check([cores.clean.response, silentResponse], ['--timeout', '4']);
  assert.equal(silent.code, 3, silent.stderr);
  const bad = await check(all().slice(0, 3), ['--timeout', '4']);
  assert.equal(bad.code, 1, bad.stderr);

  // The table, as a person sees it.
  const table = await startCheck(['--response', await responseFile([cores.clean.response]), ...tls(), '--timeout', '30']).done;
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.split('\n');
  assert.match(lines[0]!, /^THING\s+GROUP\s+VERDICT\s+CLOUD STATUS\s+GROUP VERSION\s+DEPLOYMENT\s+INSTANCE\s+FLOW\s+AGE\s+FINDINGS$/);
  assert.match(lines[1]!, /^CheckClean\s+MyExample01Group\s+VERIFIED\s+DEPLOYED_IN_TARGET\s+11111111\s+11111111\s+registered\s+running\s+\d+s\s+-$/);
  assert.match(table.stdout, /\nconfirmed: all 1 device\(s\) say VERIFIED\n$/);
});

test('MQTT over WebSockets, signed with SigV4 from the environment: the upgrade request carries a valid signature for those credentials', T, async () => {
  const proxy = await startCaptureProxy({ targetPort: broker.websocketPort!, certFile: broker.certs.serverCert, keyFile: broker.certs.serverKey });
  try {
    const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    const home = await mkdtemp(join(scratch, 'home-'));
    const r = await startCheck(
      ['--response', await responseFile([cores.clean.response]), '--endpoint', 'localhost', '--port', String(proxy.port), '--ca', broker.certs.ca, '--region', 'us-east-1', '--timeout', '30', '--log-level', 'info'],
      { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: secret, HOME: home },
    ).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /WebSockets signed with SigV4 \(environment, region us-east-1\)/);
    assert.doesNotMatch(r.stderr, /wJalrXUtnFEMI/, 'the secret never reaches a log');
    assert.ok(proxy.requests.length >= 1);
    const req = proxy.requests[0]!;
    assert.equal(req.method, 'GET');
    assert.equal(req.headers.upgrade?.toLowerCase(), 'websocket');
    assert.equal(req.headers['sec-websocket-protocol'], 'mqtt');
    const sig = verifyQuerySignature(req, secret);
    assert.deepEqual([sig.accessKeyId, sig.region, sig.service], ['AKIDEXAMPLE', 'us-east-1', 'iotdevicegateway']);
    assert.equal(sig.actual, sig.expected, 'the signature is the SigV4 of this request with this secret');
    assert.equal(verifyQuerySignature(req, `${secret}x`).ok, false, 'and not for another secret');

    // No credentials anywhere: said at once, exit 2.
    const none = await startCheck(
      ['--response', await responseFile([cores.clean.response]), '--endpoint', 'localhost', '--port', String(proxy.port), '--region', 'us-east-1'],
      { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', HOME: home, AWS_SHARED_CREDENTIALS_FILE: join(home, 'nope'), AWS_CONFIG_FILE: join(home, 'nope2') },
    ).done;
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no AWS credentials .* set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  } finally {
    await proxy.close();
  }
});

test('retained and spooled reports from before are not answers; a device offline at the start that comes back during the wait answers in time', T, async () => {
  const c = cores.clean;
  // While cut off, the agent's reports are spooled: judged by the envelope of an earlier check, VERIFIED.
  const beforeCut = reports.messages.filter(reportOfThing(c.thing)).length;
  const lastSequence = Math.max(...c.agent!.logs.filter((l) => l.message === 'report').map((l) => l.sequence as number));
  relay.cutOff();
  await c.agent!.waitForLog((l) => l.message === 'transport disconnected', WAIT);
  const file = join(c.core.root, c.core.paths.lambdaDir, 'config.json');
  const original = await readFile(file);
  await writeFile(file, '{"handler":"other"}\n');
  const tampered = await c.agent!.waitForLog((l) => l.message === 'report' && l.status === 'TAMPERED' && (l.sequence as number) > lastSequence, WAIT);
  await writeFile(file, original);
  const spooled = await c.agent!.waitForLog((l) => l.message === 'report' && l.status === 'VERIFIED' && (l.sequence as number) > (tampered.sequence as number), WAIT);

  // A newer deployment for this group, to another version: the true answer is MISMATCH, the spooled and
  // retained reports say VERIFIED. --first-answer would end on whichever counted first.
  const newer = responseOf(c.core, { greengrassGroupVersionId: uuid(1, 7), updatedAt: '2026-11-21T00:00:00.000Z' });
  const expected = await broker.subscriber(`deploy-witness/groups/${idsFor(1).groupId}/expected`);
  const run = startCheck(['--response', await responseFile([newer]), ...tls(), '--json', '--first-answer', '--timeout', '60']);
  const sent = await expected.waitFor(() => true, WAIT);
  await expected.close();
  relay.restore();
  const r = await run.done;
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout) as CheckDocument;
  assert.deepEqual(verdicts(doc), [['CheckClean', 'MISMATCH']]);
  assert.equal(doc.rows[0]!.findings[0]!.code, 'GROUP_VERSION_MISMATCH');
  assert.ok(doc.rows[0]!.sequence! > (spooled.sequence as number), `answer ${doc.rows[0]!.sequence} after the spooled ${spooled.sequence}`);
  // The spooled reports did reach the broker during the check, and were passed over.
  const after = reports.messages.filter(reportOfThing(c.thing)).slice(beforeCut).map((m) => json<Report>(m));
  assert.ok(after.some((x) => x.sequence === spooled.sequence && x.status === 'VERIFIED' && x.expectation?.sha256 !== canonicalSha256(JSON.parse(sent.payload))),
    'the spooled VERIFIED report arrived, judged by an older envelope');
  assert.ok(after.some((x) => x.status === 'MISMATCH' && x.expectation?.sha256 === canonicalSha256(JSON.parse(sent.payload))));
});

test('an older response is judged for its answer only: the device keeps the newer expectation it holds', T, async () => {
  const c = cores.clean;
  const stored = await readFile(join(c.stateDir, 'expectation.json'), 'utf8');
  assert.match(stored, new RegExp(uuid(1, 7)), 'the newer (wrong-version) deployment is held');
  // The original deployment is older (updatedAt): its answer is VERIFIED...
  const r = await check([c.response], ['--timeout', '30']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(verdicts(r.doc), [['CheckClean', 'VERIFIED']]);
  // ...and afterwards the device judges by the newer one again, which it kept on disk.
  await c.agent!.waitForLog((l) => l.message === 'expectation older than the one held: answered, not adopted', WAIT);
  const back = await reports.waitFor((m) => reportOfThing(c.thing)(m) && json<Report>(m).sequence! > r.doc.rows[0]!.sequence! && json<Report>(m).status === 'MISMATCH', WAIT);
  assert.equal(json<Report>(back).expectation?.greengrassGroupVersionId, uuid(1, 7));
  assert.equal(await readFile(join(c.stateDir, 'expectation.json'), 'utf8'), stored);
});

test('a device that verifies only once its deployment lands (the group version changes during the wait) ends VERIFIED', T, async () => {
  const c = cores.otherVersion;
  const landed = uuid(2, 9); // what its response asks for; the core still runs uuid(2, 2)
  const run = startCheck(['--response', await responseFile([c.response]), ...tls(), '--json', '--timeout', '90']);
  const mismatch = await reports.waitFor((m) => reportOfThing(c.thing)(m) && json<Report>(m).status === 'MISMATCH' &&
    json<Report>(m).expectation?.greengrassGroupVersionId === landed && json<Report>(m).requestId !== null, WAIT);
  // The deployment lands: a new group.json, and the runtime says so.
  const ids = { ...c.core.ids, groupVersionId: landed };
  await writeFile(join(c.core.root, c.core.paths.groupJson), JSON.stringify(groupJson(ids, 'api', `flow-${ids.flowName}.tar.gz`), null, 2));
  await appendFile(join(c.core.root, c.core.paths.runtimeLog), `[${new Date().toISOString()}][INFO]-Deployment succeeded. {"deploymentId": "${ids.deploymentId}"}\n`);
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as CheckDocument;
  assert.deepEqual(verdicts(doc), [['CheckOtherVersion', 'VERIFIED']]);
  assert.equal(doc.rows[0]!.seen?.groupVersionId, landed);
  assert.ok(doc.rows[0]!.sequence! > json<Report>(mismatch).sequence!);
});
