// One log line in, one event out. Pure: no I/O, patterns compiled once by the
// caller. Also the byte-level line splitter shared by the file readers, so
// that every reader caps line length the same way.
import type { LogPatterns } from '../config/layout.js';

/** Flow lines, for the flow health checks. Regex sources, like LogPatterns. */
export interface FlowPatterns {
  /** A flow execution starts; flowInstanceId/flowType may follow on later lines. */
  flowStart: string;
  /** Group 1 is the flow instance ID. */
  flowInstanceId: string;
  /** Group 1 is the flow type. */
  flowType: string;
  /** A state transition line; its outcome comes from the two patterns below. */
  transition: string;
  transitionSucceeded: string;
  transitionFailed: string;
  /** Group 1 is the trigger expression, e.g. "every 10 seconds". */
  trigger: string;
}

export const DEFAULT_FLOW_PATTERNS: FlowPatterns = {
  flowStart: 'FlowSchedulerClientGreengrassImpl:\\s*StartFlowExecution\\b',
  flowInstanceId: '\\bflowInstanceId"?\\s*[:=]\\s*"?([^\\s",;}\\]]+)',
  flowType: '\\bflowType"?\\s*[:=]\\s*"?([^\\s",;}\\]]+)',
  transition: '\\bStateTransition\\b',
  transitionSucceeded: '\\b(?:[Ss]ucceeded|SUCCEEDED|[Ss]uccess(?:ful)?|SUCCESS)\\b',
  transitionFailed: '\\b(?:[Ff]ailed|FAILED|[Ff]ailure|FAILURE)\\b',
  trigger: 'Trigger expression condition:\\s*\\[([^\\]]*)\\]',
};

export type CompiledPatterns = { readonly [K in keyof LogPatterns | keyof FlowPatterns]: RegExp };

export class LogPatternError extends Error {
  constructor(readonly key: string, reason: string) {
    super(`log pattern "${key}" ${reason}`);
    this.name = 'LogPatternError';
  }
}

// Keys whose group 1 carries the value the event needs.
const NEEDS_GROUP = new Set(['timestampPrefix', 'level', 'registered', 'deploymentId', 'flowInstanceId', 'flowType', 'trigger']);
// Matched at a fixed position (start of line, then right after the timestamp).
const STICKY = new Set(['timestampPrefix', 'level']);

function compileOne(key: string, source: unknown): RegExp {
  if (typeof source !== 'string') throw new LogPatternError(key, 'must be a string (a regular expression source)');
  let re: RegExp;
  try {
    re = new RegExp(source, STICKY.has(key) ? 'y' : '');
  } catch (err) {
    throw new LogPatternError(key, `is not a valid regular expression: ${(err as Error).message}`);
  }
  // A pattern that matches the empty string matches every line.
  if (new RegExp(source).test('')) throw new LogPatternError(key, 'matches an empty string, so it would match every line');
  if (NEEDS_GROUP.has(key)) {
    const groups = new RegExp(`${source}|`).exec('')!.length - 1;
    if (groups < 1) throw new LogPatternError(key, 'needs a capture group (group 1 is the value)');
  }
  return re;
}

/** Compiles and checks every pattern; throws LogPatternError naming the bad key. */
export function compilePatterns(p: LogPatterns, f: Partial<FlowPatterns> = {}): CompiledPatterns {
  const all: Record<string, unknown> = { ...DEFAULT_FLOW_PATTERNS, ...f, ...p };
  const keys = [
    'timestampPrefix', 'level', 'bootstrap', 'registered', 'initialized', 'deploymentId', 'deploymentFailed',
    ...(Object.keys(DEFAULT_FLOW_PATTERNS) as (keyof FlowPatterns)[]),
  ] as const;
  const out: Record<string, RegExp> = {};
  for (const k of keys) out[k] = compileOne(k, all[k]);
  return out as CompiledPatterns;
}

export type Level = 'INFO' | 'WARN' | 'ERROR' | 'DEBUG' | 'FATAL' | 'TRACE' | (string & {});

interface Base {
  /** ISO-8601 UTC time from the line's `[<timestamp>]` prefix, when present. */
  at?: string;
  level?: Level;
}

