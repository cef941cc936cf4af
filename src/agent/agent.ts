// The live agent, wired from its parts: the core state (what we know about the
// core, and the one judge), the lifecycle (lifecycle.ts), the pending work
// (work-queue.ts), the watcher's supervisor (watch-supervisor.ts) and the
// schedules (schedule.ts). One full verification at start, then the verdict
// is kept current from file events, scheduled rescans, full rehashes and
// heartbeats, one piece of work at a time.
import type { Config } from '../config/config.js';
import { CoreState } from '../core-state/core-state.js';
import type { HealthProvider } from '../health/provider.js';
import type { Logger } from '../log.js';
import { finding, type Finding } from '../model/findings.js';
import type { Hasher } from '../observe/hash.js';
import { heartbeat } from '../report/protocol.js';
import type { ReportSink } from '../report/sink.js';
import { SequenceCounter } from '../state/sequence.js';
import type { Expectation } from '../verify/expectation.js';
import type { Report } from '../verify/report.js';
import { acceptsWork, Lifecycle, runsWork, type Phase } from './lifecycle.js';
import { cronScheduler, SCHEDULES, validateSchedules, type JobName, type ScheduledJob, type Scheduler } from './schedule.js';
import { WatchSupervisor, type WatcherLike, type WatchState } from './watch-supervisor.js';
import type { WatcherOptions } from './watcher.js';
import { WorkQueue, type Work } from './work-queue.js';

export interface AgentDeps {
  config: Config;
  logger: Logger;
  sink: ReportSink;
  hasher: Hasher;
  agentVersion: string;
  expectation?: Expectation | null;
  thing?: string | null;
  now?: () => Date;
  health?: HealthProvider;
  /** The kernel's watch limit; injectable so tests can lower it. */
  maxUserWatches?: () => Promise<number | null>;
  /** Reports waiting to be sent (for the health section). */
  spoolDepth?: () => number;
  /** Called when the agent cannot go on (repeated failures): the process should exit non-zero. */
  onFatal?: (err: Error) => void;
  /** Runs the cron schedules; node-cron by default. */
  scheduler?: Scheduler;
  /** Makes the file watcher; watcher.ts by default. */
  createWatcher?: (o: WatcherOptions) => WatcherLike;
}

export interface AgentStats {
  reports: number;
  heartbeats: number;
  batches: number;
  /** Full passes and rescans performed (start, schedule, overflow, re-watch). */
  passes: number;
  /** Verdicts asked for by something other than a change: the health timer, a request. */
  asked: number;
  bytesHashedByEvents: number;
  /** Bytes hashed by the newest event batch. */
  lastBatchBytes: number;
}

const MAX_BATCH_PATHS = 2000;
const MAX_CONSECUTIVE_FAILURES = 5;
/** How long stop() waits for work in flight (it sees the abort), never hanging on it. */
const STOP_WAIT_MS = 1000;

const within = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);


