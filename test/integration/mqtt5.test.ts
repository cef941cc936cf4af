// The MQTT 5 transport against a real mosquitto with mutual TLS and
// require_certificate, through the real aws-iot-device-sdk-v2 client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { silentLogger } from '../../src/log.js';
import {
  Mqtt5Transport, defaultClientId, loadSdk, explainSdkLoadFailure, MAX_PAYLOAD_BYTES, type Mqtt5TransportOptions,
} from '../../src/report/mqtt5.js';
import type { TransportHandlers, OutboundMessage } from '../../src/report/transport.js';
import { startMosquitto, collectNativeClients, type Broker } from '../lib/mosquitto.js';
import { makeCerts, type Certs } from '../lib/certs.js';

const WAIT_MS = 30_000;
const TEST_TIMEOUT = { timeout: 120_000 };

let broker: Broker;
let scratch: string;
let foreign: Certs; // a second, unrelated CA and its client certificate
const open: Mqtt5Transport[] = [];

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-mqtt5-test-'));
  broker = await startMosquitto();
  foreign = await makeCerts(join(scratch, 'foreign'));
});

after(async () => {
  await Promise.all(open.map((t) => t.stop()));
  await broker?.stop();
  await rm(scratch, { recursive: true, force: true });
  await collectNativeClients();
});

let seq = 0;
function transportFor(b: Broker, extra: Partial<Mqtt5TransportOptions> = {}): Mqtt5Transport {
  const t = new Mqtt5Transport({
    endpoint: b.host,
    port: b.port,
    certPath: b.certs.clientCert,
    keyPath: b.certs.clientKey,
    caPath: b.certs.ca,
    clientId: defaultClientId(`test-core-${process.pid}-${++seq}`),
    minReconnectDelayMs: 100,
    maxReconnectDelayMs: 1_000,
    logger: silentLogger(),
    ...extra,
  });
  open.push(t);
  return t;
}

/** Handlers that record what happened, with event-driven waits on it. */
function recorder() {
  const changed = new EventEmitter();
  const r = {
    connects: 0,
    disconnects: 0,
    failures: [] as Error[],
    messages: [] as { topic: string; payload: string }[],
    handlers: {
      onMessage(topic, payload) {
        r.messages.push({ topic, payload: payload.toString('utf8') });
        changed.emit('change');
      },
      onConnected() {
        r.connects++;
        changed.emit('change');
      },
      onDisconnected() {
        r.disconnects++;
        changed.emit('change');
      },
    } satisfies TransportHandlers,
    onConnectFailure(err: Error) {
      r.failures.push(err);
      changed.emit('change');
    },
    /** Resolves when cond() holds, checking again on every recorded event. */
    until(cond: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
      if (cond()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!cond()) return;
          clearTimeout(timer);
          changed.off('change', check);
          resolve();
        };
        const timer = setTimeout(() => {
          changed.off('change', check);
          reject(new Error(`timed out waiting for ${what}`));
        }, timeoutMs);
        changed.on('change', check);
      });
    },
  };
  return r;
}

const msg = (topic: string, payload: string, extra: Partial<OutboundMessage> = {}): OutboundMessage => ({
  topic, payload, qos: 1, kind: 'heartbeat', ...extra,
});

test('defaultClientId never is the bare thing name', () => {
  assert.equal(defaultClientId('core-1'), 'core-1-deploy-witness');
});

test('connects with mutual TLS; a QoS 1 retained publish reaches a later subscriber', TEST_TIMEOUT, async () => {
  const r = recorder();
  const t = transportFor(broker);
  await t.start(r.handlers);
  await r.until(() => r.connects === 1, 'onConnected');
  assert.equal(t.status().connected, true);

  const payload = JSON.stringify({ online: true, n: Math.random() });
  await t.publish(msg('dw/retained/heartbeat', payload, { retain: true }));

  const sub = await broker.subscriber('dw/retained/heartbeat');
  const got = await sub.waitFor((m) => m.payload === payload);
  assert.deepEqual(got, { topic: 'dw/retained/heartbeat', payload, retain: true, qos: 1 });

  // QoS 0 resolves on send and still arrives (not retained, live).
  await t.publish(msg('dw/retained/heartbeat', 'qos0', { qos: 0 }));
  const live = await sub.waitFor((m) => m.payload === 'qos0');
  assert.equal(live.retain, false);
  await sub.close();
  await t.stop();
  assert.equal(t.status().connected, false);
});

