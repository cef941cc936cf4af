// Reading a core's logs, once or as they grow. One road for both: a LogTail
// reads what log-discovery.ts names, and `verify` is simply a tail's first
// read (CoreLogs, fresh). Afterwards the tail reads only the new bytes of the current file
// (through a LogCursor); anything else (a rotation, a rotated file rewritten
// or gone, another region becoming the current one) makes it read the whole
// set again from the start, so that what it says always equals a fresh read of
// the same files. Rotations are rare; the full read they cost is bounded by
// the log files on disk, and streamed.
//
// Lines without a timestamp are dated by their file's mtime when they were
// read: an upper bound on when they were written. A tail reads lines soon
// after they are written, so its bounds are tighter than a one-shot read's;
// Greengrass v1 stamps every line, so this only matters for hand-made logs.
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import type { LayoutConfig } from '../config/layout.js';
import { finding, type Finding } from '../model/findings.js';
import type { RuntimeLogObservation, ThingsGraphLogObservation } from '../model/observation.js';
import { errorCode, isMissing } from './files.js';
import { LogCursor } from './log-cursor.js';
import { discoverRuntimeLogs, discoverThingsGraphLogs, sameRotatedFiles, type LogFile, type LogSet } from './log-discovery.js';
import { classifyLine, LineSplitter, MAX_LINE_BYTES, type CompiledPatterns, type LogEvent } from './log-lines.js';
import { RuntimeLogReducer, ThingsGraphLogReducer, type RuntimeLogSummary, type ThingsGraphLogSummary } from './logs.js';

const READ_CHUNK = 64 * 1024;

export type ReadResult =
  | { state: 'read'; mtimeMs: number }
  | { state: 'vanished' }
  | { state: 'unreadable'; reason: string; code?: string };

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
    // O_NONBLOCK: a FIFO must not hang us; O_NOFOLLOW: a link is not the log.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    if (isMissing(err)) return { state: 'vanished' };
    return { state: 'unreadable', reason: (err as Error).message, code: errorCode(err) };
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
    return { state: 'unreadable', reason: (err as Error).message, code: errorCode(err) };
  } finally {
    await fh.close();
  }
}

/** What a tail folds its lines into (the reducers of logs.ts). */
export interface LogReducer<S> {
  add(ev: LogEvent, fallbackTime?: string): void;
  result(): S;
}

export interface LogTailOptions<S> {
  discover: () => Promise<LogSet>;
  reducer: () => LogReducer<S>;
  patterns: CompiledPatterns;
  maxLineBytes?: number;
}

/** `code`: the error that stopped the read; none when the file is not one to read (a FIFO named like a log). */
const unreadable = (f: LogFile, reason: string, code?: string) =>
  finding('FILE_UNREADABLE', `cannot read log: ${reason}`, { path: f.rel, ...(code !== undefined ? { actual: code } : {}) });

/** One log (ThingsGraph.log or runtime.log, rotated siblings included), kept current. */
export class LogTail<S> {
  private set: LogSet | null = null;
  private reducer: LogReducer<S>;
  private cursor: LogCursor | null = null;
  private files: string[] = [];
  private readFindings: Finding[] = [];

  constructor(private readonly opts: LogTailOptions<S>) {
    this.reducer = opts.reducer();
  }

  /** Reads what is new: the current file's new lines, or everything again when the set of files changed otherwise. */
  async refresh(): Promise<void> {
    const set = await this.opts.discover();
    if (this.set && sameRotatedFiles(this.set, set) && (await this.tailCurrent(set))) {
      this.set = set;
      return;
    }
    await this.rebuild(set);
  }

  /** Reads every file again from its start. */
  async reread(): Promise<void> {
    await this.rebuild(await this.opts.discover());
  }

  /** What the files read say; `unreadable` names the places that could not be read, so their silence is not taken for an answer. */
  result(): S & { files: string[]; unreadable?: string[] } {
    const blind = [...new Set(this.findings().flatMap((f) => (f.path !== undefined ? [f.path] : [])))];
    return { files: [...this.files], ...this.reducer.result(), ...(blind.length > 0 ? { unreadable: blind } : {}) };
  }

  /** Folders that cannot be listed and files that cannot be read. */
  findings(): Finding[] {
    return [...(this.set?.findings ?? []), ...this.readFindings];
  }

  /** Only the current file may have grown. False when that cannot be told by reading on: the caller reads everything. */
  private async tailCurrent(set: LogSet): Promise<boolean> {
    const current = set.files.at(-1);
    if (!current?.current) return this.cursor === null;
    if (!current.regular) return false;
    const cursor = this.cursor;
    if (!cursor || cursor.path !== current.path) return false;
    const rotations = cursor.rotations;
    try {
      do {
        const lines = await cursor.readNew();
        // A rotation or truncation noticed: the lines of the old file must not be counted twice.
        if (cursor.rotations !== rotations || cursor.rotationsMissed > 0) return false;
        this.feed(this.reducer, lines, cursor.mtimeMs);
      } while (cursor.hasMore);
    } catch {
      return false; // unreadable now: a full read says so as a finding
    }
    return true;
  }

