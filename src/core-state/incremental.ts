// Re-observes only what changed. A batch of changed paths (root-relative) is
// sorted into what each path touches, and only that is read again: one file
// rehashed, one archive re-inspected, one group.json re-read. The rule the
// plan must keep: after applying it, the observation equals a fresh full
// observation of the same files (the property test holds it to that).
import { posix } from 'node:path';
import type { Config } from '../config/config.js';
import type { LayoutConfig } from '../config/layout.js';
import { byUtf8, treeDigest, unitDigest } from '../model/digest.js';
import type { Finding } from '../model/findings.js';
import { flowFolderPattern } from '../model/flow-names.js';
import type { Observation, UnitDigest } from '../model/observation.js';
import type { Hasher } from '../observe/hash.js';
import { observeFlowResources, observeRuntimeFiles, readGroup, unitsToHash, volatileFilter } from '../observe/observe.js';
import { hashTree } from '../observe/tree.js';

export interface ChangePlan {
  /** Re-read group.json. */
  group: boolean;
  /** Check /thingsgraph, ThingsGraph.db and engine/ for presence again. */
  runtimeFiles: boolean;
  /** Look for flow archives and folders again, re-inspecting those that changed. */
  flows: boolean;
  /** The set of units may have changed (a folder appeared or went): list them again. */
  relist: boolean;
  /** Paths inside known units (or whole units) to rehash. */
  files: string[];
}

/** `p` is `dir` or lies below it. */
export const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

/**
 * Pure: what a batch of changed paths touches. `units` are the known unit
 * paths, `flowPlaces` the known flow archives and unpacked folders, and
 * `isFolder` tells which changed paths are folders now (a folder moved in may
 * hold anything, a file only itself).
 */
export function planChanges(
  paths: Iterable<string>,
  layout: LayoutConfig,
  units: string[],
  flowPlaces: string[],
  isFolder: (p: string) => boolean = () => false,
): ChangePlan {
  const plan: ChangePlan = { group: false, runtimeFiles: false, flows: false, relist: false, files: [] };
  const files = new Set<string>();
  const archiveRe = new RegExp(layout.flowArchivePattern);
  // Unpacked flow folders are named like the archive without .tar.gz (the rule findFlowPlaces uses).
  const folderRe = flowFolderPattern(layout.flowArchivePattern);
  const engine = posix.join(layout.thingsGraphDir, 'engine');
  for (const p of paths) {
    // An ancestor that changed (renamed, replaced) changes everything below it.
    if (under(layout.groupJson, p)) plan.group = true;
    if (posix.dirname(p) === layout.thingsGraphDir || under(layout.thingsGraphDir, p)) plan.runtimeFiles = true;

    const inSearch = layout.flowSearchPaths.some((s) => under(p, s) || under(s, p));
    const inFlowFolder = layout.flowSearchPaths.some((s) => under(p, s)) && p.split('/').some((seg) => folderRe.test(seg));
    if (
      inSearch &&
      (archiveRe.test(posix.basename(p)) || // an archive itself
        flowPlaces.some((f) => under(p, f) || under(f, p)) || // inside a known flow place, or above one
        inFlowFolder || // a folder that just appeared (RESOURCE_MISSING may be over)
        isFolder(p)) // a folder moved in may carry an archive
    ) {
      plan.flows = true;
    }

    const unit = units.find((u) => under(p, u));
    const below = units.filter((u) => u !== p && under(u, p));
    if (unit !== undefined) files.add(p);
    for (const u of below) files.add(u);
    const deployed = under(p, layout.deploymentDir) || under(layout.deploymentDir, p);
    if (unit === undefined && (deployed || under(p, engine))) plan.relist = true;
    // The levels units are cut at: a folder under the deployment folder is a unit
    // of its own while it is empty, its children once it has some (group/ always one).
    const level = under(p, layout.deploymentDir) ? p.slice(layout.deploymentDir.length + 1).split('/') : [];
    if (level.length === 1 || (level.length === 2 && level[0] !== 'group')) plan.relist = true;
    // A unit itself (or a folder above units) changed: a unit may be gone, and its
    // parent become a unit of its own. engine/ is a unit whether or not it is there.
    if ((unit === p && p !== engine) || below.some((u) => u !== engine)) plan.relist = true;
    // A new flow archive outside the units becomes a unit of its own.
    if (unit === undefined && archiveRe.test(posix.basename(p))) plan.relist = true;
  }
  plan.files = [...files];
  return plan;
}

/**
 * Units applyChanges made: the observation's own, never shared with a
 * baseline, so later changes update them in place instead of copying every
 * file entry of the unit again (10,000 entries per change on a big Lambda).
 */
const owned = new WeakSet<UnitDigest>();

