// Re-observes only what changed. A batch of changed paths (root-relative) is
// sorted into what each path touches, and only that is read again: one file
// rehashed, one archive re-inspected, one group.json re-read.
import { posix } from 'node:path';
import type { Config } from '../config/config.js';
import { flowFolderPattern } from '../model/flow-names.js';
import type { Hasher } from '../observe/hash.js';
import { observeFlowResources, observeRuntimeFiles, readGroup, unitsToHash, volatileFilter } from '../observe/observe.js';
import { hashTree } from '../observe/tree.js';
import type { Observation, UnitDigest } from '../model/observation.js';
import { treeDigest, unitDigest } from '../model/digest.js';
import type { Finding } from '../model/findings.js';

export interface ChangePlan {
  group: boolean;
  runtimeFiles: boolean;
  flows: boolean;
  /** The set of units changed (a folder appeared or went): list them again. */
  relist: boolean;
  /** Paths inside known units, to rehash. */
  files: string[];
}

const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/** Pure: what a batch of changed paths touches. */
export function planChanges(paths: Iterable<string>, layout: Config['layout'], units: string[], flowPaths: string[]): ChangePlan {
  const plan: ChangePlan = { group: false, runtimeFiles: false, flows: false, relist: false, files: [] };
  const flowRe = new RegExp(layout.flowArchivePattern);
  // Unpacked flow folders are named like the archive without .tar.gz (the rule findFlowPlaces uses).
  const folderRe = flowFolderPattern(layout.flowArchivePattern);
  const inFlowFolder = (p: string) => layout.flowSearchPaths.some((s) => under(p, s)) && p.split('/').some((seg) => folderRe.test(seg));
  for (const p of paths) {
    if (p === layout.groupJson) plan.group = true;
    if (posix.dirname(p) === layout.thingsGraphDir || p === layout.thingsGraphDir || p === posix.join(layout.thingsGraphDir, 'engine')) {
      plan.runtimeFiles = true;
    }
    // A known flow folder, or one that just appeared (RESOURCE_MISSING may be over).
    if (flowRe.test(posix.basename(p)) || flowPaths.some((f) => under(p, f)) || inFlowFolder(p)) plan.flows = true;
    const unit = units.find((u) => under(p, u));
    if (unit !== undefined) plan.files.push(p);
    else if (under(p, layout.deploymentDir) || under(p, posix.join(layout.thingsGraphDir, 'engine'))) plan.relist = true;
    // A new flow folder or archive outside the units also changes the unit list.
    if (unit === undefined && flowRe.test(posix.basename(p))) plan.relist = true;
  }
  return plan;
}

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
  /** group.json now names another group or version: a deployment landed. */
  groupVersionChanged: boolean;
}

/**
 * Applies a plan to the observation in place. Unreadable files found on the
 * way replace the observation's earlier I/O findings for the same paths.
 */
export async function applyChanges(
  obs: Observation,
  plan: ChangePlan,
  deps: { config: Config; hasher: Hasher; now: () => Date },
): Promise<ApplyResult> {
  const { config, hasher } = deps;
  const { root, layout } = config;
  const result: ApplyResult = { bytesHashed: 0, filesHashed: 0, groupVersionChanged: false };

  if (plan.group) {
    const before = obs.group.state === 'ok' ? `${obs.group.definition.groupId}/${obs.group.definition.groupVersionId}` : obs.group.state;
    obs.group = await readGroup(root, layout);
    const after = obs.group.state === 'ok' ? `${obs.group.definition.groupId}/${obs.group.definition.groupVersionId}` : obs.group.state;
    result.groupVersionChanged = before !== after;
  }
  if (plan.runtimeFiles) obs.runtimeFiles = await observeRuntimeFiles(root, layout);
  if (plan.flows) {
    const reuse = new Map(obs.flowResources.flatMap((r) => (r.archive ? [[r.archive.path, r.archive] as const] : [])));
    const changed = new Set(plan.files);
    obs.flowResources = await observeFlowResources(root, layout, config.archiveLimits, { reuse, changed });
  }

  const fresh: Finding[] = [];
  const touched = new Set<string>();
  const units = new Map(obs.tree.units.map((u) => [u.path, u]));
  const touchedUnits = new Set<string>();
  if (plan.relist) {
    const wanted = await unitsToHash(root, layout, obs.flowResources);
    for (const path of [...units.keys()]) if (!wanted.includes(path)) units.delete(path);
    const added = wanted.filter((p) => !units.has(p));
    if (added.length > 0) {
      const got = await hashTree(root, added, { hasher, exclude: volatileFilter(layout) });
      for (const u of got.tree.units) units.set(u.path, u);
      fresh.push(...got.findings);
      added.forEach((p) => touched.add(p));
      result.bytesHashed += got.tree.bytesHashed;
      result.filesHashed += got.tree.filesHashed;
    }
  }
  // Deepest first is not needed: splice replaces everything at and below each path.
  for (const p of new Set(plan.files)) {
    const found = [...units.values()].find((u) => under(p, u.path));
    if (!found) continue;
    // Copy on write: the baseline may share unit objects with the observation it was made from.
    const unit = touchedUnits.has(found.path) ? found : { ...found, files: { ...found.files } };
    touchedUnits.add(unit.path);
    units.set(unit.path, unit);
    const got = await hashTree(root, [p], { hasher, exclude: volatileFilter(layout) });
    const sub = got.tree.units[0];
    if (sub) splice(unit, p, sub);
    fresh.push(...got.findings);
    touched.add(p);
    result.bytesHashed += got.tree.bytesHashed;
    result.filesHashed += got.tree.filesHashed;
  }
  for (const path of touchedUnits) {
    const u = units.get(path);
    if (u) u.digest = unitDigest(u.files);
  }
  const list = [...units.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  obs.tree = { units: list, treeDigest: treeDigest(list), filesHashed: result.filesHashed, bytesHashed: result.bytesHashed };

  // I/O findings about re-read paths are replaced by what the re-read found.
  obs.findings = obs.findings.filter((f) => !(f.path && [...touched].some((t) => under(f.path!, t)))).concat(fresh);
  obs.observedAt = deps.now().toISOString();
  return result;
}
