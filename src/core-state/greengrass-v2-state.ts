// What we know about a Greengrass v2 root now: its parts as last read (the
// deployment records, the component store, the tree, the archives, the two
// logs), the baseline of its deployment, the expectation. Changed the same two
// ways as the v1 state (a full pass, or a batch of changed paths re-reading
// only the parts they touch) and judged in one place. After any batch the
// observation equals what a fresh full pass over the same files gives: both
// roads assemble the parts with assembleGreengrassV2, and the property test
// (test/integration/core-state-v2-property.test.ts) holds them to it.
//
// What a changed path touches, under the v2 root:
//   deployments/...                      the deployment records, read again (three links, small files)
//   config/..., logs/...                 the logs, read on from where they were (log-tail.ts)
//   packages/recipes/...                 the store listing and every recipe, read again
//   packages/artifacts[-unarchived]/, <name>/, <name>/<version>
//                                        the listing (folders come and go), and the units of that version
//   deeper in a component version folder that unit, walked again: the changed paths hashed, the rest
//                                        trusted on unchanged size, mtime, ctime and inode
//   packages/, the v2 root or above it   everything (a rescan)
// An archive is inspected again only when its SHA-256 changed.
import { join, posix } from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import type { BaselineState } from '../model/baseline.js';
import { byUtf8, digestsByPath, treeDigest } from '../model/digest.js';
import { finding, type Finding } from '../model/findings.js';
import type { GreengrassV2Baseline, GreengrassV2Observation, ZipInspection } from '../model/greengrass-v2.js';
import type { FileDigest } from '../model/observation.js';
import { GreengrassV2Logs } from '../observe/greengrass-v2/logs.js';
import {
  assembleGreengrassV2,
  devicePlatform,
  inspectArchives,
  locateGreengrassV2,
  observeDeployments,
  observeStore,
  unitsOf,
  type GreengrassV2Parts,
  type GreengrassV2Site,
} from '../observe/greengrass-v2/observe.js';
import type { Hasher } from '../observe/hash.js';
import { hashTree } from '../observe/tree.js';
import { loadOrCreateV2Baseline, loadV2Baseline } from '../state/greengrass-v2-baseline.js';
import { baselineCandidate, baselineKey, judgeGreengrassV2 } from '../verify/greengrass-v2.js';
import type { GreengrassV2Expectation } from '../verify/greengrass-v2-expectation.js';
import { buildGreengrassV2Report, type Checks, type GreengrassV2Report } from '../verify/report.js';
import type { Verdict } from '../verify/verdict.js';
import type { PassKind } from './core-state.js';

export interface GreengrassV2StateOptions {
  config: Config;
  hasher: Hasher;
  agentVersion: string;
  expectation?: GreengrassV2Expectation | null;
  /** The thing the reports speak for; by default the configured one, else the nucleus's (config.tlog). */
  thing?: string | null;
  now?: () => Date;
  signal?: AbortSignal;
  logger?: Logger;
  /** The platform recipes are resolved for (this machine's by default). */
  platform?: { os: string; architecture: string };
}

export interface GreengrassV2Judgement {
  verdict: Verdict;
  fingerprint: string;
  report(ctx: { sequence: number | null; requestId: string | null }): GreengrassV2Report;
}

const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

function fingerprint(v: Verdict, obs: GreengrassV2Observation): string {
  const keys = v.findings
    .map((f) => `${f.code}|${f.path ?? ''}|${JSON.stringify(f.expected ?? null)}|${JSON.stringify(f.actual ?? null)}`)
    .sort();
  // A new deployment landing is news even when it verifies as the last one did.
  return `${v.status}\n${baselineKey(obs) ?? '-'}\n${keys.join('\n')}`;
}

/** What a batch touches (see the table at the top). */
interface V2Plan {
  all: boolean;
  deployments: boolean;
  logs: boolean;
  store: boolean;
  /** Root-relative paths that changed inside the store's artifact trees. */
  files: string[];
}

export class GreengrassV2State {
  readonly layout = 'greengrass-v2' as const;
  expectation: GreengrassV2Expectation | null;
  private site: GreengrassV2Site | null = null;
  private logs: GreengrassV2Logs | null = null;
  private parts: GreengrassV2Parts | null = null;
  private obs: GreengrassV2Observation | null = null;
  private baselineNow: GreengrassV2Baseline | null = null;
  private baselineState: BaselineState = 'none';
  private baselineFindings: Finding[] = [];
  private readonly checks: Omit<Checks, 'observedAt'> = {};
  private readonly now: () => Date;
  private readonly platform: { os: string; architecture: string };

