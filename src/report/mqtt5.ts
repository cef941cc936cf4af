// Direct MQTT 5 over mutual TLS, for cores without Greengrass IPC. Built with
// the AWS IoT config builder so the same code talks to AWS IoT Core and to a
// plain broker. Nothing is buffered here: the agent keeps its own durable spool,
// so a publish while offline fails at once and the caller retries after onConnected.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { isIP } from 'node:net';
import { connect as tlsConnect, rootCertificates } from 'node:tls';
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
// How long a failed TLS probe waits for the client's own attempt to succeed before it is said.
const PROBE_GRACE_MS = 1_500;

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
  /** Told about each failed connection attempt (bad certificate, broker down...), in words a person can act on. */
  onConnectFailure?: (error: ConnectFailure) => void;
  /** What the caller calls each setting, for those words (default: the transport's own option names). */
  names?: ConnectNames;
  /**
   * Also try a TLS handshake of our own (Node's TLS) alongside the first
   * connection: aws-crt's TLS (s2n) reports a certificate it does not trust
   * only after a blinding delay of 10 to 30 s, Node's at once. Mutual TLS only.
   */
  probeTls?: boolean;
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

/** Reads a PEM file that exists, is readable and looks like what it should be; `option` names it in messages. */
async function readPemFile(option: string, path: string, kind: 'certificate' | 'key'): Promise<string> {
  if (!path) throw new Error(`${option} is empty`);
  let text: string;
  try {
    // A FIFO or device given as a certificate must not hang us; a link to the file is fine.
    text = (await readRegularFile(path, { maxBytes: MAX_PEM_BYTES, followLinks: true })).toString('latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${option}: ${path} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new Error(`${option}: ${path} is not readable by this user (uid ${process.getuid?.() ?? '?'})`);
    }
    if (err instanceof InputRefusedError) {
      throw new Error(err.kind === 'too-large' ? `${option} (${path}) is too large to be a PEM file` : `${option}: ${path} ${err.detail}`);
    }
    throw err;
  }
  // Only markers are looked at; the content (a private key) never reaches a message.
  if (kind === 'certificate' && !text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`${option}: ${path} is not a PEM certificate`);
  }
  if (kind === 'key') {
    if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type: 4,ENCRYPTED/.test(text)) {
      throw new Error(`${option}: ${path} is an encrypted key; a key without a passphrase is needed`);
    }
    if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(text)) {
      throw new Error(`${option}: ${path} is not a PEM private key`);
    }
  }
  return text;
}

/** Checks that a PEM file exists, is readable and looks like what it should be; `option` names it in messages. */
export async function checkPemFile(option: string, path: string, kind: 'certificate' | 'key'): Promise<void> {
  await readPemFile(option, path, kind);
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM file, parsed; a block that does not parse is an error naming its place. */
function certificatesOf(option: string, path: string, text: string): X509Certificate[] {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error(`${option}: ${path} is not a PEM certificate (no END CERTIFICATE line)`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch {
      const which = blocks.length > 1 ? `certificate ${i + 1} of ${blocks.length}` : 'its certificate';
      throw new Error(`${option}: ${path}: ${which} does not parse as an X.509 certificate`);
    }
  });
}

/**
 * The files of a mutual-TLS connection, checked before anything connects:
 * each a readable PEM file of its kind, the certificate within its validity
 * dates, the key the certificate's own, every CA certificate parsable. What a
 * broker would refuse after a handshake (or aws-crt after 10 to 30 s) is said
 * here at once. `names` are what the caller calls them, for the messages;
 * `now` is the clock the validity dates are read against.
 */
export async function checkTlsFiles(
  files: { cert: string; key: string; ca?: string },
  names: { cert: string; key: string; ca: string } = { cert: 'mqtt certPath', key: 'mqtt keyPath', ca: 'mqtt caPath' },
  now: Date = new Date(),
): Promise<void> {
  const certText = await readPemFile(names.cert, files.cert, 'certificate');
  const keyText = await readPemFile(names.key, files.key, 'key');
  const caText = files.ca !== undefined ? await readPemFile(names.ca, files.ca, 'certificate') : undefined;
  const [cert] = certificatesOf(names.cert, files.cert, certText);
  const notBefore = new Date(cert!.validFrom);
  const notAfter = new Date(cert!.validTo);
  if (now < notBefore) {
    throw new Error(`${names.cert}: ${files.cert} is not valid before ${notBefore.toISOString()}, and this device's clock says ${now.toISOString()}: set the clock (timedatectl; NTP), or use a certificate valid now`);
  }
  if (now > notAfter) {
    throw new Error(`${names.cert}: ${files.cert} expired on ${notAfter.toISOString()} (this device's clock says ${now.toISOString()}): make or download a new certificate for this device`);
  }
  let key;
  try {
    key = createPrivateKey(keyText);
  } catch {
    throw new Error(`${names.key}: ${files.key} does not parse as a private key`);
  }
  if (!cert!.checkPrivateKey(key)) {
    throw new Error(`${names.key}: ${files.key} is not the private key of ${names.cert} ${files.cert}: give the key that was made with that certificate`);
  }
  if (caText !== undefined) certificatesOf(names.ca, files.ca!, caText);
}

