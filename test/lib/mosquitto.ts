// A real mosquitto broker for integration tests: mutual TLS on 127.0.0.1, its
// own config, port and temp folder, and mosquitto_sub / mosquitto_pub helpers
// that use the client certificate.
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCerts, type Certs } from './certs.js';
import { onLines } from './lines.js';

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

export interface Subscriber {
  /** Messages so far, oldest first (the oldest are dropped past a cap). */
  readonly messages: readonly Received[];
  /** The first message (already received or still to come) that matches. */
  waitFor(predicate: (m: Received) => boolean, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

export interface Broker {
  readonly host: 'localhost';
  readonly port: number;
  readonly tls: boolean;
  readonly certs: Certs;
  readonly dir: string;
  readonly logFile: string;
  /** Subscribes with mosquitto_sub; resolves once the broker has the subscription. */
  subscriber(topicFilter: string): Promise<Subscriber>;
  /** Resolves once the broker has logged a subscription to exactly this filter (by any client, or by clientId). */
  subscribed(topicFilter: string, clientId?: string, timeoutMs?: number): Promise<void>;
  /** Publishes one message with mosquitto_pub (MQTT 5, client certificate). */
  publish(topic: string, payload: string, opts?: { qos?: 0 | 1; retain?: boolean }): Promise<void>;
  /** SIGTERM and wait for exit; closes the subscribers too. A temp folder made here goes at process exit. */
  stop(): Promise<void>;
  /** Starts again on the same port with the same config (after stop(), or stops first). */
  restart(): Promise<void>;
  readonly running: boolean;
  /** The plain WebSockets listener (MQTT over ws://, no TLS), when started with `websockets`. */
  readonly websocketPort: number | null;
}

export interface BrokerOptions {
  tls?: boolean;
  port?: number;
  /** Folder for config, certs and log; when absent, a temp folder removed at process exit. */
  dir?: string;
  /** Contents of an acl_file; `pattern readwrite x/#` lines apply to every client. */
  acl?: string;
  /**
   * Also listen for MQTT over WebSockets (plain ws on 127.0.0.1; a test puts its
   * own TLS in front). mosquitto starts only with a TCP listener too, which stays.
   */
  websockets?: boolean;
  /** false: a client without a user name and password is refused (CONNACK Not authorized), as AWS IoT Core refuses a certificate no policy allows. */
  allowAnonymous?: boolean;
}

const START_TIMEOUT_MS = 20_000;
const MAX_MESSAGES = 1_000;
const MAX_LOG_LINES = 200;

// Kill what is still running if the test process exits without stopping it, and
// remove the temp folders then (not at stop(), so that restart() still has its files).
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

let checked = false;
function requireMosquitto(): void {
  if (checked) return;
  for (const tool of ['mosquitto', 'mosquitto_sub', 'mosquitto_pub']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]);
    if (r.status !== 0) {
      throw new Error(`${tool} not found: apt-get install mosquitto mosquitto-clients`);
    }
  }
  checked = true;
}

/** Debian installs the broker in /usr/sbin, which is not on every PATH. */
function brokerBinary(): string {
  const r = spawnSync('sh', ['-c', 'command -v mosquitto']);
  return r.status === 0 ? r.stdout.toString().trim() : '/usr/sbin/mosquitto';
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}


function configText(o: { port: number; tls: boolean; certs: Certs; logFile: string; aclFile?: string; websocketPort?: number | null; allowAnonymous?: boolean }): string {
  const lines = [
    'per_listener_settings false',
    'persistence false',
    `allow_anonymous ${o.allowAnonymous === false ? 'false' : 'true'}`,
    `log_dest file ${o.logFile}`,
    'log_dest stderr', // unbuffered, unlike stdout to a pipe
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'log_type subscribe',
    'connection_messages true',
    `listener ${o.port} 127.0.0.1`,
    'protocol mqtt',
  ];
  if (o.tls) {
    lines.push(
      `cafile ${o.certs.ca}`,
      `certfile ${o.certs.serverCert}`,
      `keyfile ${o.certs.serverKey}`,
      'require_certificate true',
    );
  }
  // After the TLS lines, which belong to the listener above them.
  if (o.websocketPort) lines.push(`listener ${o.websocketPort} 127.0.0.1`, 'protocol websockets');
  if (o.aclFile) lines.push(`acl_file ${o.aclFile}`);
  // As root, mosquitto would drop to the mosquitto user and then fail to read our keys.
  if (process.getuid?.() === 0) lines.push('user root');
  return lines.join('\n') + '\n';
}