  constructor(private readonly opts: GreengrassV2StateOptions) {
    this.now = opts.now ?? (() => new Date());
    this.expectation = opts.expectation ?? null;
    this.platform = opts.platform ?? devicePlatform();
  }

  get observation(): GreengrassV2Observation | null {
    return this.obs;
  }

  get baseline(): GreengrassV2Baseline | null {
    return this.baselineNow;
  }

  /** The v2 root read (root-relative), once a pass found it. */
  get v2Root(): string | null {
    return this.site?.v2Root ?? null;
  }

  /** The folders whose changes matter (absolute): the v2 root's deployments/, packages/, config/ and logs/. */
  watchPaths(): string[] {
    const { root, greengrassV2 } = this.opts.config;
    const site = this.site ?? { nucleus: 'java' as const, v2Root: posix.normalize(greengrassV2.rootPath) };
    const dirs = site.nucleus === 'java' ? ['deployments', 'packages'] : ['packages'];
    return [...dirs.map((d) => join(root, site.v2Root, d)), ...(this.logs?.watchPaths() ?? [])];
  }

  /** A root-relative path this layout must hear about: inside the v2 root, or a folder above it. */
  concerns(rel: string): boolean {
    const v2 = this.site?.v2Root ?? posix.normalize(this.opts.config.greengrassV2.rootPath);
    return under(rel, v2) || under(v2, rel);
  }

  noteHeartbeat(at: Date): void {
    this.checks.lastHeartbeatAt = at.toISOString();
  }

  /** Every part read again; `start` and `rescan` trust files whose stat is unchanged, `full` reads every byte. */
  async fullPass(kind: PassKind, opts: { onProgress?: (p: { files: number; bytes: number }) => void } = {}): Promise<{ filesHashed: number; bytesHashed: number }> {
    const { config, hasher, signal } = this.opts;
    const started = this.now();
    const site = await locateGreengrassV2(config.root, config.greengrassV2, 'auto');
    if (!this.logs || !this.site || this.site.v2Root !== site.v2Root || this.site.nucleus !== site.nucleus) {
      this.logs = new GreengrassV2Logs(config.root, site.v2Root, site.nucleus, config.greengrassV2);
    }
    this.site = site;
    if (kind === 'full') await this.logs.reread();
    else await this.logs.refresh();
    const deployments = await observeDeployments(config.root, site);
    const store = await observeStore(config.root, site);
    let previous: Map<string, FileDigest> | undefined;
    if (kind === 'rescan' && this.parts) previous = digestsByPath(this.parts.tree.units);
    else if (kind === 'start') previous = await this.storedDigests(deployments, store);
    const { tree, findings: treeFindings } = await hashTree(config.root, unitsOf(store.components, store.orphanFolders, store.strayEntries), {
      hasher,
      ...(previous && previous.size > 0 ? { previous } : {}),
      trustUnchangedStat: kind !== 'full',
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(signal ? { signal } : {}),
    });
    const archives = await inspectArchives(config.root, store.components, tree.units, {
      limits: config.archiveLimits,
      ...(kind !== 'full' && this.obs ? { previousArchives: this.archivesByPath() } : {}),
      ...(hasher.limiter ? { limiter: hasher.limiter } : {}),
      ...(signal ? { signal } : {}),
    });
    this.parts = { site, deployments, store, tree, treeFindings, archives };
    await this.assemble();
    if (kind === 'full' || (kind === 'start' && !previous?.size)) this.checks.lastFullHashAt = started.toISOString();
    if (kind !== 'full') this.checks.lastRescanAt = started.toISOString();
    this.opts.logger?.debug('full pass', { layout: this.layout, kind, files: tree.filesHashed, bytes: tree.bytesHashed });
    return { filesHashed: tree.filesHashed, bytesHashed: tree.bytesHashed };
  }

