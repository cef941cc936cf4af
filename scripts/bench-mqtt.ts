// Reporting over direct MQTT 5 (mutual TLS, a real mosquitto): the agent runs
// as a child process on a simulated core; a subscriber in this process (the
// real aws-iot-device-sdk-v2 client) times each file change to the moment its
// report arrives (p50/p99; target p99 < 1 s). Then the spool on its own:
// durable appends per second, and spool write + send through the outbox to the
// broker per second.
// Run alone: node dist/scripts/bench-mqtt.js   (BENCH_MQTT_CHANGES=60 by default, at least 50)
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EventEmitter } from 'node:events';
import { silentLogger } from '../src/log.js';
import { defaultClientId, Mqtt5Transport } from '../src/report/mqtt5.js';
import { Outbox } from '../src/report/outbox.js';
import { openSpool } from '../src/report/spool.js';
import type { OutboundMessage } from '../src/report/transport.js';
import { directCore, type AgentProcess } from '../test/lib/agent-process.js';
import { collectNativeClients, startMosquitto, type Broker } from '../test/lib/mosquitto.js';

const WAIT_MS = 60_000;
const SPOOL_MESSAGES = 300;

interface Arrival {
  sequence: number;
  status: string;
  at: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** An MQTT 5 client in this process, connected and subscribed to one topic; arrivals timed on receipt. */
async function subscriberFor(broker: Broker, topic: string): Promise<{ transport: Mqtt5Transport; arrivals: Arrival[]; next(pred: (a: Arrival) => boolean): Promise<Arrival> }> {
  const bus = new EventEmitter();
  const arrivals: Arrival[] = [];
  const transport = new Mqtt5Transport({
    endpoint: broker.host, port: broker.port, certPath: broker.certs.clientCert, keyPath: broker.certs.clientKey, caPath: broker.certs.ca,
    clientId: defaultClientId(`bench-subscriber-${process.pid}`), logger: silentLogger(), minReconnectDelayMs: 100, maxReconnectDelayMs: 1000,
  });
  const connected = new Promise<void>((res) => bus.once('connected', res));
  await transport.start({
    onMessage(_topic, payload) {
      const at = performance.now();
      const doc = JSON.parse(payload.toString('utf8')) as { sequence: number; status: string };
      arrivals.push({ sequence: doc.sequence, status: doc.status, at });
      if (arrivals.length > 1000) arrivals.shift();
      bus.emit('arrival');
    },
    onConnected: () => bus.emit('connected'),
    onDisconnected: () => {},
  });
  await connected;
  await transport.subscribe(topic);
  return {
    transport,
    arrivals,
    next(pred) {
      return new Promise((res, rej) => {
        const check = () => {
          const hit = arrivals.find(pred);
          if (!hit) return;
          clearTimeout(timer);
          bus.off('arrival', check);
          res(hit);
        };
        const timer = setTimeout(() => {
          bus.off('arrival', check);
          rej(new Error(`no matching report within ${WAIT_MS} ms`));
        }, WAIT_MS);
        bus.on('arrival', check);
        check();
      });
    },
  };
}

const reportSized = (i: number): OutboundMessage => ({
  topic: `bench/spool/report`,
  payload: JSON.stringify({ sequence: i, filler: 'x'.repeat(2500) }), // about a small report
  qos: 1,
  retain: true,
  kind: 'report',
});

export async function benchMqtt(opts: { log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const changes = Math.max(50, Number(process.env.BENCH_MQTT_CHANGES ?? 60));
  const dir = await mkdtemp(join(tmpdir(), 'dw-bench-mqtt-'));
  const out: Record<string, number> = {};
  let broker: Broker | undefined;
  let agent: AgentProcess | undefined;
  const closers: (() => Promise<void>)[] = [];
  try {
    broker = await startMosquitto();
    const d = await directCore({ dir: join(dir, 'core'), thing: 'BenchCore', broker });
    closers.push(() => d.stop());
    const sub = await subscriberFor(broker, `${d.base}/report`);
    closers.push(() => sub.transport.stop());

    const t0 = performance.now();
    agent = d.start();
    // The start report, then the one after connecting: both on the broker before timing starts.
    const ready = await agent.waitForLog((l) => l.message === 'report' && (l.sequence as number) >= 2, WAIT_MS);
    const first = await sub.next((a) => a.sequence >= (ready.sequence as number));
    out.startToReportMs = first.at - t0;
    log(`mqtt bench: agent started, report on the broker after ${out.startToReportMs.toFixed(0)} ms (mosquitto ${broker.port}, mutual TLS)`);

    const file = join(d.core.root, d.core.paths.lambdaDir, 'config.json');
    const original = await readFile(file);
    let last = first.sequence;
    const ms: number[] = [];
    for (let i = 0; i < changes; i++) {
      const tamper = i % 2 === 0;
      const w0 = performance.now();
      await writeFile(file, tamper ? `{"handler":"bench-${i}"}\n` : original);
      const got = await sub.next((a) => a.sequence > last && a.status === (tamper ? 'TAMPERED' : 'VERIFIED'));
      ms.push(got.at - w0);
      last = got.sequence;
    }
    ms.sort((a, b) => a - b);
    out.changes = ms.length;
    out.changeToMessageP50Ms = percentile(ms, 50);
    out.changeToMessageP99Ms = percentile(ms, 99);
    out.changeToMessageMaxMs = ms[ms.length - 1]!;
    log(`  file change -> report at a subscriber, ${ms.length} changes: p50 ${out.changeToMessageP50Ms.toFixed(0)} ms, p99 ${out.changeToMessageP99Ms.toFixed(0)} ms, max ${out.changeToMessageMaxMs.toFixed(0)} ms (target p99 < 1000 ms; debounceMs 200 included)`);
    await agent.term();

    // The spool alone: each append is a temp file, fsync, rename, fsync of the folder.
    const spoolA = await openSpool(join(dir, 'spool-a'), { logger: silentLogger() });
    const a0 = performance.now();
    for (let i = 0; i < SPOOL_MESSAGES; i++) await spoolA.append(reportSized(i));
    out.spoolAppendsPerSecond = SPOOL_MESSAGES / ((performance.now() - a0) / 1000);
    log(`  spool: ${out.spoolAppendsPerSecond.toFixed(0)} durable appends/s (${SPOOL_MESSAGES} report-sized entries, fsync each)`);

    // Spool write + send: enqueue all, the outbox drains them to the broker one QoS 1 publish at a time.
    const publisher = new Mqtt5Transport({
      endpoint: broker.host, port: broker.port, certPath: broker.certs.clientCert, keyPath: broker.certs.clientKey, caPath: broker.certs.ca,
      clientId: defaultClientId(`bench-publisher-${process.pid}`), logger: silentLogger(),
    });
    closers.push(() => publisher.stop());
    const spoolB = await openSpool(join(dir, 'spool-b'), { logger: silentLogger() });
    let sent = 0;
    const bus = new EventEmitter();
    const outbox = new Outbox({
      spool: spoolB, transport: publisher, logger: silentLogger(),
      onSent: () => {
        sent += 1;
        if (sent === SPOOL_MESSAGES) bus.emit('drained');
      },
    });
    closers.push(() => outbox.stop());
    const up = new Promise<void>((res) => bus.once('up', res));
    await publisher.start({ onMessage: () => {}, onConnected: () => { outbox.transportConnected(); bus.emit('up'); }, onDisconnected: () => {} });
    await up;
    const drained = new Promise<void>((res) => bus.once('drained', res));
    const s0 = performance.now();
    outbox.start();
    for (let i = 0; i < SPOOL_MESSAGES; i++) await outbox.enqueue(reportSized(i));
    await drained;
    out.spoolWriteSendPerSecond = SPOOL_MESSAGES / ((performance.now() - s0) / 1000);
    // The SDK's AWS IoT Core flow control caps a connection at 100 publishes/s (IoT Core's own limit).
    log(`  spool write + send (outbox, QoS 1, PUBACK awaited, entry removed): ${out.spoolWriteSendPerSecond.toFixed(0)} messages/s over ${SPOOL_MESSAGES} (the SDK holds a connection to IoT Core's 100 publishes/s)`);
    return out;
  } finally {
    await agent?.kill();
    for (const c of closers.reverse()) await c().catch(() => {});
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
    await collectNativeClients();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  benchMqtt({ log: (l) => console.log(l) }).then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
