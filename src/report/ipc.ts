// Reports through the Greengrass nucleus (IPC PublishToIoTCore), plus the calls a component host
// needs: UpdateState, GetConfiguration, SubscribeToConfigurationUpdate.
import { eventstream_rpc, greengrasscoreipc, io } from 'aws-iot-device-sdk-v2';
import { silentLogger, type Logger } from '../log.js';
import type { OutboundMessage, Transport, TransportHandlers } from './transport.js';

type Client = greengrasscoreipc.Client;
type OperationOptions = eventstream_rpc.OperationOptions;
type Closable = { close(): Promise<void> };

import { SOCKET_ENV, TOKEN_ENV } from './ipc-env.js';
import { DEFAULT_REFUSAL_POLICY, exitAllowedAt, RefusalStreak, type ExitLedger, type HandshakeOutcome, type RefusalPolicy } from './ipc-restart.js';
export { ipcAvailable } from './ipc-env.js';

export type ComponentState = 'RUNNING' | 'ERRORED';

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
}

export interface IpcTransportOptions {
  /** Defaults to $AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT. */
  socketPath?: string;
  /** Defaults to $SVCUID. Never logged. */
  authToken?: string;
  env?: NodeJS.ProcessEnv;
  /** Named in the "not authorized" hint; the recipe's ComponentName. */
  componentName?: string;
  logger?: Logger;
  backoff?: Partial<BackoffOptions>;
  /** [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  clock?: () => number;
  /** How long one IPC call may wait for the nucleus. */
  operationTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** The "not authorized" error is logged at most once per topic in this window. */
  unauthorizedLogIntervalMs?: number;
  /** When refused handshakes mean the token is dead (see ipc-restart.ts). */
  refusals?: Partial<RefusalPolicy>;
  /** Remembers exits for a dead token across restarts; without one, each process starts with none. */
  exitLedger?: ExitLedger;
}

/** While the nucleus refuses our token, retry at least this often, so a dead token is noticed promptly. */
const REFUSED_RETRY_CAP_MS = 10_000;

/** A failed connection attempt, with what it says about the nucleus. */
export class IpcConnectError extends Error {
  constructor(
    message: string,
    /** `refused`: the nucleus answered the handshake and turned the token down. */
    readonly outcome: Exclude<HandshakeOutcome, 'accepted'>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IpcConnectError';
  }
}

/** The token is dead: only a restart of the component (a fresh SVCUID) can help. */
export class IpcTokenRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpcTokenRefusedError';
  }
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 1_000, maxMs: 60_000 };


/**
 * Delay before reconnect attempt `attempt` (0-based): full jitter above a floor, so a nucleus
 * restart does not make every component reconnect in the same instant.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(o.maxMs, o.minMs * 2 ** Math.min(attempt + 1, 30));
  return Math.round(o.minMs + random() * Math.max(0, ceiling - o.minMs));
}

/** What the operator must add to the recipe when the nucleus refuses a topic. */
export function accessControlHint(operation: string, topic: string, componentName: string): string {
  const verb = operation === 'SubscribeToIoTCore' ? 'subscribe to' : 'publish to';
  return (
    `not authorized to ${verb} ${topic}: add it to accessControl.aws.greengrass.ipc.mqttproxy ` +
    `in the configuration of ${componentName} (operations [aws.greengrass#${operation}] resources [${topic}])`
  );
}

/** Remembers when a key was last allowed through; bounded so hostile topic names cannot grow it. */
class LogLimiter {
  private last = new Map<string, number>();
  constructor(
    private intervalMs: number,
    private clock: () => number,
    private max = 256,
  ) {}

  allow(key: string): boolean {
    const now = this.clock();
    const prev = this.last.get(key);
    if (prev !== undefined && now - prev < this.intervalMs) return false;
    this.last.delete(key);
    this.last.set(key, now);
    if (this.last.size > this.max) this.last.delete(this.last.keys().next().value!);
    return true;
  }
}