export class Agent {
  readonly stats: AgentStats = { reports: 0, heartbeats: 0, batches: 0, passes: 0, asked: 0, bytesHashedByEvents: 0, lastBatchBytes: 0 };
  private readonly now: () => Date;
  private readonly lifecycle = new Lifecycle();
  private readonly queue = new WorkQueue(MAX_BATCH_PATHS);
  private readonly core: CoreState;
  private readonly watch: WatchSupervisor;
  private readonly abort = new AbortController();
  private sequence: SequenceCounter | null = null;
  private jobs: ScheduledJob[] = [];
  private lastFingerprint: string | null = null;
  private lastReport: Report | null = null;
  private healthSection: unknown = undefined;
  private healthTimer: NodeJS.Timeout | null = null;
  /** Findings for the next report only (a rejected expectation). */
  private oneShot: Finding[] = [];
  /** Set once the first report is out: work asked for earlier waits for it. */
  private open = false;
  private draining: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  private failures = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly deps: AgentDeps) {
    this.now = deps.now ?? (() => new Date());
    const { config, logger } = deps;
    this.core = new CoreState({
      config, logger, hasher: deps.hasher, agentVersion: deps.agentVersion, now: this.now, signal: this.abort.signal,
      expectation: deps.expectation ?? null,
      ...(deps.thing !== undefined ? { thing: deps.thing } : {}),
      ...(deps.health ? { health: deps.health } : {}),
    });
    this.watch = new WatchSupervisor({
      paths: () => this.core.watchPaths(),
      canaryDir: config.stateDir,
      debounceMs: config.debounceMs,
      maxBatchPaths: MAX_BATCH_PATHS,
      watchBudget: config.watchBudget,
      rescanCron: config.rescanCron,
      logger,
      signal: this.abort.signal,
      ...(deps.maxUserWatches ? { maxUserWatches: deps.maxUserWatches } : {}),
      ...(deps.createWatcher ? { createWatcher: deps.createWatcher } : {}),
      onBatch: (b) =>
        this.ask(
          { kind: 'paths', paths: b.paths },
          ...(b.overflow ? [{ kind: 'scan', full: false } as const] : []),
          ...(b.rewatch ? [{ kind: 'rewatch' } as const] : []),
        ),
      onDegraded: () => {
        this.follow('degraded');
        this.ask({ kind: 'report', force: false, requestId: null });
      },
    });
  }

  get state(): Phase {
    return this.lifecycle.phase;
  }

  get report(): Report | null {
    return this.lastReport;
  }

  /**
   * Full verification, then watching and schedules. Resolves once the first
   * report is out, or quietly when stop() came first.
   */
  async start(): Promise<void> {
    this.starting = this.startInner().catch((err: unknown) => {
      if (!this.abort.signal.aborted) throw err;
    });
    return this.starting;
  }

  /** Verify against a new expectation and report, echoing its request ID. False once stopping. */
  setExpectation(e: Expectation | null, requestId: string | null = e?.requestId ?? null): boolean {
    if (!acceptsWork(this.state)) return false;
    this.core.expectation = e;
    return this.ask({ kind: 'report', force: true, requestId });
  }

  /**
   * Answers a request with a report judged by `e`, without holding the core to
   * it: the sender learns what it asked about, and the next report is judged by
   * the expectation held again. For an expectation older than the one held.
   */
  answerWith(e: Expectation, requestId: string | null = e.requestId ?? null): boolean {
    return this.ask({ kind: 'answer', answers: [{ expectation: e, requestId }] });
  }

  /**
   * An expectation arrived that cannot be used: answer with a report carrying
   * EXPECTATION_INVALID (once), and go on judging against the previous one.
   */
  rejectExpectation(reason: string, requestId: string | null): boolean {
    if (!acceptsWork(this.state)) return false;
    this.oneShot.push(finding('EXPECTATION_INVALID', `the expectation received cannot be used: ${reason}`));
    return this.ask({ kind: 'report', force: true, requestId });
  }

  /** Publish the current report at once (a `report/get`). False once stopping. */
  requestReport(requestId: string | null = null): boolean {
    return this.ask({ kind: 'report', force: true, requestId });
  }

  /**
   * The transport is (again) connected: the report goes out again, and a
   * (retained) heartbeat replaces the offline last will the broker may have
   * published. While starting, the first report is that report.
   */
  connected(): boolean {
    return this.ask({ kind: 'report', force: true, requestId: null }, { kind: 'heartbeat' });
  }

  /** Resolves when no work is pending or running. */
  idle(): Promise<void> {
    if (this.quiet()) return Promise.resolve();
    return new Promise((res) => this.idleWaiters.push(res));
  }

  async stop(): Promise<void> {
    if (!this.lifecycle.on('stop')) return;
    this.abort.abort();
    // A start in flight sees the abort and gives up; wait for it so it cannot leave a watcher behind.
    if (this.starting) await within(this.starting, STOP_WAIT_MS);
    for (const j of this.jobs) await j.cancel();
    this.jobs = [];
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.deps.health?.close?.();
    await this.watch.close();
    this.queue.clear();
    if (this.draining) await within(this.draining, STOP_WAIT_MS);
    // The next agent on this state folder must find both marks written.
    if (this.sequence) await within(this.sequence.close(), STOP_WAIT_MS);
    this.lifecycle.on('stopped');
    this.wakeIdle();
  }

  // ---- start ----

  private async startInner(): Promise<void> {
    const { config, logger } = this.deps;
    validateSchedules(config);
    this.sequence = await SequenceCounter.open(config.stateDir);
    await this.core.fullPass('start');
    const watching = await this.watch.start();
    // Stopped while starting: schedules made now would outlive the agent.
    if (this.abort.signal.aborted) return;
    const scheduler = this.deps.scheduler ?? cronScheduler();
    this.jobs = SCHEDULES.map(({ key, job }) => scheduler.every(job, config[key], () => this.onJob(job)));
    // A report asked for meanwhile (a connection, a request) is answered by this one.
    const asked = this.queue.takeKind('report');
    await this.emit({ force: true, requestId: asked?.requestId ?? null });
    if (this.abort.signal.aborted) return;
    this.follow(watching);
    this.open = true;
    logger.info('agent started', { state: this.state, root: config.root, status: this.lastReport?.status });
    this.kick();
  }

  private onJob(job: JobName): void {
    if (job === 'heartbeat') this.ask({ kind: 'heartbeat' });
    else this.ask({ kind: 'scan', full: job === 'full-rehash' });
  }

  /** The lifecycle follows the watcher. */
  private follow(w: WatchState): void {
    if (w === 'watching') this.lifecycle.on('watching');
    else if (w === 'degraded') this.lifecycle.on('degraded');
  }

  // ---- the work loop ----

  /** Queues work, all of it before any starts: what came together coalesces together. */
  private ask(...work: Work[]): boolean {
    if (!acceptsWork(this.state)) return false;
    for (const w of work) this.queue.add(w);
    this.kick();
    return true;
  }

  private quiet(): boolean {
    return !this.draining && (this.queue.size === 0 || !acceptsWork(this.state));
  }

  private kick(): void {
    if (!this.draining && this.open && runsWork(this.state) && this.queue.size > 0) {
      this.draining = this.drain().finally(() => {
        this.draining = null;
        this.kick();
      });
    }
    if (this.quiet()) this.wakeIdle();
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of w) wake();
  }

  private async drain(): Promise<void> {
    for (let w = this.queue.take(); w && runsWork(this.state); w = this.queue.take()) {
      try {
        await this.perform(w);
        this.failures = 0;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.failures += 1;
        this.deps.logger.error('verification step failed', { error: (err as Error).message, stack: (err as Error).stack, failures: this.failures });
        if (this.failures >= MAX_CONSECUTIVE_FAILURES) {
          this.deps.onFatal?.(err as Error);
          // Retrying the same failure forever helps no one: the owner restarts us.
          void this.stop();
          return;
        }
      }
    }
  }

  private async perform(w: Work): Promise<void> {
    switch (w.kind) {
      case 'scan':
        this.stats.passes += 1;
        await this.observing(() => this.core.fullPass(w.full ? 'full' : 'rescan'), w.full);
        return this.emit({ force: false, requestId: null });
      case 'paths': {
        this.stats.batches += 1;
        const b = await this.observing(() => this.core.applyBatch(w.paths), false);
        this.stats.bytesHashedByEvents += b.bytesHashed;
        this.stats.lastBatchBytes = b.bytesHashed;
        return this.emit({ force: false, requestId: null });
      }
      case 'rewatch':
        if (this.watch.state !== 'watching') return;
        this.follow(await this.watch.rewatch());
        // Whatever changed while no watcher was listening: a rescan (stat-trusting, cheap) finds it.
        this.queue.add({ kind: 'scan', full: false });
        return;
      case 'report':
        this.stats.asked += 1;
        return this.emit(w);
      case 'answer':
        for (const a of w.answers) await this.emit({ force: true, requestId: a.requestId, judgeBy: a.expectation });
        // The newest report on the wire must be the core's current word again.
        return this.emit({ force: true, requestId: null });
      case 'heartbeat':
        return this.beat();
    }
  }

  // ---- what the work does ----

  /**
   * A failed observation may have updated the state halfway, and the changes
   * it was to read are gone from the queue: look again.
   */
  private async observing<T>(work: () => Promise<T>, full: boolean): Promise<T> {
    try {
      return await work();
    } catch (err) {
      this.queue.add({ kind: 'scan', full });
      throw err;
    }
  }

  /** `judgeBy`: an answer judged by another expectation; it says nothing about the held verdict's changes. */
  private async emit(opts: { force: boolean; requestId: string | null; judgeBy?: Expectation }): Promise<void> {
    const spoolDepth = this.deps.spoolDepth?.();
    const watchFinding = this.watch.finding;
    const j = await this.core.judge({
      extra: [...(watchFinding ? [watchFinding] : []), ...(opts.judgeBy ? [] : this.oneShot.splice(0))],
      watcher: this.watch.state,
      ...(spoolDepth !== undefined ? { spoolDepth } : {}),
      ...(opts.judgeBy ? { expectation: opts.judgeBy } : {}),
    });
    this.healthSection = j.health;
    this.scheduleHealthCheck(j.nextCheckAt);
    if (!opts.force && j.fingerprint === this.lastFingerprint) return;
    if (this.abort.signal.aborted) return;
    const sequence = await this.sequence!.next();
    const report = j.report({ sequence, requestId: opts.requestId });
    this.lastReport = report;
    this.stats.reports += 1;
    this.deps.logger.info('report', { sequence, status: report.status, findings: report.findings.length });
    await this.deps.sink.report(report);
    // Only a report the sink took counts as said; a failed one goes out again at the next chance.
    if (!opts.judgeBy) this.lastFingerprint = j.fingerprint;
  }

  /** One timer for the moment the verdict would change by itself: no polling. */
  private scheduleHealthCheck(at: Date | undefined): void {
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.healthTimer = null;
    if (!at || this.abort.signal.aborted) return;
    const ms = Math.min(Math.max(0, at.getTime() - this.now().getTime()) + 50, 2 ** 31 - 1);
    this.healthTimer = setTimeout(() => this.ask({ kind: 'report', force: false, requestId: null }), ms);
    this.healthTimer.unref();
  }

  private async beat(): Promise<void> {
    // The watcher must still hear events; whatever changed while it was deaf, a rescan finds.
    if (await this.watch.check()) {
      this.follow(this.watch.state);
      this.queue.add({ kind: 'scan', full: false });
    }
    // Time-based health may have moved on: re-judge, report only if it changed.
    await this.emit({ force: false, requestId: null });
    this.core.noteHeartbeat(this.now());
    this.stats.heartbeats += 1;
    const thing = this.deps.thing ?? this.deps.config.thingName ?? this.lastReport?.thing ?? null;
    await this.deps.sink.heartbeat(heartbeat(this.lastReport, thing, this.now(), this.healthSection));
  }
}
