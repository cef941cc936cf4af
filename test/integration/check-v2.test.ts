// `deploy-witness check` on Greengrass v2, end to end: mosquitto with mutual
// TLS, real agents in direct MQTT mode on simulated v2 roots
// (scripts/simulated-v2-root.ts) of one thing group, check as a real process
// given what `aws greengrassv2 get-deployment` and `list-effective-deployments`
// print. Four cores of the thing group (healthy; an artifact changed; a local
// deployment that replaced a component version; a component BROKEN) and a
// fifth thing with no agent. Found by thing group, every core of the group
// answers on the one topic; named with --thing, each one does; the columns
// are the v2 ones, in the table, the JSON (validated by the schema) and the
// page (read back from headless Chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { CheckDocument as AnyCheckDocument } from '../../src/check/document.js';
import type { GreengrassV2Row } from '../../src/check/rows.js';
import type { V2Variant } from '../../scripts/simulated-v2-root.js';
import { startMosquitto, type Broker, type Received } from '../lib/mosquitto.js';
import { AGENT_BIN, directV2Core, type AgentProcess, type DirectV2Core } from '../lib/agent-process.js';
import { dumpDom, tableRows } from '../lib/chromium.js';

type CheckDocument = AnyCheckDocument<GreengrassV2Row>;

const T = { timeout: 240_000 };
const WAIT = 90_000;
const SENSOR = 'com.example.Sensor';

let broker: Broker;
let scratch: string;
let reports: Awaited<ReturnType<Broker['subscriber']>>;
const cores = new Map<string, DirectV2Core & { agent: AgentProcess }>();
const CORES: [thing: string, variant: V2Variant][] = [
  ['GgBroken', 'component-broken'],
  ['GgHealthy', 'healthy'],
  ['GgOverride', 'local-override'],
  ['GgTampered', 'artifact-tampered'],
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCheck(args: string[]): Promise<Run> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [AGENT_BIN, 'check', ...args, '--endpoint', 'localhost', '--port', String(broker.port),
    '--cert', broker.certs.clientCert, '--key', broker.certs.clientKey, '--ca', broker.certs.ca], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}

let nInput = 0;
async function input(docs: unknown[]): Promise<string> {
  const file = join(scratch, `input-${++nInput}.json`);
  await writeFile(file, docs.map((d) => JSON.stringify(d, null, 2)).join('\n') + '\n');
  return file;
}

