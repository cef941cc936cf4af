// check against a fleet: a hundred simulated cores behind one connection (the
// load generator, test/lib/fleet.ts), through mosquitto with mutual TLS. Every
// device gets its verdict, the silent ones are NO ANSWER, the cores whose
// connector folder holds other bytes are the fleet's outliers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckDocument as AnyCheckDocument } from '../../src/check/document.js';
import type { Row } from '../../src/check/rows.js';

/** A Things Graph check's document. */
type CheckDocument = AnyCheckDocument<Row>;
import { AGENT_BIN } from '../lib/agent-process.js';
import { collectNativeClients, startMosquitto, type Broker } from '../lib/mosquitto.js';
import { fleetDevices, startFleet, type Fleet } from '../lib/fleet.js';
import { defaultUnits } from '../lib/sim-device.js';

const T = { timeout: 180_000 };
let broker: Broker;
let scratch: string;
let fleet: Fleet;

const N = 100;
const silent = new Set([7, 42, 77]);
const otherVersion = new Set([3, 50]);
const tampered = new Set([11, 12]);

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-check-fleet-'));
  broker = await startMosquitto();
  fleet = await startFleet({
    broker,
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

function runCheck(args: string[]): Promise<{ code: number | null; doc: CheckDocument; stderr: string }> {
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
        resolve({ code, doc: JSON.parse(out) as CheckDocument, stderr: err });
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
