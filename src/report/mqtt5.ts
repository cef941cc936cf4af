// Direct MQTT 5 over mutual TLS, for cores without Greengrass IPC. Built with
// the AWS IoT config builder so the same code talks to AWS IoT Core and to a
// plain broker. Nothing is buffered here: the agent keeps its own durable spool,
// so a publish while offline fails at once and the caller retries after onConnected.
import { once } from 'node:events';
import { InputRefusedError, readRegularFile } from '../io/guarded-read.js';
import type * as SdkModule from 'aws-iot-device-sdk-v2';
import type { Logger } from '../log.js';
import type { OutboundMessage, Transport, TransportHandlers } from './transport.js';

export type Sdk = typeof SdkModule;
type Client = SdkModule.mqtt5.Mqtt5Client;

/** AWS IoT Core's limit for one message's payload. */
export const MAX_PAYLOAD_BYTES = 128 * 1024;
/** AWS IoT Core's limits: subscriptions per connection, and per SUBSCRIBE packet. */
const MAX_SUBSCRIPTIONS = 50;
const SUBSCRIPTIONS_PER_PACKET = 8;
const MAX_CLIENT_ID_LENGTH = 128;
const MAX_PEM_BYTES = 1024 * 1024;
// A stop during a failed TLS handshake waits out s2n's blinding delay (10 to 30 s);
// past this bound the client is closed anyway and finishes shutting down on its own.
const STOP_TIMEOUT_MS = 5_000;

export interface Mqtt5TransportOptions {
  endpoint: string;
  /** 8883 unless given. */
  port?: number;
  /** Mutual TLS: both, unless `websocket` is given. */
  certPath?: string;
  keyPath?: string;
  /**
   * MQTT over WebSockets, the upgrade request signed with SigV4 (AWS IoT Core's
   * way for a person with AWS credentials rather than a device certificate).
   * Port 443 unless given.
   */
  websocket?: WebsocketAuth;
  /** Trusted CA for the server; the system store when absent (fine for AWS IoT Core). */
  caPath?: string;
  clientId: string;
  /** Last will, published by the broker when the connection dies without a DISCONNECT. */
  will?: OutboundMessage;
  keepAliveSeconds?: number;
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /**
   * The SDK holds a connection to AWS IoT Core's limits (100 publishes/s, 512 KB/s)
   * unless this is false: for a test double that stands for many connections.
   */
  iotCoreFlowControl?: boolean;
  /** QoS 1 messages the broker may have in flight to us (16 unless given). */
  receiveMaximum?: number;
  /** Fails a QoS 1 publish or a subscribe whose ack never comes. */
  ackTimeoutSeconds?: number;
  logger: Logger;
  /** Told about each failed connection attempt (bad certificate, broker down...). */
  onConnectFailure?: (error: Error) => void;
  /** Loads the SDK; replaceable so the missing-binary message can be tested. */
  loadSdk?: () => Promise<Sdk>;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface WebsocketAuth {
  /** The region the endpoint is in: part of what is signed. */
  region: string;
  /** Static credentials, or the SDK's own default chain. */
  credentials: AwsCredentials | 'sdk-default-chain';
}

export interface Mqtt5Status {
  connected: boolean;
  /** Failed connection attempts since the last success. */
  connectFailures: number;
  lastError?: string;
}

/**
 * The client ID for a thing. Never the bare thing name: AWS IoT Core drops the
 * older of two connections with one client ID, and the thing name is what
 * Greengrass itself (and other tools on the device) use.
 */
export function defaultClientId(thing: string): string {
  return `${thing}-deploy-witness`;
}

/** Turns a failure to load the native aws-crt addon into advice a user can act on. */
export function explainSdkLoadFailure(err: unknown, platform: string = process.platform, arch: string = process.arch): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (/AWS CRT binary not present|aws-crt-nodejs|ERR_DLOPEN_FAILED|wrong ELF class|cannot open shared object/i.test(message)) {
    return new Error(`aws-crt has no prebuilt binary for ${platform}-${arch}; use 64-bit Raspberry Pi OS`, { cause: err });
  }
  return new Error(`cannot load aws-iot-device-sdk-v2: ${message}`, { cause: err });
}

