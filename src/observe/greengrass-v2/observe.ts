// Observes a Greengrass v2 root: the deployment records, the component store
// (recipes, artifacts, unarchived folders), the running versions and the
// component states, plus the digests of every stored file. Tolerates anything
// missing, unreadable or vanishing; returns plain data for the pure judge.
//
// A pass is made of parts (the records, the store listing, the logs, the tree,
// the archives) that a caller keeping state re-reads one at a time
// (src/core-state/greengrass-v2-state.ts); `assembleGreengrassV2` puts the
// parts together the one way both roads share, so a state updated part by
// part equals a fresh pass.
import { stat } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { join, posix } from 'node:path';
import { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits, type GreengrassV2LayoutConfig } from '../../config/layout.js';
import { filePath } from '../../model/digest.js';
import type { Finding } from '../../model/findings.js';
import {
  GREENGRASS_V2_LAYOUT,
  type ComponentStatesObservation,
  type ComponentVersionObservation,
  type DeploymentsObservation,
  type GreengrassV2Observation,
  type NucleusKind,
  type ZipInspection,
} from '../../model/greengrass-v2.js';
import type { FileDigest, TreeObservation, UnitDigest } from '../../model/observation.js';
import type { Hasher } from '../hash.js';
import type { RateLimiter } from '../rate-limit.js';
import { hashTree, type TreeProgress } from '../tree.js';
import { readDeployments } from './deployments.js';
import { GreengrassV2Logs } from './logs.js';
import { readComponentStore, type StoreListing } from './store.js';
import { inspectZip } from './zip.js';

export interface ObserveGreengrassV2Options {
  /** --root, absolute. */
  root: string;
  layout: GreengrassV2LayoutConfig;
  archiveLimits?: ArchiveLimits;
  hasher: Hasher;
  /** Which nucleus to read as; auto picks the Java root if present, else nucleus lite's. */
  nucleus?: NucleusKind | 'auto';
  /** The platform recipes are resolved for; defaults to this machine's. */
  platform?: { os: string; architecture: string };
  /** Digests from the previous pass, keyed by root-relative path (rescans). */
  previous?: Map<string, FileDigest>;
  trustUnchangedStat?: boolean;
  /** Archive inspections from the previous pass, by root-relative path: reused while the archive's SHA-256 is unchanged. */
  previousArchives?: Map<string, ZipInspection>;
  /** The root's logs as the caller keeps them (already read); read afresh when absent. */
  logs?: GreengrassV2Logs;
  /** Component states from elsewhere (IPC ListComponents); the nucleus log is read when absent. */
  componentStates?: () => ComponentStatesObservation;
  /** Paces archive content reads, like the hasher's cap. */
  limiter?: RateLimiter;
  onProgress?: (p: TreeProgress) => void;
  now?: () => Date;
  signal?: AbortSignal;
}

/** Greengrass's names for this machine: Platform.os and Platform.architecture. */
export function devicePlatform(): { os: string; architecture: string } {
  const os = platform() === 'win32' ? 'windows' : platform() === 'darwin' ? 'darwin' : 'linux';
  const a = arch();
  const architecture = a === 'x64' ? 'amd64' : a === 'arm64' ? 'aarch64' : a === 'ia32' ? 'x86' : a;
  return { os, architecture };
}

async function isDir(abs: string): Promise<boolean> {
  try {
    return (await stat(abs)).isDirectory();
  } catch {
    return false;
  }
}

export interface GreengrassV2Site {
  nucleus: NucleusKind;
  /** The v2 root relative to --root. */
  v2Root: string;
}

/** Which v2 roots exist under --root: the Java nucleus's ({kernel:rootPath}), nucleus lite's, both or neither. */
export async function findGreengrassV2Roots(root: string, layout: GreengrassV2LayoutConfig): Promise<GreengrassV2Site[]> {
  const out: GreengrassV2Site[] = [];
  const javaRoot = posix.normalize(layout.rootPath);
  const liteRoot = posix.normalize(layout.liteRootPath);
  // The Java nucleus creates packages/, deployments/ and config/ at first start.
  if ((await isDir(join(root, javaRoot, 'packages'))) || (await isDir(join(root, javaRoot, 'deployments')))) out.push({ nucleus: 'java', v2Root: javaRoot });
  if (await isDir(join(root, liteRoot, 'packages'))) out.push({ nucleus: 'lite', v2Root: liteRoot });
  return out;
}

