// What the logs say: pure reducers over classified lines, and the readers that
// find a core's log files (rotated siblings included) and stream them through.
import { open, readdir, lstat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { LayoutConfig } from '../config/layout.js';
import type { FlowActivity, FlowTimeline, RuntimeLogObservation, ThingsGraphLogObservation } from '../model/observation.js';
import { finding, type Finding } from '../model/findings.js';
export { compilePatterns } from './log-lines.js';
import { classifyLine, LineSplitter, MAX_LINE_BYTES, type CompiledPatterns, type LogEvent } from './log-lines.js';

export type ThingsGraphLogSummary = Omit<ThingsGraphLogObservation, 'files'> & { activity: FlowActivity };
export type RuntimeLogSummary = Omit<RuntimeLogObservation, 'files'>;

export const MAX_ERROR_LINES = 5;
/** Starts and failures kept per run: enough for any window at the cadences flows use. */
export const MAX_TIMELINE = 64;
export const MAX_FAILURE_TEXT = 256;
/** A hostile log could register endless URNs; the newest ones are kept. */
export const MAX_REGISTERED = 256;

function emptyActivity(): FlowActivity {
  return { executions: 0, transitionsSucceeded: 0, transitionsFailed: 0, errors: 0, warnings: 0, lastErrors: [] };
}

interface Stamp {
  at: string;
  bound: boolean;
}

// Times per run, newest MAX_TIMELINE of each kind; a bootstrap starts afresh.
class TimelineBuilder {
  private starts: Stamp[] = [];
  private failures: (Stamp & { text: string })[] = [];
  private bootstrapAt: Stamp | undefined;
  private registeredAt: Stamp | undefined;
  private initializedAt: Stamp | undefined;

  add(ev: LogEvent, stamp: Stamp | undefined): void {
    if (ev.kind === 'bootstrap') {
      this.starts = [];
      this.failures = [];
      this.registeredAt = undefined;
      this.initializedAt = undefined;
      this.bootstrapAt = stamp;
    }
    if (!stamp) return;
    if (ev.kind === 'registered') this.registeredAt ??= stamp;
    else if (ev.kind === 'initialized') this.initializedAt = stamp;
    else if (ev.kind === 'flowStart') push(this.starts, stamp);
    const failedStep = ev.kind === 'transition' && ev.outcome === 'failed';
    if (failedStep || ev.level === 'ERROR' || ev.level === 'FATAL') {
      const t = eventText(ev);
      push(this.failures, { ...stamp, text: t.length > MAX_FAILURE_TEXT ? `${t.slice(0, MAX_FAILURE_TEXT)}…` : t });
    }
  }

  result(): FlowTimeline {
    const out: FlowTimeline = {
      starts: this.starts.map((s) => s.at),
      failures: this.failures.map((f) => ({ at: f.at, text: f.text })),
      timesAreBounds: false,
    };
    const single = { bootstrapAt: this.bootstrapAt, registeredAt: this.registeredAt, initializedAt: this.initializedAt };
    for (const [k, v] of Object.entries(single) as [keyof typeof single, Stamp | undefined][]) if (v) out[k] = v.at;
    out.timesAreBounds = [...this.starts, ...this.failures, ...Object.values(single)].some((s) => s?.bound === true);
    return out;
  }
}

function push<T>(ring: T[], item: T): void {
  ring.push(item);
  if (ring.length > MAX_TIMELINE) ring.shift();
}

function eventText(ev: LogEvent): string {
  switch (ev.kind) {
    case 'error':
    case 'warn':
    case 'transition':
      return ev.text;
    case 'deploymentFailed':
      return ev.message;
    default:
      return ev.kind;
  }
}

/**
 * Folds ThingsGraph.log events, oldest first. A bootstrap starts a new runtime
 * run: registrations, initialisation and flow activity are about the newest run.
 */
export class ThingsGraphLogReducer {
  private bootstrapped = false;
  private initialized = false;
  private runtimeVersion: string | undefined;
  private registered: string[] = [];
  private lastBootstrapAt: string | undefined;
  private activity = emptyActivity();
  // A flowStart whose instance ID / type may still arrive on the next lines.
  private openStart = false;
  private readonly timeline: TimelineBuilder | undefined;

  /** `timeline`: also keep the times health needs (FlowActivity.timeline). */
  constructor(opts: { timeline?: boolean } = {}) {
    if (opts.timeline) this.timeline = new TimelineBuilder();
  }

  /** `fallbackTime`: for lines without a timestamp, an upper bound (the file's mtime). */
  add(ev: LogEvent, fallbackTime?: string): void {
    const at = ev.at ?? fallbackTime;
    if (this.timeline) this.timeline.add(ev, at === undefined ? undefined : { at, bound: ev.at === undefined });
    if (ev.level === 'ERROR' || ev.level === 'FATAL') {
      this.activity.errors++;
      this.activity.lastErrors.push(eventText(ev));
      if (this.activity.lastErrors.length > MAX_ERROR_LINES) this.activity.lastErrors.shift();
    } else if (ev.level === 'WARN') {
      this.activity.warnings++;
    }
    switch (ev.kind) {
      case 'bootstrap':
        this.bootstrapped = true;
        this.initialized = false;
        this.runtimeVersion = undefined;
        this.registered = [];
        this.lastBootstrapAt = at;
        this.activity = emptyActivity();
        this.openStart = false;
        break;
      case 'registered':
        if (!this.registered.includes(ev.urn)) {
          this.registered.push(ev.urn);
          if (this.registered.length > MAX_REGISTERED) this.registered.shift();
        }
        break;
      case 'initialized':
        this.initialized = true;
        if (ev.version !== undefined) this.runtimeVersion = ev.version;
        break;
      case 'flowStart':
        this.activity.executions++;
        this.activity.lastStartAt = at;
        this.activity.lastFlowInstanceId = ev.flowInstanceId;
        this.activity.lastFlowType = ev.flowType;
        this.openStart = !(ev.flowInstanceId && ev.flowType);
        break;
      case 'flowDetail': {
        if (!this.openStart) break;
        const a = this.activity;
        // A field seen twice means these lines belong to something else.
        if ((ev.flowInstanceId && a.lastFlowInstanceId) || (ev.flowType && a.lastFlowType)) {
          this.openStart = false;
          break;
        }
        if (ev.flowInstanceId) a.lastFlowInstanceId = ev.flowInstanceId;
        if (ev.flowType) a.lastFlowType = ev.flowType;
        this.openStart = !(a.lastFlowInstanceId && a.lastFlowType);
        break;
      }
      case 'transition':
        if (ev.outcome === 'succeeded') this.activity.transitionsSucceeded++;
        if (ev.outcome === 'failed') this.activity.transitionsFailed++;
        break;
      case 'trigger':
        this.activity.triggerExpression = ev.expression;
        break;
      default:
        break;
    }
    if (ev.kind !== 'flowStart' && ev.kind !== 'flowDetail') this.openStart = false;
  }

  /** Classifies and adds raw lines, e.g. those a LogCursor returned. */
  addLines(lines: Iterable<string>, patterns: CompiledPatterns, fallbackTime?: string): void {
    for (const line of lines) {
      const ev = classifyLine(line, patterns);
      if (ev) this.add(ev, fallbackTime);
    }
  }

  result(): ThingsGraphLogSummary {
    const a = this.activity;
    const activity: FlowActivity = { ...a, lastErrors: [...a.lastErrors] };
    for (const k of ['lastStartAt', 'lastFlowInstanceId', 'lastFlowType', 'triggerExpression'] as const) {
      if (activity[k] === undefined) delete activity[k];
    }
    if (this.timeline) activity.timeline = this.timeline.result();
    const out: ThingsGraphLogSummary = {
      bootstrapped: this.bootstrapped,
      initialized: this.initialized,
      registered: [...this.registered],
      activity,
    };
    if (this.runtimeVersion !== undefined) out.runtimeVersion = this.runtimeVersion;
    if (this.lastBootstrapAt !== undefined) out.lastBootstrapAt = this.lastBootstrapAt;
    return out;
  }
}

/** Folds runtime.log events, oldest first: the newest deployment mentioned wins. */
export class RuntimeLogReducer {
  private deploymentId: string | undefined;
  private failed: { deploymentId?: string; message: string; at?: string } | undefined;
  // The newest ID known when a failure without an ID was logged.
  private failedContext: string | undefined;

  add(ev: LogEvent, fallbackTime?: string): void {
    const at = ev.at ?? fallbackTime;
    if (ev.kind === 'deploymentFailed') {
      if (ev.id !== undefined) this.deploymentId = ev.id;
      this.failed = { message: ev.message };
      if (ev.id !== undefined) this.failed.deploymentId = ev.id;
      if (at !== undefined) this.failed.at = at;
      this.failedContext = ev.id ?? this.deploymentId;
    } else if (ev.kind === 'deploymentId') {
      this.deploymentId = ev.id;
      // A mention of another deployment after the failure means a newer one came along.
      if (this.failed && ev.id !== this.failedContext) {
        this.failed = undefined;
        this.failedContext = undefined;
      }
    }
  }

  result(): RuntimeLogSummary {
    const out: RuntimeLogSummary = {};
    if (this.deploymentId !== undefined) out.deploymentId = this.deploymentId;
    if (this.failed) out.deploymentFailed = { ...this.failed };
    return out;
  }
}

export function reduceThingsGraphLog(
  events: Iterable<LogEvent>,
  opts: { fallbackTime?: string; timeline?: boolean } = {},
): ThingsGraphLogSummary {
  const r = new ThingsGraphLogReducer({ timeline: opts.timeline === true });
  for (const ev of events) r.add(ev, opts.fallbackTime);
  return r.result();
}

export function reduceRuntimeLog(events: Iterable<LogEvent>, opts: { fallbackTime?: string } = {}): RuntimeLogSummary {
  const r = new RuntimeLogReducer();
  for (const ev of events) r.add(ev, opts.fallbackTime);
  return r.result();
}

// ---- I/O: finding and reading log files ----

interface LogFile {
  path: string;
  name: string;
  mtimeMs: number;
  current: boolean;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

// Numbered siblings (logrotate's .1 newest, .2 older) sort by number, highest
// (oldest) first; other suffixes (dates) sort as text.
function compareNames(a: string, b: string, pattern: RegExp): number {
  const sa = pattern.exec(a)?.[1] ?? '';
  const sb = pattern.exec(b)?.[1] ?? '';
  const na = /^\.?(\d+)$/.exec(sa);
  const nb = /^\.?(\d+)$/.exec(sb);
  if (na && nb) return Number(nb[1]) - Number(na[1]);
  return a < b ? -1 : a > b ? 1 : 0;
}

async function listLogFiles(dir: string, pattern: RegExp): Promise<LogFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  const files: LogFile[] = [];
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    try {
      // lstat: a symlink or a FIFO named like a log is not read.
      const st = await lstat(join(dir, name));
      if (!st.isFile()) continue;
      files.push({ path: join(dir, name), name, mtimeMs: st.mtimeMs, current: m[1] === undefined || m[1] === '' });
    } catch (err) {
      if (!isMissing(err)) throw err; // vanished after the listing: skip it
    }
  }
  files.sort((a, b) => {
    if (a.current !== b.current) return a.current ? 1 : -1;
    if (a.mtimeMs !== b.mtimeMs) return a.mtimeMs - b.mtimeMs;
    return compareNames(a.name, b.name, re);
  });
  return files;
}