/** Imports the SDK; the native addon loads (or fails) here, not at module load. */
export async function loadSdk(importer: () => Promise<unknown> = () => import('aws-iot-device-sdk-v2')): Promise<Sdk> {
  try {
    const mod = (await importer()) as Sdk & { default?: Sdk };
    return mod.default ?? mod;
  } catch (err) {
    throw explainSdkLoadFailure(err);
  }
}

/** Checks that a PEM file exists, is readable and looks like what it should be. */
export async function checkPemFile(option: string, path: string, kind: 'certificate' | 'key'): Promise<void> {
  if (!path) throw new Error(`mqtt ${option} is empty`);
  let text: string;
  try {
    // A FIFO or device given as a certificate must not hang us; a link to the file is fine.
    text = (await readRegularFile(path, { maxBytes: MAX_PEM_BYTES, followLinks: true })).toString('latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`mqtt ${option}: ${path} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new Error(`mqtt ${option}: ${path} is not readable by this user (uid ${process.getuid?.() ?? '?'})`);
    }
    if (err instanceof InputRefusedError) {
      throw new Error(err.kind === 'too-large' ? `mqtt ${option} (${path}) is too large to be a PEM file` : `mqtt ${option}: ${path} ${err.detail}`);
    }
    throw err;
  }
  // Only markers are looked at; the content (a private key) never reaches a message.
  if (kind === 'certificate' && !text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`mqtt ${option}: ${path} is not a PEM certificate`);
  }
  if (kind === 'key') {
    if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type: 4,ENCRYPTED/.test(text)) {
      throw new Error(`mqtt ${option}: ${path} is an encrypted key; a key without a passphrase is needed`);
    }
    if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(text)) {
      throw new Error(`mqtt ${option}: ${path} is not a PEM private key`);
    }
  }
}

/**
 * The files of a mutual-TLS connection, checked before anything connects.
 * `names` are what the caller calls them, for the messages.
 */
export async function checkTlsFiles(
  files: { cert: string; key: string; ca?: string },
  names: { cert: string; key: string; ca: string } = { cert: 'certPath', key: 'keyPath', ca: 'caPath' },
): Promise<void> {
  await checkPemFile(names.cert, files.cert, 'certificate');
  await checkPemFile(names.key, files.key, 'key');
  if (files.ca !== undefined) await checkPemFile(names.ca, files.ca, 'certificate');
}

/**
 * An Error for an SDK event. V8 keeps the receivers of a stack's frames (here the
 * native client) alive until the stack is first read; reading it at once lets a
 * stopped client be freed even if a caller keeps the error.
 */
function eventError(message: string): Error {
  const err = new Error(message);
  void err.stack;
  return err;
}

function describe(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { error_name?: string; message?: string };
    if (e.error_name) return e.error_name;
    if (e.message) return e.message;
  }
  return String(err);
}

/** The WebSockets builder, signing the upgrade request with SigV4 for the IoT data plane. */
function websocketBuilder(sdk: Sdk, endpoint: string, ws: WebsocketAuth): SdkModule.iot.AwsIotMqtt5ClientConfigBuilder {
  const { auth, iot } = sdk;
  const credentialsProvider = ws.credentials === 'sdk-default-chain'
    ? auth.AwsCredentialsProvider.newDefault()
    : auth.AwsCredentialsProvider.newStatic(ws.credentials.accessKeyId, ws.credentials.secretAccessKey, ws.credentials.sessionToken);
  return iot.AwsIotMqtt5ClientConfigBuilder.newWebsocketMqttBuilderWithSigv4Auth(endpoint, { region: ws.region, credentialsProvider });
}

