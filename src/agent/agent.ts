// The live agent: one full verification at start, then the verdict is kept
// current from file events (only what changed is read again), scheduled
// rescans, full rehashes and heartbeats. Work runs one piece at a time through
// a small set of pending flags, so nothing queues without bound.
import { validate as validCron, schedule, type ScheduledTask } from 'node-cron';
import { join, relative, sep } from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import type { Hasher } from '../observe/hash.js';
import { compilePatterns } from '../observe/log-lines.js';
import { observe, readGroup } from '../observe/observe.js';
import type { FileDigest, Observation } from '../model/observation.js';
import { heartbeat } from '../report/protocol.js';
import type { ReportSink } from '../report/sink.js';
import type { Baseline } from '../model/baseline.js';
import { loadBaseline } from '../state/baseline.js';
import { SequenceCounter } from '../state/sequence.js';
import type { Expectation } from '../verify/expectation.js';
import { finding, type Finding } from '../model/findings.js';
import { buildReport, type Checks, type Report } from '../verify/report.js';
import { digestsByPath } from '../model/digest.js';
import type { HealthProvider } from '../health/provider.js';
import { judge, type Verdict } from '../verify/verdict.js';
import { applyChanges, planChanges } from './incremental.js';
import { LogTracker } from './log-tracker.js';
import { resolveBaseline } from './pass.js';
import { countWatches, maxUserWatches } from './watch-budget.js';
import { Watcher } from './watcher.js';

export type AgentState = 'starting' | 'watching' | 'degraded' | 'stopping' | 'stopped';

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
}

export interface AgentStats {
  reports: number;
  heartbeats: number;
  batches: number;
  bytesHashedByEvents: number;
  /** Bytes hashed by the newest event batch. */
  lastBatchBytes: number;
}

const MAX_BATCH_PATHS = 2000;
const MAX_CONSECUTIVE_FAILURES = 5;

function fingerprint(v: Verdict, obs: Observation): string {
  const keys = v.findings
    .map((f) => `${f.code}|${f.path ?? ''}|${JSON.stringify(f.expected ?? null)}|${JSON.stringify(f.actual ?? null)}`)
    .sort();
  // A new group version landing is news even when it verifies as the last one did.
  const g = obs.group.state === 'ok' ? `${obs.group.definition.groupId}/${obs.group.definition.groupVersionId}` : obs.group.state;
  return `${v.status}\n${g}\n${keys.join('\n')}`;
}

export function validateSchedules(config: Config): void {
  for (const key of ['heartbeatCron', 'rescanCron', 'fullRehashCron'] as const) {
    if (!validCron(config[key])) {
      throw new Error(`${key} "${config[key]}" is not a valid cron expression (e.g. "*/5 * * * *")`);
    }
  }
}

export class Agent {
  state: AgentState = 'starting';
  readonly stats: AgentStats = { reports: 0, heartbeats: 0, batches: 0, bytesHashedByEvents: 0, lastBatchBytes: 0 };
  private readonly now: () => Date;
  private readonly logs: LogTracker;
  private obs: Observation | null = null;
  private baseline: Baseline | null = null;
  private baselineState: 'created' | 'compared' | 'none' = 'none';
  private expectation: Expectation | null;
  private watcher: Watcher | null = null;
  private watchFinding: Finding | null = null;
  private tasks: ScheduledTask[] = [];
  private sequence: SequenceCounter | null = null;
  private lastFingerprint: string | null = null;
  private lastReport: Report | null = null;
  private readonly checks: Omit<Checks, 'observedAt'> = {};
  private healthSection: unknown = undefined;
  private healthFindings: Finding[] = [];
  private healthTimer: NodeJS.Timeout | null = null;
  /** Findings for the next report only (a rejected expectation). */
  private oneShot: Finding[] = [];
  private abort = new AbortController();

