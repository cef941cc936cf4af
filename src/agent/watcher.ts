// Watches every observed place with chokidar and hands over changed paths in
// coalesced batches: a deployment writing 500 files is one batch, not 500.
// Only folders are watched: a folder's inotify watch already reports every
// change to the files in it (chokidar passes them on as raw events), while a
// watch per file cost ~3 KB of heap and one inotify watch each (10,000 files:
// 32 MB and 10,000 of the user's watches). A canary proves now and then that
// events still arrive.
import { watch, type FSWatcher } from 'chokidar';
import { lstat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../state/atomic.js';

export interface WatcherOptions {
  /** Absolute paths to watch (missing ones are fine: chokidar picks them up when they appear). */
  paths: string[];
  /** Folder for the liveness canary (the agent's state folder). */
  canaryDir: string;
  /** Quiet time that ends a burst. */
  debounceMs: number;
  /** A burst is cut after this long even if events keep coming. */
  maxWaitMs: number;
  /** More distinct paths than this in one batch: report overflow and let the agent rescan. */
  maxBatchPaths: number;
  /**
   * `rewatch`: a folder was renamed into place (a whole folder replaced).
   * chokidar may keep watching the old folder's files then, so the owner
   * should start a fresh watcher.
   */
  onBatch: (batch: { paths: Set<string>; overflow: boolean; rewatch: boolean }) => void;
  onError: (err: Error) => void;
  logger: Logger;
}

export class Watcher {
  private fsw: FSWatcher | null = null;
  private pending = new Set<string>();
  private overflow = false;
  private rewatch = false;
  private debounce: NodeJS.Timeout | null = null;
  private maxWait: NodeJS.Timeout | null = null;
  private canaryWaiters: (() => void)[] = [];
  private readonly canary: string;

  private readonly canaryDir: string;

  constructor(private readonly opts: WatcherOptions) {
    this.canaryDir = resolve(join(opts.canaryDir, 'watch-canary'));
    this.canary = join(this.canaryDir, 'beat');
  }

  async start(): Promise<void> {
    await ensurePrivateDir(this.canaryDir);
    await writeFile(this.canary, String(Date.now()), { mode: PRIVATE_FILE_MODE });
    const fsw = watch([...this.opts.paths, this.canaryDir], {
      ignoreInitial: true,
      followSymlinks: false,
      persistent: true,
      // Folders only; their watches report the files (see the raw handler).
      ignored: (_path, stats) => stats?.isFile() === true,
      // We hash what we see; waiting for writes to settle would cost a second or more per change.
      awaitWriteFinish: false,
      atomic: false,
    });
    this.fsw = fsw;
    fsw.on('all', (_event, path) => this.onEvent(resolve(path)));
    // Every file event arrives raw from the watch on its folder: 'change' for
    // content and attributes, 'rename' for create, delete and move. Renames
    // also cover folder swaps chokidar misses (rename away, rename another in:
    // it sees the name still there and says nothing).
    fsw.on('raw', (event, name, details) => {
      if ((event !== 'rename' && event !== 'change') || !name || !this.fsw) return;
      const watched = (details as { watchedPath?: string } | undefined)?.watchedPath;
      if (!watched) return;
      const path = resolve(watched, name);
      if (resolve(watched) === this.canaryDir) {
        if (path === this.canary) this.onEvent(path);
        return;
      }
      this.onEvent(path);
      // A watched folder moved itself: its own name comes back on its own watch.
      if (event === 'rename' && basename(watched) === name) this.onEvent(resolve(watched));
      if (event !== 'rename') return;
      void lstat(path).then(
        (st) => {
          if (st.isDirectory() && this.fsw) {
            this.rewatch = true;
            this.onEvent(path);
          }
        },
        () => {}, // gone again: nothing new to watch
      );
    });
    fsw.on('error', (err) => this.opts.onError(err instanceof Error ? err : new Error(String(err))));
    await new Promise<void>((res) => fsw.once('ready', () => res()));
  }

  private onEvent(path: string): void {
    if (path === this.canary) {
      const w = this.canaryWaiters;
      this.canaryWaiters = [];
      for (const wake of w) wake();
      return;
    }
    if (this.pending.size >= this.opts.maxBatchPaths) this.overflow = true;
    else this.pending.add(path);
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.flush(), this.opts.debounceMs);
    this.maxWait ??= setTimeout(() => this.flush(), this.opts.maxWaitMs);
  }

  private flush(): void {
    if (this.debounce) clearTimeout(this.debounce);
    if (this.maxWait) clearTimeout(this.maxWait);
    this.debounce = this.maxWait = null;
    const batch = { paths: this.pending, overflow: this.overflow, rewatch: this.rewatch };
    this.pending = new Set();
    this.overflow = false;
    this.rewatch = false;
    if (batch.paths.size > 0 || batch.overflow) this.opts.onBatch(batch);
  }

  /** Touches the canary and waits for its event: false means the watcher has gone deaf. */
  async isAlive(timeoutMs = 5000): Promise<boolean> {
    if (!this.fsw) return false;
    const seen = new Promise<boolean>((res) => {
      const timer = setTimeout(() => res(false), timeoutMs);
      this.canaryWaiters.push(() => {
        clearTimeout(timer);
        res(true);
      });
    });
    await writeFile(this.canary, String(Date.now()), { mode: PRIVATE_FILE_MODE });
    return seen;
  }

  async close(): Promise<void> {
    if (this.debounce) clearTimeout(this.debounce);
    if (this.maxWait) clearTimeout(this.maxWait);
    this.debounce = this.maxWait = null;
    const fsw = this.fsw;
    this.fsw = null;
    for (const wake of this.canaryWaiters) wake();
    this.canaryWaiters = [];
    if (fsw) await fsw.close();
  }
}