export class Mqtt5Transport implements Transport {
  readonly name = 'mqtt5';
  private readonly opts: Mqtt5TransportOptions;
  private readonly log: Logger;
  private sdk: Sdk | undefined;
  private client: Client | undefined;
  private connected = false;
  /** Bumped on every connect and disconnect, so stale async work can tell it is stale. */
  private generation = 0;
  /** Bumped by start() and stop(), so a stop() during start()'s awaits wins. */
  private epoch = 0;
  private starting = false;
  private readonly topics = new Set<string>();
  private connectFailures = 0;
  private lastError: string | undefined;

  constructor(opts: Mqtt5TransportOptions) {
    this.opts = opts;
    this.log = opts.logger;
  }

  status(): Mqtt5Status {
    const s: Mqtt5Status = { connected: this.connected, connectFailures: this.connectFailures };
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    if (this.client || this.starting) throw new Error('mqtt5 transport already started');
    this.starting = true;
    try {
      await this.open(handlers);
    } finally {
      this.starting = false;
    }
  }

  private async open(handlers: TransportHandlers): Promise<void> {
    const o = this.opts;
    if (!o.endpoint) throw new Error('mqtt endpoint is empty');
    if (!o.clientId || o.clientId.length > MAX_CLIENT_ID_LENGTH) {
      throw new Error(`mqtt clientId must be 1 to ${MAX_CLIENT_ID_LENGTH} characters`);
    }
    const epoch = ++this.epoch;
    if (!o.websocket) {
      if (o.certPath === undefined || o.keyPath === undefined) throw new Error('mqtt5 needs certPath and keyPath (or websocket)');
      await checkTlsFiles({ cert: o.certPath, key: o.keyPath, ...(o.caPath !== undefined ? { ca: o.caPath } : {}) });
    } else if (o.caPath !== undefined) {
      await checkPemFile('caPath', o.caPath, 'certificate');
    }

    const sdk = (this.sdk ??= await (o.loadSdk ?? loadSdk)());
    if (epoch !== this.epoch) throw new Error('mqtt5 transport stopped while starting');
    const { mqtt5, iot } = sdk;
    const port = o.port ?? (o.websocket ? 443 : 8883);

    const builder = o.websocket
      ? websocketBuilder(sdk, o.endpoint, o.websocket)
      : iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(o.endpoint, o.certPath!, o.keyPath!);
    if (o.caPath !== undefined) builder.withCertificateAuthorityFromPath(undefined, o.caPath);
    builder
      .withPort(port)
      .withConnectProperties({
        clientId: o.clientId,
        keepAliveIntervalSeconds: o.keepAliveSeconds ?? 60,
        sessionExpiryIntervalSeconds: 0,
        // Bounds what the broker may push at us: packet size and QoS 1 messages in flight.
        maximumPacketSizeBytes: MAX_PAYLOAD_BYTES + 8 * 1024,
        receiveMaximum: o.receiveMaximum ?? 16,
        ...(o.will ? { will: this.packet(o.will) } : {}),
      })
      // A clean session each time: nothing stale is replayed, and we resubscribe ourselves.
      .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
      .withRetryJitterMode(mqtt5.RetryJitterType.Full)
      .withMinReconnectDelayMs(o.minReconnectDelayMs ?? 1_000)
      .withMaxReconnectDelayMs(o.maxReconnectDelayMs ?? 120_000)
      .withOfflineQueueBehavior(mqtt5.ClientOperationQueueBehavior.FailAllOnDisconnect)
      .withAckTimeoutSeconds(o.ackTimeoutSeconds ?? 60);
    if (o.iotCoreFlowControl === false) builder.withExtendedValidationAndFlowControlOptions(mqtt5.ClientExtendedValidationAndFlowControl.None);

    let client: Client;
    try {
      client = new mqtt5.Mqtt5Client(builder.build());
    } catch (err) {
      throw new Error(`mqtt5 client for ${o.endpoint}:${port} could not be created: ${describe(err)}`);
    }
    this.client = client;
    const current = () => this.client === client;

    client.on('error', (err) => this.log.error('mqtt5 client error', { error: describe(err) }));

    client.on('connectionSuccess', (ev) => {
      if (!current()) return;
      this.connected = true;
      this.connectFailures = 0;
      this.lastError = undefined;
      const generation = ++this.generation;
      this.log.info('mqtt5 connected', { endpoint: o.endpoint, port, clientId: o.clientId, sessionPresent: ev.connack.sessionPresent });
      void this.resubscribe(client).finally(() => {
        // Only if this very connection is still up: otherwise the next one will say so.
        if (generation !== this.generation || !this.connected) return;
        try {
          handlers.onConnected();
        } catch (err) {
          this.log.error('onConnected handler failed', { error: describe(err) });
        }
      });
    });

    client.on('connectionFailure', (ev) => {
      if (!current()) return;
      const reason = ev.connack ? `CONNACK ${mqtt5.ConnectReasonCode[ev.connack.reasonCode] ?? ev.connack.reasonCode}` : describe(ev.error);
      const error = eventError(`mqtt5 connect to ${o.endpoint}:${port} failed: ${reason}`);
      this.connectFailures++;
      // Long outages retry for days: log a changed reason, and then every tenth attempt.
      const level = reason !== this.lastError || this.connectFailures % 10 === 1 ? 'warn' : 'debug';
      this.lastError = reason;
      this.log.log(level, 'mqtt5 connection failed', { error: reason, attempts: this.connectFailures });
      try {
        o.onConnectFailure?.(error);
      } catch (err) {
        this.log.error('onConnectFailure handler failed', { error: describe(err) });
      }
    });

    client.on('disconnection', (ev) => {
      if (!current()) return;
      this.connected = false;
      this.generation++;
      const reason = ev.disconnect
        ? `DISCONNECT ${mqtt5.DisconnectReasonCode[ev.disconnect.reasonCode] ?? ev.disconnect.reasonCode}`
        : describe(ev.error);
      this.lastError = reason;
      this.log.warn('mqtt5 disconnected', { error: reason });
      try {
        handlers.onDisconnected(eventError(`mqtt5 disconnected: ${reason}`));
      } catch (err) {
        this.log.error('onDisconnected handler failed', { error: describe(err) });
      }
    });

    client.on('messageReceived', (ev) => {
      if (!current()) return;
      const payload = ev.message.payload;
      const buf = payload === undefined ? Buffer.alloc(0)
        : typeof payload === 'string' ? Buffer.from(payload)
        : Buffer.from(payload as ArrayBuffer);
      try {
        handlers.onMessage(ev.message.topicName, buf);
      } catch (err) {
        this.log.error('onMessage handler failed', { topic: ev.message.topicName, error: describe(err) });
      }
    });

    client.start();
  }