/** What the caller calls each connection setting: the flags of run and check, or configuration keys. */
export interface ConnectNames {
  endpoint: string;
  port: string;
  cert: string;
  key: string;
  ca: string;
  clientId: string;
}

const OWN_NAMES: ConnectNames = { endpoint: 'endpoint', port: 'port', cert: 'certPath', key: 'keyPath', ca: 'caPath', clientId: 'clientId' };

/** A failed connection attempt, said for a person: `code` is the SDK's or TLS's own name for it. */
export class ConnectFailure extends Error {
  constructor(message: string, readonly code: string, readonly lasting: boolean) {
    super(message);
    this.name = 'ConnectFailure';
  }
}

/**
 * What a person can do about each way a connection fails, by the name aws-crt,
 * the broker's CONNACK or DISCONNECT, or Node's TLS gives it. In the sentences,
 * {endpoint}, {port}, {cert}, {key}, {ca} and {clientId} become what the
 * caller calls those settings (`--ca`), {at} the endpoint and port, {host} the
 * endpoint, {certPath} the certificate file, {id} the client ID and {trusted}
 * the CA that was trusted. `lasting`: trying again will not help until the
 * configuration (or the broker's) changes.
 */
export const CONNECT_FAILURES: readonly { names: readonly string[]; says: string; lasting: boolean }[] = [
  {
    names: ['AWS_IO_SOCKET_CONNECTION_REFUSED', 'ECONNREFUSED'],
    says: 'nothing accepts connections at {at}: check {endpoint} and {port}',
    lasting: false,
  },
  {
    names: ['AWS_IO_DNS_INVALID_NAME', 'AWS_IO_DNS_QUERY_FAILED', 'AWS_IO_DNS_NO_ADDRESS_FOR_HOST', 'ENOTFOUND', 'EAI_AGAIN'],
    says: 'cannot resolve {host}: check {endpoint} (for AWS IoT Core: aws iot describe-endpoint --endpoint-type iot:Data-ATS) and the DNS settings',
    lasting: false,
  },
  {
    names: ['AWS_IO_SOCKET_TIMEOUT', 'ETIMEDOUT', 'AWS_IO_SOCKET_NO_ROUTE_TO_HOST', 'EHOSTUNREACH', 'ENETUNREACH', 'AWS_IO_SOCKET_NETWORK_DOWN'],
    says: 'no answer from {at}: check {endpoint}, {port} and that the network lets that port out',
    lasting: false,
  },
  {
    names: ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE'],
    says: "the broker's certificate at {at} is not signed by {trusted}: give the broker's CA certificate with {ca} (for AWS IoT Core: AmazonRootCA1.pem, with the ATS endpoint)",
    lasting: true,
  },
  {
    names: ['ERR_TLS_CERT_ALTNAME_INVALID'],
    says: "the broker's certificate at {at} is not made out to {host}: check {endpoint} (for AWS IoT Core, the ATS endpoint: aws iot describe-endpoint --endpoint-type iot:Data-ATS)",
    lasting: true,
  },
  {
    names: ['CERT_HAS_EXPIRED'],
    says: "the broker's certificate at {at} has expired, or this device's clock is wrong: check the date (timedatectl)",
    lasting: true,
  },
  {
    names: ['CERT_NOT_YET_VALID'],
    says: "the broker's certificate at {at} is not valid yet: this device's clock is probably wrong; check the date (timedatectl)",
    lasting: true,
  },
  {
    // s2n's word for a server certificate it does not trust, or one not made out to the host.
    names: ['AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE'],
    says: "the TLS handshake with {at} failed: the broker's certificate is not signed by {trusted}, or is not made out to {host}; check {ca} and {endpoint}",
    lasting: true,
  },
  {
    // The broker ended the handshake: it did not accept our certificate.
    names: [
      'AWS_IO_TLS_ERROR_READ_FAILURE', 'AWS_IO_TLS_ALERT_NOT_GRACEFUL',
      'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
      'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
    ],
    says: 'the broker at {at} ended the TLS handshake: it does not accept the certificate {cert} ({certPath}), which must be signed by a CA it trusts (for AWS IoT Core: registered, active and attached to a policy)',
    lasting: true,
  },
  {
    names: ['CONNACK NotAuthorized', 'CONNACK NotAuthorized311', 'CONNACK BadUsernameOrPassword', 'CONNACK InvalidUsernameOrPassword311'],
    says: 'the broker at {at} refused the connection as not authorized: the certificate {cert} must be active and attached to a policy that allows iot:Connect on client/{id}',
    lasting: true,
  },
  {
    names: ['CONNACK ClientIdentifierNotValid', 'CONNACK ClientIdRejected311'],
    says: 'the broker at {at} refused the client ID {id}: check {clientId}',
    lasting: true,
  },
  {
    names: ['CONNACK Banned'],
    says: 'the broker at {at} has banned this client ({id}): ask its operator',
    lasting: true,
  },
  {
    names: ['CONNACK ServerUnavailable', 'CONNACK ServerUnavailable311', 'CONNACK ServerBusy', 'CONNACK QuotaExceeded', 'CONNACK ConnectionRateExceeded'],
    says: 'the broker at {at} is busy or unavailable just now: it is tried again',
    lasting: false,
  },
  {
    names: ['AWS_IO_TLS_NEGOTIATION_TIMEOUT', 'AWS_ERROR_MQTT5_CONNACK_TIMEOUT'],
    says: 'the server at {at} took the connection and never answered: is it an MQTT broker on that port? check {endpoint} and {port}',
    lasting: false,
  },
  {
    names: ['AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE'],
    says: 'the signed WebSocket upgrade was refused by {at}: check the AWS credentials, the region and the IoT policy (iot:Connect on client/{id})',
    lasting: true,
  },
  {
    names: ['DISCONNECT SessionTakenOver'],
    says: 'another connection with the client ID {id} took this one over: two agents (or another program) use that client ID; give each its own {clientId}',
    lasting: false,
  },
  {
    names: ['DISCONNECT NotAuthorized'],
    says: 'the broker at {at} ended the connection as not authorized: the policy of {cert} must allow what the agent publishes and subscribes to',
    lasting: false,
  },
];