export async function startMosquitto(opts: BrokerOptions = {}): Promise<Broker> {
  requireMosquitto();
  const tls = opts.tls ?? true;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'dw-mosquitto-')));
  if (ownDir) tempDirs.add(dir);
  const certs = await makeCerts(join(dir, 'certs'));
  const logFile = join(dir, 'mosquitto.log');
  const confFile = join(dir, 'mosquitto.conf');
  let aclFile: string | undefined;
  if (opts.acl !== undefined) {
    aclFile = join(dir, 'acl');
    await writeFile(aclFile, opts.acl);
  }

  let child: ChildProcess | undefined;
  const logTail: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  const subscribers = new Set<Subscriber>();
  let port = opts.port ?? 0;
  let websocketPort: number | null = null;

  async function spawnBroker(): Promise<void> {
    await writeFile(confFile, configText({ port, tls, certs, logFile, aclFile, websocketPort, ...(opts.allowAnonymous === false ? { allowAnonymous: false } : {}) }));
    const proc = spawn(brokerBinary(), ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    track(proc);
    const remember = (line: string) => {
      logTail.push(line);
      if (logTail.length > MAX_LOG_LINES) logTail.shift();
      for (const fn of lineListeners) fn(line);
    };
    onLines(proc.stdout!, remember);
    onLines(proc.stderr!, remember);
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('did not start in time')), START_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        lineListeners.delete(onLine);
        proc.off('exit', onExit);
        proc.off('error', onError);
      };
      const fail = (err: Error) => {
        done();
        proc.kill('SIGKILL');
        reject(new Error(`mosquitto on port ${port}: ${err.message}\n${logTail.slice(-20).join('\n')}`));
      };
      const onExit = (code: number | null) => fail(new Error(`exited with ${code}`));
      const onError = (err: Error) => fail(err);
      // "mosquitto version X running" comes after the listeners are open.
      const onLine = (line: string) => {
        if (!/mosquitto version \S+ running/.test(line)) return;
        canConnect(port).then((ok) => {
          if (ok) {
            done();
            resolve();
          } else fail(new Error('says running but refuses connections'));
        }, fail);
      };
      lineListeners.add(onLine);
      proc.once('exit', onExit);
      proc.once('error', onError);
    });
  }

  // A probed port can be taken before mosquitto binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    if (opts.port === undefined) port = await freePort();
    if (opts.websockets && (websocketPort === null || attempt > 1)) websocketPort = await freePort();
    try {
      await spawnBroker();
      break;
    } catch (err) {
      const portTaken = /Address already in use/.test(String(err));
      if (!portTaken || opts.port !== undefined || attempt >= 3) {
        if (ownDir) {
          tempDirs.delete(dir);
          await rm(dir, { recursive: true, force: true });
        }
        throw err;
      }
    }
  }

  const clientTlsArgs = () =>
    tls ? ['--cafile', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey] : [];

  async function stopBroker(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  const broker: Broker = {
    host: 'localhost',
    get port() {
      return port;
    },
    tls,
    certs,
    dir,
    logFile,
    get running() {
      return child !== undefined;
    },
    get websocketPort() {
      return websocketPort;
    },

    async subscriber(topicFilter: string): Promise<Subscriber> {
      if (!child) throw new Error('broker is not running');
      const id = `sub-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
      // The broker logs "<client id> <qos> <filter>" when it takes a subscription.
      const subscribed = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          lineListeners.delete(onLine);
          reject(new Error(`mosquitto_sub ${topicFilter}: no subscription after ${START_TIMEOUT_MS} ms`));
        }, START_TIMEOUT_MS);
        const onLine = (line: string) => {
          // Not the "New client connected ... as <id>" line: the subscription line ends with the filter.
          if (!line.includes(`: ${id} `) || !line.endsWith(` ${topicFilter}`)) return;
          clearTimeout(timer);
          lineListeners.delete(onLine);
          resolve();
        };
        lineListeners.add(onLine);
      });
      const proc = spawn(
        'mosquitto_sub',
        ['-h', 'localhost', '-p', String(port), '-V', 'mqttv5', '-q', '1', '-i', id, '-t', topicFilter,
          '-F', '%j', ...clientTlsArgs()],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      track(proc);
      let stderr = '';
      proc.stderr!.setEncoding('utf8');
      proc.stderr!.on('data', (s: string) => {
        if (stderr.length < 10_000) stderr += s;
      });
      const messages: Received[] = [];
      const waiters = new Set<(m: Received) => void>();
      onLines(proc.stdout!, (line) => {
        if (!line.trim()) return;
        let j: { topic: string; payload?: unknown; retain?: unknown; qos?: number };
        try {
          j = JSON.parse(line) as typeof j;
        } catch {
          j = { topic: '?', payload: line }; // kept, so that a test failure shows it
        }
        const m: Received = {
          topic: j.topic,
          payload: typeof j.payload === 'string' ? j.payload : JSON.stringify(j.payload ?? ''),
          retain: j.retain === true || j.retain === 1,
          qos: j.qos ?? 0,
        };
        messages.push(m);
        if (messages.length > MAX_MESSAGES) messages.shift();
        for (const w of waiters) w(m);
      });
      const exitedEarly = once(proc, 'exit').then(([code]) => {
        throw new Error(`mosquitto_sub exited with ${code}: ${stderr.trim()}`);
      });
      exitedEarly.catch(() => {});
      await Promise.race([subscribed, exitedEarly]);

      const sub: Subscriber = {
        messages,
        waitFor(predicate, timeoutMs = 30_000) {
          const found = messages.find(predicate);
          if (found) return Promise.resolve(found);
          return new Promise<Received>((resolve, reject) => {
            const waiter = (m: Received) => {
              if (!predicate(m)) return;
              clearTimeout(timer);
              waiters.delete(waiter);
              resolve(m);
            };
            const timer = setTimeout(() => {
              waiters.delete(waiter);
              const seen = messages.map((m) => `${m.topic} ${m.payload}`).join('\n  ');
              reject(new Error(`no matching message on ${topicFilter} in ${timeoutMs} ms; got:\n  ${seen}`));
            }, timeoutMs);
            waiters.add(waiter);
          });
        },
        async close() {
          subscribers.delete(sub);
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          const exited = once(proc, 'exit');
          proc.kill('SIGTERM');
          await exited;
        },
      };
      subscribers.add(sub);
      return sub;
    },

    subscribed(topicFilter, clientId, timeoutMs = 30_000) {
      // mosquitto logs "<client id> <qos> <filter>" when it takes a subscription.
      const matches = (line: string) => line.endsWith(` ${topicFilter}`) && (clientId === undefined || line.includes(`: ${clientId} `));
      if (logTail.some(matches)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          lineListeners.delete(onLine);
          reject(new Error(`no subscription to ${topicFilter} in ${timeoutMs} ms:\n${logTail.slice(-20).join('\n')}`));
        }, timeoutMs);
        const onLine = (line: string) => {
          if (!matches(line)) return;
          clearTimeout(timer);
          lineListeners.delete(onLine);
          resolve();
        };
        lineListeners.add(onLine);
      });
    },

    async publish(topic, payload, o = {}) {
      const args = ['-h', 'localhost', '-p', String(port), '-V', 'mqttv5', '-q', String(o.qos ?? 1),
        '-t', topic, '-m', payload, ...clientTlsArgs()];
      if (o.retain) args.push('-r');
      await new Promise<void>((resolve, reject) => {
        execFile('mosquitto_pub', args, { timeout: 30_000 }, (err, _out, stderr) => {
          if (err) reject(new Error(`mosquitto_pub ${topic}: ${stderr || err.message}`));
          else resolve();
        });
      });
    },

    async stop() {
      await Promise.all([...subscribers].map((s) => s.close()));
      await stopBroker();
    },

    async restart() {
      await Promise.all([...subscribers].map((s) => s.close()));
      await stopBroker();
      await spawnBroker();
    },
  };
  return broker;
}

/**
 * aws-crt frees a closed MQTT client only when its JS wrapper is garbage
 * collected, and until then the native callbacks keep the process alive. Tests
 * that used the SDK call this last so that their process can exit.
 */
export async function collectNativeClients(): Promise<void> {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await new Promise((resolve) => setImmediate(resolve)); // let pending callbacks drop their references
  gc();
}