async function check(docs: unknown[], extra: string[]): Promise<Run & { doc: CheckDocument }> {
  const r = await runCheck(['--response', await input(docs), '--json', ...extra]);
  try {
    return { ...r, doc: JSON.parse(r.stdout) as CheckDocument };
  } catch {
    throw new Error(`check printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

const healthy = () => cores.get('GgHealthy')!.core;
const verdicts = (doc: CheckDocument) => doc.rows.map((r) => [r.thing, r.verdict]);
const things = (...cs: string[]) => cs.flatMap((c) => ['--thing', c]);

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-check-v2-'));
  broker = await startMosquitto();
  reports = await broker.subscriber('deploy-witness/+/report');
  await Promise.all(CORES.map(async ([thing, variant]) => {
    const d = await directV2Core({ dir: join(scratch, thing), thing, broker: { ...broker, host: 'localhost' }, spec: { variant } });
    cores.set(thing, { ...d, agent: d.start() });
  }));
  // Every agent reported and follows the thing group its deployments name.
  for (const [thing] of CORES) {
    const c = cores.get(thing)!;
    await reports.waitFor((m: Received) => m.topic === `deploy-witness/${thing}/report`, WAIT);
    await c.agent.waitForLog((l) => l.message === 'following the thing group topic' && l.topic === 'deploy-witness/thinggroups/MyV2Fleet/expected', WAIT);
  }
});

after(async () => {
  for (const c of cores.values()) await c.stop();
  await reports?.close();
  await broker?.stop();
  await rm(scratch, { recursive: true, force: true });
});

test('found by thing group: one publish reaches every core of the group; each verdict, the v2 columns, the schema, the page', T, async () => {
  const html = join(scratch, 'v2.html');
  const r = await check([healthy().getDeployment], ['--timeout', '8', '--html', html]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.doc.layout, 'greengrass-v2');
  assert.equal(r.doc.mode, 'group');
  assert.deepEqual(verdicts(r.doc), [['GgBroken', 'FAILED'], ['GgHealthy', 'VERIFIED'], ['GgOverride', 'MISMATCH'], ['GgTampered', 'TAMPERED']]);
  const row = (thing: string) => r.doc.rows.find((x) => x.thing === thing)!;
  const id = healthy().ids.deploymentId;
  for (const x of r.doc.rows) {
    assert.equal(x.target, 'thinggroup/MyV2Fleet');
    assert.equal(x.expected.deploymentId, id);
    assert.deepEqual(x.expected.components.map((c) => c.name), ['com.example.Sensor', 'com.example.WebApp']);
  }
  // Per device, each deployed component as the device holds it.
  assert.deepEqual(row('GgHealthy').components.map((c) => [c.name, c.asDeployed, c.state]), [[SENSOR, true, 'RUNNING'], ['com.example.WebApp', true, 'RUNNING']]);
  assert.equal(row('GgHealthy').seen?.record, 'succeeded');
  assert.equal(row('GgHealthy').seen?.deploymentId, id);
  const override = row('GgOverride').components.find((c) => c.name === SENSOR)!;
  assert.deepEqual([override.asDeployed, override.running, override.stored], [false, '1.1.0', ['1.1.0', '1.2.0']]);
  assert.equal(row('GgOverride').seen?.target, 'LOCAL_DEPLOYMENT');
  assert.deepEqual(row('GgBroken').components.find((c) => c.name === SENSOR)!.state, 'BROKEN');
  assert.ok(row('GgBroken').findings.some((f) => f.code === 'COMPONENT_BROKEN'));
  assert.ok(row('GgTampered').findings.some((f) => f.code === 'ARTIFACT_DIGEST_MISMATCH'));
  // Devices that answered for one deployment hold the same store: the changed artifact's folder stands out.
  const outliers = r.doc.consistency.flatMap((c) => c.outliers.map((o) => [o.thing, o.folders.map((f) => f.folder)]));
  assert.ok(outliers.some(([t, fs]) => t === 'GgTampered' && (fs as string[]).includes(`greengrass/v2/packages/artifacts/${SENSOR}/1.2.0`)), JSON.stringify(r.doc.consistency));
  assert.deepEqual(r.doc.consistency.map((c) => c.deployments), [[id]]);
  // A thing group has as many cores as answer: waited for the whole timeout, not called complete.
  assert.equal(r.doc.complete, false);
  assert.ok(r.ms >= 8_000, `${r.ms} ms`);

  const schema = JSON.parse(await readFile(join(process.cwd(), 'schema/check.schema.json'), 'utf8'));
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(ajv);
  const validate = ajv.compile(schema);
  assert.ok(validate(r.doc), JSON.stringify(validate.errors));

  const dom = await dumpDom(html);
  const rows = tableRows(dom, 'devices');
  assert.deepEqual(rows.map((x) => [x.attrs['data-thing'], x.attrs['data-verdict'], x.cells[1], x.cells[7]]), [
    ['GgBroken', 'FAILED', 'thinggroup/MyV2Fleet', '1/2'],
    ['GgHealthy', 'VERIFIED', 'thinggroup/MyV2Fleet', '2/2'],
    ['GgOverride', 'MISMATCH', 'thinggroup/MyV2Fleet', '1/2'],
    ['GgTampered', 'TAMPERED', 'thinggroup/MyV2Fleet', '2/2'],
  ]);
  assert.match(dom, /<th scope="col">deployment<\/th><th scope="col">record<\/th><th scope="col">ongoing<\/th><th scope="col">components<\/th>/);
  assert.match(dom, /component com\.example\.Sensor: wants 1\.2\.0, stored 1\.1\.0, 1\.2\.0, runs 1\.1\.0/);
});

test('the table: the v2 columns, and a line per component that is not as deployed', T, async () => {
  const r = await runCheck(['--response', await input([healthy().getDeployment]), ...things('GgOverride', 'GgHealthy'), '--timeout', '6']);
  assert.equal(r.code, 1, r.stderr);
  const [header, ...lines] = r.stdout.split('\n');
  assert.match(header!, /^THING +TARGET +VERDICT +CLOUD STATUS +DEPLOYMENT +RECORD +ONGOING +COMPONENTS +TREE +AGE +FINDINGS$/);
  assert.match(lines.find((l) => l.startsWith('GgOverride'))!, /thinggroup\/MyV2Fleet +MISMATCH +ACTIVE +.* +1\/2 /);
  assert.match(r.stdout, /GgOverride: MISMATCH[^\n]*\n {2}component com\.example\.Sensor: wants 1\.2\.0, stored 1\.1\.0, 1\.2\.0, runs 1\.1\.0, RUNNING\n/);
});

test('named with --thing: a silent thing is NO ANSWER (exit 3); the healthy one alone is done at once (exit 0)', T, async () => {
  const silent = await check([healthy().getDeployment], [...things('GgHealthy', 'GgSilent'), '--timeout', '5']);
  assert.equal(silent.code, 3, silent.stderr);
  assert.deepEqual(verdicts(silent.doc), [['GgHealthy', 'VERIFIED'], ['GgSilent', 'NO ANSWER']]);

  const ok = await check([healthy().getDeployment], [...things('GgHealthy'), '--timeout', '30']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.doc.complete, true);
  assert.ok(ok.ms < 15_000, `done as soon as the device said VERIFIED (${ok.ms} ms)`);
});

test('list-effective-deployments for one core (with its --thing), and get-deployment in the envelope, are taken', T, async () => {
  const led = await check([healthy().effectiveDeployments], [...things('GgHealthy'), '--timeout', '30']);
  assert.equal(led.code, 0, led.stderr);
  assert.deepEqual(verdicts(led.doc), [['GgHealthy', 'VERIFIED']]);
  assert.equal(led.doc.rows[0]!.target, 'thing/GgHealthy');
  // An answer other than VERIFIED is waited on until the timeout: the deployment may still be landing.
  const failedOne = await check([healthy().effectiveDeployments], [...things('GgBroken'), '--timeout', '6']);
  assert.equal(failedOne.code, 1, failedOne.stderr);
  assert.deepEqual(verdicts(failedOne.doc), [['GgBroken', 'FAILED']]);

  const env = await check([healthy().envelope], [...things('GgTampered'), '--timeout', '6']);
  assert.equal(env.code, 1, env.stderr);
  assert.deepEqual(verdicts(env.doc), [['GgTampered', 'TAMPERED']]);
});

test('bad input: list-effective-deployments without one --thing, Greengrass v2 mixed with Things Graph, a resource file: exit 2, named', T, async () => {
  const noThing = await runCheck(['--response', await input([healthy().effectiveDeployments]), '--timeout', '5']);
  assert.equal(noThing.code, 2, noThing.stderr);
  assert.match(noThing.stderr, /list-effective-deployments output lists the deployments of one core without naming it: name that core with one --thing/);

  const tg = { summary: { id: 'urn:tdm:us-east-1/123456789012/default:deployment:D', target: 'GREENGRASS', greengrassGroupId: 'g', greengrassGroupVersionId: 'v' } };
  const mixed = await runCheck(['--response', await input([healthy().getDeployment, tg]), '--timeout', '5']);
  assert.equal(mixed.code, 2, mixed.stderr);
  assert.match(mixed.stderr, /mixes Greengrass v2 output .* with other output .*: check one kind of deployment per call/);

  const withResource = await runCheck(['--response', await input([healthy().getDeployment]), '--resource-file', join(scratch, 'x.tar.gz'), '--timeout', '5']);
  assert.equal(withResource.code, 2, withResource.stderr);
  assert.match(withResource.stderr, /--resource-file is for Things Graph flow archives/);

  const typo = { ...healthy().getDeployment, componets: {} };
  const near = await runCheck(['--response', await input([typo]), '--timeout', '5']);
  assert.equal(near.code, 2, near.stderr);
  assert.match(near.stderr, /unknown key "componets"; did you mean "components"\?/);
});
