// check against a fleet: a hundred simulated cores behind one connection (the
// load generator, test/lib/fleet.ts), through mosquitto with mutual TLS. Every
// device gets its verdict, the silent ones are NO ANSWER, the cores whose
// connector folder holds other bytes are the fleet's outliers. Beside them, a
// Greengrass v2 thing group of sixty simulated cores (their word read by the
// agent's own v2 reader from real simulated roots): one publish to the thing
// group reaches all of them, and every one that answers gets its row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckDocument as AnyCheckDocument } from '../../src/check/document.js';
import type { GreengrassV2Row, Row } from '../../src/check/rows.js';

/** A Things Graph check's document. */
type CheckDocument = AnyCheckDocument<Row>;
import { AGENT_BIN } from '../lib/agent-process.js';
import { collectNativeClients, startMosquitto, type Broker } from '../lib/mosquitto.js';
import { fleetDevices, startFleet, type Fleet, type FleetV2Device } from '../lib/fleet.js';
import { defaultUnits, observeV2Root } from '../lib/sim-device.js';
import { createHasher } from '../../src/observe/hash.js';
import type { GreengrassV2Observation } from '../../src/model/greengrass-v2.js';
import { makeV2Core, type MadeV2Core, type V2Variant } from '../../scripts/simulated-v2-root.js';

const T = { timeout: 180_000 };
let broker: Broker;
let scratch: string;
let fleet: Fleet;

const N = 100;
const silent = new Set([7, 42, 77]);
const otherVersion = new Set([3, 50]);
const tampered = new Set([11, 12]);

const N2 = 60;
const v2Silent = new Set([5, 33]);
const v2Variant = (i: number): V2Variant => (i === 9 || i === 40 || i === 41 ? 'artifact-tampered' : i === 20 || i === 21 ? 'component-broken' : 'healthy');
const v2Thing = (i: number) => `gg-core-${String(i).padStart(4, '0')}`;
let v2Core: MadeV2Core;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-check-fleet-'));
  broker = await startMosquitto();
  // One real root per variant, read by the agent's v2 reader; devices of a variant share what it saw.
  const hasher = createHasher({ concurrency: 1, rateLimitMBps: 0 });
  const seen = new Map<V2Variant, GreengrassV2Observation>();
  try {
    for (const v of ['healthy', 'artifact-tampered', 'component-broken'] as const) {
      const core = await makeV2Core({ root: join(scratch, `v2-${v}`), variant: v });
      if (v === 'healthy') v2Core = core;
      seen.set(v, await observeV2Root(core.root, hasher));
    }
  } finally {
    await hasher.close();
  }
  const v2Devices = Array.from({ length: N2 }, (_, i): FleetV2Device => ({
    thing: v2Thing(i), observation: seen.get(v2Variant(i))!, ...(v2Silent.has(i) ? { silent: true } : {}),
  }));
  fleet = await startFleet({
    broker,
    v2Devices,
    devices: fleetDevices(N, (i) => ({
      ...(silent.has(i) ? { silent: true } : {}),
      ...(tampered.has(i) ? { tampered: true, units: defaultUnits('a').map((u, k) => (k === 1 ? { ...u, digest: 'e'.repeat(64) } : u)) } : {}),
    })),
  });
});

after(async () => {
  await fleet?.stop();
  await broker?.stop();
  await rm(scratch, { recursive: true, force: true });
  await collectNativeClients();
});

function runCheck<D = CheckDocument>(args: string[]): Promise<{ code: number | null; doc: D; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT_BIN, 'check', ...args, '--endpoint', 'localhost', '--port', String(broker.port),
      '--cert', broker.certs.clientCert, '--key', broker.certs.clientKey, '--ca', broker.certs.ca, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ code, doc: JSON.parse(out) as D, stderr: err });
      } catch {
        reject(new Error(`exit ${code}: ${out}\n${err}`));
      }
    });
  });
}

