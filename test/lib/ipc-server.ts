// A local Greengrass nucleus IPC double: a Unix socket speaking event-stream RPC, enough for
// the real aws-iot-device-sdk-v2 client. Behaviour follows shared/reference/greengrass-ipc-wire.md.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { decodeFrame, encodeFrame, Flags, FrameSplitter, MessageType, type Frame } from './ipc-frames.js';

export type IpcMode = 'java' | 'lite';

export interface IpcServerOptions {
  authToken: string;
  /** The component's `configuration` node. */
  configuration?: Record<string, unknown>;
  socketPath?: string;
  /**
   * 'lite' imitates nucleus lite: no retain/MQTT5 properties, configuration scalars as strings,
   * a refused token is answered by closing the connection without a CONNECT_ACK.
   */
  mode?: IpcMode;
  componentName?: string;
}

export interface UserProperty {
  key: string;
  value: string;
}

export interface RecordedPublish {
  topicName: string;
  qos: string;
  payload: Buffer;
  retain?: boolean;
  userProperties?: UserProperty[];
}

export interface RecordedSubscription {
  topicName: string;
  qos: string;
}

export type IpcServerEvent =
  | { kind: 'connection' }
  | { kind: 'rejectedConnection' }
  | { kind: 'disconnection' }
  | { kind: 'publish'; publish: RecordedPublish }
  | { kind: 'publishRefused'; topicName: string; errorShape: string }
  | { kind: 'state'; state: string }
  | { kind: 'subscription'; subscription: RecordedSubscription }
  | { kind: 'configSubscription'; keyPath: string[] }
  | { kind: 'getConfiguration'; keyPath: string[] }
  | { kind: 'streamClosed'; streamId: number }
  | { kind: 'serviceError'; message: string }
  | { kind: 'unauthorized'; operation: string; topicName: string }
  | { kind: 'restart' }
  | { kind: 'listening'; listening: boolean };

export interface IpcServer {
  readonly socketPath: string;
  readonly componentName: string;
  readonly publishes: RecordedPublish[];
  /** Topics of publishes answered with an error by failPublishes(). */
  readonly refusedPublishes: string[];
  readonly states: string[];
  readonly subscriptions: RecordedSubscription[];
  readonly configSubscriptions: string[][];
  /** Every event in order; handy for assertions about sequence. */
  readonly events: IpcServerEvent[];
  /** Accepted handshakes. */
  readonly connections: number;
  readonly rejectedConnections: number;
  /** Connections whose handshake was accepted and that are still open. */
  readonly openConnections: number;
  /** Topic filters of SubscribeToIoTCore streams open right now. */
  activeSubscriptions(): string[];
  /** Sends an IoTCoreMessage to every open subscription whose filter matches; returns how many. */
  deliver(topic: string, payload: Buffer | string): number;
  /** Sets a value under `configuration` and notifies matching subscribers; returns how many. */
  updateConfiguration(keyPath: string[], value: unknown): number;
  /** The next n publishes are answered with this modeled error instead of `{}`. */
  failPublishes(n: number, errorShape?: string, message?: string): void;
  /** Destroys every client socket, as a nucleus restart would. */
  dropConnections(): void;
  /**
   * The IPC server restarts and forgets every token it handed out (nucleus lite keeps SVCUIDs only
   * in its IPC daemon's memory): connections drop, the listening socket stays (systemd holds it),
   * and from now on only `token` is accepted, the one a restarted component would be given.
   */
  restart(token: string): void;
  /** The socket goes away (connections drop, the path is removed): nobody to talk to. */
  unlisten(): Promise<void>;
  /** The socket is back at the same path, with the tokens it knew. */
  listen(): Promise<void>;
  /** Topics refused by accessControl, as "<Operation> <topic>". */
  readonly unauthorized: string[];
  /** Resolves once predicate() holds, re-checking on every recorded event; rejects after timeoutMs. */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

type Stream = { kind: 'iot'; filter: string } | { kind: 'config'; keyPath: string[] };

interface Conn {
  socket: net.Socket;
  splitter: FrameSplitter;
  accepted: boolean;
  streams: Map<number, Stream>;
}

const SERVICE = 'aws.greengrass#GreengrassCoreIPC';
const NS = 'aws.greengrass#';
// Unix socket paths are limited to 108 bytes including the terminating NUL.
const SUN_PATH_MAX = 108;

/** MQTT topic filter matching with + and #; wildcards never match a leading '$' level. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if ((f[0] === '+' || f[0] === '#') && topic.startsWith('$')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Glob matching as nucleus lite's default policy matcher does it: `*` stands for any text, `/` included. */
export function globMatches(pattern: string, topic: string): boolean {
  if (!pattern.includes('*')) return pattern === topic;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return re.test(topic);
}

function isPrefix(a: string[], b: string[]): boolean {
  return a.length <= b.length && a.every((k, i) => b[i] === k);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Nucleus lite hands back configuration scalars as strings. */
function stringifyScalars(v: unknown): unknown {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(stringifyScalars);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stringifyScalars(x)]));
  return v;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

