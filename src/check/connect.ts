// check's connection: one MQTT 5 client for the whole fleet, with a device
// certificate (mutual TLS, like the agent in direct mode) or, for a person at
// a laptop, over WebSockets signed with SigV4 from their AWS credentials.
// Connected and subscribed (SUBACK) before anything is published, so no answer
// can slip past. Failures become sentences that name the flag to fix.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { checkPemFile, Mqtt5Transport, type WebsocketAuth } from '../report/mqtt5.js';
import { resolveCredentials, resolveRegion } from './credentials.js';

export class ConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectError';
  }
}

export interface ConnectOptions {
  endpoint: string;
  port?: number;
  cert?: string;
  key?: string;
  ca?: string;
  region?: string;
  clientId?: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  connectTimeoutMs: number;
  /** The report wildcard: subscribed before connect() resolves. */
  subscribe: string;
  onMessage: (topic: string, payload: Buffer) => void;
}

export interface CheckConnection {
  transport: Mqtt5Transport;
  /** How it connected, for the log and the user: `mutual TLS` or `WebSockets (SigV4, <source>)`. */
  via: string;
  publish(topic: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

export function checkClientId(): string {
  return `deploy-witness-check-${randomBytes(6).toString('hex')}`;
}

/** What a person can do about an SDK error name. */
export function explainConnectError(raw: string, o: { endpoint: string; port: number; websocket: boolean }): string {
  const at = `${o.endpoint}:${o.port}`;
  if (/SOCKET_CONNECTION_REFUSED|ECONNREFUSED/.test(raw)) return `nothing accepts connections at ${at}: check --endpoint and --port`;
  if (/DNS|ENOTFOUND|EAI_/.test(raw)) return `cannot resolve ${o.endpoint}: check --endpoint (aws iot describe-endpoint --endpoint-type iot:Data-ATS)`;
  if (/SOCKET_TIMEOUT|TIMEOUT/.test(raw)) return `no answer from ${at}: check --endpoint, --port and the network`;
  if (/TLS|X509|CERT/.test(raw)) {
    return o.websocket
      ? `the TLS handshake with ${at} failed (${raw}): check --ca (the broker's CA certificate)`
      : `the TLS handshake with ${at} failed (${raw}): check --ca (the broker's CA), and that --cert and --key are a pair the broker trusts`;
  }
  if (/WEBSOCKET_UPGRADE|HTTP/.test(raw)) return `the signed WebSocket upgrade was refused by ${at} (${raw}): check the AWS credentials, --region and the IoT policy`;
  if (/NotAuthorized|BadUserNameOrPassword|Banned/i.test(raw)) return `the broker refused the connection (${raw}): check the certificate or credentials and the IoT policy (iot:Connect on client/deploy-witness-check-*)`;
  if (/ClientIdentifierNotValid/i.test(raw)) return `the broker refused the client ID (${raw}): check --client-id`;
  return raw;
}

export async function connect(o: ConnectOptions): Promise<CheckConnection> {
  const { logger } = o;
  if ((o.cert === undefined) !== (o.key === undefined)) throw new ConnectError('--cert and --key go together: give both, or neither for WebSockets with AWS credentials');
  let websocket: WebsocketAuth | undefined;
  let via = 'mutual TLS';
  try {
    if (o.cert !== undefined) {
      await checkPemFile('cert', o.cert, 'certificate');
      await checkPemFile('key', o.key!, 'key');
    } else {
      const region = await resolveRegion(o.region, o.endpoint, o.env);
      const creds = await resolveCredentials(o.env);
      websocket = { region, credentials: creds.credentials };
      via = `WebSockets signed with SigV4 (${creds.source}, region ${region})`;
    }
    if (o.ca !== undefined) await checkPemFile('ca', o.ca, 'certificate');
  } catch (err) {
    throw new ConnectError((err as Error).message.replace(/^mqtt (cert|key|ca)/, '--$1'));
  }
  const port = o.port ?? (websocket ? 443 : 8883);
  const clientId = o.clientId ?? checkClientId();
  let lastFailure: string | null = null;
  const transport = new Mqtt5Transport({
    endpoint: o.endpoint, port, clientId, logger,
    ...(websocket ? { websocket } : { certPath: o.cert!, keyPath: o.key! }),
    ...(o.ca !== undefined ? { caPath: o.ca } : {}),
    // Answers from a large fleet arrive together.
    receiveMaximum: 100,
    minReconnectDelayMs: 500,
    maxReconnectDelayMs: 5_000,
    ackTimeoutSeconds: 30,
    onConnectFailure: (err) => {
      lastFailure = err.message.replace(/^mqtt5 connect to \S+ failed: /, '');
    },
  });
  let connected!: () => void;
  const up = new Promise<void>((res) => (connected = res));
  await transport.start({
    onMessage: o.onMessage,
    onConnected: () => connected(),
    onDisconnected: (reason) => logger.warn('check connection lost; reconnecting', { reason: reason?.message }),
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), o.connectTimeoutMs)));
  const first = await Promise.race([up.then(() => 'up' as const), timedOut]);
  clearTimeout(timer);
  if (first === 'timeout') {
    await transport.stop().catch(() => {});
    const why = lastFailure ? explainConnectError(lastFailure, { endpoint: o.endpoint, port, websocket: websocket !== undefined }) : `no connection to ${o.endpoint}:${port} (no answer at all)`;
    throw new ConnectError(`could not connect within ${Math.round(o.connectTimeoutMs / 1000)} s (--connect-timeout): ${why}`);
  }
  try {
    await transport.subscribe(o.subscribe);
  } catch (err) {
    await transport.stop().catch(() => {});
    throw new ConnectError(`the broker refused the subscription to ${o.subscribe}: the IoT policy must allow iot:Subscribe on topicfilter/${o.subscribe} and iot:Receive on its topics (${(err as Error).message})`);
  }
  logger.info('check connected', { endpoint: o.endpoint, port, clientId, via });
  return {
    transport,
    via,
    publish: (topic, payload) => transport.publish({ topic, payload, qos: 1, retain: false, kind: 'report' }),
    close: () => transport.stop(),
  };
}