export interface FailureContext {
  endpoint: string;
  port: number;
  certPath?: string;
  caPath?: string;
  clientId: string;
  names?: ConnectNames;
}

/** The sentence for a connection failure `code` (an aws-crt error name, `CONNACK <reason>`, a TLS code). */
export function explainConnectFailure(code: string, c: FailureContext): ConnectFailure {
  const n = c.names ?? OWN_NAMES;
  const row = CONNECT_FAILURES.find((r) => r.names.includes(code));
  const fill: Record<string, string> = {
    at: `${c.endpoint}:${c.port}`, host: c.endpoint, certPath: c.certPath ?? '-', id: c.clientId,
    trusted: c.caPath !== undefined ? `the CA in ${c.caPath}` : 'any CA in the system store',
    endpoint: n.endpoint, port: n.port, cert: n.cert, key: n.key, ca: n.ca, clientId: n.clientId,
  };
  const said = row ? row.says.replace(/\{(\w+)\}/g, (all, k: string) => fill[k] ?? all) : `connecting to ${c.endpoint}:${c.port} failed`;
  return new ConnectFailure(`${said} (${code})`, code, row?.lasting ?? false);
}

/** Where aws-crt looks for the system's CA bundle on Linux, in its order. */
const SYSTEM_CA_FILES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

/** The CAs trusted without a CA file: Node's own and the system's, so the probe never distrusts what aws-crt trusts. */
async function defaultTrust(): Promise<string[]> {
  for (const path of SYSTEM_CA_FILES) {
    try {
      return [...rootCertificates, (await readRegularFile(path, { maxBytes: 8 * MAX_PEM_BYTES, followLinks: true })).toString('latin1')];
    } catch {
      /* the next place */
    }
  }
  return [...rootCertificates];
}

/** Codes of a handshake failure the probe says; the rest (refused, DNS) aws-crt says itself at once. */
const PROBE_SAYS = new Set(CONNECT_FAILURES.filter((r) => r.lasting).flatMap((r) => r.names));

/**
 * One TLS handshake with the broker through Node's TLS, with the same files,
 * nothing sent over it: resolves with the failure's code, or null when the
 * handshake worked, timed out, or failed in a way aws-crt says at once itself.
 */
