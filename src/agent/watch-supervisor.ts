// Keeps a watcher running, or says why there is none. Before watching it
// counts the inotify watches it would need against the budget (every
// Greengrass component of the user shares the kernel's limit); it replaces a
// watcher that went deaf or watches a folder that was swapped out, and falls
// back to scheduled scans (WATCH_DEGRADED) when watching cannot work.
import type { Logger } from '../log.js';
import { finding, type Finding } from '../model/findings.js';
import { countWatches, maxUserWatches } from './watch-budget.js';
import { Watcher, type WatcherOptions } from './watcher.js';

export type WatchState = 'off' | 'watching' | 'degraded';

/** What the supervisor needs of a watcher (watcher.ts; a test may wrap it). */
export interface WatcherLike {
  start(): Promise<void>;
  /** False when events no longer arrive. */
  isAlive(): Promise<boolean>;
  close(): Promise<void>;
}

export interface WatchBatch {
  paths: Set<string>;
  overflow: boolean;
  rewatch: boolean;
}

export interface WatchSupervisorOptions {
  /** The folders to watch (absolute), asked afresh at each start. */
  paths: () => string[];
  canaryDir: string;
  debounceMs: number;
  maxBatchPaths: number;
  watchBudget: number;
  /** Named in the degradation message: what takes over. */
  rescanCron: string;
  logger: Logger;
  /** Aborted when the agent stops: a watcher started meanwhile is closed at once. */
  signal: AbortSignal;
  /** The kernel's watch limit; injectable so tests can lower it. */
  maxUserWatches?: () => Promise<number | null>;
  createWatcher?: (o: WatcherOptions) => WatcherLike;
  onBatch: (b: WatchBatch) => void;
  /** The watcher failed by itself (not in a call of ours): the state is now `degraded`. */
  onDegraded: () => void;
}

/** Errors that say the user's inotify capacity is used up: retrying cannot help. */
const CAPACITY = new Set(['ENOSPC', 'EMFILE', 'ENFILE']);

export class WatchSupervisor {
  private watcher: WatcherLike | null = null;
  private stateNow: WatchState = 'off';
  private degradedBecause: Finding | null = null;

  constructor(private readonly opts: WatchSupervisorOptions) {}

  get state(): WatchState {
    return this.stateNow;
  }

  /** WATCH_DEGRADED while not watching, for every verdict. */
  get finding(): Finding | null {
    return this.degradedBecause;
  }

  /** Starts watching, or degrades; resolves with the state it ends in. */
  async start(): Promise<WatchState> {
    const { opts } = this;
    const kernel = await (opts.maxUserWatches ?? maxUserWatches)();
    const budget = Math.min(opts.watchBudget, kernel ?? Number.MAX_SAFE_INTEGER);
    const paths = opts.paths();
    const needed = await countWatches(paths, budget);
    if (needed > budget) {
      return this.degrade(
        `watching needs more than ${budget} inotify watches (budget ${opts.watchBudget}, kernel ${kernel ?? 'unknown'}): falling back to scheduled scans (${opts.rescanCron})`,
      );
    }
    const wopts: WatcherOptions = {
      paths,
      canaryDir: opts.canaryDir,
      debounceMs: opts.debounceMs,
      maxWaitMs: Math.max(opts.debounceMs * 4, 500),
      maxBatchPaths: opts.maxBatchPaths,
      onBatch: (b) => opts.onBatch(b),
      onError: (err) => this.onError(watcher, err),
      logger: opts.logger,
    };
    const watcher = (opts.createWatcher ?? ((o) => new Watcher(o)))(wopts);
    try {
      await watcher.start();
    } catch (err) {
      await watcher.close();
      return this.degrade(`the file watcher could not start (${(err as Error).message}): falling back to scheduled scans`);
    }
    if (opts.signal.aborted) {
      await watcher.close(); // the agent stopped while chokidar was starting
      return this.stateNow;
    }
    this.watcher = watcher;
    this.degradedBecause = null;
    this.stateNow = 'watching';
    return this.stateNow;
  }

  /**
   * A folder was renamed into place: chokidar may still watch the files of the
   * folder it replaced. A fresh watcher sees the new ones.
   */
  async rewatch(): Promise<WatchState> {
    if (this.stateNow !== 'watching' || !this.watcher) return this.stateNow;
    this.opts.logger.info('a folder was replaced; watching afresh');
    await this.closeWatcher();
    return this.start();
  }

  /** The watcher must still hear its canary; a deaf one is replaced, or we degrade. True when it had to be replaced. */
  async check(): Promise<boolean> {
    if (this.stateNow !== 'watching' || !this.watcher) return false;
    if (await this.watcher.isAlive()) return false;
    this.opts.logger.warn('the file watcher stopped delivering events; restarting it');
    await this.closeWatcher();
    if ((await this.start()) === 'watching' && !(await this.watcher!.isAlive())) {
      await this.closeWatcher();
      this.degrade('the file watcher delivers no events: falling back to scheduled scans');
    }
    return true;
  }

  async close(): Promise<void> {
    await this.closeWatcher();
    this.stateNow = 'off';
  }

  private async closeWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = null;
    await w?.close();
  }

  private onError(from: WatcherLike, err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    this.opts.logger.warn('watcher error', { error: err.message, code });
    // Another error is logged only: chokidar goes on watching the rest.
    if (!code || !CAPACITY.has(code) || from !== this.watcher) return;
    this.degrade(`the file watcher failed (${code}): falling back to scheduled scans (${this.opts.rescanCron})`);
    void this.closeWatcher();
    this.opts.onDegraded();
  }

  private degrade(why: string): WatchState {
    if (this.opts.signal.aborted) return this.stateNow;
    this.opts.logger.warn('watching degraded', { reason: why });
    this.stateNow = 'degraded';
    this.degradedBecause = finding('WATCH_DEGRADED', why);
    return this.stateNow;
  }
}