  /** Applies a batch of changed root-relative paths: only the parts they touch are read again. */
  async applyBatch(rel: readonly string[]): Promise<{ bytesHashed: number; rescanned: boolean }> {
    const { config, hasher, signal } = this.opts;
    this.checks.lastEventAt = this.now().toISOString();
    const parts = this.parts;
    const logs = this.logs;
    if (!parts || !logs) throw new Error('applyBatch before the first full pass');
    const plan = this.plan(rel, parts.site, logs);
    if (plan.all) {
      const pass = await this.fullPass('rescan');
      return { bytesHashed: pass.bytesHashed, rescanned: true };
    }
    if (plan.logs) await logs.refresh();
    if (plan.deployments) parts.deployments = await observeDeployments(config.root, parts.site);
    let bytesHashed = 0;
    if (plan.store || plan.files.length > 0) {
      if (plan.store) parts.store = await observeStore(config.root, parts.site);
      const wanted = unitsOf(parts.store.components, parts.store.orphanFolders, parts.store.strayEntries);
      const have = new Map(parts.tree.units.map((u) => [u.path, u]));
      // A unit is walked again when it is new, or a changed path lies in it (or above it).
      const touched = wanted.filter((u) => !have.has(u) || plan.files.some((p) => under(p, u) || under(u, p)));
      const previous = digestsByPath(parts.tree.units.filter((u) => touched.includes(u.path)));
      for (const p of previous.keys()) if (plan.files.some((c) => under(p, c))) previous.delete(p);
      const fresh = touched.length > 0
        ? await hashTree(config.root, touched, { hasher, previous, trustUnchangedStat: true, ...(signal ? { signal } : {}) })
        : null;
      const keep = new Set(wanted);
      const units = new Map([...have].filter(([p]) => keep.has(p)));
      for (const u of fresh?.tree.units ?? []) units.set(u.path, u);
      const list = [...units.values()].sort((a, b) => byUtf8(a.path, b.path));
      const gone = (f: Finding) => f.path !== undefined && ([...touched].some((u) => under(f.path!, u)) || !wanted.some((u) => under(f.path!, u)));
      parts.treeFindings = [...parts.treeFindings.filter((f) => !gone(f)), ...(fresh?.findings ?? [])];
      bytesHashed = fresh?.tree.bytesHashed ?? 0;
      parts.tree = { units: list, treeDigest: treeDigest(list), filesHashed: fresh?.tree.filesHashed ?? 0, bytesHashed };
      parts.archives = await inspectArchives(config.root, parts.store.components, parts.tree.units, {
        limits: config.archiveLimits,
        previousArchives: this.archivesByPath(),
        ...(hasher.limiter ? { limiter: hasher.limiter } : {}),
        ...(signal ? { signal } : {}),
      });
    } else {
      parts.tree = { ...parts.tree, filesHashed: 0, bytesHashed: 0 };
    }
    await this.assemble();
    return { bytesHashed, rescanned: false };
  }

  /** Judges the state now; `expectation` judges by another one without holding the root to it. */
  judge(ctx: { extra?: Finding[]; expectation?: GreengrassV2Expectation | null } = {}): GreengrassV2Judgement {
    const obs = this.obs;
    if (!obs) throw new Error('judge before the first full pass');
    const expectation = ctx.expectation !== undefined ? ctx.expectation : this.expectation;
    const verdict = judgeGreengrassV2({ observation: obs, baseline: this.baselineNow, expectation, extra: ctx.extra ?? [] });
    const base = this.baselineNow;
    const report = buildGreengrassV2Report(obs, verdict, expectation, {
      agentVersion: this.opts.agentVersion,
      thing: this.opts.thing ?? this.opts.config.thingName ?? null,
      now: this.now(),
      baseline: base
        ? { state: this.baselineState, createdAt: base.createdAt, treeDigest: base.treeDigest, deploymentId: base.deploymentId }
        : { state: 'none', createdAt: null, treeDigest: null, deploymentId: null },
      checks: { ...this.checks },
    });
    return {
      verdict,
      fingerprint: fingerprint(verdict, obs),
      report: ({ sequence, requestId }) => ({ ...report, sequence, requestId }),
    };
  }

  /** The thing the nucleus runs as (config.tlog's system.thingName), once read. */
  nucleusThing(): string | null {
    const rv = this.obs?.runningVersions;
    return rv?.state === 'ok' ? rv.thingName ?? null : null;
  }

