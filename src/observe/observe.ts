// Observes a whole core: reads every place the verifier needs, tolerating
// anything missing, half-written or vanishing. Returns plain data.
import { stat } from 'node:fs/promises';
import { InputRefusedError, readRegularFile } from '../io/guarded-read.js';
import { join, posix } from 'node:path';
import type { ArchiveLimits, LayoutConfig, LogPatterns } from '../config/layout.js';
import { stripArchiveExt } from '../model/flow-names.js';
import type { Finding } from '../model/findings.js';
import { inspectArchive } from './archive.js';
import { parseGroupJson } from './group.js';
import { compilePatterns, readRuntimeLog, readThingsGraphLog } from './logs.js';
import { deployedUnits, findFlowPlaces, rel } from './places.js';
import { hashTree } from './tree.js';
import type { Hasher } from './hash.js';
import type {
  ArchiveInspection, FileDigest, FlowResource, GroupObservation, Observation, RuntimeLogObservation, ThingsGraphLogObservation,
} from '../model/observation.js';
import { compareFolderToArchive } from './unpacked.js';

export interface ObserveOptions {
  root: string;
  layout: LayoutConfig;
  logPatterns: LogPatterns;
  archiveLimits: ArchiveLimits;
  hasher: Hasher;
  /** Digests from the previous pass, keyed by root-relative path (rescans). */
  previous?: Map<string, FileDigest>;
  trustUnchangedStat?: boolean;
  onProgress?: (p: { files: number; bytes: number }) => void;
  now?: () => Date;
  signal?: AbortSignal;
  /** Log observations kept current by the caller (the agent tails logs); read from disk when absent. */
  logs?: () => { thingsGraphLog: ThingsGraphLogObservation; runtimeLog: RuntimeLogObservation };
}

const MAX_GROUP_JSON = 16 * 1024 * 1024;

export async function readGroup(root: string, layout: LayoutConfig): Promise<GroupObservation> {
  const path = layout.groupJson;
  let text: string;
  try {
    // A regular file, not followed if a link, read under the cap: a FIFO or device must not hang or flood us.
    text = (await readRegularFile(join(root, path), { maxBytes: MAX_GROUP_JSON })).toString('utf8');
  } catch (err) {
    if (err instanceof InputRefusedError) {
      return { state: 'invalid', path, reason: err.detail };
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing', path };
    return { state: 'invalid', path, reason: `unreadable: ${code ?? (err as Error).message}` };
  }
  return parseGroupJson(text, path, { flowArchivePattern: new RegExp(layout.flowArchivePattern) });
}

async function exists(abs: string, kind: 'dir' | 'file'): Promise<boolean> {
  try {
    const st = await stat(abs);
    return kind === 'dir' ? st.isDirectory() : st.isFile();
  } catch {
    return false;
  }
}

export async function observeRuntimeFiles(root: string, layout: LayoutConfig): Promise<Observation['runtimeFiles']> {
  const tg = join(root, layout.thingsGraphDir);
  return {
    dir: await exists(tg, 'dir'),
    db: await exists(join(tg, 'ThingsGraph.db'), 'file'),
    engine: await exists(join(tg, 'engine'), 'dir'),
  };
}

/** Inspects every flow archive and pairs it with its unpacked folder. */
export async function observeFlowResources(
  root: string,
  layout: LayoutConfig,
  limits: ArchiveLimits,
  /** Earlier inspections to keep for archives not in `changed` (the agent's incremental path). */
  prior?: { reuse: Map<string, ArchiveInspection>; changed: Set<string> },
): Promise<FlowResource[]> {
  const places = await findFlowPlaces(root, layout);
  const byName = new Map<string, FlowResource>();
  const get = (name: string): FlowResource => {
    let r = byName.get(name);
    if (!r) byName.set(name, (r = { name, folderFindings: [] }));
    return r;
  };
  for (const a of places.archives) {
    const r = get(stripArchiveExt(posix.basename(a)));
    const kept = prior && !prior.changed.has(a) ? prior.reuse.get(a) : undefined;
    const inspected = kept ?? (await inspectArchive(join(root, a), a, { limits }));
    // A second copy of one flow archive is judged too: its findings join the first's.
    if (!r.archive) r.archive = inspected;
    else r.folderFindings.push(...inspected.findings);
  }
  for (const f of places.folders) {
    const r = get(posix.basename(f));
    r.folder ??= f;
  }
  for (const r of byName.values()) {
    if (r.archive && r.folder && r.archive.sha256 !== null) {
      r.folderFindings.push(...(await compareFolderToArchive(root, r.folder, r.archive)));
    }
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Files under the Things Graph folder that change at run time: presence only, never hashed. */
export function volatileFilter(layout: LayoutConfig): (p: string) => boolean {
  const set = new Set(layout.runtimeVolatile.map((v) => rel(layout.thingsGraphDir, v)));
  return (p) => set.has(p);
}

/** The baseline units, plus a unit of its own for each flow archive outside them, so drift covers it too. */
export async function unitsToHash(root: string, layout: LayoutConfig, flowResources: FlowResource[]): Promise<string[]> {
  const units = await deployedUnits(root, layout);
  for (const r of flowResources) {
    const p = r.archive?.path;
    if (p && !units.some((u) => p === u || p.startsWith(`${u}/`))) units.push(p);
  }
  return units;
}

export async function observe(opts: ObserveOptions): Promise<Observation> {
  const { root, layout } = opts;
  const now = opts.now ?? (() => new Date());

  const group = await readGroup(root, layout);
  const flowResources = await observeFlowResources(root, layout, opts.archiveLimits);
  const runtimeFiles = await observeRuntimeFiles(root, layout);
  const logFindings: Finding[] = [];
  const readLogs = async () => {
    const patterns = compilePatterns(opts.logPatterns);
    return {
      thingsGraphLog: await readThingsGraphLog(root, layout, patterns, { findings: logFindings, timeline: true }),
      runtimeLog: await readRuntimeLog(root, layout, patterns, { findings: logFindings }),
    };
  };
  const { thingsGraphLog, runtimeLog } = opts.logs ? opts.logs() : await readLogs();

  const units = await unitsToHash(root, layout, flowResources);
  const { tree, findings: treeFindings } = await hashTree(root, units, {
    hasher: opts.hasher,
    exclude: volatileFilter(layout),
    ...(opts.previous ? { previous: opts.previous } : {}),
    trustUnchangedStat: opts.trustUnchangedStat ?? false,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return {
    root,
    observedAt: now().toISOString(),
    group,
    flowResources,
    runtimeFiles,
    thingsGraphLog,
    runtimeLog,
    tree,
    findings: [...logFindings, ...treeFindings],
  };
}
