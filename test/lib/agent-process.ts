// The agent as a real child process: `node dist/src/cli/bin.js run ...` with
// its own environment. Collects the JSON log lines it writes (stderr when
// reports would go to stdout), with event-driven waits on them, and stops it
// with SIGTERM or SIGKILL. Every child started here is killed at process exit.
// Around it, what the service tests and the MQTT bench share: a simulated core
// whose flow keeps running, spool and sequence checks, and a slow nucleus.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { watch } from 'node:fs';
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCore, type CoreSpec, type MadeCore } from '../../scripts/simulated-core.js';
import { makeV2Core, type MadeV2Core, type V2CoreSpec } from '../../scripts/simulated-v2-root.js';
import { decodeFrame, FrameSplitter } from './ipc-frames.js';
import { onLines } from './lines.js';

/** dist/src/cli/bin.js, found from this file's place in dist/test/lib. */
export const AGENT_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/bin.js');
const FAULTY_RUN = resolve(dirname(fileURLToPath(import.meta.url)), 'faulty-run.js');

/** `run` (the arguments follow), SIGKILLed inside its n-th report spool write: the temp file durable, not yet renamed. */
export function killedInSpoolWrite(n: number): string[] {
  return [FAULTY_RUN, 'kill-in-spool-write', String(n), 'run'];
}

/** The Greengrass variables a test process may have inherited: a child gets them only when asked. */
const GREENGRASS_ENV = ['AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT', 'SVCUID', 'AWS_IOT_THING_NAME'];
const MAX_LINES = 5_000;

export interface LogLine {
  level: string;
  message: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Parsed JSON log lines, oldest first (the oldest dropped past a cap). */
  readonly logs: readonly LogLine[];
  /** Lines on stderr/stdout that are not JSON (usage errors, crashes). */
  readonly text: readonly string[];
  /** Resolves when the child has exited, however. */
  readonly exited: Promise<Exit>;
  readonly running: boolean;
  /** The first log line (already seen or still to come) that matches; rejects on timeout or exit. */
  waitForLog(predicate: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM, then wait for exit (SIGKILL after killAfterMs). */
  term(killAfterMs?: number): Promise<Exit>;
  /** SIGKILL, then wait for exit. */
  kill(): Promise<Exit>;
  /** SIGSTOP / SIGCONT: freeze the agent so it cannot act (e.g. reconnect) while a test sets the stage. */
  pause(): void;
  resume(): void;
  /** Everything collected so far, for assertion messages. */
  dump(): string;
}

export interface AgentProcessOptions {
  /** Arguments after `run`. */
  args: string[];
  /** What runs, up to `run` included: `deploy-witness run` by default. */
  command?: string[];
  /** Added to a copy of process.env without the Greengrass variables. */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});