test('subscribe and receive', TEST_TIMEOUT, async () => {
  const r = recorder();
  const t = transportFor(broker);
  await t.start(r.handlers);
  await r.until(() => r.connects === 1, 'onConnected');
  await t.subscribe('dw/sub/cmd/#');
  await broker.publish('dw/sub/cmd/verify', 'please');
  await broker.publish('dw/elsewhere', 'not for us');
  await broker.publish('dw/sub/cmd/verify', 'done');
  await r.until(() => r.messages.some((m) => m.payload === 'done'), 'the second message');
  assert.deepEqual(r.messages, [
    { topic: 'dw/sub/cmd/verify', payload: 'please' },
    { topic: 'dw/sub/cmd/verify', payload: 'done' },
  ]);
  await t.stop();
});

test('publish rejects when the broker refuses it in the PUBACK', TEST_TIMEOUT, async () => {
  const strict = await startMosquitto({ acl: 'pattern readwrite dw/#\n' });
  try {
    const r = recorder();
    const t = transportFor(strict);
    await t.start(r.handlers);
    await r.until(() => r.connects === 1, 'onConnected');
    await t.publish(msg('dw/allowed', 'ok'));
    await assert.rejects(t.publish(msg('forbidden/topic', 'no')), /refused: PUBACK NotAuthorized/);
    // Too large for AWS IoT Core: refused before it is sent.
    await assert.rejects(t.publish(msg('dw/allowed', 'x'.repeat(MAX_PAYLOAD_BYTES + 1))), /limit is 131072/);
    await t.stop();
  } finally {
    await strict.stop();
  }
});

test('bad certificate and key paths give a clear error naming the option', TEST_TIMEOUT, async () => {
  const r = recorder();
  const c = broker.certs;
  await assert.rejects(transportFor(broker, { certPath: join(scratch, 'missing.crt') }).start(r.handlers),
    /^Error: mqtt certPath: .*missing\.crt does not exist$/);
  await assert.rejects(transportFor(broker, { keyPath: c.clientCert }).start(r.handlers),
    /^Error: mqtt keyPath: .* is not a PEM private key$/);
  await assert.rejects(transportFor(broker, { caPath: scratch }).start(r.handlers), /^Error: mqtt caPath: .* is a folder, not a regular file$/);
  // A key given as the certificate: the message names it but never shows its content.
  await assert.rejects(transportFor(broker, { certPath: c.clientKey }).start(r.handlers), (err: Error) => {
    assert.match(err.message, /^mqtt certPath: .* is not a PEM certificate$/);
    assert.doesNotMatch(err.message, /BEGIN|PRIVATE/);
    return true;
  });
  assert.equal(r.connects, 0);
});

test('a client certificate from another CA is refused by the broker', TEST_TIMEOUT, async () => {
  const r = recorder();
  const t = transportFor(broker, {
    certPath: foreign.clientCert, keyPath: foreign.clientKey, onConnectFailure: r.onConnectFailure,
  });
  await t.start(r.handlers);
  await r.until(() => r.failures.length >= 2, 'two failed connection attempts');
  assert.equal(r.connects, 0);
  assert.equal(t.status().connected, false);
  assert.ok(t.status().connectFailures >= 2);
  assert.match(r.failures[0]!.message, new RegExp(`^the broker at localhost:${broker.port} ended the TLS handshake: it does not accept the certificate certPath \\(\\S+client\\.crt\\).* \\(AWS_IO_TLS_\\w+\\)$`));
  await assert.rejects(t.publish(msg('dw/x', 'y')), /not connected/);
  await t.stop();
});

test('a server certificate from an untrusted CA is refused by the client', TEST_TIMEOUT, async () => {
  const r = recorder();
  const t = transportFor(broker, { caPath: foreign.ca, onConnectFailure: r.onConnectFailure });
  await t.start(r.handlers);
  // s2n delays the failure by 10 to 30 s ("blinding") when it rejects a certificate.
  await r.until(() => r.failures.length >= 1, 'a failed connection attempt', 60_000);
  assert.equal(r.connects, 0);
  assert.match(r.failures[0]!.message, /TLS|CERT|X509|SSL/i);
  await t.stop();
});

const here = dirname(fileURLToPath(import.meta.url));
const moduleUrl = (rel: string) => pathToFileURL(resolve(here, rel)).href;

// Runs a transport in its own process, so that SIGKILL drops its socket without a DISCONNECT.
const CHILD = `
const { Mqtt5Transport } = await import(process.env.DW_MQTT5);
const { silentLogger } = await import(process.env.DW_LOG);
const o = JSON.parse(process.env.DW_OPTS);
const t = new Mqtt5Transport({ ...o, logger: silentLogger() });
await t.start({
  onConnected() { process.stdout.write('connected\\n'); },
  onDisconnected() {},
  onMessage() {},
});
process.stdin.on('data', async () => { await t.stop(); process.stdout.write('stopped\\n'); process.exit(0); });
`;

