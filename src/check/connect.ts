// check's connection: one MQTT 5 client for the whole fleet, with a device
// certificate (mutual TLS, like the agent in direct mode) or, for a person at
// a laptop, over WebSockets signed with SigV4 from their AWS credentials.
// Connected and subscribed (SUBACK) before anything is published, so no answer
// can slip past. Failures become sentences that name the flag to fix.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { checkPemFile, checkTlsFiles, Mqtt5Transport, type ConnectFailure, type ConnectNames, type WebsocketAuth } from '../report/mqtt5.js';
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

/** check's flags, named in the sentences for connection failures. */
const NAMES: ConnectNames = { endpoint: '--endpoint', port: '--port', cert: '--cert', key: '--key', ca: '--ca', clientId: '--client-id' };

export async function connect(o: ConnectOptions): Promise<CheckConnection> {
  const { logger } = o;
  if ((o.cert === undefined) !== (o.key === undefined)) throw new ConnectError('--cert and --key go together: give both, or neither for WebSockets with AWS credentials');
  let websocket: WebsocketAuth | undefined;
  let via = 'mutual TLS';
  try {
    if (o.cert !== undefined) {
      await checkTlsFiles({ cert: o.cert, key: o.key!, ...(o.ca !== undefined ? { ca: o.ca } : {}) }, { cert: '--cert', key: '--key', ca: '--ca' });
    } else {
      const region = await resolveRegion(o.region, o.endpoint, o.env);
      const creds = await resolveCredentials(o.env);
      websocket = { region, credentials: creds.credentials };
      via = `WebSockets signed with SigV4 (${creds.source}, region ${region})`;
    }
    if (o.ca !== undefined && o.cert === undefined) await checkPemFile('--ca', o.ca, 'certificate');
  } catch (err) {
    throw new ConnectError((err as Error).message);
  }
  const port = o.port ?? (websocket ? 443 : 8883);
  const clientId = o.clientId ?? checkClientId();
  let lastFailure: ConnectFailure | null = null;
  let lasting!: (f: ConnectFailure) => void;
  // A failure that trying again cannot mend (an untrusted certificate, a refused client ID) ends the wait at once.
  const hopeless = new Promise<ConnectFailure>((res) => (lasting = res));
  const transport = new Mqtt5Transport({
    endpoint: o.endpoint, port, clientId, logger,
    ...(websocket ? { websocket } : { certPath: o.cert!, keyPath: o.key! }),
    ...(o.ca !== undefined ? { caPath: o.ca } : {}),
    // Answers from a large fleet arrive together.
    receiveMaximum: 100,
    minReconnectDelayMs: 500,
    maxReconnectDelayMs: 5_000,
    ackTimeoutSeconds: 30,
    names: NAMES,
    probeTls: true,
    onConnectFailure: (failure) => {
      lastFailure = failure;
      if (failure.lasting) lasting(failure);
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
  const first = await Promise.race([up.then(() => 'up' as const), timedOut, hopeless]);
  clearTimeout(timer);
  if (first !== 'up') {
    await transport.stop().catch(() => {});
    if (first !== 'timeout') throw new ConnectError(`cannot connect: ${first.message}`);
    const why = lastFailure ? (lastFailure as ConnectFailure).message : `no connection to ${o.endpoint}:${port} (no answer at all)`;
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