export function startAgentProcess(opts: AgentProcessOptions): AgentProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of GREENGRASS_ENV) delete env[k];
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const child = spawn(process.execPath, [...(opts.command ?? [AGENT_BIN, 'run']), ...opts.args], {
    env,
    cwd: opts.cwd ?? process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const logs: LogLine[] = [];
  const text: string[] = [];
  let exit: Exit | undefined;

  const take = (line: string) => {
    if (!line.trim()) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    if (parsed && typeof parsed === 'object' && typeof (parsed as LogLine).level === 'string') {
      logs.push(parsed as LogLine);
      if (logs.length > MAX_LINES) logs.shift();
      bus.emit('log', parsed);
    } else {
      text.push(line);
      if (text.length > MAX_LINES) text.shift();
    }
  };
  onLines(child.stdout!, take);
  onLines(child.stderr!, take);

  const exited = new Promise<Exit>((res) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      exit = { code, signal };
      bus.emit('exit');
      res(exit);
    });
  });

  const dump = () =>
    [...logs.slice(-60).map((l) => JSON.stringify(l)), ...text.slice(-20)].join('\n');

  const proc: AgentProcess = {
    child,
    pid: child.pid ?? -1,
    logs,
    text,
    exited,
    get running() {
      return exit === undefined;
    },
    waitForLog(predicate, timeoutMs = 60_000) {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<LogLine>((res, rej) => {
        const cleanup = () => {
          clearTimeout(timer);
          bus.off('log', onLog);
          bus.off('exit', onExit);
        };
        const onLog = (l: LogLine) => {
          if (!predicate(l)) return;
          cleanup();
          res(l);
        };
        const onExit = () => {
          cleanup();
          rej(new Error(`agent exited (${JSON.stringify(exit)}) before the awaited log line; its output:\n${dump()}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          rej(new Error(`no matching agent log line in ${timeoutMs} ms; its output:\n${dump()}`));
        }, timeoutMs);
        bus.on('log', onLog);
        if (exit) onExit();
        else bus.on('exit', onExit);
      });
    },
    async term(killAfterMs = 15_000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const e = await exited;
      clearTimeout(timer);
      return e;
    },
    async kill() {
      if (exit) return exit;
      child.kill('SIGKILL');
      return exited;
    },
    pause() {
      if (!exit) child.kill('SIGSTOP');
    },
    resume() {
      if (!exit) child.kill('SIGCONT');
    },
    dump,
  };
  return proc;
}

/** Arguments for direct MQTT 5 against a broker with the test certificates. */
export function mqttArgs(b: { host: string; port: number; certs: { clientCert: string; clientKey: string; ca: string } }): string[] {
  return ['--endpoint', b.host, '--port', String(b.port), '--cert', b.certs.clientCert, '--key', b.certs.clientKey, '--ca', b.certs.ca];
}

/**
 * Resolves once check() on the names in dir holds, re-checking on every change
 * the kernel reports there (no polling); rejects after timeoutMs.
 */
export async function waitForDir(dir: string, check: (names: string[]) => boolean, timeoutMs = 60_000): Promise<string[]> {
  const list = () => readdir(dir).catch(() => [] as string[]);
  const first = await list();
  if (check(first)) return first;
  const watcher = watch(dir);
  try {
    return await new Promise<string[]>((res, rej) => {
      let busy = false;
      let again = false;
      const timer = setTimeout(() => rej(new Error(`${dir}: condition not met in ${timeoutMs} ms`)), timeoutMs);
      const recheck = async () => {
        if (busy) {
          again = true;
          return;
        }
        busy = true;
        do {
          again = false;
          const names = await list();
          if (check(names)) {
            clearTimeout(timer);
            res(names);
            return;
          }
        } while (again);
        busy = false;
      };
      watcher.on('change', () => void recheck());
      watcher.on('error', (err) => {
        clearTimeout(timer);
        rej(err);
      });
      void recheck(); // what changed between the first look and the watch
    });
  } finally {
    watcher.close();
  }
}

/** Spool entries of one kind in a state folder's spool. */
export async function spooled(stateDir: string, kind: 'report' | 'part' | 'heartbeat' | 'shadow'): Promise<string[]> {
  const names = await readdir(join(stateDir, 'spool')).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith(`.${kind}.json`)).sort();
}

/**
 * What a receiver may see of report sequences: each new one higher than any
 * before; a lower or equal one only as an exact resend (same sequence, same
 * payload). Returns the violations, empty when sound.
 */
export function sequenceProblems(payloads: readonly string[]): string[] {
  const seen = new Map<number, string>();
  let highest = -Infinity;
  const problems: string[] = [];
  for (const p of payloads) {
    const seq = (JSON.parse(p) as { sequence?: unknown }).sequence;
    if (typeof seq !== 'number') {
      problems.push(`no sequence in ${p.slice(0, 80)}`);
      continue;
    }
    if (seq > highest) {
      highest = seq;
      seen.set(seq, p);
    } else if (seen.get(seq) !== p) {
      problems.push(`sequence ${seq} after ${highest} is not an exact resend`);
    }
  }
  return problems;
}

/** SHA-256 of canonical JSON (keys sorted, no white space), written here independently of src/. */
export function canonicalSha256(doc: unknown): string {
  const canon = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
    }
    return JSON.stringify(v);
  };
  return createHash('sha256').update(canon(doc)).digest('hex');
}

/**
 * Appends a flow execution to ThingsGraph.log every intervalMs, as a running
 * Things Graph runtime does, so that a test longer than the flow window does
 * not see FLOW_NOT_RUNNING. Returns the stop function.
 */
export function keepFlowRunning(logFile: string, flowName: string, intervalMs = 10_000): () => void {
  let i = 0;
  const timer = setInterval(() => {
    const at = `[${new Date().toISOString()}]`;
    const text =
      `${at}[INFO]-FlowSchedulerClientGreengrassImpl: StartFlowExecution:\n` +
      `${at}[INFO]-flowInstanceId: ${flowName}-tick-${i++}\n` +
      `${at}[INFO]-flowType: urn:tdm:us-east-1/123456789012/default:workflow:${flowName}\n`;
    appendFile(logFile, text).catch(() => {}); // the core may be gone already
  }, intervalMs);
  return () => clearInterval(timer);
}

export interface DirectCore {
  core: MadeCore;
  dir: string;
  stateDir: string;
  /** The core thing in group.json: its own topics, client ID and retained messages. */
  thing: string;
  /** deploy-witness/<thing> */
  base: string;
  shadow: string;
  /** Agents started here, for stopping. */
  agents: AgentProcess[];
  /** `run` in direct mode against the broker, on this core and state folder (`command`: see AgentProcessOptions). */
  start(extra?: string[], env?: Record<string, string | undefined>, command?: string[]): AgentProcess;
  /** Stops the flow log writer and SIGTERMs every agent started here. */
  stop(): Promise<void>;
}

/** A simulated core whose flow keeps running, and a way to run the agent on it over direct MQTT. */
export async function directCore(opts: {
  dir: string;
  thing: string;
  broker: { host: string; port: number; certs: { clientCert: string; clientKey: string; ca: string } };
  /** `ids` may set any ID but the core thing, which is `thing`. */
  spec?: Omit<CoreSpec, 'root'>;
}): Promise<DirectCore> {
  const core = await makeCore({ ...opts.spec, ids: { ...opts.spec?.ids, coreThing: opts.thing }, root: join(opts.dir, 'root') });
  const stateDir = join(opts.dir, 'state');
  const stopFlow = keepFlowRunning(join(core.root, core.paths.thingsGraphLog), core.ids.flowName);
  const agents: AgentProcess[] = [];
  const base = `deploy-witness/${opts.thing}`;
  return {
    core,
    dir: opts.dir,
    stateDir,
    thing: opts.thing,
    base,
    shadow: `$aws/things/${opts.thing}/shadow/name/deploy-witness/update`,
    agents,
    start: starter(core.root, stateDir, opts.broker, agents),
    async stop() {
      stopFlow();
      for (const a of agents) await a.term();
    },
  };
}

/** Starts the agent on a root over direct MQTT to `broker`, keeping each process in `agents`. */
function starter(root: string, stateDir: string, broker: Parameters<typeof mqttArgs>[0], agents: AgentProcess[]): DirectCore['start'] {
  return (extra = [], env = {}, command) => {
    const a = startAgentProcess({
      args: ['--root', root, '--state', stateDir, '--hash-rate', '0', ...mqttArgs(broker), ...extra],
      env,
      ...(command ? { command } : {}),
    });
    agents.push(a);
    return a;
  };
}

export interface DirectV2Core extends Omit<DirectCore, 'core' | 'shadow'> {
  core: MadeV2Core;
}

/**
 * A simulated Greengrass v2 root (scripts/simulated-v2-root.ts) whose nucleus
 * knows the core as `thing`, and a way to run the agent on it over direct MQTT.
 */
export async function directV2Core(opts: {
  dir: string;
  thing: string;
  broker: { host: string; port: number; certs: { clientCert: string; clientKey: string; ca: string } };
  spec?: Omit<V2CoreSpec, 'root'>;
}): Promise<DirectV2Core> {
  const core = await makeV2Core({ ...opts.spec, ids: { ...opts.spec?.ids, thing: opts.thing }, root: join(opts.dir, 'root') });
  const stateDir = join(opts.dir, 'state');
  const agents: AgentProcess[] = [];
  return {
    core,
    dir: opts.dir,
    stateDir,
    thing: opts.thing,
    base: `deploy-witness/${opts.thing}`,
    agents,
    start: starter(core.root, stateDir, opts.broker, agents),
    async stop() {
      for (const a of agents) await a.term();
    },
  };
}

/** Sequences of the reports the agent says it made ('report' log lines), in order. */
export function loggedSequences(agent: AgentProcess): number[] {
  return agent.logs.filter((l) => l.message === 'report' && typeof l.sequence === 'number').map((l) => l.sequence as number);
}

/**
 * A Unix socket in front of the nucleus double that holds back the answers to
 * one IPC operation for delayMs (other frames pass at once): a slow nucleus,
 * to widen the window between a call and its answer.
 */
export async function slowNucleus(
  target: string,
  operation: string,
  delayMs: number,
): Promise<{ path: string; /** Resolves once no held answer is waiting. */ idle(): Promise<void>; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-slow-'));
  const path = join(dir, 'slow.socket');
  const sockets = new Set<Socket>();
  const bus = new EventEmitter();
  let held = 0;
  const server = createServer((client) => {
    const upstream = connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    const frames = new FrameSplitter();
    upstream.on('data', (chunk: Buffer) => {
      for (const raw of frames.push(chunk)) {
        const slow = decodeFrame(raw).strings['service-model-type'] === `aws.greengrass#${operation}Response`;
        const send = () => {
          if (!client.destroyed) client.write(raw);
        };
        if (!slow) {
          send();
          continue;
        }
        held += 1;
        setTimeout(() => {
          send();
          if (--held === 0) bus.emit('idle');
        }, delayMs);
      }
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(path, () => res());
  });
  return {
    path,
    idle: () => (held === 0 ? Promise.resolve() : new Promise<void>((res) => bus.once('idle', res))),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