async function childTransport(opts: object) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      DW_MQTT5: moduleUrl('../../src/report/mqtt5.js'),
      DW_LOG: moduleUrl('../../src/log.js'),
      DW_OPTS: JSON.stringify(opts),
    },
  });
  const lines: string[] = [];
  const seen = new EventEmitter();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    for (const line of s.split('\n').filter(Boolean)) {
      lines.push(line);
      seen.emit(line);
    }
  });
  const waitLine = async (line: string) => {
    if (lines.includes(line)) return;
    await once(seen, line, { signal: AbortSignal.timeout(WAIT_MS) });
  };
  const exited = once(child, 'exit');
  return { child, waitLine, exited };
}

test('the last will reaches subscribers when the agent dies without disconnecting', TEST_TIMEOUT, async () => {
  const topic = `dw/will-${process.pid}/heartbeat`;
  const offline = JSON.stringify({ online: false });
  const sub = await broker.subscriber(topic);
  const base = {
    endpoint: broker.host, port: broker.port, caPath: broker.certs.ca,
    certPath: broker.certs.clientCert, keyPath: broker.certs.clientKey,
    will: { topic, payload: offline, qos: 1, retain: true, kind: 'heartbeat' },
  };

  // A clean stop sends DISCONNECT with the will: a stopped agent is offline too.
  const polite = await childTransport({ ...base, clientId: defaultClientId('polite') });
  await polite.waitLine('connected');
  polite.child.stdin!.write('stop\n');
  await polite.waitLine('stopped');
  await polite.exited;
  await sub.waitFor((m) => m.payload === offline);
  await broker.publish(topic, 'marker');
  await sub.waitFor((m) => m.payload === 'marker');
  assert.deepEqual(sub.messages.map((m) => m.payload), [offline, 'marker']);

  const killed = await childTransport({ ...base, clientId: defaultClientId('killed') });
  await killed.waitLine('connected');
  killed.child.kill('SIGKILL');
  await killed.exited;
  const will = await sub.waitFor((m) => m.payload === offline && sub.messages.indexOf(m) > 1);
  assert.equal(will.topic, topic);
  await sub.close();

  // Retained: whoever looks later sees the agent offline.
  const late = await broker.subscriber(topic);
  assert.equal((await late.waitFor((m) => m.payload === offline)).retain, true);
  await late.close();
  await broker.publish(topic, '', { retain: true }); // clear the retained will
});

test('broker outage: publish rejects, onDisconnected, then reconnects and resubscribes', TEST_TIMEOUT, async () => {
  const flaky = await startMosquitto();
  try {
    const r = recorder();
    const t = transportFor(flaky);
    await t.start(r.handlers);
    await r.until(() => r.connects === 1, 'onConnected');
    await t.subscribe('dw/outage/cmd');
    const port = flaky.port;

    await flaky.stop();
    await r.until(() => r.disconnects === 1, 'onDisconnected');
    assert.equal(t.status().connected, false);
    await assert.rejects(t.publish(msg('dw/outage/report', 'while down')), /not connected/);

    await flaky.restart();
    assert.equal(flaky.port, port);
    await r.until(() => r.connects === 2, 'onConnected after restart');
    await t.publish(msg('dw/outage/report', 'after restart'));
    await flaky.publish('dw/outage/cmd', 'still listening');
    await r.until(() => r.messages.some((m) => m.payload === 'still listening'), 'a message after restart');
    assert.deepEqual(r.messages, [{ topic: 'dw/outage/cmd', payload: 'still listening' }]);
    assert.equal(r.disconnects, 1);
    await t.stop();
  } finally {
    await flaky.stop();
  }
});

test('a missing aws-crt binary is reported with what to do', async () => {
  const missing = new Error('AWS CRT binary not present in any of the following locations:\n\t/x/linux-arm-glibc/aws-crt-nodejs.node');
  await assert.rejects(loadSdk(() => Promise.reject(missing)),
    new RegExp(`^Error: aws-crt has no prebuilt binary for ${process.platform}-${process.arch}; use 64-bit Raspberry Pi OS$`));
  assert.equal(explainSdkLoadFailure(missing, 'linux', 'arm').message,
    'aws-crt has no prebuilt binary for linux-arm; use 64-bit Raspberry Pi OS');
  assert.match(explainSdkLoadFailure(new Error('boom'), 'linux', 'arm').message, /^cannot load aws-iot-device-sdk-v2: boom$/);

  // start() surfaces it as is, after the files checked out.
  const t = transportFor(broker, { loadSdk: () => loadSdk(() => Promise.reject(missing)) });
  await assert.rejects(t.start(recorder().handlers), /no prebuilt binary/);

  // And the real one loads here.
  const sdk = await loadSdk();
  assert.equal(typeof sdk.mqtt5.Mqtt5Client, 'function');
});