/** Replaces a unit's entries at and below `sub` with a fresh digest of `sub`. */
function splice(unit: UnitDigest, sub: string, fresh: UnitDigest): void {
  const prefix = sub === unit.path ? '' : sub.slice(unit.path.length + 1);
  for (const k of Object.keys(unit.files)) {
    if (prefix === '' || k === prefix || k.startsWith(`${prefix}/`)) delete unit.files[k];
  }
  for (const [k, v] of Object.entries(fresh.files)) {
    const key = prefix === '' ? k : k === '' ? prefix : `${prefix}/${k}`;
    // defineProperty: a file named __proto__ must be a key, not a prototype change.
    Object.defineProperty(unit.files, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
}

export interface ApplyResult {
  bytesHashed: number;
  filesHashed: number;
  /** group.json now names another group or version (or none): a deployment landed. */
  groupVersionChanged: boolean;
}

const groupKey = (obs: Observation) =>
  obs.group.state === 'ok' ? `${obs.group.definition.groupId}/${obs.group.definition.groupVersionId}` : obs.group.state;

/**
 * Applies a plan to the observation in place. `changed` are the batch's
 * paths: an archive at or below one of them is inspected again. Unreadable
 * files found on the way replace the observation's earlier I/O findings for
 * the same paths.
 */
export async function applyChanges(
  obs: Observation,
  plan: ChangePlan,
  changed: readonly string[],
  deps: { config: Config; hasher: Hasher; now: () => Date; signal?: AbortSignal },
): Promise<ApplyResult> {
  const { config, hasher } = deps;
  const { root, layout } = config;
  const result: ApplyResult = { bytesHashed: 0, filesHashed: 0, groupVersionChanged: false };
  const hashOpts = { hasher, exclude: volatileFilter(layout), ...(deps.signal ? { signal: deps.signal } : {}) };

  if (plan.group) {
    const before = groupKey(obs);
    obs.group = await readGroup(root, layout);
    result.groupVersionChanged = before !== groupKey(obs);
  }
  if (plan.runtimeFiles) obs.runtimeFiles = await observeRuntimeFiles(root, layout);
  if (plan.flows) {
    const reuse = new Map(obs.flowResources.flatMap((r) => (r.archive ? [[r.archive.path, r.archive] as const] : [])));
    const stale = new Set([...reuse.keys()].filter((a) => changed.some((p) => under(a, p))));
    const flows = await observeFlowResources(root, layout, config.archiveLimits, { reuse, changed: stale });
    obs.flowResources = flows.resources;
    if (flows.search) obs.flowSearch = flows.search;
    else delete obs.flowSearch;
  }

  const fresh: Finding[] = [];
  const touched = new Set<string>();
  const units = new Map(obs.tree.units.map((u) => [u.path, u]));
  const rehashed = new Set<string>();
  if (plan.relist) {
    const wanted = new Set(await unitsToHash(root, layout, obs.flowResources));
    for (const path of [...units.keys()]) {
      if (wanted.has(path)) continue;
      units.delete(path);
      touched.add(path); // its findings go with it
    }
    const added = [...wanted].filter((p) => !units.has(p));
    if (added.length > 0) {
      const got = await hashTree(root, added, hashOpts);
      for (const u of got.tree.units) units.set(u.path, u);
      fresh.push(...got.findings);
      for (const p of added) {
        touched.add(p);
        rehashed.add(p);
      }
      result.bytesHashed += got.tree.bytesHashed;
      result.filesHashed += got.tree.filesHashed;
    }
  }
  // Deepest first is not needed: splice replaces everything at and below each path.
  const copied = new Set<string>();
  for (const p of new Set(plan.files)) {
    const found = [...units.values()].find((u) => under(p, u.path));
    // Gone with its unit, or read whole just now.
    if (!found || rehashed.has(found.path)) continue;
    // Copy on write: the baseline may share unit objects with the observation it was made from.
    // A unit copied by an earlier batch is the observation's own: changed in place from then on.
    const unit = owned.has(found) ? found : { ...found, files: { ...found.files } };
    owned.add(unit);
    copied.add(unit.path);
    units.set(unit.path, unit);
    const got = await hashTree(root, [p], hashOpts);
    const sub = got.tree.units[0];
    if (sub) splice(unit, p, sub);
    fresh.push(...got.findings);
    touched.add(p);
    result.bytesHashed += got.tree.bytesHashed;
    result.filesHashed += got.tree.filesHashed;
  }
  for (const path of copied) {
    const u = units.get(path);
    if (u) u.digest = unitDigest(u.files);
  }
  const list = [...units.values()].sort((a, b) => byUtf8(a.path, b.path));
  obs.tree = { units: list, treeDigest: treeDigest(list), filesHashed: result.filesHashed, bytesHashed: result.bytesHashed };

  // I/O findings about re-read paths are replaced by what the re-read found.
  obs.findings = obs.findings.filter((f) => !(f.path && [...touched].some((t) => under(f.path!, t)))).concat(fresh);
  obs.observedAt = deps.now().toISOString();
  return result;
}
