// The IPC transport with the real aws-iot-device-sdk-v2 client against the local nucleus double.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { Writable } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import winston from 'winston';
import { backoffDelay, ipcAvailable, IpcTokenRefusedError, IpcTransport, type IpcTransportOptions } from '../../src/report/ipc.js';
import { fileExitLedger } from '../../src/report/ipc-restart.js';
import type { TransportHandlers } from '../../src/report/transport.js';
import { globMatches, startIpcServer, topicMatches, type IpcMode, type IpcServer, type IpcServerOptions } from '../lib/ipc-server.js';

const TOKEN = 'svcuid-test-token-5f1c2a';
const WAIT = 20_000;
const T = { timeout: 60_000 };

const CONFIG = {
  intervalSeconds: 300,
  enabled: true,
  mqtt: { topicPrefix: 'dw', qos: 1 },
};

/** Handler calls, with an event-driven wait. */
function recorder() {
  const bus = new EventEmitter();
  const r = {
    messages: [] as { topic: string; payload: Buffer }[],
    connected: 0,
    disconnected: 0,
    reasons: [] as (Error | undefined)[],
    fatal: [] as Error[],
    handlers: {
      onFatal(reason: Error) {
        r.fatal.push(reason);
        bus.emit('x');
      },
      onMessage(topic: string, payload: Buffer) {
        r.messages.push({ topic, payload });
        bus.emit('x');
      },
      onConnected() {
        r.connected++;
        bus.emit('x');
      },
      onDisconnected(reason?: Error) {
        r.disconnected++;
        r.reasons.push(reason);
        bus.emit('x');
      },
    } satisfies TransportHandlers,
    until(pred: () => boolean, ms = WAIT): Promise<void> {
      return waitOn(bus, pred, ms);
    },
  };
  return r;
}

function waitOn(bus: EventEmitter, pred: () => boolean, ms: number): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const on = (): void => {
      if (!pred()) return;
      clearTimeout(timer);
      bus.off('x', on);
      resolve();
    };
    const timer = setTimeout(() => {
      bus.off('x', on);
      reject(new Error(`condition not met within ${ms} ms`));
    }, ms);
    bus.on('x', on);
  });
}

/** A winston logger whose JSON lines land in an array. */
function captureLogger() {
  const bus = new EventEmitter();
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      bus.emit('x');
      cb();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  /** Resolves once everything logged before this call has reached `lines`. */
  const flush = async (): Promise<void> => {
    const id = `flush-${Math.random()}`;
    logger.info(id);
    await waitOn(bus, () => lines.some((l) => l.message === id), WAIT);
  };
  return { logger, lines, flush, bus };
}

async function setup(
  t: TestContext,
  serverOpts: Partial<IpcServerOptions> = {},
  transportOpts: Partial<IpcTransportOptions> = {},
) {
  const server = await startIpcServer({ authToken: TOKEN, configuration: CONFIG, ...serverOpts });
  const transport = new IpcTransport({
    socketPath: server.socketPath,
    authToken: TOKEN,
    env: {},
    componentName: 'com.example.DeployWitness',
    ...transportOpts,
  });
  const rec = recorder();
  t.after(async () => {
    await transport.stop();
    await server.close();
  });
  return { server, transport, rec };
}

function lastConfigEvents(server: IpcServer): number {
  return server.events.filter((e) => e.kind === 'configSubscription').length;
}