  async publish(message: OutboundMessage): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) throw new Error(`mqtt5 not connected: ${message.topic} not sent`);
    const bytes = Buffer.byteLength(message.payload);
    if (bytes > MAX_PAYLOAD_BYTES) {
      throw new Error(`mqtt5 payload for ${message.topic} is ${bytes} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
    }
    let result: SdkModule.mqtt5.PublishCompletionResult;
    try {
      result = await client.publish(this.packet(message));
    } catch (err) {
      throw new Error(`mqtt5 publish to ${message.topic} failed: ${describe(err)}`);
    }
    if (message.qos === 0) return;
    const { mqtt5 } = this.sdk!;
    if (!result) throw new Error(`mqtt5 publish to ${message.topic}: no PUBACK`);
    if (!mqtt5.isSuccessfulPubackReasonCode(result.reasonCode)) {
      const name = mqtt5.PubackReasonCode[result.reasonCode] ?? String(result.reasonCode);
      const why = result.reasonString ? ` (${result.reasonString})` : '';
      throw new Error(`mqtt5 publish to ${message.topic} refused: PUBACK ${name}${why}`);
    }
  }

  /** Resolves on SUBACK; while offline, at once (the subscription is made on the next connection). */
  async subscribe(topic: string): Promise<void> {
    if (!topic) throw new Error('mqtt5 subscribe: empty topic filter');
    if (!this.topics.has(topic) && this.topics.size >= MAX_SUBSCRIPTIONS) {
      throw new Error(`mqtt5 subscribe ${topic}: already ${MAX_SUBSCRIPTIONS} subscriptions`);
    }
    this.topics.add(topic);
    const client = this.client;
    if (!client || !this.connected) return;
    try {
      await this.subscribeNow(client, [topic]);
    } catch (err) {
      this.topics.delete(topic);
      throw err;
    }
  }

  /** Resolves on UNSUBACK; while offline, at once (the next connection simply does not make it). */
  async unsubscribe(topic: string): Promise<void> {
    if (!this.topics.delete(topic)) return;
    const client = this.client;
    if (!client || !this.connected) return;
    try {
      await client.unsubscribe({ topicFilters: [topic] });
    } catch (err) {
      throw new Error(`mqtt5 unsubscribe ${topic} failed: ${describe(err)}`);
    }
  }

  async stop(): Promise<void> {
    this.epoch++;
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    this.connected = false;
    this.generation++;
    const stopped = once(client, 'stopped');
    let timer: NodeJS.Timeout | undefined;
    try {
      // A stopped agent watches nothing: DISCONNECT "with will" so the broker still marks it offline.
      client.stop({ reasonCode: this.sdk!.mqtt5.DisconnectReasonCode.DisconnectWithWillMessage });
      await Promise.race([stopped, new Promise((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)))]);
    } finally {
      clearTimeout(timer);
      // close() only drops the references: the native client goes when the wrapper is garbage collected.
      client.close();
    }
    this.log.info('mqtt5 stopped', { clientId: this.opts.clientId });
  }

  private packet(m: OutboundMessage): SdkModule.mqtt5.PublishPacket {
    const { mqtt5 } = this.sdk!;
    return {
      topicName: m.topic,
      payload: m.payload,
      qos: m.qos === 1 ? mqtt5.QoS.AtLeastOnce : mqtt5.QoS.AtMostOnce,
      retain: m.retain ?? false,
    };
  }

  private async subscribeNow(client: Client, topics: string[]): Promise<void> {
    const { mqtt5 } = this.sdk!;
    for (let i = 0; i < topics.length; i += SUBSCRIPTIONS_PER_PACKET) {
      const chunk = topics.slice(i, i + SUBSCRIPTIONS_PER_PACKET);
      let suback: SdkModule.mqtt5.SubackPacket;
      try {
        suback = await client.subscribe({
          subscriptions: chunk.map((topicFilter) => ({ topicFilter, qos: mqtt5.QoS.AtLeastOnce })),
        });
      } catch (err) {
        throw new Error(`mqtt5 subscribe ${chunk.join(', ')} failed: ${describe(err)}`);
      }
      const refused = chunk.filter((_, k) => !mqtt5.isSuccessfulSubackReasonCode(suback.reasonCodes[k] ?? 0x80));
      if (refused.length > 0) {
        throw new Error(`mqtt5 subscribe refused for ${refused.join(', ')}`);
      }
    }
  }

  /** A clean session forgets subscriptions, so every connection makes them again. */
  private async resubscribe(client: Client): Promise<void> {
    if (this.topics.size === 0) return;
    try {
      await this.subscribeNow(client, [...this.topics]);
    } catch (err) {
      this.log.warn('mqtt5 resubscribe failed', { error: describe(err) });
    }
  }
}
