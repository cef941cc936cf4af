// Fleet consistency: every Greengrass v1 group has its own core, so the cores
// running one flow can only be compared with each other. Devices that run the
// same flow (the same flow-archive SHA-256, or the same system-instance name)
// must hold the same bytes for what that flow and its connector put on disk;
// those whose per-folder digests differ from the majority are outliers, even
// when each verified against its own baseline. Greengrass v2 cores that
// answered for one deployment (a thing group's) hold the same component store:
// the same per-folder comparison finds the one whose bytes differ. Pure.
//
// Folders are compared by what they are, not where: a Lambda folder's ARN
// names the region and account, an ML resource folder is named by a per-group
// resource ID. The group definition's own folder differs per group by nature
// and is left out.
import type { Answer } from './answer.js';

/** A device that answered: its thing, and the report kept. */
export interface FleetMember {
  thing: string;
  systemInstanceId: string | null;
  /** The Greengrass v2 deployment it answered for. */
  deploymentId?: string | null;
  answer: Answer;
}

export interface FolderDifference {
  /** The folder as compared (region, account and resource IDs replaced by *). */
  folder: string;
  /** This device's digest, null when it does not have the folder. */
  digest: string | null;
  /** The majority's, null when the majority does not have it. */
  majority: string | null;
}

export interface Outlier {
  thing: string;
  folders: FolderDifference[];
}

export interface Cohort {
  /** What ties the devices together. */
  flowArchives: string[];
  systemInstanceNames: string[];
  /** Greengrass v2: the deployment they answered for. */
  deployments: string[];
  devices: string[];
  outliers: Outlier[];
  /** Folders on which no digest holds a majority (e.g. two devices that differ). */
  split: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ARN_SCOPE = /^(arn:aws[a-z-]*:[a-z0-9-]+):[a-z0-9-]*:\d*:/;
/** Folders that differ per group by nature. */
const PER_GROUP = /(^|\/)group$/;

/** The system instance name: what follows `:deployment:` in its URN. */
export function systemInstanceName(urn: string): string | null {
  const m = /:deployment:(.+)$/i.exec(urn);
  return m ? m[1]! : null;
}

/**
 * The name a folder is compared under: segments that are per-group IDs become
 * `*`, an ARN loses its region and account, and a folder holding a flow archive
 * is named by that archive.
 */
export function folderKey(unitPath: string, archives: readonly { name: string; path: string }[]): string {
  const parts = unitPath.split('/').map((seg) => (UUID.test(seg) ? '*' : seg.replace(ARN_SCOPE, '$1:*:*:')));
  const key = parts.join('/');
  const archive = archives.find((a) => a.path.startsWith(`${unitPath}/`));
  return archive ? `${key} (${archive.name})` : key;
}

/** Union-find over devices: linked by a shared flow-archive digest or system-instance name. */
function cohortsOf(members: readonly FleetMember[]): FleetMember[][] {
  const parent = members.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  const firstWith = new Map<string, number>();
  members.forEach((m, i) => {
    const keys = [
      ...m.answer.observed.archives.flatMap((a) => (a.sha256 ? [`sha:${a.sha256}`] : [])),
      ...(m.systemInstanceId && systemInstanceName(m.systemInstanceId) ? [`name:${systemInstanceName(m.systemInstanceId)}`] : []),
      ...(m.deploymentId ? [`deployment:${m.deploymentId}`] : []),
    ];
    for (const k of keys) {
      const j = firstWith.get(k);
      if (j === undefined) firstWith.set(k, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, FleetMember[]>();
  members.forEach((m, i) => {
    const r = find(i);
    const list = groups.get(r);
    if (list) list.push(m);
    else groups.set(r, [m]);
  });
  return [...groups.values()].filter((g) => g.length >= 2);
}

function foldersOf(a: Answer): Map<string, string> | null {
  const out = new Map<string, string>();
  const dup = new Set<string>();
  for (const u of a.observed.units) {
    const k = folderKey(u.path, a.observed.archives);
    if (PER_GROUP.test(k)) continue;
    if (out.has(k)) dup.add(k);
    out.set(k, u.digest);
  }
  // Two folders under one key on one device cannot be paired with another's: leave them out.
  for (const k of dup) out.delete(k);
  return out;
}

const ABSENT = '';

/** Cohorts of two or more devices that run the same flow, each with its outliers. */
export function fleetConsistency(members: readonly FleetMember[]): Cohort[] {
  const out: Cohort[] = [];
  for (const cohort of cohortsOf(members)) {
    const folders = new Map(cohort.map((m) => [m.thing, foldersOf(m.answer)!]));
    const allKeys = [...new Set(cohort.flatMap((m) => [...folders.get(m.thing)!.keys()]))].sort();
    const diffs = new Map<string, FolderDifference[]>();
    const split: string[] = [];
    for (const key of allKeys) {
      // A device whose report listed only some folders says nothing about one it did not list.
      const known = cohort.filter((m) => folders.get(m.thing)!.has(key) || !m.answer.observed.unitsTruncated);
      const valueOf = (m: FleetMember) => folders.get(m.thing)!.get(key) ?? ABSENT;
      const tally = new Map<string, number>();
      for (const m of known) tally.set(valueOf(m), (tally.get(valueOf(m)) ?? 0) + 1);
      if (tally.size <= 1) continue;
      const [majority, count] = [...tally.entries()].sort((a, b) => b[1] - a[1])[0]!;
      if (count * 2 <= known.length) {
        split.push(key);
        continue;
      }
      for (const m of known) {
        const v = valueOf(m);
        if (v === majority) continue;
        const list = diffs.get(m.thing) ?? [];
        list.push({ folder: key, digest: v === ABSENT ? null : v, majority: majority === ABSENT ? null : majority });
        diffs.set(m.thing, list);
      }
    }
    out.push({
      flowArchives: [...new Set(cohort.flatMap((m) => m.answer.observed.archives.map((a) => a.name)))].sort(),
      systemInstanceNames: [...new Set(cohort.flatMap((m) => (m.systemInstanceId ? [systemInstanceName(m.systemInstanceId) ?? ''] : [])))].filter(Boolean).sort(),
      deployments: [...new Set(cohort.flatMap((m) => (m.deploymentId ? [m.deploymentId] : [])))].sort(),
      devices: cohort.map((m) => m.thing).sort(),
      outliers: [...diffs.entries()].map(([thing, f]) => ({ thing, folders: f })).sort((a, b) => (a.thing < b.thing ? -1 : 1)),
      split,
    });
  }
  return out;
}