export async function startIpcServer(opts: IpcServerOptions): Promise<IpcServer> {
  let tmpDir: string | undefined;
  let socketPath = opts.socketPath;
  if (!socketPath) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gg-ipc-'));
    socketPath = path.join(tmpDir, 'ipc.socket');
  }
  if (Buffer.byteLength(socketPath) >= SUN_PATH_MAX) {
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(`socket path too long for a Unix socket (${Buffer.byteLength(socketPath)} bytes): ${socketPath}`);
  }
  const mode: IpcMode = opts.mode ?? 'java';
  const componentName = opts.componentName ?? 'com.example.DeployWitness';
  const config: Record<string, unknown> = structuredClone(opts.configuration ?? {});
  const conns = new Set<Conn>();
  const bus = new EventEmitter();
  bus.setMaxListeners(0);

  const publishes: RecordedPublish[] = [];
  const refusedPublishes: string[] = [];
  const states: string[] = [];
  const subscriptions: RecordedSubscription[] = [];
  const configSubscriptions: string[][] = [];
  const events: IpcServerEvent[] = [];
  let connections = 0;
  let rejectedConnections = 0;
  let validToken = opts.authToken;
  const unauthorized: string[] = [];
  let failing = { left: 0, shape: 'UnauthorizedError', message: undefined as string | undefined };

  function record(e: IpcServerEvent): void {
    events.push(e);
    bus.emit('event', e);
  }

  function send(conn: Conn, f: Parameters<typeof encodeFrame>[0]): void {
    if (!conn.socket.destroyed && conn.socket.writable) conn.socket.write(encodeFrame(f));
  }

  function respond(conn: Conn, streamId: number, operation: string, body: unknown, terminate: boolean): void {
    send(conn, {
      type: MessageType.application,
      flags: terminate ? Flags.terminate : 0,
      streamId,
      strings: { 'service-model-type': `${NS}${operation}Response`, ':content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
  }

  function fail(conn: Conn, streamId: number, shape: string, message: string): void {
    send(conn, {
      type: MessageType.error,
      flags: Flags.terminate,
      streamId,
      strings: { 'service-model-type': `${NS}${shape}`, ':content-type': 'application/json' },
      body: JSON.stringify({ _service: SERVICE, _message: message, _errorCode: shape, message }),
    });
    if (shape === 'ServiceError') record({ kind: 'serviceError', message });
  }

  function event(conn: Conn, streamId: number, shape: string, body: unknown): void {
    send(conn, {
      type: MessageType.application,
      flags: 0,
      streamId,
      strings: { 'service-model-type': `${NS}${shape}`, ':content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  function handshake(conn: Conn, f: Frame): void {
    if (f.type !== MessageType.connect) {
      conn.socket.destroy();
      return;
    }
    let token: unknown;
    try {
      token = (JSON.parse(f.body.toString('utf8')) as { authToken?: unknown }).authToken;
    } catch {
      token = undefined;
    }
    if (token === validToken && f.strings[':version'] === '0.1.0') {
      conn.accepted = true;
      connections++;
      send(conn, { type: MessageType.connectAck, flags: Flags.accepted, streamId: 0 });
      record({ kind: 'connection' });
    } else {
      rejectedConnections++;
      // The Java nucleus answers with a CONNECT_ACK that is not accepted, then closes; nucleus
      // lite's ggipcd (ipc_server.c, handle_conn_init: "failed authentication: invalid svcuid")
      // returns an error and its socket server closes the connection without answering.
      if (mode === 'java') {
        send(conn, { type: MessageType.connectAck, flags: 0, streamId: 0 });
        conn.socket.end();
      } else {
        conn.socket.destroy();
      }
      record({ kind: 'rejectedConnection' });
    }
  }

  /**
   * The component's accessControl for the MQTT proxy, when its configuration has one (without it,
   * every topic is allowed, as tests that do not care about authorization expect). A resource
   * matches as MQTT topic filter (+, #) or as glob (* across levels), which is what nucleus lite
   * (ipc_authz.c ggl_ipc_default_policy_matcher, mqttproxy.c match_topic_filter) and the Java
   * nucleus from 2.6 (WildcardTrie, MQTT_STYLE lookups) both accept.
   */
  function authorized(operation: string, topic: string): boolean {
    const ac = (config.accessControl as Record<string, unknown> | undefined)?.['aws.greengrass.ipc.mqttproxy'];
    if (ac === undefined) return true;
    if (!isObject(ac)) return false;
    for (const policy of Object.values(ac)) {
      if (!isObject(policy) || !isStringArray(policy.operations) || !isStringArray(policy.resources)) continue;
      if (!policy.operations.some((o) => o === '*' || o === `${NS}${operation}`)) continue;
      if (policy.resources.some((r) => r === '*' || topicMatches(r, topic) || globMatches(r, topic))) return true;
    }
    return false;
  }

  function refuseUnauthorized(conn: Conn, streamId: number, operation: string, topicName: string): void {
    const message =
      mode === 'java'
        ? `Principal ${componentName} is not authorized to perform aws.greengrass.ipc.mqttproxy:${NS}${operation} on resource ${topicName}`
        : 'IPC Operation not authorized.';
    fail(conn, streamId, 'UnauthorizedError', message);
    unauthorized.push(`${operation} ${topicName}`);
    record({ kind: 'unauthorized', operation, topicName });
  }

  function getConfiguration(keyPath: string[]): { found: boolean; value?: unknown } {
    if (keyPath.length === 0) return { found: true, value: structuredClone(config) };
    let node: unknown = config;
    for (const k of keyPath) {
      if (!isObject(node) || !Object.hasOwn(node, k)) return { found: false };
      node = node[k];
    }
    const leaf = keyPath[keyPath.length - 1]!;
    return { found: true, value: isObject(node) ? structuredClone(node) : { [leaf]: structuredClone(node) } };
  }

  function operation(conn: Conn, streamId: number, op: string, req: Record<string, unknown>): void {
    switch (op) {
      case 'PublishToIoTCore': {
        const { topicName, qos, payload } = req;
        if (typeof topicName !== 'string' || topicName === '' || (qos !== '0' && qos !== '1')) {
          fail(conn, streamId, 'ServiceError', 'PublishToIoTCore needs topicName and qos "0" or "1"');
          return;
        }
        if (!authorized(op, topicName)) {
          refuseUnauthorized(conn, streamId, op, topicName);
          return;
        }
        if (failing.left > 0) {
          failing.left--;
          const msg =
            failing.message ??
            (failing.shape === 'UnauthorizedError'
              ? `Principal ${componentName} is not authorized to perform aws.greengrass.ipc.mqttproxy:aws.greengrass#PublishToIoTCore on resource ${topicName}`
              : `${failing.shape} from the test nucleus`);
          fail(conn, streamId, failing.shape, msg);
          refusedPublishes.push(topicName);
          record({ kind: 'publishRefused', topicName, errorShape: failing.shape });
          return;
        }
        const p: RecordedPublish = {
          topicName,
          qos,
          payload: typeof payload === 'string' ? Buffer.from(payload, 'base64') : Buffer.alloc(0),
        };
        if (mode === 'java') {
          if (typeof req.retain === 'boolean') p.retain = req.retain;
          if (Array.isArray(req.userProperties)) p.userProperties = req.userProperties as UserProperty[];
        }
        publishes.push(p);
        respond(conn, streamId, op, {}, true);
        record({ kind: 'publish', publish: p });
        return;
      }
      case 'SubscribeToIoTCore': {
        const { topicName, qos } = req;
        if (typeof topicName !== 'string' || topicName === '' || (qos !== '0' && qos !== '1')) {
          fail(conn, streamId, 'ServiceError', 'SubscribeToIoTCore needs topicName and qos "0" or "1"');
          return;
        }
        if (!authorized(op, topicName)) {
          refuseUnauthorized(conn, streamId, op, topicName);
          return;
        }
        conn.streams.set(streamId, { kind: 'iot', filter: topicName });
        const s = { topicName, qos };
        subscriptions.push(s);
        respond(conn, streamId, op, {}, false);
        record({ kind: 'subscription', subscription: s });
        return;
      }
      case 'UpdateState': {
        const { state } = req;
        if (state !== 'RUNNING' && state !== 'ERRORED') {
          fail(conn, streamId, 'ServiceError', `unknown state ${String(state)}`);
          return;
        }
        states.push(state);
        respond(conn, streamId, op, {}, true);
        record({ kind: 'state', state });
        return;
      }
      case 'GetConfiguration': {
        const keyPath = req.keyPath ?? [];
        const name = req.componentName ?? componentName;
        if (!isStringArray(keyPath)) {
          fail(conn, streamId, 'ServiceError', 'keyPath must be a list of strings');
          return;
        }
        record({ kind: 'getConfiguration', keyPath });
        const got = name === componentName ? getConfiguration(keyPath) : { found: false };
        if (!got.found) {
          fail(conn, streamId, 'ResourceNotFoundError', `Key not found: ${[String(name), ...keyPath].join('.')}`);
          return;
        }
        const value = mode === 'lite' ? stringifyScalars(got.value) : got.value;
        respond(conn, streamId, op, { componentName: name, value }, true);
        return;
      }
      case 'SubscribeToConfigurationUpdate': {
        const keyPath = req.keyPath ?? [];
        if (!isStringArray(keyPath)) {
          fail(conn, streamId, 'ServiceError', 'keyPath must be a list of strings');
          return;
        }
        conn.streams.set(streamId, { kind: 'config', keyPath });
        configSubscriptions.push(keyPath);
        respond(conn, streamId, op, {}, false);
        record({ kind: 'configSubscription', keyPath });
        return;
      }
      default:
        fail(conn, streamId, 'ServiceError', `Unknown operation ${NS}${op}`);
    }
  }

  function onFrame(conn: Conn, f: Frame): void {
    if (!conn.accepted) {
      handshake(conn, f);
      return;
    }
    if (f.type === MessageType.ping) {
      send(conn, { type: MessageType.pingResponse, flags: 0, streamId: 0 });
      return;
    }
    if (f.type !== MessageType.application || f.streamId <= 0) {
      conn.socket.destroy();
      return;
    }
    const opName = f.strings.operation;
    if (conn.streams.has(f.streamId) || opName === undefined) {
      // The client ends a stream with an empty terminate message; nothing else is expected on it.
      if (f.flags & Flags.terminate && conn.streams.delete(f.streamId)) {
        record({ kind: 'streamClosed', streamId: f.streamId });
      }
      return;
    }
    if (!opName.startsWith(NS)) {
      fail(conn, f.streamId, 'ServiceError', `Unknown operation ${opName}`);
      return;
    }
    let req: unknown;
    try {
      req = JSON.parse(f.body.toString('utf8'));
    } catch {
      fail(conn, f.streamId, 'ServiceError', 'request payload is not JSON');
      return;
    }
    if (!isObject(req)) {
      fail(conn, f.streamId, 'ServiceError', 'request payload is not a JSON object');
      return;
    }
    operation(conn, f.streamId, opName.slice(NS.length), req);
  }

  const server = net.createServer((socket) => {
    const conn: Conn = { socket, splitter: new FrameSplitter(), accepted: false, streams: new Map() };
    conns.add(conn);
    socket.on('data', (data: Buffer) => {
      try {
        for (const raw of conn.splitter.push(data)) {
          if (socket.destroyed) return;
          onFrame(conn, decodeFrame(raw));
        }
      } catch {
        // Bad length or CRC: a real nucleus drops such a peer.
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      conns.delete(conn);
      if (conn.accepted) record({ kind: 'disconnection' });
    });
  });

  let listening = false;
  const startListening = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        listening = true;
        resolve();
      });
    });
  const stopListening = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of conns) c.socket.destroy();
    await closed;
  };
  await startListening();

  const api: IpcServer = {
    socketPath,
    componentName,
    publishes,
    refusedPublishes,
    states,
    subscriptions,
    configSubscriptions,
    events,
    get connections() {
      return connections;
    },
    get rejectedConnections() {
      return rejectedConnections;
    },
    unauthorized,
    get openConnections() {
      let n = 0;
      for (const c of conns) if (c.accepted && !c.socket.destroyed) n++;
      return n;
    },
    activeSubscriptions() {
      const out: string[] = [];
      for (const c of conns) for (const s of c.streams.values()) if (s.kind === 'iot') out.push(s.filter);
      return out;
    },
    deliver(topic, payload) {
      const b64 = (typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload).toString('base64');
      let n = 0;
      for (const c of conns) {
        for (const [id, s] of c.streams) {
          if (s.kind !== 'iot' || !topicMatches(s.filter, topic)) continue;
          event(c, id, 'IoTCoreMessage', { message: { topicName: topic, payload: b64 } });
          n++;
        }
      }
      return n;
    },
    updateConfiguration(keyPath, value) {
      if (keyPath.length === 0) throw new Error('updateConfiguration needs a non-empty keyPath');
      let node: Record<string, unknown> = config;
      for (const k of keyPath.slice(0, -1)) {
        if (!isObject(node[k])) node[k] = {};
        node = node[k] as Record<string, unknown>;
      }
      node[keyPath[keyPath.length - 1]!] = structuredClone(value);
      let n = 0;
      for (const c of conns) {
        for (const [id, s] of c.streams) {
          if (s.kind !== 'config' || !(isPrefix(s.keyPath, keyPath) || isPrefix(keyPath, s.keyPath))) continue;
          event(c, id, 'ConfigurationUpdateEvents', { configurationUpdateEvent: { componentName, keyPath } });
          n++;
        }
      }
      return n;
    },
    failPublishes(n, errorShape = 'UnauthorizedError', message) {
      failing = { left: n, shape: errorShape, message };
    },
    dropConnections() {
      for (const c of conns) c.socket.destroy();
    },
    restart(token) {
      validToken = token;
      for (const c of conns) c.socket.destroy();
      record({ kind: 'restart' });
    },
    async unlisten() {
      await stopListening();
      fs.rmSync(socketPath, { force: true });
      record({ kind: 'listening', listening: false });
    },
    async listen() {
      if (listening) return;
      await startListening();
      record({ kind: 'listening', listening: true });
    },
    waitFor(predicate, timeoutMs = 20_000) {
      if (predicate()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const onEvent = (): void => {
          if (!predicate()) return;
          clearTimeout(timer);
          bus.off('event', onEvent);
          resolve();
        };
        const timer = setTimeout(() => {
          bus.off('event', onEvent);
          reject(new Error(`waitFor: condition not met within ${timeoutMs} ms; last events: ${JSON.stringify(events.slice(-5).map((e) => e.kind))}`));
        }, timeoutMs);
        bus.on('event', onEvent);
      });
    },
    async close() {
      await stopListening();
      if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    },
  };
  return api;
}