describe('IpcTransport against the local nucleus', () => {
  test('handshake, then publish carries topic, qos string, retain and the exact bytes', T, async (t) => {
    const { server, transport, rec } = await setup(t);
    await transport.start(rec.handlers);
    assert.equal(rec.connected, 1);
    assert.equal(server.connections, 1);
    assert.equal(server.rejectedConnections, 0);

    const payload = JSON.stringify({ core: 'pi-1', note: 'Ünïcødé ✓', n: 42 });
    await transport.publish({ topic: 'dw/pi-1/report', payload, qos: 1, retain: true, kind: 'report' });
    await transport.publish({ topic: 'dw/pi-1/heartbeat', payload: 'beat', qos: 0, kind: 'heartbeat' });

    assert.equal(server.publishes.length, 2);
    const [a, b] = server.publishes;
    assert.equal(a!.topicName, 'dw/pi-1/report');
    assert.equal(a!.qos, '1');
    assert.equal(a!.retain, true);
    assert.deepEqual(a!.payload, Buffer.from(payload, 'utf8'));
    assert.equal(b!.topicName, 'dw/pi-1/heartbeat');
    assert.equal(b!.qos, '0');
    assert.equal(b!.retain, undefined);
    assert.equal(b!.payload.toString('utf8'), 'beat');
  });

  test('subscribe, then a delivered message reaches onMessage with its bytes', T, async (t) => {
    const { server, transport, rec } = await setup(t);
    await transport.start(rec.handlers);
    await transport.subscribe('dw/pi-1/request/#');
    assert.deepEqual(server.subscriptions, [{ topicName: 'dw/pi-1/request/#', qos: '1' }]);

    assert.equal(server.deliver('dw/pi-2/request/x', 'not for us'), 0);
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10]);
    assert.equal(server.deliver('dw/pi-1/request/rescan', bytes), 1);
    await rec.until(() => rec.messages.length === 1);
    assert.equal(rec.messages[0]!.topic, 'dw/pi-1/request/rescan');
    assert.deepEqual(rec.messages[0]!.payload, bytes);
  });

  test('UpdateState RUNNING and ERRORED are recorded in order', T, async (t) => {
    const { server, transport, rec } = await setup(t);
    await transport.start(rec.handlers);
    await transport.updateState('RUNNING');
    await transport.updateState('ERRORED');
    assert.deepEqual(server.states, ['RUNNING', 'ERRORED']);
  });

  test('GetConfiguration: whole, leaf, subtree, missing', T, async (t) => {
    const { transport, rec } = await setup(t);
    await transport.start(rec.handlers);
    assert.deepEqual(await transport.getConfiguration(), CONFIG);
    assert.deepEqual(await transport.getConfiguration([]), CONFIG);
    assert.deepEqual(await transport.getConfiguration(['intervalSeconds']), { intervalSeconds: 300 });
    assert.deepEqual(await transport.getConfiguration(['mqtt']), { topicPrefix: 'dw', qos: 1 });
    assert.deepEqual(await transport.getConfiguration(['mqtt', 'qos']), { qos: 1 });
    assert.equal(await transport.getConfiguration(['nope']), undefined);
    assert.equal(await transport.getConfiguration(['mqtt', 'nope']), undefined);
    assert.equal(await transport.getConfiguration(['intervalSeconds', 'deeper']), undefined);
  });

  test('nucleus lite: configuration scalars come back as strings, retain is dropped', T, async (t) => {
    const { server, transport, rec } = await setup(t, { mode: 'lite' });
    await transport.start(rec.handlers);
    assert.deepEqual(await transport.getConfiguration(['intervalSeconds']), { intervalSeconds: '300' });
    assert.deepEqual(await transport.getConfiguration(['enabled']), { enabled: 'true' });
    assert.deepEqual(await transport.getConfiguration(), {
      intervalSeconds: '300',
      enabled: 'true',
      mqtt: { topicPrefix: 'dw', qos: '1' },
    });
    await transport.publish({ topic: 'dw/pi-1/report', payload: '{}', qos: 1, retain: true, kind: 'report' });
    assert.equal(server.publishes.length, 1);
    assert.equal(server.publishes[0]!.retain, undefined);
    assert.equal(server.publishes[0]!.qos, '1');
  });

  test('configuration update events reach the callback', T, async (t) => {
    const { server, transport, rec } = await setup(t);
    await transport.start(rec.handlers);
    const seen: string[][] = [];
    const bus = new EventEmitter();
    await transport.onConfigurationUpdate((keyPath) => {
      seen.push(keyPath);
      bus.emit('x');
    });
    assert.equal(lastConfigEvents(server), 1);

    assert.equal(server.updateConfiguration(['mqtt', 'topicPrefix'], 'witness'), 1);
    await waitOn(bus, () => seen.length === 1, WAIT);
    assert.deepEqual(seen, [['mqtt', 'topicPrefix']]);
    assert.deepEqual(await transport.getConfiguration(['mqtt', 'topicPrefix']), { topicPrefix: 'witness' });

    // A second listener shares the one stream.
    await transport.onConfigurationUpdate(() => {});
    assert.equal(lastConfigEvents(server), 1);
  });

  test('a wrong auth token: start() rejects clearly, the nucleus counts a refusal', T, async (t) => {
    const wrong = 'wrong-token-77aa';
    const { server, transport, rec } = await setup(t, {}, { authToken: wrong, refusals: { limit: 1, minSpanMs: 0 } });
    await assert.rejects(transport.start(rec.handlers), (err: Error) => {
      assert.ok(err instanceof IpcTokenRefusedError, err.message);
      assert.match(err.message, /auth token \(SVCUID\)/);
      assert.ok(err.message.includes(server.socketPath));
      assert.ok(!err.message.includes(wrong), 'the token itself must not be in the message');
      return true;
    });
    assert.equal(server.rejectedConnections, 1);
    assert.equal(server.connections, 0);
    assert.equal(rec.connected, 0);
    await assert.rejects(
      transport.publish({ topic: 'x', payload: '', qos: 0, kind: 'report' }),
      /not connected/,
    );
  });

  test('missing environment: start() names the variable', T, async () => {
    const transport = new IpcTransport({ env: {} });
    await assert.rejects(transport.start(recorder().handlers), /AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT/);
    await assert.rejects(
      new IpcTransport({ env: { AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: '/nonexistent' } }).start(
        recorder().handlers,
      ),
      /SVCUID is not set/,
    );
  });

  test('UnauthorizedError: publish rejects, one accessControl log line per topic, a later publish succeeds', T, async (t) => {
    const { logger, lines, flush } = captureLogger();
    let now = 1_000_000;
    const { server, transport, rec } = await setup(t, {}, { logger, clock: () => now });
    await transport.start(rec.handlers);
    const topic = 'dw/pi-1/report';
    const msg = { topic, payload: '{"v":1}', qos: 1 as const, kind: 'report' as const };

    server.failPublishes(3);
    await assert.rejects(transport.publish(msg), /not authorized to publish to dw\/pi-1\/report/);
    await assert.rejects(transport.publish(msg), /not authorized/);
    await flush();
    const hints = (): Record<string, unknown>[] =>
      lines.filter((l) => l.level === 'error' && String(l.message).includes('accessControl.aws.greengrass.ipc.mqttproxy'));
    assert.equal(hints().length, 1, JSON.stringify(lines));
    const line = String(hints()[0]!.message);
    assert.ok(line.includes(topic));
    assert.ok(line.includes('aws.greengrass#PublishToIoTCore'));
    assert.ok(line.includes('com.example.DeployWitness'));

    // After the rate-limit window the reminder comes back, once.
    now += 11 * 60_000;
    await assert.rejects(transport.publish(msg), /not authorized/);
    await flush();
    assert.equal(hints().length, 2);

    await transport.publish(msg);
    assert.equal(server.refusedPublishes.length, 3);
    assert.equal(server.publishes.length, 1);
    assert.equal(server.publishes[0]!.topicName, topic);
    await flush();
    assert.ok(!JSON.stringify(lines).includes(TOKEN), 'SVCUID must never be logged');
  });

  test('a modeled ServiceError on publish rejects without the accessControl hint', T, async (t) => {
    const { logger, lines, flush } = captureLogger();
    const { server, transport, rec } = await setup(t, {}, { logger });
    await transport.start(rec.handlers);
    server.failPublishes(1, 'ServiceError', 'spooler full');
    await assert.rejects(
      transport.publish({ topic: 'dw/a', payload: 'x', qos: 1, kind: 'report' }),
      /PublishToIoTCore dw\/a failed: .*spooler full/,
    );
    await flush();
    assert.ok(!lines.some((l) => String(l.message).includes('accessControl')));
  });

  test('the nucleus drops the socket: reconnect, re-subscribe, onConnected again, messages still arrive', T, async (t) => {
    const { server, transport, rec } = await setup(t, {}, { backoff: { minMs: 20, maxMs: 200 }, random: () => 0.5 });
    await transport.start(rec.handlers);
    await transport.subscribe('dw/pi-1/request/+');
    const configSeen: string[][] = [];
    const configBus = new EventEmitter();
    await transport.onConfigurationUpdate((k) => {
      configSeen.push(k);
      configBus.emit('x');
    });
    assert.deepEqual(server.activeSubscriptions(), ['dw/pi-1/request/+']);

    server.dropConnections();
    await rec.until(() => rec.disconnected === 1 && rec.connected === 2);
    assert.ok(rec.reasons[0] instanceof Error);
    assert.equal(server.connections, 2);
    // onConnected fires after the subscriptions are back.
    assert.deepEqual(server.activeSubscriptions(), ['dw/pi-1/request/+']);
    assert.equal(server.subscriptions.length, 2);
    assert.equal(lastConfigEvents(server), 2);

    assert.equal(server.deliver('dw/pi-1/request/rescan', 'after'), 1);
    await rec.until(() => rec.messages.length === 1);
    assert.equal(rec.messages[0]!.payload.toString(), 'after');

    assert.equal(server.updateConfiguration(['intervalSeconds'], 60), 1);
    await waitOn(configBus, () => configSeen.length === 1, WAIT);
    assert.deepEqual(configSeen, [['intervalSeconds']]);

    await transport.publish({ topic: 'dw/pi-1/report', payload: 'again', qos: 1, kind: 'report' });
    assert.equal(server.publishes.at(-1)!.payload.toString(), 'again');
  });

  test('reconnect keeps trying while the nucleus is away, with backoff', T, async (t) => {
    // Our own folder: a server removes the folder it made when it closes.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gg-ipc-'));
    const socketPath = path.join(dir, 'ipc.socket');
    const first = await startIpcServer({ authToken: TOKEN, socketPath });
    const { logger, lines, bus } = captureLogger();
    const delays = (): unknown[] => lines.filter((l) => l.message === 'IPC reconnect scheduled').map((l) => l.delayMs);
    const transport = new IpcTransport({
      socketPath,
      authToken: TOKEN,
      env: {},
      logger,
      backoff: { minMs: 10, maxMs: 40 },
      random: () => 1,
    });
    const rec = recorder();
    let second: IpcServer | undefined;
    t.after(async () => {
      await transport.stop();
      await second?.close();
      await first.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    });
    await transport.start(rec.handlers);
    // A nucleus restart: the socket goes away, then comes back at the same path.
    await first.close();
    await rec.until(() => rec.disconnected === 1);
    await waitOn(bus, () => delays().length >= 3, WAIT);
    second = await startIpcServer({ authToken: TOKEN, socketPath });
    await rec.until(() => rec.connected === 2);
    assert.equal(second.connections, 1);
    // random() = 1 gives the top of each window: min*2, min*4, then the cap.
    assert.deepEqual(delays().slice(0, 3), [20, 40, 40]);
  });

  test('stop() during backoff ends reconnecting; publish then rejects', T, async (t) => {
    const { server, transport, rec } = await setup(t, {}, { backoff: { minMs: 120_000, maxMs: 120_000 } });
    await transport.start(rec.handlers);
    server.dropConnections();
    await rec.until(() => rec.disconnected === 1);
    await assert.rejects(transport.publish({ topic: 'a', payload: '', qos: 0, kind: 'report' }), /not connected/);
    // The pending reconnect timer must go with stop().
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await transport.stop();
    assert.equal(timers(), before - 1);
    assert.equal(rec.connected, 1);
    assert.equal(server.connections, 1);
  });

  test('stop() closes the connection at the nucleus', T, async (t) => {
    const { server, transport, rec } = await setup(t);
    await transport.start(rec.handlers);
    await transport.subscribe('dw/#');
    assert.equal(server.openConnections, 1);
    await transport.stop();
    await server.waitFor(() => server.openConnections === 0, WAIT);
    assert.equal(rec.disconnected, 0, 'a requested stop is not a lost connection');
  });
});