/**
 * Log files in `dir` whose name matches `pattern`, oldest first: by mtime, then
 * by name, and the current file (no rotation suffix: group 1 empty) last.
 */
export async function findLogFiles(dir: string, pattern: RegExp): Promise<string[]> {
  return (await listLogFiles(dir, pattern)).map((f) => f.path);
}

const COMPRESSED = /\.(gz|bz2|xz|zst|zip|lz4)$/i;
const READ_CHUNK = 64 * 1024;

export type ReadResult = { state: 'read'; mtimeMs: number } | { state: 'vanished' } | { state: 'unreadable'; reason: string };

/**
 * Streams a file's complete lines to onLine with bounded memory. An unfinished
 * last line is left out: the writer may be in the middle of it, or a crash cut
 * it, and a half URN is worse than none. Reads no further than the size at open.
 */
export async function readLogLines(
  path: string,
  onLine: (line: string, mtimeMs: number) => void,
  opts: { maxLineBytes?: number } = {},
): Promise<ReadResult> {
  let fh;
  try {
    // O_NONBLOCK: a FIFO swapped in after the listing must not hang us.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if (isMissing(err)) return { state: 'vanished' };
    return { state: 'unreadable', reason: (err as Error).message };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { state: 'unreadable', reason: 'not a regular file' };
    const splitter = new LineSplitter(opts.maxLineBytes ?? MAX_LINE_BYTES);
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let pos = 0;
    while (pos < st.size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(READ_CHUNK, st.size - pos), pos);
      if (bytesRead === 0) break; // shrank while we read
      splitter.push(buf.subarray(0, bytesRead), (line) => onLine(line, st.mtimeMs));
      pos += bytesRead;
    }
    return { state: 'read', mtimeMs: st.mtimeMs };
  } catch (err) {
    // I/O errors (EIO, ...) make the file unreadable; anything else is a bug to surface.
    if (typeof (err as NodeJS.ErrnoException).code !== 'string') throw err;
    return { state: 'unreadable', reason: (err as Error).message };
  } finally {
    await fh.close();
  }
}

