// What we know about a core now: the observation, the baseline it is judged
// against, the expectation, and the logs as read so far. Two ways to change
// it (a full pass, or a batch of changed paths applied incrementally) and one
// way to judge it: the verdict and the report are made here and nowhere else.
// `deploy-witness verify` is one full pass; the agent is a full pass, then
// batches. After any batch, the state equals what a fresh full pass over the
// same files would give (the property test holds it to that).
import { lstat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Config } from '../config/config.js';
import type { HealthProvider } from '../health/provider.js';
import type { Logger } from '../log.js';
import type { Baseline } from '../model/baseline.js';
import { digestsByPath } from '../model/digest.js';
import type { Finding } from '../model/findings.js';
import type { FileDigest, Observation } from '../model/observation.js';
import { insideRoot } from '../observe/files.js';
import type { Hasher } from '../observe/hash.js';
import { compilePatterns } from '../observe/log-lines.js';
import { CoreLogs } from '../observe/log-tail.js';
import { observe } from '../observe/observe.js';
import type { Expectation } from '../verify/expectation.js';
import { buildReport, type BaselineState, type Checks, type Report } from '../verify/report.js';
import { judge, type Verdict } from '../verify/verdict.js';
import { resolveBaseline, storedDigests } from './baseline-resolution.js';
import { applyChanges, planChanges } from './incremental.js';

/**
 * `start`: the first pass of a run; files unchanged (size, mtime, ctime, inode)
 * since the stored baseline are trusted. `rescan`: the same against the
 * current observation, logs read on from where they were. `full`: every byte
 * read again, logs included.
 */
export type PassKind = 'start' | 'rescan' | 'full';

export interface CoreStateOptions {
  config: Config;
  hasher: Hasher;
  agentVersion: string;
  expectation?: Expectation | null;
  /** The thing the reports speak for; by default the configured one, else group.json's core thing. */
  thing?: string | null;
  now?: () => Date;
  signal?: AbortSignal;
  /** Local health: its findings join the verdict, its section the report. */
  health?: HealthProvider;
  logger?: Logger;
}

export interface PassStats {
  filesHashed: number;
  bytesHashed: number;
}

export interface BatchStats {
  bytesHashed: number;
  /** The batch landed a new group version (or took group.json away): it was followed by a rescan. */
  rescanned: boolean;
}

export interface Judgement {
  verdict: Verdict;
  /** What the verdict says, in a form to compare: another fingerprint is news worth a report. */
  fingerprint: string;
  /** When the verdict would change with nothing new on disk (a flow window lapsing). */
  nextCheckAt?: Date;
  /** The health section, for heartbeats. */
  health?: unknown;
  /** The report of this judgement, numbered and answering a request (or none). */
  report(ctx: { sequence: number | null; requestId: string | null }): Report;
}

function fingerprint(v: Verdict, obs: Observation): string {
  const keys = v.findings
    .map((f) => `${f.code}|${f.path ?? ''}|${JSON.stringify(f.expected ?? null)}|${JSON.stringify(f.actual ?? null)}`)
    .sort();
  // A new group version landing is news even when it verifies as the last one did.
  const g = obs.group.state === 'ok' ? `${obs.group.definition.groupId}/${obs.group.definition.groupVersionId}` : obs.group.state;
  return `${v.status}\n${g}\n${keys.join('\n')}`;
}