/** The root to read: the nucleus asked for, or (auto) the first found, the Java nucleus's when there is none. */
export async function locateGreengrassV2(root: string, layout: GreengrassV2LayoutConfig, nucleus: NucleusKind | 'auto' = 'auto'): Promise<GreengrassV2Site> {
  if (nucleus === 'lite') return { nucleus, v2Root: posix.normalize(layout.liteRootPath) };
  if (nucleus === 'java') return { nucleus, v2Root: posix.normalize(layout.rootPath) };
  const found = await findGreengrassV2Roots(root, layout);
  return found[0] ?? { nucleus: 'java', v2Root: posix.normalize(layout.rootPath) };
}

/**
 * Units for the tree: each component version's artifacts and unarchived
 * folders. None under a stray entry: a link where a folder belongs would make
 * the walk follow it out of the store.
 */
export function unitsOf(components: ComponentVersionObservation[], orphans: string[], strays: string[] = []): string[] {
  const units = new Set<string>(orphans);
  for (const c of components) {
    units.add(c.artifactsDir);
    units.add(c.unarchivedDir);
  }
  const under = (u: string) => strays.some((s) => u === s || u.startsWith(`${s}/`));
  return [...units].filter((u) => !under(u));
}

/** The deployment records: the Java nucleus's deployments/ folder; nucleus lite keeps them in SQLite. */
export async function observeDeployments(root: string, site: GreengrassV2Site): Promise<{ deployments: DeploymentsObservation; findings: Finding[] }> {
  if (site.nucleus === 'java') return readDeployments({ root, v2Root: site.v2Root });
  return { deployments: { path: posix.join(site.v2Root, 'config.db'), state: 'unsupported', records: [] }, findings: [] };
}