function toPosixRel(root: string, p: string): string {
  return relative(root, p).split(sep).join('/');
}

async function readInto(
  root: string,
  files: LogFile[],
  patterns: CompiledPatterns,
  add: (ev: LogEvent, fallbackTime: string) => void,
  maxLineBytes: number | undefined,
): Promise<{ files: string[]; findings: Finding[] }> {
  const read: string[] = [];
  const findings: Finding[] = [];
  for (const f of files) {
    if (COMPRESSED.test(f.name)) continue;
    let fallback: string | undefined;
    const res = await readLogLines(
      f.path,
      (line, mtimeMs) => {
        fallback ??= new Date(mtimeMs).toISOString();
        const ev = classifyLine(line, patterns);
        if (ev) add(ev, fallback);
      },
      maxLineBytes === undefined ? {} : { maxLineBytes },
    );
    const rel = toPosixRel(root, f.path);
    if (res.state === 'read') read.push(rel);
    else if (res.state === 'unreadable') findings.push(finding('FILE_UNREADABLE', `cannot read log: ${res.reason}`, { path: rel }));
  }
  return { files: read, findings };
}

export interface ReadLogOptions {
  maxLineBytes?: number;
  /** Receives FILE_UNREADABLE findings (unlistable folders, unreadable files). */
  findings?: Finding[];
  /** ThingsGraph.log only: fill FlowActivity.timeline (the times health needs). */
  timeline?: boolean;
}

