// Keeps the agent's view of the two logs current by reading only new bytes:
// rotated siblings are read once, the current file of each log folder is
// tailed with a LogCursor, and lines feed the same reducers `verify` uses.
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { LayoutConfig } from '../config/layout.js';
import { LogCursor } from '../observe/log-cursor.js';
import { classifyLine, type CompiledPatterns } from '../observe/log-lines.js';
import { findLogFiles, readLogLines, RuntimeLogReducer, ThingsGraphLogReducer } from '../observe/logs.js';
import type { RuntimeLogObservation, ThingsGraphLogObservation } from '../model/observation.js';

type Reducer = ThingsGraphLogReducer | RuntimeLogReducer;

interface LogFolder {
  dir: string;
  pattern: RegExp;
  reducer: Reducer;
  /** The tailed current file, once seen. */
  cursor?: LogCursor;
  files: Set<string>;
}

const posixRel = (root: string, p: string) => relative(root, p).split(sep).join('/');

/** True for the current file (no rotation suffix: the pattern's group 1 is empty). */
function isCurrent(name: string, pattern: RegExp): boolean {
  const m = pattern.exec(name);
  return m !== null && !m[1];
}

export class LogTracker {
  private readonly tg = new ThingsGraphLogReducer({ timeline: true });
  private readonly rt = new RuntimeLogReducer();
  private readonly folders = new Map<string, LogFolder>();
  /** Bytes read from logs since start: the benchmark's "cost per change". */
  bytesRead = 0;

  constructor(
    private readonly root: string,
    private readonly layout: LayoutConfig,
    private readonly patterns: CompiledPatterns,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The folders the watcher should cover. */
  watchPaths(): string[] {
    return [join(this.root, this.layout.userLogDir), join(this.root, this.layout.systemLogDir)];
  }

  /** Finds log folders (new regions appear at run time) and reads what is new in each. */
  async refresh(): Promise<void> {
    const tgPattern = new RegExp(this.layout.thingsGraphLogPattern);
    const base = join(this.root, this.layout.userLogDir);
    let regions: string[] = [];
    try {
      regions = (await readdir(base, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    } catch {
      /* no user logs yet */
    }
    for (const r of regions) this.folder(join(base, r, 'ThingsGraph'), tgPattern, this.tg);
    this.folder(join(this.root, this.layout.systemLogDir), new RegExp(this.layout.runtimeLogPattern), this.rt);
    for (const f of this.folders.values()) await this.readFolder(f);
  }

  /** A file under a log folder changed: read its folder's new lines. False when not a log. */
  async onChange(absPath: string): Promise<boolean> {
    const dir = dirname(absPath);
    const f = this.folders.get(dir);
    if (!f) {
      // A new region folder or its first log file: discover it.
      if (absPath.startsWith(join(this.root, this.layout.userLogDir) + sep)) {
        await this.refresh();
        return true;
      }
      return false;
    }
    if (!f.pattern.test(basename(absPath))) return false;
    await this.readFolder(f);
    return true;
  }

  private folder(dir: string, pattern: RegExp, reducer: Reducer): LogFolder {
    let f = this.folders.get(dir);
    if (!f) this.folders.set(dir, (f = { dir, pattern, reducer, files: new Set() }));
    return f;
  }

  private async readFolder(f: LogFolder): Promise<void> {
    const fallback = () => this.now().toISOString();
    const feed = (line: string, at?: string) => {
      const ev = classifyLine(line, this.patterns);
      if (ev) f.reducer.add(ev, at ?? fallback());
    };
    if (!f.cursor) {
      // First sight: rotated siblings once, oldest first, then tail the current file.
      let paths: string[] = [];
      try {
        paths = await findLogFiles(f.dir, f.pattern);
      } catch {
        return;
      }
      for (const p of paths) {
        f.files.add(posixRel(this.root, p));
        if (isCurrent(basename(p), f.pattern)) continue;
        await readLogLines(p, (line, mtimeMs) => feed(line, new Date(mtimeMs).toISOString()));
      }
      const current = paths.find((p) => isCurrent(basename(p), f.pattern));
      if (!current) return;
      f.cursor = new LogCursor(current);
    }
    const before = f.cursor.bytesRead;
    do {
      for (const line of await f.cursor.readNew()) feed(line);
    } while (f.cursor.hasMore);
    this.bytesRead += f.cursor.bytesRead - before;
    f.files.add(posixRel(this.root, f.cursor.path));
  }

  private filesOf(reducer: Reducer): string[] {
    return [...this.folders.values()].filter((f) => f.reducer === reducer).flatMap((f) => [...f.files]);
  }

  thingsGraphLog(): ThingsGraphLogObservation {
    return { files: this.filesOf(this.tg), ...this.tg.result() };
  }

  runtimeLog(): RuntimeLogObservation {
    return { files: this.filesOf(this.rt), ...this.rt.result() };
  }
}