export type LogEvent = Base &
  (
    | { kind: 'bootstrap' }
    | { kind: 'registered'; urn: string }
    | { kind: 'initialized'; version?: string }
    | { kind: 'flowStart'; flowInstanceId?: string; flowType?: string }
    /** flowInstanceId/flowType on a line of its own: the reducer joins it to the preceding flowStart. */
    | { kind: 'flowDetail'; flowInstanceId?: string; flowType?: string }
    | { kind: 'transition'; outcome: 'succeeded' | 'failed' | 'other'; text: string }
    | { kind: 'trigger'; expression: string }
    | { kind: 'error'; text: string }
    | { kind: 'warn'; text: string }
    | { kind: 'deploymentId'; id: string }
    | { kind: 'deploymentFailed'; id?: string; message: string }
  );

export type LogEventKind = LogEvent['kind'];

/** Longest text an event keeps; a report needs the gist, not a 64 KiB line. */
export const MAX_EVENT_TEXT = 1024;

function clip(s: string): string {
  const t = s.trim();
  return t.length > MAX_EVENT_TEXT ? `${t.slice(0, MAX_EVENT_TEXT)}…` : t;
}

const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function toIso(raw: string): string | undefined {
  // The usual shape is already canonical; toISOString would cost more than the rest of the line.
  if (CANONICAL.test(raw)) return Number.isNaN(Date.parse(raw)) ? undefined : raw;
  // Greengrass writes UTC; a stamp without a zone is read as UTC, not local time.
  const withZone = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(raw) ? raw : `${raw}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

// URNs are followed by prose or JSON now and then; trailing punctuation is not part of them.
function trimValue(s: string): string {
  return s.replace(/[.,;:"')\]}]+$/, '');
}

function group1(re: RegExp, s: string): string | undefined {
  const m = re.exec(s);
  return m ? m[1] : undefined;
}

function flowIds(msg: string, p: CompiledPatterns): { flowInstanceId?: string; flowType?: string } {
  const ids: { flowInstanceId?: string; flowType?: string } = {};
  const id = group1(p.flowInstanceId, msg);
  const type = group1(p.flowType, msg);
  if (id) ids.flowInstanceId = trimValue(id);
  if (type) ids.flowType = trimValue(type);
  return ids;
}

// Object spread of a varying `base` is slow on hot paths; plain assignment is not.
function withBase<E extends LogEvent>(ev: E, base: Base): E {
  if (base.at !== undefined) ev.at = base.at;
  if (base.level !== undefined) ev.level = base.level;
  return ev;
}

/** Classifies one line (without its newline); null when it says nothing we track. */
export function classifyLine(line: string, p: CompiledPatterns): LogEvent | null {
  // BOM, NUL runs (left by a power cut on some file systems) and CR (CRLF files) are noise.
  let s = line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
  if (s.includes('\0')) s = s.replace(/\0+/g, '');
  if (s.endsWith('\r')) s = s.slice(0, -1);
  if (!/\S/.test(s)) return null;

  const base: Base = {};
  let pos = 0;
  p.timestampPrefix.lastIndex = 0;
  const ts = p.timestampPrefix.exec(s);
  if (ts) {
    const at = ts[1] !== undefined ? toIso(ts[1]) : undefined;
    if (at) base.at = at;
    pos = ts[0].length;
  }
  while (s[pos] === ' ' || s[pos] === '\t') pos++;
  p.level.lastIndex = pos;
  const lv = p.level.exec(s);
  if (lv) {
    const level = (lv[1] ?? '').toUpperCase();
    if (level) base.level = level === 'WARNING' ? 'WARN' : level;
    pos += lv[0].length;
  }
  const msg = s.slice(pos);

  if (p.deploymentFailed.test(msg)) {
    const id = group1(p.deploymentId, msg);
    const ev: LogEvent = { kind: 'deploymentFailed', message: clip(msg) };
    if (id) ev.id = id;
    return withBase(ev, base);
  }
  const depId = group1(p.deploymentId, msg);
  if (depId) return withBase({ kind: 'deploymentId', id: depId }, base);

  const urn = group1(p.registered, msg);
  if (urn) return withBase({ kind: 'registered', urn: trimValue(urn) }, base);

  const init = p.initialized.exec(msg);
  if (init) {
    const version = init[1] ? trimValue(init[1]) : undefined;
    return version ? withBase({ kind: 'initialized', version }, base) : withBase({ kind: 'initialized' }, base);
  }
  if (p.bootstrap.test(msg)) return withBase({ kind: 'bootstrap' }, base);

  if (p.flowStart.test(msg)) return withBase({ kind: 'flowStart', ...flowIds(msg, p) }, base);
  if (p.transition.test(msg)) {
    const outcome = p.transitionFailed.test(msg) ? 'failed' : p.transitionSucceeded.test(msg) ? 'succeeded' : 'other';
    return withBase({ kind: 'transition', outcome, text: clip(msg) }, base);
  }
  const trig = group1(p.trigger, msg);
  if (trig !== undefined) return withBase({ kind: 'trigger', expression: trig.trim() }, base);
  const ids = flowIds(msg, p);
  if (ids.flowInstanceId || ids.flowType) return withBase({ kind: 'flowDetail', ...ids }, base);

  if (base.level === 'ERROR' || base.level === 'FATAL') return withBase({ kind: 'error', text: clip(msg) }, base);
  if (base.level === 'WARN') return withBase({ kind: 'warn', text: clip(msg) }, base);
  return null;
}

const CADENCE_UNIT_MS: Record<string, number> = {
  ms: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

/**
 * The period of a trigger expression: "every 10 seconds", "every minute",
 * "rate(5 minutes)" -> milliseconds. Cron-like or unknown expressions -> null:
 * their next run is not a fixed period, so the caller falls back to its window.
 */
export function parseTriggerCadence(expression: string): number | null {
  const m = /^\s*(?:every\s+|rate\s*\(\s*)(?:(\d{1,9}(?:\.\d{1,6})?)\s*)?([a-z]+)\s*\)?\s*$/i.exec(expression);
  if (!m) return null;
  const unit = CADENCE_UNIT_MS[m[2]!.toLowerCase()];
  const n = m[1] === undefined ? 1 : Number(m[1]);
  if (unit === undefined || !(n > 0)) return null;
  const ms = Math.round(n * unit);
  return ms >= 1 ? ms : null;
}

/** Default cap on one line; the rest of an overlong line is dropped, never buffered. */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * Splits bytes into lines with bounded memory. Holds at most maxLineBytes of
 * an unfinished line; bytes past that are counted but dropped.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private total = 0;
  private skipping = false;

  constructor(private readonly maxLineBytes: number = MAX_LINE_BYTES) {}

  /** Bytes since the last newline (held or dropped): where the unfinished line began, counted back. */
  get pendingBytes(): number {
    return this.total;
  }

  /** Feeds bytes; `chunk` may be reused by the caller afterwards. */
  push(chunk: Uint8Array, onLine: (line: string, truncated: boolean) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.skipping) this.hold(chunk.subarray(start, end));
      this.total += end - start;
      if (nl === -1) return;
      if (this.skipping) this.skipping = false;
      else this.emit(onLine);
      this.reset();
      start = nl + 1;
    }
  }

  /** Emits the unfinished line, if any (the file is known to be complete). */
  flush(onLine: (line: string, truncated: boolean) => void): void {
    if (this.total > 0 && !this.skipping) this.emit(onLine);
    this.reset();
  }

  /** Drops everything up to the next newline (a reader that starts mid-line). */
  skipToNextLine(): void {
    this.reset();
    this.skipping = true;
  }

  reset(): void {
    this.parts = [];
    this.held = 0;
    this.total = 0;
    this.skipping = false;
  }

  private hold(bytes: Uint8Array): void {
    const room = this.maxLineBytes - this.held;
    if (room <= 0 || bytes.length === 0) return;
    const take = bytes.subarray(0, Math.min(room, bytes.length));
    this.parts.push(Buffer.from(take)); // a copy: the caller reuses its buffer
    this.held += take.length;
  }

  private emit(onLine: (line: string, truncated: boolean) => void): void {
    let line = (this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held)).toString('utf8');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    onLine(line, this.total > this.held);
  }
}