describe('a nucleus that forgets the token', () => {
  const fast = { backoff: { minMs: 10, maxMs: 40 }, random: () => 0.5 };

  for (const mode of ['java', 'lite'] as IpcMode[]) {
    test(`${mode}: after the IPC server restarts, refused handshakes in a row over the span make the transport fatal, once`, T, async (t) => {
      const { logger, lines } = captureLogger();
      const { server, transport, rec } = await setup(t, { mode }, { ...fast, logger, refusals: { limit: 3, minSpanMs: 300 } });
      await transport.start(rec.handlers);
      server.restart('svcuid-after-restart');
      await rec.until(() => rec.disconnected === 1);
      const refusedFrom = Date.now();
      await rec.until(() => rec.fatal.length === 1);
      const took = Date.now() - refusedFrom;
      assert.ok(took >= 300, `fatal only once the refusals span the window (${took} ms)`);
      assert.ok(server.rejectedConnections >= 3, `${server.rejectedConnections} refusals`);
      assert.ok(rec.fatal[0] instanceof IpcTokenRefusedError);
      assert.match(rec.fatal[0]!.message, /refused the IPC auth token \(SVCUID\) \d+ times in a row/);
      assert.ok(!rec.fatal[0]!.message.includes(TOKEN));
      const failed = lines.filter((l) => l.message === 'IPC reconnect failed');
      assert.ok(failed.every((l) => l.outcome === 'refused'), JSON.stringify(failed));
      // Given up: no reconnect is scheduled after the last refusal.
      const lastScheduled = lines.findLastIndex((l) => l.message === 'IPC reconnect scheduled');
      const lastFailed = lines.findLastIndex((l) => l.message === 'IPC reconnect failed');
      assert.ok(lastScheduled < lastFailed);
      assert.equal(rec.connected, 1);
    });
  }

  test('a missing socket never counts as a refusal: the transport waits for the nucleus, then reconnects', T, async (t) => {
    const { logger, lines, bus } = captureLogger();
    const { server, transport, rec } = await setup(t, { mode: 'lite' }, { ...fast, logger, refusals: { limit: 2, minSpanMs: 0 } });
    await transport.start(rec.handlers);
    await server.unlisten();
    await rec.until(() => rec.disconnected === 1);
    const unreachable = () => lines.filter((l) => l.message === 'IPC reconnect failed' && l.outcome === 'unreachable').length;
    await waitOn(bus, () => unreachable() >= 6, WAIT);
    assert.equal(rec.fatal.length, 0);
    await server.listen();
    await rec.until(() => rec.connected === 2);
    assert.equal(rec.fatal.length, 0);
    assert.equal(server.rejectedConnections, 0);
  });

  test('start() waits while the socket is missing (the nucleus may be starting) and connects once it is there', T, async (t) => {
    const { logger, lines, bus } = captureLogger();
    const { server, transport, rec } = await setup(t, {}, { ...fast, logger, refusals: { limit: 1, minSpanMs: 0 } });
    await server.unlisten();
    const started = transport.start(rec.handlers);
    await waitOn(bus, () => lines.filter((l) => l.message === 'IPC connect failed' && l.outcome === 'unreachable').length >= 3, WAIT);
    await server.listen();
    await started;
    assert.equal(server.connections, 1);
    assert.equal(rec.connected, 1);
  });

  test('an absent socket between refusals starts the count again', T, async (t) => {
    const { logger, lines, bus } = captureLogger();
    const { server, transport, rec } = await setup(t, { mode: 'lite' }, { ...fast, logger, refusals: { limit: 3, minSpanMs: 0 } });
    await transport.start(rec.handlers);
    const refused = () => lines.filter((l) => l.message === 'IPC reconnect failed' && l.outcome === 'refused').length;
    server.restart('other-token');
    await waitOn(bus, () => refused() >= 2, WAIT);
    await server.unlisten();
    await waitOn(bus, () => lines.some((l) => l.message === 'IPC reconnect failed' && l.outcome === 'unreachable'), WAIT);
    assert.equal(rec.fatal.length, 0);
    const before = refused();
    await server.listen();
    await rec.until(() => rec.fatal.length === 1);
    assert.ok(refused() - before >= 3, 'three fresh refusals after the socket came back');
  });

  test('an exit for a refused token within the hour: the next one waits for the window, then goes', T, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-ledger-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const ledger = fileExitLedger(path.join(dir, 'ipc-restarts.json'));
    const hour = 3_600_000;
    let now = Date.UTC(2026, 0, 1, 12, 0, 0);
    await ledger.record(now - 10 * 60_000);
    const { logger, lines, bus } = captureLogger();
    const { server, transport, rec } = await setup(t, {}, { ...fast, logger, clock: () => now, exitLedger: ledger, refusals: { limit: 2, minSpanMs: 0 } });
    await transport.start(rec.handlers);
    server.restart('svcuid-2');
    const waiting = () => lines.find((l) => /restart waits/.test(String(l.message)));
    await waitOn(bus, () => waiting() !== undefined, WAIT);
    assert.equal(waiting()!.restartAt, new Date(now - 10 * 60_000 + hour).toISOString());
    assert.equal(rec.fatal.length, 0);
    const refusedSoFar = server.rejectedConnections;
    await server.waitFor(() => server.rejectedConnections >= refusedSoFar + 2, WAIT);
    assert.equal(rec.fatal.length, 0, 'still inside the window');
    assert.equal(lines.filter((l) => /restart waits/.test(String(l.message))).length, 1, 'said once');
    now += 50 * 60_000 + 1;
    await rec.until(() => rec.fatal.length === 1);
    assert.deepEqual(await ledger.read(), [Date.UTC(2026, 0, 1, 11, 50, 0), now]);
  });

  test('start() refused for good records the exit in the ledger', T, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-ledger-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const ledger = fileExitLedger(path.join(dir, 'ipc-restarts.json'));
    const { transport, rec } = await setup(t, {}, { ...fast, authToken: 'stale', exitLedger: ledger, clock: () => 42_000, refusals: { limit: 2, minSpanMs: 0 } });
    await assert.rejects(transport.start(rec.handlers), IpcTokenRefusedError);
    assert.deepEqual(await ledger.read(), [42_000]);
  });
});

