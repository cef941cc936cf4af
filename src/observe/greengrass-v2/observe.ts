// Observes a Greengrass v2 root: the deployment records, the component store
// (recipes, artifacts, unarchived folders), the running versions and the
// component states, plus the digests of every stored file. Tolerates anything
// missing, unreadable or vanishing; returns plain data for the pure judge.
import { stat } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { join, posix } from 'node:path';
import { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits, type GreengrassV2LayoutConfig } from '../../config/layout.js';
import { filePath } from '../../model/digest.js';
import { finding, type Finding } from '../../model/findings.js';
import {
  GREENGRASS_V2_LAYOUT,
  type ComponentStatesObservation,
  type ComponentVersionObservation,
  type GreengrassV2Observation,
  type NucleusKind,
  type RunningVersions,
  type ZipInspection,
} from '../../model/greengrass-v2.js';
import type { FileDigest } from '../../model/observation.js';
import type { Hasher } from '../hash.js';
import type { RateLimiter } from '../rate-limit.js';
import { hashTree, type TreeProgress } from '../tree.js';
import { readDeployments } from './deployments.js';
import { readComponentStates } from './nucleus-log.js';
import { readComponentStore } from './store.js';
import { readRunningVersions } from './tlog.js';
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

/** Which v2 roots exist under --root: the Java nucleus's ({kernel:rootPath}), nucleus lite's, both or neither. */
export async function findGreengrassV2Roots(root: string, layout: GreengrassV2LayoutConfig): Promise<{ nucleus: NucleusKind; v2Root: string }[]> {
  const out: { nucleus: NucleusKind; v2Root: string }[] = [];
  const javaRoot = posix.normalize(layout.rootPath);
  const liteRoot = posix.normalize(layout.liteRootPath);
  // The Java nucleus creates packages/, deployments/ and config/ at first start.
  if ((await isDir(join(root, javaRoot, 'packages'))) || (await isDir(join(root, javaRoot, 'deployments')))) out.push({ nucleus: 'java', v2Root: javaRoot });
  if (await isDir(join(root, liteRoot, 'packages'))) out.push({ nucleus: 'lite', v2Root: liteRoot });
  return out;
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

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

export async function observeGreengrassV2(opts: ObserveGreengrassV2Options): Promise<GreengrassV2Observation> {
  const now = opts.now ?? (() => new Date());
  const limits = opts.archiveLimits ?? DEFAULT_ARCHIVE_LIMITS;
  const findings: Finding[] = [];
  let nucleus: NucleusKind = opts.nucleus === 'lite' ? 'lite' : 'java';
  let v2Root = posix.normalize(nucleus === 'lite' ? opts.layout.liteRootPath : opts.layout.rootPath);
  if (opts.nucleus === undefined || opts.nucleus === 'auto') {
    const found = await findGreengrassV2Roots(opts.root, opts.layout);
    if (found[0]) ({ nucleus, v2Root } = found[0]);
  }

  const { deployments, findings: depFindings } =
    nucleus === 'java'
      ? await readDeployments({ root: opts.root, v2Root })
      : { deployments: { path: posix.join(v2Root, 'config.db'), state: 'unsupported' as const, records: [] }, findings: [] };
  findings.push(...depFindings);

  const store = await readComponentStore({ root: opts.root, v2Root, nucleus });
  findings.push(...store.findings);

  let runningVersions: RunningVersions;
  if (nucleus === 'java') {
    runningVersions = await readRunningVersions(opts.root, v2Root);
    if (runningVersions.state === 'unreadable') {
      findings.push(finding('FILE_UNREADABLE', `cannot read the configuration log: ${runningVersions.reason}`, { path: runningVersions.path }));
    }
  } else {
    runningVersions = { state: 'unsupported', path: posix.join(v2Root, 'config.db'), reason: 'nucleus lite keeps its configuration in SQLite' };
  }

  let componentStates: ComponentStatesObservation;
  if (opts.componentStates) componentStates = opts.componentStates();
  else if (nucleus === 'java') {
    const r = await readComponentStates(opts.root, v2Root, new RegExp(opts.layout.nucleusLogPattern));
    componentStates = r.states;
    findings.push(...r.findings);
  } else componentStates = { source: 'none', files: [], startedAt: null, states: [] };

  const { tree, findings: treeFindings } = await hashTree(opts.root, unitsOf(store.components, store.orphanFolders, store.strayEntries), {
    hasher: opts.hasher,
    ...(opts.previous ? { previous: opts.previous } : {}),
    trustUnchangedStat: opts.trustUnchangedStat ?? false,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  findings.push(...treeFindings);

  // Archives to compare with their unarchived folders: ZIP artifacts present as regular files.
  const byUnit = new Map(tree.units.map((u) => [u.path, u]));
  for (const c of store.components) {
    if (c.recipe?.state !== 'ok') continue;
    const unit = byUnit.get(c.artifactsDir);
    const seen = new Set<string>();
    for (const a of c.recipe.artifacts) {
      if (a.unarchive !== 'ZIP' || a.fileName === null || seen.has(a.fileName)) continue;
      seen.add(a.fileName);
      const f = unit?.files[a.fileName];
      if (!f || (f.mode & S_IFMT) !== S_IFREG) continue;
      const rel = filePath(c.artifactsDir, a.fileName);
      const prior = opts.previousArchives?.get(rel);
      if (prior && prior.archiveSha256 === f.sha256) {
        c.archives.push(prior);
        continue;
      }
      c.archives.push(
        await inspectZip(join(opts.root, rel), rel, {
          limits,
          archiveSha256: f.sha256,
          ...(opts.limiter ? { limiter: opts.limiter } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
      );
    }
  }

  return {
    layout: GREENGRASS_V2_LAYOUT,
    nucleus,
    root: opts.root,
    v2Root,
    observedAt: now().toISOString(),
    platform: opts.platform ?? devicePlatform(),
    deployments,
    recipeStore: store.recipeStore,
    components: store.components,
    orphanFolders: store.orphanFolders,
    strayEntries: store.strayEntries,
    runningVersions,
    componentStates,
    tree,
    findings,
  };
}