  private plan(rel: readonly string[], site: GreengrassV2Site, logs: GreengrassV2Logs): V2Plan {
    const plan: V2Plan = { all: false, deployments: false, logs: false, store: false, files: [] };
    const v2 = site.v2Root;
    const pk = posix.join(v2, 'packages');
    const trees = [posix.join(pk, 'artifacts'), posix.join(pk, 'artifacts-unarchived')];
    for (const p of rel) {
      if (under(pk, p)) plan.all = true; // packages/, the v2 root or a folder above it
      else if (logs.concerns(p)) plan.logs = true;
      else if (under(p, posix.join(v2, 'deployments'))) plan.deployments = true;
      else if (under(p, posix.join(pk, 'recipes'))) plan.store = true;
      else {
        const tree = trees.find((t) => under(p, t));
        if (tree === undefined) continue; // work/, alts/ and the like: not observed
        // artifacts/, <name>/ or <name>/<version>: what the listing names may have changed.
        if (p.slice(tree.length).split('/').length <= 3) plan.store = true;
        plan.files.push(p);
      }
    }
    return plan;
  }

  private archivesByPath(): Map<string, ZipInspection> {
    return new Map((this.obs?.components ?? []).flatMap((c) => c.archives.map((z) => [z.path, z] as const)));
  }

  /** The parts become the observation, and the baseline its deployment's. */
  private async assemble(): Promise<void> {
    const obs = assembleGreengrassV2(this.parts!, this.logs!, { root: this.opts.config.root, observedAt: this.now().toISOString(), platform: this.platform });
    const prior = this.baselineNow;
    const key = baselineKey(obs);
    if (key === null) {
      this.baselineNow = null;
      this.baselineState = 'none';
      this.baselineFindings = [];
    } else if (prior && prior.deploymentId === key && this.baselineFindings.length === 0) {
      this.baselineState = 'compared';
    } else {
      await this.resolveBaseline(obs, key);
    }
    if (prior && this.baselineNow && prior.deploymentId !== this.baselineNow.deploymentId) {
      this.opts.logger?.info('a new Greengrass v2 deployment landed', { deploymentId: this.baselineNow.deploymentId });
    }
    obs.findings = [...obs.findings, ...this.baselineFindings];
    this.obs = obs;
  }

  /**
   * The stored baseline for the key, or a new one when the store is fit to be
   * one (baselineCandidate). A baseline problem is a finding, never a crash.
   */
  private async resolveBaseline(obs: GreengrassV2Observation, key: string): Promise<void> {
    const { stateDir } = this.opts.config;
    this.baselineFindings = [];
    try {
      const stored = await loadV2Baseline(stateDir, key);
      if (stored.state === 'found') {
        this.baselineNow = stored.baseline;
        this.baselineState = 'compared';
        return;
      }
      const candidate = baselineCandidate(obs, judgeGreengrassV2({ observation: obs, baseline: null, expectation: null }).findings);
      if (!candidate) {
        this.baselineNow = null;
        this.baselineState = 'none';
        return;
      }
      const got = await loadOrCreateV2Baseline(stateDir, candidate);
      if (got.replaced) this.baselineFindings.push(finding('BASELINE_REPLACED', `the stored baseline was unreadable and was laid down again: ${got.replaced}`));
      this.baselineNow = got.baseline;
      this.baselineState = got.created ? 'created' : 'compared';
    } catch (err) {
      this.baselineNow = null;
      this.baselineState = 'none';
      this.baselineFindings.push(finding('FILE_UNREADABLE', `cannot use the baseline in ${stateDir}: ${(err as Error).message}`));
    }
  }

  /** At start: the digests of the baseline stored for what is on disk, so unchanged files need no hashing. */
  private async storedDigests(deployments: GreengrassV2Parts['deployments'], store: GreengrassV2Parts['store']): Promise<Map<string, FileDigest>> {
    const probe = { deployments: deployments.deployments, recipeStore: store.recipeStore, components: store.components } as GreengrassV2Observation;
    const key = baselineKey(probe);
    if (key === null) return new Map();
    try {
      const got = await loadV2Baseline(this.opts.config.stateDir, key);
      return got.state === 'found' ? digestsByPath(got.baseline.units) : new Map();
    } catch {
      return new Map(); // an unsafe key or an unreadable state folder: the pass itself says so
    }
  }
}