describe('the nucleus double itself', () => {
  test('drops a peer that sends an impossible frame length and keeps serving', T, async (t) => {
    const server = await startIpcServer({ authToken: TOKEN });
    const transport = new IpcTransport({ socketPath: server.socketPath, authToken: TOKEN, env: {} });
    t.after(async () => {
      await transport.stop();
      await server.close();
    });
    const sock = net.createConnection(server.socketPath);
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    sock.on('error', () => {});
    sock.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
    await closed;
    assert.equal(server.connections, 0);

    await transport.start(recorder().handlers);
    assert.equal(server.connections, 1);
  });

  test('accessControl: enforced when the configuration has one, as topic filter or glob; refused topics are recorded', T, async (t) => {
    const configuration = {
      accessControl: {
        'aws.greengrass.ipc.mqttproxy': {
          'c:pub': { operations: ['aws.greengrass#PublishToIoTCore'], resources: ['dw/+/report', 'glob/*/x'] },
          'c:sub': { operations: ['aws.greengrass#SubscribeToIoTCore'], resources: ['dw/+/expected'] },
        },
      },
    };
    const { server, transport, rec } = await setup(t, { configuration, mode: 'lite' });
    await transport.start(rec.handlers);
    await transport.publish({ topic: 'dw/pi/report', payload: 'a', qos: 1, kind: 'report' });
    await transport.publish({ topic: 'glob/a/b/x', payload: 'b', qos: 1, kind: 'report' });
    await assert.rejects(transport.publish({ topic: 'dw/pi/heartbeat', payload: 'c', qos: 1, kind: 'heartbeat' }), /accessControl/);
    await assert.rejects(transport.publish({ topic: 'dw/pi/expected', payload: 'c', qos: 1, kind: 'report' }), /accessControl/);
    await transport.subscribe('dw/pi/expected');
    await assert.rejects(transport.subscribe('dw/pi/report'), /accessControl/);
    assert.deepEqual(server.unauthorized, ['PublishToIoTCore dw/pi/heartbeat', 'PublishToIoTCore dw/pi/expected', 'SubscribeToIoTCore dw/pi/report']);
    assert.deepEqual(server.publishes.map((p) => p.topicName), ['dw/pi/report', 'glob/a/b/x']);
  });

  test('glob matching: * spans levels, everything else is literal', () => {
    assert.ok(globMatches('a/*', 'a/b/c'));
    assert.ok(globMatches('a/*/c', 'a/b/x/c'));
    assert.ok(!globMatches('a/*/c', 'a/b/d'));
    assert.ok(globMatches('$aws/things/*/shadow', '$aws/things/x/shadow'));
    assert.ok(!globMatches('a.b', 'aXb'));
    assert.ok(globMatches('a+b', 'a+b'));
  });

  test('MQTT wildcard matching', () => {
    assert.ok(topicMatches('a/+/c', 'a/b/c'));
    assert.ok(!topicMatches('a/+/c', 'a/b/d'));
    assert.ok(topicMatches('a/#', 'a'));
    assert.ok(topicMatches('a/#', 'a/b/c'));
    assert.ok(topicMatches('#', 'x/y'));
    assert.ok(!topicMatches('#', '$aws/things/x'));
    assert.ok(!topicMatches('a/+', 'a/b/c'));
    assert.ok(topicMatches('a/b', 'a/b'));
    assert.ok(!topicMatches('a/b', 'a/b/c'));
  });
});

describe('helpers', () => {
  test('ipcAvailable needs both the socket and the token', () => {
    assert.equal(ipcAvailable({}), false);
    assert.equal(ipcAvailable({ AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: '/s' }), false);
    assert.equal(ipcAvailable({ AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: '/s', SVCUID: 't' }), true);
  });

  test('backoffDelay: floor, doubling window, cap', () => {
    const o = { minMs: 1_000, maxMs: 60_000 };
    assert.equal(backoffDelay(0, o, () => 0), 1_000);
    assert.equal(backoffDelay(0, o, () => 1), 2_000);
    assert.equal(backoffDelay(3, o, () => 1), 16_000);
    assert.equal(backoffDelay(10, o, () => 1), 60_000);
    assert.equal(backoffDelay(1_000, o, () => 1), 60_000);
    assert.equal(backoffDelay(10, o, () => 0), 1_000);
    assert.equal(backoffDelay(2, o, () => 0.5), 4_500);
  });
});