  // Pending work, drained one piece at a time by run().
  private pendingPaths = new Set<string>();
  private pendingOverflow = false;
  private pendingRescan: 'rescan' | 'full' | null = null;
  private pendingHeartbeat = false;
  private pendingReport: { force: boolean; requestId: string | null } | null = null;
  private running: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  private pendingRewatch = false;
  private failures = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly deps: AgentDeps) {
    this.now = deps.now ?? (() => new Date());
    this.expectation = deps.expectation ?? null;
    this.logs = new LogTracker(deps.config.root, deps.config.layout, compilePatterns(deps.config.logPatterns), this.now);
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

  private async startInner(): Promise<void> {
    const { config, logger } = this.deps;
    validateSchedules(config);
    this.sequence = await SequenceCounter.open(config.stateDir);
    await this.logs.refresh();
    await this.fullPass('start');
    await this.startWatching();
    // Stopped while starting: schedules made now would outlive the agent.
    if (this.abort.signal.aborted) return;
    this.tasks = [
      schedule(config.heartbeatCron, () => this.request({ heartbeat: true }), { name: 'heartbeat', noOverlap: true }),
      schedule(config.rescanCron, () => this.request({ rescan: 'rescan' }), { name: 'rescan', noOverlap: true }),
      schedule(config.fullRehashCron, () => this.request({ rescan: 'full' }), { name: 'full-rehash', noOverlap: true }),
    ];
    await this.judgeAndEmit({ force: true, requestId: null });
    logger.info('agent started', { state: this.state, root: config.root, status: this.lastReport?.status });
  }

  /** Verify against a new expectation and report, echoing its request ID. */
  setExpectation(e: Expectation | null, requestId: string | null = e?.requestId ?? null): void {
    this.expectation = e;
    this.request({ report: { force: true, requestId } });
  }

  /**
   * An expectation arrived that cannot be used: answer with a report carrying
   * EXPECTATION_INVALID (once), and go on judging against the previous one.
   */
  rejectExpectation(reason: string, requestId: string | null): void {
    this.oneShot.push(finding('EXPECTATION_INVALID', `the expectation received cannot be used: ${reason}`));
    this.request({ report: { force: true, requestId } });
  }

  /** Publish the current report at once (a `report/get`, a reconnection). */
  requestReport(requestId: string | null = null): void {
    this.request({ report: { force: true, requestId } });
  }

  /** Resolves when no work is pending or running (tests and the demo use it). */
  idle(): Promise<void> {
    if (!this.running && (!this.hasPending() || this.state === 'stopped')) return Promise.resolve();
    return new Promise((res) => this.idleWaiters.push(res));
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    this.abort.abort();
    // A start in flight sees the abort and gives up; wait for it so it cannot leave a watcher behind.
    if (this.starting) await Promise.race([this.starting.catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    for (const t of this.tasks) await t.destroy();
    this.tasks = [];
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.deps.health?.close?.();
    await this.watcher?.close();
    this.watcher = null;
    // Work in flight sees the abort; give it a moment, never hang on it.
    if (this.running) await Promise.race([this.running, new Promise((r) => setTimeout(r, 1000).unref())]);
    this.state = 'stopped';
  }

  // ---- work scheduling ----

  private hasPending(): boolean {
    return (
      this.pendingPaths.size > 0 || this.pendingOverflow || this.pendingRescan !== null || this.pendingHeartbeat ||
      this.pendingReport !== null || this.pendingRewatch
    );
  }

  private request(w: {
    paths?: Iterable<string>;
    overflow?: boolean;
    rescan?: 'rescan' | 'full';
    heartbeat?: boolean;
    report?: { force: boolean; requestId: string | null };
    rewatch?: boolean;
  }): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    if (w.rewatch) this.pendingRewatch = true;
    for (const p of w.paths ?? []) {
      if (this.pendingPaths.size >= MAX_BATCH_PATHS) this.pendingOverflow = true;
      else this.pendingPaths.add(p);
    }
    if (w.overflow) this.pendingOverflow = true;
    if (w.rescan) this.pendingRescan = this.pendingRescan === 'full' ? 'full' : w.rescan;
    if (w.heartbeat) this.pendingHeartbeat = true;
    if (w.report) {
      // Two requests before we get to them: one report answers both, with the newest request ID.
      this.pendingReport = {
        force: w.report.force || this.pendingReport?.force === true,
        requestId: w.report.requestId ?? this.pendingReport?.requestId ?? null,
      };
    }
    this.running ??= this.run().finally(() => {
      this.running = null;
      if (this.hasPending() && this.state !== 'stopping' && this.state !== 'stopped') this.request({});
      else {
        const w2 = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of w2) wake();
      }
    });
  }

  private async run(): Promise<void> {
    while (this.hasPending() && this.state !== 'stopping' && this.state !== 'stopped') {
      try {
        await this.step();
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

  private async step(): Promise<void> {
    if (this.pendingRescan || this.pendingOverflow) {
      // An overflow asks for a rescan; a full rehash asked for too must not be lost to it.
      const kind = this.pendingRescan === 'full' ? 'full' : 'rescan';
      this.pendingRescan = null;
      this.pendingOverflow = false;
      this.pendingPaths.clear(); // the rescan sees them all
      await this.observeOrRetry(() => this.fullPass(kind), kind);
      await this.judgeAndEmit({ force: false, requestId: null });
      return;
    }
    if (this.pendingPaths.size > 0) {
      const paths = this.pendingPaths;
      this.pendingPaths = new Set();
      await this.observeOrRetry(() => this.applyBatch(paths), 'rescan');
      await this.judgeAndEmit({ force: false, requestId: null });
      return;
    }
    if (this.pendingRewatch) {
      this.pendingRewatch = false;
      await this.rewatch();
      return;
    }
    if (this.pendingReport) {
      const r = this.pendingReport;
      this.pendingReport = null;
      await this.judgeAndEmit(r);
      return;
    }
    if (this.pendingHeartbeat) {
      this.pendingHeartbeat = false;
      await this.beat();
    }
  }

  /**
   * A failed observation may have updated the observation halfway, and the
   * changes it was to read are gone from the pending set: look again.
   */
  private async observeOrRetry(work: () => Promise<void>, kind: 'rescan' | 'full'): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.pendingRescan = this.pendingRescan === 'full' ? 'full' : kind;
      throw err;
    }
  }

  // ---- the work itself ----

  private previousDigests(): Map<string, FileDigest> {
    return digestsByPath(this.obs?.tree.units ?? this.baseline?.units ?? []);
  }

  /**
   * A whole observation. `start` and `rescan` trust files whose size, mtime,
   * ctime and inode are unchanged since the last digest (the stored baseline
   * at start); `full` reads every byte, at the configured rate cap.
   */
  private async fullPass(kind: 'start' | 'rescan' | 'full'): Promise<void> {
    const { config } = this.deps;
    if (kind === 'start') await this.loadStoredBaseline();
    const previous = kind === 'full' ? undefined : this.previousDigests();
    const started = this.now();
    const obs = await observe({
      root: config.root,
      layout: config.layout,
      logPatterns: config.logPatterns,
      archiveLimits: config.archiveLimits,
      hasher: this.deps.hasher,
      now: this.now,
      signal: this.abort.signal,
      trustUnchangedStat: kind !== 'full',
      ...(previous && previous.size > 0 ? { previous } : {}),
      logs: () => ({ thingsGraphLog: this.logs.thingsGraphLog(), runtimeLog: this.logs.runtimeLog() }),
    });
    await this.adopt(obs);
    if (kind === 'full' || (kind === 'start' && !previous?.size)) this.checks.lastFullHashAt = started.toISOString();
    if (kind === 'rescan' || kind === 'start') this.checks.lastRescanAt = started.toISOString();
    this.deps.logger.debug('full pass', { kind, files: obs.tree.filesHashed, bytes: obs.tree.bytesHashed });
  }

  /** At start, the stored baseline (if any) lets unchanged files skip hashing. */
  private async loadStoredBaseline(): Promise<void> {
    const g = await readGroup(this.deps.config.root, this.deps.config.layout);
    if (g.state !== 'ok') return;
    try {
      const got = await loadBaseline(this.deps.config.stateDir, g.definition.groupId, g.definition.groupVersionId);
      if (got.state === 'found') this.baseline = got.baseline;
    } catch {
      /* unsafe IDs or unreadable state: the pass itself will say so */
    }
  }

  /** Takes a fresh observation, with the baseline of its group version. */
  private async adopt(obs: Observation): Promise<void> {
    const { baseline, state } = await resolveBaseline(this.deps.config.stateDir, obs);
    const landed =
      this.baseline !== null && baseline !== null &&
      (baseline.groupId !== this.baseline.groupId || baseline.groupVersionId !== this.baseline.groupVersionId);
    if (landed) this.deps.logger.info('a new group version landed', { groupId: baseline.groupId, groupVersionId: baseline.groupVersionId });
    this.obs = obs;
    this.baseline = baseline;
    this.baselineState = state;
  }

  private async applyBatch(absPaths: Set<string>): Promise<void> {
    const { config } = this.deps;
    this.stats.batches += 1;
    this.checks.lastEventAt = this.now().toISOString();
    const root = config.root;
    const rel: string[] = [];
    for (const p of absPaths) {
      if (await this.logs.onChange(p)) continue;
      const r = relative(root, p).split(sep).join('/');
      if (r !== '' && !r.startsWith('..')) rel.push(r);
    }
    if (!this.obs) return;
    const obs = this.obs;
    if (rel.length === 0) {
      obs.thingsGraphLog = this.logs.thingsGraphLog();
      obs.runtimeLog = this.logs.runtimeLog();
      this.stats.lastBatchBytes = 0;
      return;
    }
    const flowPaths = obs.flowResources.flatMap((r) => (r.folder ? [r.folder] : []));
    const plan = planChanges(rel, config.layout, obs.tree.units.map((u) => u.path), flowPaths);
    const res = await applyChanges(obs, plan, { config, hasher: this.deps.hasher, now: this.now });
    obs.thingsGraphLog = this.logs.thingsGraphLog();
    obs.runtimeLog = this.logs.runtimeLog();
    this.stats.bytesHashedByEvents += res.bytesHashed;
    this.stats.lastBatchBytes = res.bytesHashed;
    if (res.groupVersionChanged) {
      // A deployment landed (or group.json went): everything is new, so look at everything.
      await this.fullPass('rescan');
    }
  }

  private async evaluateHealth(): Promise<void> {
    if (!this.deps.health || !this.obs) return;
    const spoolDepth = this.deps.spoolDepth?.();
    const h = await this.deps.health.evaluate(this.obs, this.now(), { watcher: this.state, ...(spoolDepth !== undefined ? { spoolDepth } : {}) });
    this.healthSection = h.section;
    this.healthFindings = h.findings;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.healthTimer = null;
    if (h.nextCheckAt) {
      // One timer for the moment the verdict would change by itself: no polling.
      const ms = Math.min(Math.max(0, h.nextCheckAt.getTime() - this.now().getTime()) + 50, 2 ** 31 - 1);
      this.healthTimer = setTimeout(() => this.request({ report: { force: false, requestId: null } }), ms);
      this.healthTimer.unref();
    }
  }

  private async judgeAndEmit(opts: { force: boolean; requestId: string | null }): Promise<void> {
    if (!this.obs) return;
    await this.evaluateHealth();
    const extra = [...(this.watchFinding ? [this.watchFinding] : []), ...this.healthFindings, ...this.oneShot.splice(0)];
    const verdict = judge({ observation: this.obs, baseline: this.baseline, expectation: this.expectation, extra });
    const fp = fingerprint(verdict, this.obs);
    if (!opts.force && fp === this.lastFingerprint) return;
    if (this.abort.signal.aborted) return;
    const sequence = await this.sequence!.next();
    const report = buildReport(this.obs, verdict, this.expectation, {
      agentVersion: this.deps.agentVersion,
      thing: this.deps.thing ?? this.deps.config.thingName ?? null,
      sequence,
      requestId: opts.requestId,
      now: this.now(),
      baseline: { state: this.baselineState, createdAt: this.baseline?.createdAt ?? null, treeDigest: this.baseline?.treeDigest ?? null },
      checks: { ...this.checks },
      ...(this.healthSection !== undefined ? { health: this.healthSection } : {}),
    });
    this.lastReport = report;
    this.stats.reports += 1;
    this.deps.logger.info('report', { sequence, status: report.status, findings: report.findings.length });
    await this.deps.sink.report(report);
    // Only a report the sink took counts as said; a failed one goes out again at the next chance.
    this.lastFingerprint = fp;
  }

  private async beat(): Promise<void> {
    await this.checkWatcher();
    // Time-based health may have moved on: re-judge, report only if it changed.
    await this.judgeAndEmit({ force: false, requestId: null });
    this.checks.lastHeartbeatAt = this.now().toISOString();
    this.stats.heartbeats += 1;
    const thing = this.deps.thing ?? this.deps.config.thingName ?? this.lastReport?.thing ?? null;
    await this.deps.sink.heartbeat(heartbeat(this.lastReport, thing, this.now(), this.healthSection));
  }

  // ---- watching ----

  private watchPaths(): string[] {
    const { root, layout } = this.deps.config;
    const rel = [layout.deploymentDir, ...layout.flowSearchPaths, layout.thingsGraphDir];
    const abs = [...new Set(rel.map((p) => join(root, p))), ...this.logs.watchPaths()];
    // Drop paths inside other watched paths: one watch each is enough.
    return abs.filter((p) => !abs.some((q) => q !== p && p.startsWith(q + sep)));
  }

  private async startWatching(): Promise<void> {
    const { config, logger } = this.deps;
    const kernel = await (this.deps.maxUserWatches ?? maxUserWatches)();
    const budget = Math.min(config.watchBudget, kernel ?? Number.MAX_SAFE_INTEGER);
    const paths = this.watchPaths();
    const needed = await countWatches(paths, budget);
    if (needed > budget) {
      this.degrade(`watching needs more than ${budget} inotify watches (budget ${config.watchBudget}, kernel ${kernel ?? 'unknown'}): falling back to scheduled scans (${config.rescanCron})`);
      return;
    }
    const watcher = new Watcher({
      paths,
      canaryDir: config.stateDir,
      debounceMs: config.debounceMs,
      maxWaitMs: Math.max(config.debounceMs * 4, 500),
      maxBatchPaths: MAX_BATCH_PATHS,
      onBatch: (b) => this.request({ paths: b.paths, overflow: b.overflow, rewatch: b.rewatch }),
      onError: (err) => {
        const code = (err as NodeJS.ErrnoException).code;
        logger.warn('watcher error', { error: err.message, code });
        if (code === 'ENOSPC' || code === 'EMFILE' || code === 'ENFILE') {
          this.degrade(`the file watcher failed (${code}): falling back to scheduled scans (${config.rescanCron})`);
          void this.watcher?.close();
          this.watcher = null;
          this.request({ report: { force: false, requestId: null } });
        }
      },
      logger,
    });
    try {
      await watcher.start();
      if (this.abort.signal.aborted) {
        await watcher.close(); // stop() came while chokidar was starting
        return;
      }
      this.watcher = watcher;
      this.watchFinding = null;
      this.state = 'watching';
    } catch (err) {
      await watcher.close();
      this.degrade(`the file watcher could not start (${(err as Error).message}): falling back to scheduled scans`);
    }
  }

  private degrade(why: string): void {
    if (this.abort.signal.aborted) return;
    this.deps.logger.warn('watching degraded', { reason: why });
    this.state = 'degraded';
    this.watchFinding = finding('WATCH_DEGRADED', why);
  }

  /**
   * A folder was renamed into place: chokidar may still watch the files of the
   * folder it replaced. A fresh watcher sees the new ones; a rescan (stat-trusting,
   * cheap) covers whatever changed while no watcher was listening.
   */
  private async rewatch(): Promise<void> {
    if (this.state !== 'watching' || !this.watcher) return;
    this.deps.logger.info('a folder was replaced; watching afresh');
    await this.watcher.close();
    this.watcher = null;
    await this.startWatching();
    this.request({ rescan: 'rescan' });
  }

  /** The watcher must still hear its canary; a deaf watcher is replaced, or we degrade. */
  private async checkWatcher(): Promise<void> {
    if (this.state !== 'watching' || !this.watcher) return;
    if (await this.watcher.isAlive()) return;
    this.deps.logger.warn('the file watcher stopped delivering events; restarting it');
    await this.watcher.close();
    this.watcher = null;
    await this.startWatching();
    if (this.watcher && !(await (this.watcher as Watcher).isAlive())) {
      await (this.watcher as Watcher).close();
      this.watcher = null;
      this.degrade('the file watcher delivers no events: falling back to scheduled scans');
    }
    // Whatever changed while it was deaf: a rescan finds it.
    this.request({ rescan: 'rescan' });
  }

  /** For tests: run the scheduled jobs now. */
  trigger(job: 'heartbeat' | 'rescan' | 'full'): void {
    if (job === 'heartbeat') this.request({ heartbeat: true });
    else this.request({ rescan: job });
  }
}