export type ThingsGraphLogRead = ThingsGraphLogObservation & { activity: FlowActivity };

// Missing folders mean an empty observation; unreadable ones are worth a finding.
async function guarded<T>(root: string, dir: string, empty: T, findings: Finding[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isMissing(err)) {
      findings.push(finding('FILE_UNREADABLE', `cannot list logs: ${(err as Error).message}`, { path: toPosixRel(root, dir) }));
    }
    return empty;
  }
}

/**
 * Reads ThingsGraph.log and its rotated siblings from every
 * `<userLogDir>/<region>/ThingsGraph/`. With several regions, the region with
 * the newest file is read last, so its runtime run wins.
 */
export async function readThingsGraphLog(
  root: string,
  layout: LayoutConfig,
  patterns: CompiledPatterns,
  opts: ReadLogOptions = {},
): Promise<ThingsGraphLogRead> {
  const pattern = new RegExp(layout.thingsGraphLogPattern);
  const base = join(root, layout.userLogDir);
  const listFindings = opts.findings ?? [];
  const regions = await guarded(root, base, [] as string[], listFindings, async () =>
    (await readdir(base, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name),
  );
  const groups: { newest: number; region: string; files: LogFile[] }[] = [];
  for (const region of regions.sort()) {
    const dir = join(base, region, 'ThingsGraph');
    const files = await guarded(root, dir, [] as LogFile[], listFindings, () => listLogFiles(dir, pattern));
    if (files.length > 0) groups.push({ newest: Math.max(...files.map((f) => f.mtimeMs)), region, files });
  }
  groups.sort((a, b) => a.newest - b.newest || (a.region < b.region ? -1 : 1));
  const reducer = new ThingsGraphLogReducer({ timeline: opts.timeline === true });
  const { files, findings } = await readInto(
    root,
    groups.flatMap((g) => g.files),
    patterns,
    (ev, t) => reducer.add(ev, t),
    opts.maxLineBytes,
  );
  listFindings.push(...findings);
  return { files, ...reducer.result() };
}

/** Reads runtime.log and its rotated siblings from `<systemLogDir>/`. */
export async function readRuntimeLog(
  root: string,
  layout: LayoutConfig,
  patterns: CompiledPatterns,
  opts: ReadLogOptions = {},
): Promise<RuntimeLogObservation> {
  const dir = join(root, layout.systemLogDir);
  const listFindings = opts.findings ?? [];
  const list = await guarded(root, dir, [] as LogFile[], listFindings, () =>
    listLogFiles(dir, new RegExp(layout.runtimeLogPattern)),
  );
  const reducer = new RuntimeLogReducer();
  const { files, findings } = await readInto(root, list, patterns, (ev, t) => reducer.add(ev, t), opts.maxLineBytes);
  listFindings.push(...findings);
  return { files, ...reducer.result() };
}