/**
 * The cancel controller handed to the SDK: cancel() rejects our own promise with a real Error,
 * and lets go of the SDK's listeners without calling them. The SDK creates the promise that its
 * listener rejects before it awaits it (eventstream_rpc.js, RequestResponseOperation and
 * StreamingOperation activate()), so a cancel at the wrong moment (stop() or a timeout while a
 * request is still being sent) would be an unhandled rejection, and the process would go down
 * with it. The operation left behind ends with its stream or its connection.
 */
class Call {
  private listeners = new Set<() => void>();
  private cancelled = false;
  onCancel: (reason: Error) => void = () => {};

  cancel(reason: Error = new Error('cancelled')): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.onCancel(reason);
    this.listeners.clear();
  }
  hasBeenCancelled(): boolean {
    return this.cancelled;
  }
  addListener(l: () => void): (() => void) | undefined {
    if (this.cancelled) return undefined;
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

function errorCode(err: unknown): string | undefined {
  const se = (err as { serviceError?: { _errorCode?: unknown } } | undefined)?.serviceError;
  return typeof se?._errorCode === 'string' ? se._errorCode : undefined;
}

function describe(err: unknown): string {
  if (typeof err === 'string') return err;
  const e = err as {
    description?: string;
    message?: string;
    serviceError?: { _message?: string; message?: string };
    internalError?: { message?: string } | string;
  };
  const inner = typeof e?.internalError === 'string' ? e.internalError : e?.internalError?.message;
  const remote = e?.serviceError?._message ?? e?.serviceError?.message ?? inner;
  const local = e?.description ?? e?.message ?? String(err);
  return remote ? `${local} (${remote})` : local;
}

function toBuffer(p: unknown): Buffer {
  if (Buffer.isBuffer(p)) return p;
  if (ArrayBuffer.isView(p)) return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  if (p instanceof ArrayBuffer) return Buffer.from(p);
  if (typeof p === 'string') return Buffer.from(p, 'utf8');
  return Buffer.alloc(0);
}

export class IpcTransport implements Transport {
  readonly name = 'ipc';
  private readonly log: Logger;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  private readonly limiter: LogLimiter;
  private readonly componentName: string;
  private readonly operationTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly clock: () => number;
  private readonly refusalPolicy: RefusalPolicy;
  private readonly streak: RefusalStreak;
  /** Pending start(): settled by the first connection, a dead token, or stop(). */
  private firstUp: { resolve: () => void; reject: (err: Error) => void } | undefined;
  /** The token was declared dead: no more attempts. */
  private dead = false;
  private postponedUntil: number | undefined;
  private lastOutcome: HandshakeOutcome = 'accepted';

  private handlers: TransportHandlers | undefined;
  private client: Client | undefined;
  private generation = 0;
  private connected = false;
  /** onConnected was called and onDisconnected not yet. */
  private announced = false;
  private stopped = true;
  private reconnecting = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inflight = new Set<Call>();
  private readonly streams = new Set<Closable>();
  private readonly topics = new Set<string>();
  private readonly configListeners = new Set<(keyPath: string[]) => void>();
  private configStream: Promise<void> | undefined;

  constructor(private readonly opts: IpcTransportOptions = {}) {
    this.log = opts.logger ?? silentLogger();
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.random = opts.random ?? Math.random;
    this.limiter = new LogLimiter(opts.unauthorizedLogIntervalMs ?? 10 * 60_000, opts.clock ?? Date.now);
    this.componentName = opts.componentName ?? '<ComponentName>';
    this.operationTimeoutMs = opts.operationTimeoutMs ?? 30_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30_000;
    this.clock = opts.clock ?? Date.now;
    this.refusalPolicy = { ...DEFAULT_REFUSAL_POLICY, ...opts.refusals };
    this.streak = new RefusalStreak(this.refusalPolicy);
  }

  /**
   * Resolves once connected. A missing socket or a nucleus that does not answer yet is waited for
   * (the nucleus may be starting); it rejects when this process is not set up for IPC at all, when
   * the nucleus keeps refusing the token (IpcTokenRefusedError: exit, so the nucleus restarts the
   * component with a fresh one), or on stop().
   */
  async start(handlers: TransportHandlers): Promise<void> {
    if (!this.stopped) throw new Error('IPC transport already started');
    this.endpoint(); // throws when the nucleus did not set us up
    this.stopped = false;
    this.dead = false;
    this.handlers = handlers;
    const up = new Promise<void>((resolve, reject) => (this.firstUp = { resolve, reject }));
    void this.reconnect();
    try {
      await up;
    } catch (err) {
      this.stopped = true;
      this.handlers = undefined;
      throw err;
    }
  }

  async publish(message: OutboundMessage): Promise<void> {
    const request: greengrasscoreipc.model.PublishToIoTCoreRequest = {
      topicName: message.topic,
      qos: message.qos === 1 ? greengrasscoreipc.model.QOS.AT_LEAST_ONCE : greengrasscoreipc.model.QOS.AT_MOST_ONCE,
      payload: Buffer.from(message.payload, 'utf8'),
    };
    if (message.retain !== undefined) request.retain = message.retain;
    try {
      await this.call('PublishToIoTCore', (c, o) => c.publishToIoTCore(request, o));
    } catch (err) {
      throw this.explain('PublishToIoTCore', message.topic, err);
    }
  }

  /** Resolves once the nucleus accepted the subscription; while disconnected, it is made on reconnect. */
  async subscribe(topic: string): Promise<void> {
    if (this.stopped) throw new Error('IPC transport not started');
    if (this.topics.has(topic)) return;
    this.topics.add(topic);
    const client = this.client;
    if (!client || !this.connected) return;
    try {
      await this.openTopicStream(client, topic);
    } catch (err) {
      if (errorCode(err) === 'UnauthorizedError') this.topics.delete(topic);
      throw this.explain('SubscribeToIoTCore', topic, err);
    }
  }

  async updateState(state: ComponentState): Promise<void> {
    const s = greengrasscoreipc.model.ReportedLifecycleState[state];
    await this.call('UpdateState', (c, o) => c.updateState({ state: s }, o));
  }

  /**
   * The value under this component's configuration at keyPath, as the nucleus returns it: the whole
   * configuration for [], a subtree as an object, a leaf as { <leaf>: value }. undefined when missing.
   * Nucleus lite returns scalars as strings.
   */
  async getConfiguration(keyPath: string[] = []): Promise<unknown> {
    try {
      const res = await this.call('GetConfiguration', (c, o) => c.getConfiguration({ keyPath }, o));
      return res.value;
    } catch (err) {
      if (errorCode(err) === 'ResourceNotFoundError') return undefined;
      throw new Error(`GetConfiguration [${keyPath.join(', ')}] failed: ${describe(err)}`, { cause: err });
    }
  }

  /** cb gets the changed key path; the subscription is renewed after every reconnect. */
  async onConfigurationUpdate(cb: (keyPath: string[]) => void): Promise<void> {
    if (this.stopped) throw new Error('IPC transport not started');
    this.configListeners.add(cb);
    const client = this.client;
    if (client && this.connected) await this.ensureConfigStream(client);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    const pending = this.firstUp;
    this.firstUp = undefined;
    pending?.reject(new Error('IPC transport stopped'));
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.cancelInflight(new Error('IPC transport stopped'));
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    this.announced = false;
    this.configStream = undefined;
    const streams = [...this.streams];
    this.streams.clear();
    await Promise.allSettled(streams.map((s) => s.close()));
    if (client) await client.close().catch(() => {});
    this.handlers = undefined;
  }

  // --- connection life cycle ---

  private endpoint(): { socketPath: string; authToken: string } {
    const env = this.opts.env ?? process.env;
    const socketPath = this.opts.socketPath ?? env[SOCKET_ENV];
    const authToken = this.opts.authToken ?? env[TOKEN_ENV];
    if (!socketPath) throw new Error(`Greengrass IPC unavailable: ${SOCKET_ENV} is not set (not run by a Greengrass nucleus?)`);
    if (!authToken) throw new Error(`Greengrass IPC unavailable: ${TOKEN_ENV} is not set (not run by a Greengrass nucleus?)`);
    return { socketPath, authToken };
  }

  private async connect(): Promise<void> {
    const { socketPath, authToken } = this.endpoint();
    const gen = ++this.generation;
    const client = greengrasscoreipc.createClient({
      hostName: socketPath,
      port: 0,
      socketOptions: new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.LOCAL),
      connectTransform: async ({ message }) => {
        message.payload = JSON.stringify({ authToken });
        return message;
      },
    });
    client.on('disconnection', (ev) => this.onDisconnection(gen, ev?.reason));
    try {
      await this.deadline(client.connect(), this.connectTimeoutMs, `no IPC handshake answer within ${this.connectTimeoutMs} ms`);
    } catch (err) {
      await client.close().catch(() => {});
      throw this.connectError(socketPath, err);
    }
    if (gen !== this.generation) {
      // stop() ran while we were connecting.
      await client.close().catch(() => {});
      throw new Error('IPC transport stopped');
    }
    this.client = client;
    this.connected = true;
    this.log.info('connected to the Greengrass nucleus over IPC', { socketPath });
    await this.restoreSubscriptions(client);
  }

  private async restoreSubscriptions(client: Client): Promise<void> {
    const jobs: Promise<void>[] = [...this.topics].map((topic) =>
      this.openTopicStream(client, topic).catch((err) => {
        if (errorCode(err) === 'UnauthorizedError') {
          this.topics.delete(topic);
          this.explain('SubscribeToIoTCore', topic, err);
        } else {
          this.log.warn('IPC re-subscribe failed', { topic, error: describe(err) });
        }
      }),
    );
    this.configStream = undefined;
    if (this.configListeners.size > 0) {
      jobs.push(
        this.ensureConfigStream(client).catch((err) => {
          this.log.warn('IPC configuration re-subscribe failed', { error: describe(err) });
        }),
      );
    }
    await Promise.all(jobs);
  }

  private onDisconnection(gen: number, reason: { message?: string } | undefined): void {
    if (gen !== this.generation || this.stopped) return;
    this.connected = false;
    this.client = undefined;
    this.configStream = undefined;
    this.streams.clear(); // the SDK closes a dead client's streams itself
    const err = new Error(`Greengrass IPC connection lost${reason?.message ? `: ${reason.message}` : ''}`);
    this.cancelInflight(err);
    this.log.warn('IPC connection lost', { error: err.message });
    if (this.announced) {
      this.announced = false;
      this.handlers?.onDisconnected(err);
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.dead || this.timer || this.reconnecting) return;
    let delay = backoffDelay(this.attempt++, this.backoff, this.random);
    if (this.lastOutcome === 'refused' && this.postponedUntil === undefined) delay = Math.min(delay, Math.max(this.backoff.minMs, REFUSED_RETRY_CAP_MS));
    this.log.info('IPC reconnect scheduled', { delayMs: delay, attempt: this.attempt });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    if (this.stopped || this.dead) return;
    this.reconnecting = true;
    let outcome: HandshakeOutcome = 'accepted';
    try {
      await this.connect();
    } catch (err) {
      outcome = err instanceof IpcConnectError ? err.outcome : 'unreachable';
      this.log.warn(this.firstUp ? 'IPC connect failed' : 'IPC reconnect failed', {
        error: describe(err),
        outcome,
        ...(outcome === 'refused' ? { refusedInARow: this.streak.refusals + 1 } : {}),
      });
    } finally {
      this.reconnecting = false;
    }
    if (this.stopped) return;
    this.lastOutcome = outcome;
    if (this.streak.record(outcome, this.clock()) && (await this.tokenIsDead())) return;
    if (this.stopped) return;
    if (!this.connected) {
      this.scheduleReconnect();
      return;
    }
    this.attempt = 0;
    this.postponedUntil = undefined;
    this.announce();
  }

  /**
   * The nucleus keeps refusing our token. Exits (through start()'s rejection or onFatal) unless an
   * exit for this already happened within the window; true when this transport is done.
   */
  private async tokenIsDead(): Promise<boolean> {
    const now = this.clock();
    const { limit, minSpanMs } = this.refusalPolicy;
    let past: number[] = [];
    try {
      past = (await this.opts.exitLedger?.read()) ?? [];
    } catch (err) {
      this.log.warn('cannot read the record of earlier IPC restarts', { error: describe(err) });
    }
    if (this.stopped) return true;
    const allowedAt = exitAllowedAt(past, now, this.refusalPolicy);
    if (allowedAt > now) {
      if (this.postponedUntil !== allowedAt) {
        this.postponedUntil = allowedAt;
        this.log.error(
          'the nucleus keeps refusing the IPC auth token, but the component was already restarted for this within the hour; ' +
            'restarting again now could use up the nucleus\'s restart limit, so the restart waits',
          { refusedInARow: this.streak.refusals, restartAt: new Date(allowedAt).toISOString() },
        );
      }
      return false;
    }
    const seconds = Math.round((now - (this.streak.since ?? now)) / 1000);
    const err = new IpcTokenRefusedError(
      `the Greengrass nucleus at ${this.endpoint().socketPath} refused the IPC auth token (${TOKEN_ENV}) ${this.streak.refusals} times in a row over ${seconds} s ` +
        `(at least ${limit} over ${Math.round(minSpanMs / 1000)} s): its IPC server restarted and forgot it; ` +
        'exiting so that the nucleus restarts the component with a fresh token',
    );
    try {
      await this.opts.exitLedger?.record(now);
    } catch (e) {
      this.log.warn('cannot record this IPC restart', { error: describe(e) });
    }
    if (this.stopped) return true;
    const pending = this.firstUp;
    if (pending) {
      this.dead = true;
      this.firstUp = undefined;
      pending.reject(err);
      return true;
    }
    if (!this.handlers?.onFatal) {
      // Nobody can restart us: keep trying, the nucleus may yet take the token.
      this.log.error(err.message);
      return false;
    }
    this.dead = true;
    this.log.error('IPC auth token refused for good', { error: err.message });
    this.handlers.onFatal(err);
    return true;
  }

  private announce(): void {
    this.announced = true;
    const pending = this.firstUp;
    this.firstUp = undefined;
    this.handlers?.onConnected();
    pending?.resolve();
  }

  // --- streams ---

  private async openTopicStream(client: Client, topic: string): Promise<void> {
    await this.openStream(
      client,
      'SubscribeToIoTCore',
      (o) => client.subscribeToIoTCore({ topicName: topic, qos: greengrasscoreipc.model.QOS.AT_LEAST_ONCE }, o),
      (ev) => {
        const m = ev.message;
        if (m && typeof m.topicName === 'string') this.handlers?.onMessage(m.topicName, toBuffer(m.payload));
      },
      topic,
    );
  }

  private ensureConfigStream(client: Client): Promise<void> {
    if (!this.configStream) {
      const opened = this.openStream(
        client,
        'SubscribeToConfigurationUpdate',
        (o) => client.subscribeToConfigurationUpdate({ keyPath: [] }, o),
        (ev) => {
          const keyPath = ev.configurationUpdateEvent?.keyPath;
          if (!Array.isArray(keyPath)) return;
          for (const cb of this.configListeners) cb([...keyPath]);
        },
        'configuration',
      );
      // A failed attempt must not block the next one.
      this.configStream = opened.catch((err) => {
        this.configStream = undefined;
        throw err;
      });
    }
    return this.configStream;
  }

  private async openStream<E>(
    client: Client,
    what: string,
    make: (o: OperationOptions) => eventstream_rpc.StreamingOperation<unknown, unknown, void, E>,
    onEvent: (ev: E) => void,
    label: string,
  ): Promise<void> {
    const op = this.call(what, async (_c, o) => {
      const stream = make(o);
      stream.on('message', (ev) => {
        try {
          onEvent(ev);
        } catch (err) {
          this.log.error('IPC event handler failed', { stream: label, error: describe(err) });
        }
      });
      stream.on('streamError', (err) => this.log.warn('IPC stream error', { stream: label, error: describe(err) }));
      stream.on('ended', () => {
        this.streams.delete(stream);
        if (!this.stopped && this.client === client && this.connected) {
          this.log.warn('the nucleus ended an IPC subscription; it is renewed on the next reconnect', { stream: label });
        }
      });
      this.streams.add(stream);
      try {
        await stream.activate();
      } catch (err) {
        this.streams.delete(stream);
        await stream.close().catch(() => {});
        throw err;
      }
    });
    await op;
  }

  // --- calls ---

  /** Runs one IPC call with a deadline; a lost connection or stop() rejects it at once. */
  private call<T>(what: string, run: (client: Client, o: OperationOptions) => Promise<T>): Promise<T> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new Error(`${what}: not connected to the Greengrass nucleus`));
    const call = new Call();
    this.inflight.add(call);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => call.cancel(new Error(`${what}: no answer from the nucleus within ${this.operationTimeoutMs} ms`)),
        this.operationTimeoutMs,
      );
      const done = (): void => {
        clearTimeout(timer);
        this.inflight.delete(call);
      };
      call.onCancel = (reason) => {
        done();
        reject(reason);
      };
      let started: Promise<T>;
      try {
        started = run(client, { cancelController: call });
      } catch (err) {
        started = Promise.reject(err);
      }
      started.then(
        (v) => {
          done();
          resolve(v);
        },
        (err) => {
          done();
          reject(err);
        },
      );
    });
  }

  private cancelInflight(reason: Error): void {
    for (const c of [...this.inflight]) c.cancel(reason);
  }

  private deadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(message)), ms);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  // --- errors ---

  /** Turns an SDK error into one with a plain message; logs the recipe hint for refusals, rate-limited. */
  private explain(operation: string, topic: string, err: unknown): Error {
    if (errorCode(err) === 'UnauthorizedError') {
      const hint = accessControlHint(operation, topic, this.componentName);
      if (this.limiter.allow(`${operation} ${topic}`)) {
        this.log.error(hint, { topic, operation, nucleus: describe(err) });
      }
      return new Error(hint, { cause: err });
    }
    return new Error(`${operation} ${topic} failed: ${describe(err)}`, { cause: err });
  }

  /**
   * What a failed connect() says. The SDK reports an invalid CONNECT_ACK as HandshakeError and a
   * connection the nucleus closed before answering (how nucleus lite refuses a token, and how the
   * Java nucleus' refusal reaches the client) as NetworkError: both are an answer, a refusal. A
   * socket that cannot be connected to at all is an InternalError: nobody there yet.
   */
  private connectError(socketPath: string, err: unknown): IpcConnectError {
    const type = (err as { type?: unknown })?.type;
    const T = eventstream_rpc.RpcErrorType;
    if (type === T.HandshakeError) {
      return new IpcConnectError(`the Greengrass nucleus at ${socketPath} refused the IPC handshake: the auth token (${TOKEN_ENV}) was not accepted`, 'refused', { cause: err });
    }
    if (type === T.NetworkError) {
      return new IpcConnectError(
        `the Greengrass nucleus at ${socketPath} closed the connection during the IPC handshake (a refused auth token (${TOKEN_ENV}) looks like this)`,
        'refused',
        { cause: err },
      );
    }
    return new IpcConnectError(`cannot connect to the Greengrass nucleus IPC socket ${socketPath}: ${describe(err)}`, 'unreachable', { cause: err });
  }
}