  private feed(reducer: LogReducer<S>, lines: Iterable<string>, mtimeMs: number | undefined): void {
    const fallback = mtimeMs === undefined ? undefined : new Date(mtimeMs).toISOString();
    for (const line of lines) {
      const ev = classifyLine(line, this.opts.patterns);
      if (ev) reducer.add(ev, fallback);
    }
  }

  private async rebuild(set: LogSet): Promise<void> {
    const reducer = this.opts.reducer();
    const files: string[] = [];
    const findings: Finding[] = [];
    const maxLineBytes = this.opts.maxLineBytes;
    let cursor: LogCursor | null = null;
    for (const f of set.files) {
      if (!f.regular) {
        findings.push(unreadable(f, 'not a regular file'));
        continue;
      }
      if (f.current) {
        const c = new LogCursor(f.path, maxLineBytes === undefined ? {} : { maxLineBytes });
        try {
          let seen = false;
          do {
            const lines = await c.readNew();
            seen ||= c.mtimeMs !== undefined;
            this.feed(reducer, lines, c.mtimeMs);
          } while (c.hasMore);
          if (seen) {
            files.push(f.rel);
            cursor = c;
          }
        } catch (err) {
          if (!isMissing(err)) findings.push(unreadable(f, (err as Error).message, errorCode(err)));
        }
        continue;
      }
      let fallback: string | undefined;
      const res = await readLogLines(
        f.path,
        (line, mtimeMs) => {
          fallback ??= new Date(mtimeMs).toISOString();
          const ev = classifyLine(line, this.opts.patterns);
          if (ev) reducer.add(ev, fallback);
        },
        maxLineBytes === undefined ? {} : { maxLineBytes },
      );
      if (res.state === 'read') files.push(f.rel);
      else if (res.state === 'unreadable') findings.push(unreadable(f, res.reason, res.code));
    }
    this.set = set;
    this.reducer = reducer;
    this.cursor = cursor;
    this.files = files;
    this.readFindings = findings;
  }
}

export function thingsGraphLogTail(root: string, layout: LayoutConfig, patterns: CompiledPatterns, opts: { maxLineBytes?: number; timeline?: boolean } = {}): LogTail<ThingsGraphLogSummary> {
  return new LogTail({
    discover: () => discoverThingsGraphLogs(root, layout),
    reducer: () => new ThingsGraphLogReducer({ timeline: opts.timeline === true }),
    patterns,
    ...(opts.maxLineBytes !== undefined ? { maxLineBytes: opts.maxLineBytes } : {}),
  });
}

export function runtimeLogTail(root: string, layout: LayoutConfig, patterns: CompiledPatterns, opts: { maxLineBytes?: number } = {}): LogTail<RuntimeLogSummary> {
  return new LogTail({
    discover: () => discoverRuntimeLogs(root, layout),
    reducer: () => new RuntimeLogReducer(),
    patterns,
    ...(opts.maxLineBytes !== undefined ? { maxLineBytes: opts.maxLineBytes } : {}),
  });
}

/** Both logs of a core, as the verifier reads them: ThingsGraph.log with the times health needs, and runtime.log. */
export class CoreLogs {
  private readonly tg: LogTail<ThingsGraphLogSummary>;
  private readonly rt: LogTail<RuntimeLogSummary>;
  private readonly dirs: string[];

  constructor(
    private readonly root: string,
    layout: LayoutConfig,
    patterns: CompiledPatterns,
  ) {
    this.tg = thingsGraphLogTail(root, layout, patterns, { timeline: true });
    this.rt = runtimeLogTail(root, layout, patterns);
    this.dirs = [layout.userLogDir, layout.systemLogDir];
  }

  /** The folders whose changes concern the logs (absolute). */
  watchPaths(): string[] {
    return this.dirs.map((d) => join(this.root, d));
  }

  /** True for a root-relative path at or under a log folder. */
  concerns(rel: string): boolean {
    return this.dirs.some((d) => rel === d || rel.startsWith(`${d}/`));
  }

  async refresh(): Promise<void> {
    await this.tg.refresh();
    await this.rt.refresh();
  }

  async reread(): Promise<void> {
    await this.tg.reread();
    await this.rt.reread();
  }

  thingsGraphLog(): ThingsGraphLogObservation {
    return this.tg.result();
  }

  runtimeLog(): RuntimeLogObservation {
    return this.rt.result();
  }

  findings(): Finding[] {
    return [...this.tg.findings(), ...this.rt.findings()];
  }
}
