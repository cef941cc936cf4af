// The command line as a child process, measured: exit code, output, wall time
// and peak RSS (VmHWM, written by peak-rss-probe.ts as the child exits). A
// child still running after `deadlineMs` is killed, and the result says so:
// a hang is a failure to see, not a test that never ends.
import { spawn, type StdioOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onLines } from './lines.js';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = resolve(here, '../../src/cli/bin.js');
const PROBE = pathToFileURL(join(here, 'peak-rss-probe.js')).href;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** Peak resident set in MiB; NaN when the child died before it could say (killed). */
  peakRssMB: number;
  /** Killed at the deadline. */
  hung: boolean;
}

export interface CliOptions {
  /** Written to stdin, then closed; or a descriptor to use as stdin. Default: an empty, closed pipe. */
  stdin?: string | number | 'keep-open';
  deadlineMs?: number;
  env?: Record<string, string>;
  /** Run this script through `sh -c` (or bash), with SHELL_CMD (below) for the command line: pipes, `<(cmd)`. */
  shell?: string;
  interpreter?: 'sh' | 'bash';
  /** Run the child as this user and group (the test runs as root). */
  uid?: number;
  gid?: number;
  /** A command line the child runs under, e.g. setpriv with capabilities dropped. */
  prefix?: string[];
}

/** The command line inside a `shell` script. */
export const SHELL_CMD = '"$NODE" "$DW_BIN"';

export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-cli-'));
  const peakFile = join(dir, 'peak');
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...opts.env,
      NODE_OPTIONS: `--import=${PROBE}`,
      DW_TEST_PEAK_RSS_FILE: peakFile,
    };
    for (const k of ['AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT', 'SVCUID', 'AWS_IOT_THING_NAME']) delete env[k];
    const stdio: StdioOptions = [typeof opts.stdin === 'number' ? opts.stdin : 'pipe', 'pipe', 'pipe'];
    const as = opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {};
    // Another user must be able to write the peak-RSS file.
    if (opts.uid !== undefined) await chmod(dir, 0o777);
    const [cmd, ...pre] = [...(opts.prefix ?? []), process.execPath];
    const t0 = performance.now();
    const child = opts.shell
      ? spawn(opts.interpreter ?? 'sh', ['-c', opts.shell], { env: { ...env, NODE: process.execPath, DW_BIN: BIN }, stdio, ...as })
      : spawn(cmd!, [...pre, BIN, ...args], { env, stdio, ...as });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the child may stop reading early: that is what some tests check
      if (opts.stdin === undefined) child.stdin.end();
      else if (opts.stdin !== 'keep-open') child.stdin.end(opts.stdin);
    }
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, opts.deadlineMs ?? 20_000);
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
      child.on('error', rej);
      child.on('close', (c, s) => res({ code: c, signal: s }));
    });
    clearTimeout(timer);
    child.stdin?.destroy();
    const ms = performance.now() - t0;
    const kb = Number.parseInt(await readFile(peakFile, 'utf8').catch(() => ''), 10);
    return { code, signal, stdout, stderr, ms, peakRssMB: Number.isFinite(kb) ? kb / 1024 : NaN, hung };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Doc = Record<string, unknown>;

export interface CliProcess {
  /** JSON documents from stdout (reports, heartbeats) and stderr (log lines), in arrival order. */
  readonly docs: readonly Doc[];
  /** The first document at index `from` or later that matches; rejects on timeout or exit. */
  waitFor(pred: (d: Doc) => boolean, what: string, from?: number, timeoutMs?: number): Promise<{ doc: Doc; index: number }>;
  /** SIGTERM; resolves with the exit, the time it took and the peak RSS. */
  term(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stopMs: number; peakRssMB: number }>;
  dump(): string;
}

/** A long-running command (`run`) as a child, measured like runCli. */
export async function startCli(args: string[], opts: { env?: Record<string, string> } = {}): Promise<CliProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-cli-'));
  const peakFile = join(dir, 'peak');
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, NODE_OPTIONS: `--import=${PROBE}`, DW_TEST_PEAK_RSS_FILE: peakFile };
  for (const k of ['AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT', 'SVCUID', 'AWS_IOT_THING_NAME']) delete env[k];
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const docs: Doc[] = [];
  const text: string[] = [];
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const take = (line: string) => {
    try {
      const d = JSON.parse(line) as unknown;
      if (d && typeof d === 'object') {
        docs.push(d as Doc);
        bus.emit('doc');
        return;
      }
    } catch {
      /* not JSON */
    }
    if (line.trim()) text.push(line);
  };
  onLines(child.stdout!, take);
  onLines(child.stderr!, take);
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((res) =>
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal, at: performance.now() };
      bus.emit('exit');
      res(exitInfo);
    }),
  );
  const dump = () => [...docs.slice(-40).map((d) => JSON.stringify(d).slice(0, 400)), ...text.slice(-20)].join('\n');
  return {
    docs,
    dump,
    waitFor(pred, what, from = 0, timeoutMs = 20_000) {
      const find = () => {
        for (let i = from; i < docs.length; i++) if (pred(docs[i]!)) return { doc: docs[i]!, index: i };
        return undefined;
      };
      const now = find();
      if (now) return Promise.resolve(now);
      return new Promise((res, rej) => {
        const off = () => {
          clearTimeout(timer);
          bus.off('doc', check);
          bus.off('exit', onExit);
        };
        const check = () => {
          const hit = find();
          if (hit) {
            off();
            res(hit);
          }
        };
        const onExit = () => {
          off();
          rej(new Error(`exited (${JSON.stringify(exitInfo)}) before ${what}:\n${dump()}`));
        };
        const timer = setTimeout(() => {
          off();
          rej(new Error(`no ${what} within ${timeoutMs} ms:\n${dump()}`));
        }, timeoutMs);
        bus.on('doc', check);
        if (exitInfo) onExit();
        else bus.on('exit', onExit);
      });
    },
    async term() {
      const sent = performance.now();
      if (!exitInfo) child.kill('SIGTERM');
      const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const e = await exited;
      clearTimeout(guard);
      const kb = Number.parseInt(await readFile(peakFile, 'utf8').catch(() => ''), 10);
      await rm(dir, { recursive: true, force: true });
      return { code: e.code, signal: e.signal, stopMs: e.at - sent, peakRssMB: Number.isFinite(kb) ? kb / 1024 : NaN };
    },
  };
}