export async function probeTls(o: { endpoint: string; port: number; certPath: string; keyPath: string; caPath?: string; timeoutMs?: number }): Promise<string | null> {
  const [cert, key, ca] = await Promise.all([
    readRegularFile(o.certPath, { maxBytes: MAX_PEM_BYTES, followLinks: true }),
    readRegularFile(o.keyPath, { maxBytes: MAX_PEM_BYTES, followLinks: true }),
    o.caPath !== undefined ? readRegularFile(o.caPath, { maxBytes: MAX_PEM_BYTES, followLinks: true }).then((b) => [b.toString('latin1')]) : defaultTrust(),
  ]);
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: o.endpoint,
      port: o.port,
      cert, key, ca,
      ...(isIP(o.endpoint) ? {} : { servername: o.endpoint }),
      // AWS IoT Core takes mutual TLS on 443 only with this ALPN name, as the SDK sends it.
      ...(o.port === 443 ? { ALPNProtocols: ['x-amzn-mqtt-ca'] } : {}),
    });
    const done = (code: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(code !== null && PROBE_SAYS.has(code) ? code : null);
    };
    const timer = setTimeout(() => done(null), o.timeoutMs ?? 5_000);
    socket.once('secureConnect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? null));
  });
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
      await checkPemFile('mqtt caPath', o.caPath, 'certificate');
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

    const context: FailureContext = {
      endpoint: o.endpoint, port, clientId: o.clientId,
      ...(o.certPath !== undefined ? { certPath: o.certPath } : {}),
      ...(o.caPath !== undefined ? { caPath: o.caPath } : {}),
      ...(o.names ? { names: o.names } : {}),
    };
    const tell = (failure: ConnectFailure) => {
      void failure.stack; // as eventError: nothing of the native client kept alive
      try {
        o.onConnectFailure?.(failure);
      } catch (err) {
        this.log.error('onConnectFailure handler failed', { error: describe(err) });
      }
    };

    client.on('connectionFailure', (ev) => {
      if (!current()) return;
      const reason = ev.connack ? `CONNACK ${mqtt5.ConnectReasonCode[ev.connack.reasonCode] ?? ev.connack.reasonCode}` : describe(ev.error);
      const failure = explainConnectFailure(reason, context);
      this.connectFailures++;
      // Long outages retry for days: log a changed reason, and then every tenth attempt.
      const level = reason !== this.lastError || this.connectFailures % 10 === 1 ? 'warn' : 'debug';
      this.lastError = reason;
      this.log.log(level, 'mqtt5 connection failed', { error: failure.message, code: reason, attempts: this.connectFailures });
      tell(failure);
    });

    client.on('disconnection', (ev) => {
      if (!current()) return;
      this.connected = false;
      this.generation++;
      const reason = ev.disconnect
        ? `DISCONNECT ${mqtt5.DisconnectReasonCode[ev.disconnect.reasonCode] ?? ev.disconnect.reasonCode}`
        : describe(ev.error);
      this.lastError = reason;
      const known = CONNECT_FAILURES.some((r) => r.names.includes(reason));
      this.log.warn('mqtt5 disconnected', known ? { error: explainConnectFailure(reason, context).message, code: reason } : { error: reason });
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
    if (o.probeTls && !o.websocket) this.probe(client, context, tell);
  }

  /**
   * The handshake tried through Node's TLS beside the client's first attempt.
   * Its failure is said unless the client has connected by the time it would
   * be (Node's and the system's trust stores can differ: the client's own
   * success outranks the probe); the client keeps trying either way.
   */
  private probe(client: Client, context: FailureContext, tell: (f: ConnectFailure) => void): void {
    const o = this.opts;
    void probeTls({ endpoint: o.endpoint, port: context.port, certPath: o.certPath!, keyPath: o.keyPath!, ...(o.caPath !== undefined ? { caPath: o.caPath } : {}) })
      .then((code) => {
        if (code === null) return;
        // A successful handshake of the client's own takes well under this.
        setTimeout(() => {
          if (this.client !== client || this.connected) return;
          const failure = explainConnectFailure(code, context);
          this.lastError = code;
          this.log.warn('mqtt5 connection failed', { error: failure.message, code, attempts: this.connectFailures, by: 'tls probe' });
          tell(failure);
        }, PROBE_GRACE_MS).unref();
      })
      .catch((err: unknown) => this.log.debug('tls probe failed', { error: describe(err) }));
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
