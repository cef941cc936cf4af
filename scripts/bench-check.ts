// `deploy-witness check` against 10, 100 and 1,000 simulated devices through
// mosquitto with mutual TLS (the load generator of test/lib/fleet.ts: one
// connection answering as every device, with the agent's own report code).
// For each: time from starting the command to its verdict (the process, and
// the exchange inside it), and the command's peak memory (maxRSS, read at its
// exit). The reference, in this process: the same exchange without check (one
// client publishing every envelope unpaced and waiting for every answer), and
// the pacing floor check keeps to (N publishes at its rate, under AWS IoT
// Core's 100 per second per connection).
// Run alone: node dist/scripts/bench-check.js   (BENCH_CHECK_SIZES=10,100,1000 by default)
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_PUBLISH_RATE } from '../src/check/exchange.js';
import { planCheck } from '../src/check/plan.js';
import { silentLogger } from '../src/log.js';
import { Mqtt5Transport } from '../src/report/mqtt5.js';
import { parseDeployResponses } from '../src/verify/deploy-response.js';
import type { CheckDocument } from '../src/check/document.js';
import { fleetDevices, startFleet } from '../test/lib/fleet.js';
import { collectNativeClients, startMosquitto, type Broker } from '../test/lib/mosquitto.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(HERE, '../src/cli/bin.js');
const RSS_HOOK = resolve(HERE, 'rss-on-exit.js');

interface Run {
  ms: number;
  exchangeMs: number;
  maxRssMB: number;
  verified: number;
  code: number | null;
}

function runCheck(broker: Broker, file: string, n: number): Promise<Run> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', pathToFileURL(RSS_HOOK).href, BIN, 'check', '--response', file, '--json',
      '--timeout', String(Math.max(60, n / 10)), '--endpoint', 'localhost', '--port', String(broker.port),
      '--cert', broker.certs.clientCert, '--key', broker.certs.clientKey, '--ca', broker.certs.ca], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', rej);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      const rss = /@@maxrss (\d+)/.exec(err);
      try {
        const doc = JSON.parse(out) as CheckDocument;
        res({
          ms, code, maxRssMB: rss ? Number(rss[1]) / 1024 : NaN,
          exchangeMs: Date.parse(doc.finishedAt) - Date.parse(doc.startedAt),
          verified: doc.counts.verified,
        });
      } catch {
        rej(new Error(`check exited ${code} without a document:\n${out.slice(0, 2000)}\n${err.slice(-2000)}`));
      }
    });
  });
}

/** The same exchange without check: every envelope at once, every answer awaited. */
async function reference(broker: Broker, responses: Record<string, unknown>[]): Promise<number> {
  const plan = planCheck({
    prefix: 'deploy-witness', deployments: parseDeployResponses(JSON.stringify(responses)).deployments,
    newRequestId: (() => { let i = 0; return () => `ref-${process.pid}-${++i}`; })(),
  });
  const want = new Set(plan.targets.map((t) => t.sha256));
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  let up!: () => void;
  const connected = new Promise<void>((r) => (up = r));
  const client = new Mqtt5Transport({
    endpoint: broker.host, port: broker.port, certPath: broker.certs.clientCert, keyPath: broker.certs.clientKey, caPath: broker.certs.ca,
    clientId: `bench-reference-${process.pid}`, logger: silentLogger(), receiveMaximum: 100, iotCoreFlowControl: false,
  });
  await client.start({
    onMessage(_t, payload) {
      const sha = (JSON.parse(payload.toString('utf8')) as { expectation?: { sha256?: string } }).expectation?.sha256;
      if (sha && want.delete(sha) && want.size === 0) done();
    },
    onConnected: () => up(),
    onDisconnected: () => {},
  });
  try {
    await connected;
    await client.subscribe(plan.reportFilter);
    const t0 = performance.now();
    await Promise.all(plan.targets.map((t) => client.publish({ topic: t.groupTopic, payload: t.payload, qos: 1, retain: false, kind: 'report' })));
    await all;
    return performance.now() - t0;
  } finally {
    await client.stop();
  }
}

export async function benchCheck(opts: { log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const sizes = (process.env.BENCH_CHECK_SIZES ?? '10,100,1000').split(',').map((s) => Number(s.trim())).filter((n) => n > 0);
  const out: Record<string, number> = {};
  const dir = await mkdtemp(join(tmpdir(), 'dw-bench-check-'));
  let broker: Broker | undefined;
  try {
    broker = await startMosquitto();
    for (const n of sizes) {
      const fleet = await startFleet({ broker, devices: fleetDevices(n) });
      try {
        const file = join(dir, `fleet-${n}.json`);
        await writeFile(file, JSON.stringify(fleet.responses()));
        const ref = await reference(broker, fleet.responses());
        const r = await runCheck(broker, file, n);
        if (r.code !== 0 || r.verified !== n) throw new Error(`check on ${n} devices: exit ${r.code}, ${r.verified} verified`);
        const floor = (n / DEFAULT_PUBLISH_RATE) * 1000;
        out[`devices${n}Ms`] = Math.round(r.ms);
        out[`devices${n}ExchangeMs`] = r.exchangeMs;
        out[`devices${n}MaxRssMB`] = Math.round(r.maxRssMB * 10) / 10;
        out[`devices${n}ReferenceMs`] = Math.round(ref);
        out[`devices${n}PacingFloorMs`] = Math.round(floor);
        log(`  ${String(n).padStart(5)} devices: verdict in ${(r.ms / 1000).toFixed(2)} s (exchange ${(r.exchangeMs / 1000).toFixed(2)} s; ` +
          `pacing floor ${(floor / 1000).toFixed(2)} s at ${DEFAULT_PUBLISH_RATE}/s; unpaced reference ${(ref / 1000).toFixed(2)} s), peak RSS ${r.maxRssMB.toFixed(1)} MB`);
      } finally {
        await fleet.stop();
      }
    }
    if (sizes.length >= 2) {
      const [a, b] = [sizes[0]!, sizes[sizes.length - 1]!];
      const perDevice = (out[`devices${b}MaxRssMB`]! - out[`devices${a}MaxRssMB`]!) / (b - a);
      out.rssPerDeviceKB = Math.round(perDevice * 1024 * 10) / 10;
      log(`  memory per device: ${out.rssPerDeviceKB} KB (peak RSS from ${a} to ${b} devices)`);
    }
    return out;
  } finally {
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
    await collectNativeClients();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  benchCheck({ log: (l) => console.log(l) }).then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
