// Observes a whole core: reads every place the verifier needs, tolerating
// anything missing, half-written or vanishing. Returns plain data.
import { stat } from 'node:fs/promises';
import { InputRefusedError, readRegularFile } from '../io/guarded-read.js';
import { join, posix } from 'node:path';
import type { ArchiveLimits, LayoutConfig, LogPatterns } from '../config/layout.js';
import { stripArchiveExt } from '../model/flow-names.js';
import { inspectArchive } from './archive.js';
import { parseGroupJson } from './group.js';
import { errorCode, isMissing } from './files.js';
import { compilePatterns } from './log-lines.js';
import { CoreLogs } from './log-tail.js';
import { deployedUnits, findFlowPlaces, rel } from './places.js';
import { hashTree } from './tree.js';
import type { Hasher } from './hash.js';
import type {
  ArchiveInspection, FileDigest, FlowResource, FlowSearchObservation, GroupObservation, Observation, RuntimeFilesObservation,
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
  /** The core's logs as the caller keeps them (already read); read afresh when absent. */
  logs?: CoreLogs;
}

const MAX_GROUP_JSON = 16 * 1024 * 1024;

export async function readGroup(root: string, layout: LayoutConfig): Promise<GroupObservation> {
  const path = layout.groupJson;
  let bytes: Buffer;
  try {
    // A regular file, not followed if a link, read under the cap: a FIFO or device must not hang or flood us.
    // Bytes, not text: the parser refuses what is not UTF-8 instead of replacing it.
    bytes = await readRegularFile(join(root, path), { maxBytes: MAX_GROUP_JSON });
  } catch (err) {
    if (err instanceof InputRefusedError) return { state: 'invalid', path, reason: err.detail };
    if (isMissing(err)) return { state: 'missing', path };
    // Not readable is not broken: the file may be perfectly fine for a reader with the right to read it.
    return { state: 'unreadable', path, reason: errorCode(err) };
  }
  return parseGroupJson(bytes, path, { flowArchivePattern: new RegExp(layout.flowArchivePattern) });
}

/** Whether `abs` is there as `kind`; the error code when it cannot be looked at (EACCES on a folder on the way ...). */
async function exists(abs: string, kind: 'dir' | 'file'): Promise<boolean | { unknown: string }> {
  try {
    const st = await stat(abs);
    return kind === 'dir' ? st.isDirectory() : st.isFile();
  } catch (err) {
    return isMissing(err) ? false : { unknown: errorCode(err) };
  }
}

export async function observeRuntimeFiles(root: string, layout: LayoutConfig): Promise<RuntimeFilesObservation> {
  const tg = layout.thingsGraphDir;
  const looks = {
    dir: [tg, await exists(join(root, tg), 'dir')],
    db: [rel(tg, 'ThingsGraph.db'), await exists(join(root, tg, 'ThingsGraph.db'), 'file')],
    engine: [rel(tg, 'engine'), await exists(join(root, tg, 'engine'), 'dir')],
  } as const;
  const out: RuntimeFilesObservation = { path: tg, dir: looks.dir[1] === true, db: looks.db[1] === true, engine: looks.engine[1] === true };
  const unknown = Object.values(looks).flatMap(([path, v]) => (typeof v === 'object' ? [{ path, reason: v.unknown }] : []));
  if (unknown.length > 0) out.unreadable = unknown;
  return out;
}

/**
 * Inspects every flow archive and pairs it with its unpacked folder. Folders
 * that could not be searched are said in `search`: a resource in one of them
 * would go unseen, so its absence is not known.
 */
export async function observeFlowResources(
  root: string,
  layout: LayoutConfig,
  limits: ArchiveLimits,
  /** Earlier inspections to keep for archives not in `changed` (the agent's incremental path). */
  prior?: { reuse: Map<string, ArchiveInspection>; changed: Set<string> },
): Promise<{ resources: FlowResource[]; search?: FlowSearchObservation }> {
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
  const resources = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return places.unreadable.length > 0 ? { resources, search: { unreadable: places.unreadable } } : { resources };
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
  const { resources: flowResources, search: flowSearch } = await observeFlowResources(root, layout, opts.archiveLimits);
  const runtimeFiles = await observeRuntimeFiles(root, layout);
  let logs = opts.logs;
  if (!logs) {
    logs = new CoreLogs(root, layout, compilePatterns(opts.logPatterns));
    await logs.refresh();
  }

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
    ...(flowSearch ? { flowSearch } : {}),
    runtimeFiles,
    thingsGraphLog: logs.thingsGraphLog(),
    runtimeLog: logs.runtimeLog(),
    tree,
    findings: [...logs.findings(), ...treeFindings],
  };
}