test('a hundred devices by group: each verdict, the silent ones, the outliers; one publish per group', T, async () => {
  const responses = fleet.responses().map((r, i) => {
    if (!otherVersion.has(i)) return r;
    const s = r.summary as Record<string, unknown>;
    return { ...r, summary: { ...s, greengrassGroupVersionId: '99999999-0000-4000-8000-000000000000' } };
  });
  const file = join(scratch, 'fleet.json');
  await writeFile(file, JSON.stringify(responses, null, 2)); // a JSON array
  const received = fleet.received;
  const r = await runCheck(['--response', file, '--timeout', '6']);
  assert.equal(r.code, 1, r.stderr);
  const doc = r.doc;
  assert.equal(doc.rows.length, N);
  const byVerdict = (v: string) => doc.rows.flatMap((row, i) => (row.verdict === v ? [i] : []));
  assert.deepEqual(byVerdict('NO ANSWER'), [...silent]);
  assert.deepEqual(byVerdict('MISMATCH'), [...otherVersion]);
  assert.deepEqual(byVerdict('TAMPERED'), [...tampered]);
  assert.equal(byVerdict('VERIFIED').length, N - silent.size - otherVersion.size - tampered.size);
  assert.deepEqual(doc.counts, { rows: N, verified: N - 7, refuted: 4, silent: 3 });
  const outliers = doc.consistency.flatMap((c) => c.outliers.map((o) => o.thing)).sort();
  assert.deepEqual(outliers, ['fleet-core-000011', 'fleet-core-000012']);
  // One envelope per group, plus the resends to the silent ones only.
  const taken = fleet.received - received;
  assert.equal(taken, N - silent.size, 'answered groups got their envelope once');
});

test('named with --thing among several deployments: each thing is asked which group it runs, then sent that one', T, async () => {
  const pick = [5, 6, 7, 8];
  const file = join(scratch, 'some.json');
  await writeFile(file, fleet.responses().slice(0, 20).map((x) => JSON.stringify(x)).join('\n'));
  const r = await runCheck(['--response', file, '--timeout', '5', ...pick.flatMap((i) => ['--thing', `fleet-core-00000${i}`])]);
  assert.equal(r.code, 3, r.stderr);
  assert.deepEqual(r.doc.rows.map((x) => [x.thing, x.verdict, x.groupId]), pick.map((i) => [
    `fleet-core-00000${i}`, silent.has(i) ? 'NO ANSWER' : 'VERIFIED', silent.has(i) ? null : fleet.devices[i]!.groupId,
  ]));
});

test('a Greengrass v2 thing group of sixty: one publish reaches all, every device that answers gets its row, the outliers', T, async () => {
  const file = join(scratch, 'v2.json');
  await writeFile(file, JSON.stringify(v2Core.getDeployment, null, 2));
  const received = fleet.received;
  const r = await runCheck<AnyCheckDocument<GreengrassV2Row>>(['--response', file, '--timeout', '6']);
  assert.equal(r.code, 1, r.stderr);
  const answered = Array.from({ length: N2 }, (_, i) => i).filter((i) => !v2Silent.has(i));
  // Who belongs to a thing group is not known in advance: the rows are those that answered, in thing order.
  assert.deepEqual(r.doc.rows.map((x) => [x.thing, x.verdict]), answered.map((i) => [
    v2Thing(i), v2Variant(i) === 'artifact-tampered' ? 'TAMPERED' : v2Variant(i) === 'component-broken' ? 'FAILED' : 'VERIFIED',
  ]));
  assert.ok(r.doc.rows.every((x) => x.target === 'thinggroup/MyV2Fleet' && x.seen?.deploymentId === v2Core.ids.deploymentId));
  assert.deepEqual(r.doc.counts, { rows: N2 - 2, verified: N2 - 2 - 5, refuted: 5, silent: 0 });
  const outliers = r.doc.consistency.flatMap((c) => c.outliers.map((o) => o.thing)).sort();
  assert.deepEqual(outliers, [v2Thing(9), v2Thing(40), v2Thing(41)]);
  assert.equal(fleet.received - received, N2 - 2, 'one envelope on the thing group topic, taken by every device of the group that listens');

  // Named with --thing, the silent ones are known and said.
  const named = [0, 5, 20];
  const n = await runCheck<AnyCheckDocument<GreengrassV2Row>>(['--response', file, '--timeout', '4', ...named.flatMap((i) => ['--thing', v2Thing(i)])]);
  assert.equal(n.code, 1, n.stderr);
  assert.deepEqual(n.doc.rows.map((x) => [x.thing, x.verdict]), [[v2Thing(0), 'VERIFIED'], [v2Thing(5), 'NO ANSWER'], [v2Thing(20), 'FAILED']]);
});