// I/O findings in one order whatever the road that found them: a full walk and
// a batch meet the same unreadable files in different orders.
function byPlace(a: Finding, b: Finding): number {
  const k = (f: Finding) => [f.path ?? '', f.code, f.message];
  const [x, y] = [k(a), k(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return 0;
}

export class CoreState {
  private obs: Observation | null = null;
  private baselineNow: Baseline | null = null;
  private baselineState: BaselineState = 'none';
  private readonly logs: CoreLogs;
  private readonly checks: Omit<Checks, 'observedAt'> = {};
  private readonly now: () => Date;
  expectation: Expectation | null;

  constructor(private readonly opts: CoreStateOptions) {
    this.now = opts.now ?? (() => new Date());
    this.expectation = opts.expectation ?? null;
    const { root, layout, logPatterns } = opts.config;
    this.logs = new CoreLogs(root, layout, compilePatterns(logPatterns));
  }

  get observation(): Observation | null {
    return this.obs;
  }

  get baseline(): Baseline | null {
    return this.baselineNow;
  }

  /** The folders whose changes matter (absolute), none inside another. */
  watchPaths(): string[] {
    const { root, layout } = this.opts.config;
    const rel = [layout.deploymentDir, ...layout.flowSearchPaths, layout.thingsGraphDir];
    const abs = [...new Set([...rel.map((p) => join(root, p)), ...this.logs.watchPaths()])];
    // One watch each is enough: drop paths inside other watched paths.
    return abs.filter((p) => !abs.some((q) => q !== p && p.startsWith(q + sep)));
  }

  /** Records when the heartbeat ran (reports say when each kind of check last ran). */
  noteHeartbeat(at: Date): void {
    this.checks.lastHeartbeatAt = at.toISOString();
  }

  /** A whole observation, with the baseline of its group version. */
  async fullPass(kind: PassKind, opts: { onProgress?: (p: { files: number; bytes: number }) => void } = {}): Promise<PassStats> {
    const { config, hasher, signal } = this.opts;
    let previous: Map<string, FileDigest> | undefined;
    if (kind === 'start') previous = await storedDigests(config.root, config.layout, config.stateDir);
    else if (kind === 'rescan') previous = digestsByPath(this.obs?.tree.units ?? this.baselineNow?.units ?? []);
    if (kind === 'full') await this.logs.reread();
    else await this.logs.refresh();
    const started = this.now();
    const obs = await observe({
      root: config.root,
      layout: config.layout,
      logPatterns: config.logPatterns,
      archiveLimits: config.archiveLimits,
      hasher,
      now: this.now,
      trustUnchangedStat: kind !== 'full',
      logs: this.logs,
      ...(previous && previous.size > 0 ? { previous } : {}),
      ...(signal ? { signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const { baseline, state } = await resolveBaseline(config.stateDir, obs);
    const before = this.baselineNow;
    if (before && baseline && (baseline.groupId !== before.groupId || baseline.groupVersionId !== before.groupVersionId)) {
      this.opts.logger?.info('a new group version landed', { groupId: baseline.groupId, groupVersionId: baseline.groupVersionId });
    }
    obs.findings = this.ioFindings(obs.findings);
    this.obs = obs;
    this.baselineNow = baseline;
    this.baselineState = state;
    if (kind === 'full' || (kind === 'start' && !previous?.size)) this.checks.lastFullHashAt = started.toISOString();
    if (kind !== 'full') this.checks.lastRescanAt = started.toISOString();
    this.opts.logger?.debug('full pass', { kind, files: obs.tree.filesHashed, bytes: obs.tree.bytesHashed });
    return { filesHashed: obs.tree.filesHashed, bytesHashed: obs.tree.bytesHashed };
  }

  /**
   * Applies a batch of changed paths (absolute; paths outside the root are
   * ignored). Only what they touch is read again; a new group version is
   * followed by a rescan, since everything is new then.
   */
  async applyBatch(absPaths: Iterable<string>): Promise<BatchStats> {
    const { config, hasher, signal } = this.opts;
    this.checks.lastEventAt = this.now().toISOString();
    const obs = this.obs;
    if (!obs) throw new Error('applyBatch before the first full pass');
    const rel: string[] = [];
    let logsChanged = false;
    for (const abs of absPaths) {
      const r = insideRoot(config.root, abs);
      if (r === null) continue;
      if (this.logs.concerns(r)) logsChanged = true;
      else rel.push(r);
    }
    if (logsChanged) await this.logs.refresh();
    let bytesHashed = 0;
    if (rel.length > 0) {
      const folders = await this.foldersAmong(rel);
      const flowPlaces = obs.flowResources.flatMap((r) => [...(r.archive ? [r.archive.path] : []), ...(r.folder ? [r.folder] : [])]);
      const plan = planChanges(rel, config.layout, obs.tree.units.map((u) => u.path), flowPlaces, (p) => folders.has(p));
      const res = await applyChanges(obs, plan, rel, { config, hasher, now: this.now, ...(signal ? { signal } : {}) });
      bytesHashed = res.bytesHashed;
      if (res.groupVersionChanged) {
        // A deployment landed (or group.json went): everything is new, so look at everything.
        const pass = await this.fullPass('rescan');
        return { bytesHashed: bytesHashed + pass.bytesHashed, rescanned: true };
      }
    } else {
      obs.tree = { ...obs.tree, filesHashed: 0, bytesHashed: 0 };
    }
    obs.thingsGraphLog = this.logs.thingsGraphLog();
    obs.runtimeLog = this.logs.runtimeLog();
    obs.findings = this.ioFindings(obs.findings);
    obs.observedAt = this.now().toISOString();
    // The baseline laid down by an earlier pass is now compared with what followed.
    if (this.baselineState === 'created') this.baselineState = 'compared';
    return { bytesHashed, rescanned: false };
  }

  /**
   * Judges the state now. `extra`: findings from outside the core (the agent's
   * own state, a rejected expectation). `expectation`: judge by this one instead
   * of the one held, for an answer that must not change what the core is held to.
   */
  async judge(ctx: { extra?: Finding[]; watcher: string; spoolDepth?: number; expectation?: Expectation | null }): Promise<Judgement> {
    const obs = this.obs;
    if (!obs) throw new Error('judge before the first full pass');
    const now = this.now();
    const { health: provider, config } = this.opts;
    const health = provider
      ? await provider.evaluate(obs, now, { watcher: ctx.watcher, ...(ctx.spoolDepth !== undefined ? { spoolDepth: ctx.spoolDepth } : {}) })
      : undefined;
    const baseline = this.baselineNow;
    const expectation = ctx.expectation !== undefined ? ctx.expectation : this.expectation;
    const verdict = judge({ observation: obs, baseline, expectation, extra: [...(ctx.extra ?? []), ...(health?.findings ?? [])] });
    const report = buildReport(obs, verdict, expectation, {
      agentVersion: this.opts.agentVersion,
      thing: this.opts.thing ?? config.thingName ?? null,
      now,
      baseline: { state: this.baselineState, createdAt: baseline?.createdAt ?? null, treeDigest: baseline?.treeDigest ?? null },
      checks: { ...this.checks },
      ...(health ? { health: health.section } : {}),
    });
    return {
      verdict,
      fingerprint: fingerprint(verdict, obs),
      ...(health?.nextCheckAt ? { nextCheckAt: health.nextCheckAt } : {}),
      ...(health ? { health: health.section } : {}),
      report: ({ sequence, requestId }) => ({ ...report, sequence, requestId }),
    };
  }

  /** The log part first (read by the logs), then the rest in one order. */
  private ioFindings(findings: Finding[]): Finding[] {
    const rest = findings.filter((f) => !(f.path && this.logs.concerns(f.path)));
    return [...this.logs.findings(), ...rest.sort(byPlace)];
  }

  private async foldersAmong(rel: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const p of rel) {
      try {
        if ((await lstat(join(this.opts.config.root, p))).isDirectory()) out.add(p);
      } catch {
        /* gone: the plan treats it as such */
      }
    }
    return out;
  }
}

/** One verification, as `deploy-witness verify` runs it: a full pass (every byte read), judged. */
export async function verifyOnce(
  opts: CoreStateOptions & { requestId?: string | null; onProgress?: (p: { files: number; bytes: number }) => void },
): Promise<{ observation: Observation; baseline: Baseline | null; verdict: Verdict; report: Report }> {
  const state = new CoreState(opts);
  await state.fullPass('full', opts.onProgress ? { onProgress: opts.onProgress } : {});
  const j = await state.judge({ watcher: 'one pass' });
  return {
    observation: state.observation!,
    baseline: state.baseline,
    verdict: j.verdict,
    report: j.report({ sequence: null, requestId: opts.requestId ?? null }),
  };
}