/** The component store's listing and recipes. */
export function observeStore(root: string, site: GreengrassV2Site): Promise<StoreListing> {
  return readComponentStore({ root, v2Root: site.v2Root, nucleus: site.nucleus });
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

export interface ArchiveOptions {
  limits: ArchiveLimits;
  previousArchives?: Map<string, ZipInspection>;
  limiter?: RateLimiter;
  signal?: AbortSignal;
}

/**
 * The ZIP artifacts to compare with their unarchived folders: for each
 * component, every Unarchive: ZIP artifact present as a regular file,
 * inspected (or the previous inspection, while the file's SHA-256 is the same).
 * Returns the archives per component, in the components' order.
 */
export async function inspectArchives(root: string, components: ComponentVersionObservation[], units: UnitDigest[], opts: ArchiveOptions): Promise<ZipInspection[][]> {
  const byUnit = new Map(units.map((u) => [u.path, u]));
  const out: ZipInspection[][] = [];
  for (const c of components) {
    const archives: ZipInspection[] = [];
    out.push(archives);
    if (c.recipe?.state !== 'ok') continue;
    const unit = byUnit.get(c.artifactsDir);
    const seen = new Set<string>();
    for (const a of c.recipe.artifacts) {
      if (a.unarchive !== 'ZIP' || a.fileName === null || seen.has(a.fileName)) continue;
      seen.add(a.fileName);
      const f = unit && Object.hasOwn(unit.files, a.fileName) ? unit.files[a.fileName] : undefined;
      if (!f || (f.mode & S_IFMT) !== S_IFREG) continue;
      const rel = filePath(c.artifactsDir, a.fileName);
      const prior = opts.previousArchives?.get(rel);
      if (prior && prior.archiveSha256 === f.sha256) {
        archives.push(prior);
        continue;
      }
      archives.push(
        await inspectZip(join(root, rel), rel, {
          limits: opts.limits,
          archiveSha256: f.sha256,
          ...(opts.limiter ? { limiter: opts.limiter } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
      );
    }
  }
  return out;
}

// I/O findings in one order whatever the road that found them: a full walk and
// a batch meet the same unreadable files in different orders.
export function byPlace(a: Finding, b: Finding): number {
  const k = (f: Finding) => [f.path ?? '', f.code, f.message];
  const [x, y] = [k(a), k(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return 0;
}

/** What one pass read, part by part: what a state re-reads when a change touches it. */
export interface GreengrassV2Parts {
  site: GreengrassV2Site;
  deployments: { deployments: DeploymentsObservation; findings: Finding[] };
  store: StoreListing;
  tree: TreeObservation;
  /** The tree walk's findings (unreadable and special files). */
  treeFindings: Finding[];
  /** Per component of store.components, its inspected archives. */
  archives: ZipInspection[][];
}

/** The observation the judge reads, from the parts: the one composition both roads use. */
export function assembleGreengrassV2(
  parts: GreengrassV2Parts,
  logs: GreengrassV2Logs,
  ctx: { root: string; observedAt: string; platform: { os: string; architecture: string }; componentStates?: () => ComponentStatesObservation },
): GreengrassV2Observation {
  const components = parts.store.components.map((c, i) => ({ ...c, archives: parts.archives[i] ?? [] }));
  const findings = [...parts.deployments.findings, ...parts.store.findings, ...logs.findings(), ...parts.treeFindings].sort(byPlace);
  return {
    layout: GREENGRASS_V2_LAYOUT,
    nucleus: parts.site.nucleus,
    root: ctx.root,
    v2Root: parts.site.v2Root,
    observedAt: ctx.observedAt,
    platform: ctx.platform,
    deployments: parts.deployments.deployments,
    recipeStore: parts.store.recipeStore,
    components,
    orphanFolders: parts.store.orphanFolders,
    strayEntries: parts.store.strayEntries,
    runningVersions: logs.runningVersions(),
    componentStates: ctx.componentStates ? ctx.componentStates() : logs.componentStates(),
    tree: parts.tree,
    findings,
  };
}

/** Every part read afresh (with `previous` digests trusted on unchanged stat, when asked). */
export async function observeGreengrassV2Parts(opts: ObserveGreengrassV2Options & { site: GreengrassV2Site }): Promise<GreengrassV2Parts> {
  const { root, site } = opts;
  const deployments = await observeDeployments(root, site);
  const store = await observeStore(root, site);
  const { tree, findings: treeFindings } = await hashTree(root, unitsOf(store.components, store.orphanFolders, store.strayEntries), {
    hasher: opts.hasher,
    ...(opts.previous ? { previous: opts.previous } : {}),
    trustUnchangedStat: opts.trustUnchangedStat ?? false,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const archives = await inspectArchives(root, store.components, tree.units, {
    limits: opts.archiveLimits ?? DEFAULT_ARCHIVE_LIMITS,
    ...(opts.previousArchives ? { previousArchives: opts.previousArchives } : {}),
    ...(opts.limiter ? { limiter: opts.limiter } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return { site, deployments, store, tree, treeFindings, archives };
}

/** One whole observation (what `verify` reads). */
export async function observeGreengrassV2(opts: ObserveGreengrassV2Options): Promise<GreengrassV2Observation> {
  const now = opts.now ?? (() => new Date());
  const site = await locateGreengrassV2(opts.root, opts.layout, opts.nucleus ?? 'auto');
  let logs = opts.logs;
  if (!logs) {
    logs = new GreengrassV2Logs(opts.root, site.v2Root, site.nucleus, opts.layout);
    await logs.refresh();
  }
  const parts = await observeGreengrassV2Parts({ ...opts, site });
  return assembleGreengrassV2(parts, logs, {
    root: opts.root,
    observedAt: now().toISOString(),
    platform: opts.platform ?? devicePlatform(),
    ...(opts.componentStates ? { componentStates: opts.componentStates } : {}),
  });
}
