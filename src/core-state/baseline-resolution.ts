// Which baseline an observation is judged against: the one stored for its
// group version, or, the first time a version is seen, the observation itself
// laid down as the baseline ("what landed"). A baseline problem is a finding,
// never a crash.
import type { Baseline } from '../model/baseline.js';
import { finding } from '../model/findings.js';
import type { FileDigest, Observation } from '../model/observation.js';
import { digestsByPath } from '../model/digest.js';
import type { LayoutConfig } from '../config/layout.js';
import { readGroup } from '../observe/observe.js';
import { loadBaseline, loadOrCreateBaseline } from '../state/baseline.js';
import type { BaselineState } from '../verify/report.js';
import { blindPlaces } from '../verify/verdict.js';

/**
 * Deployed places that could not be read (logs aside: they are not in a
 * baseline). A baseline laid down from such a view would miss what is there,
 * and a later reader with the right to read it would see it as "added".
 */
function blindDeployedPlaces(obs: Observation): string[] {
  const logs = new Set([...(obs.thingsGraphLog.unreadable ?? []), ...(obs.runtimeLog.unreadable ?? [])]);
  return blindPlaces(obs).filter((p) => !logs.has(p));
}

/** The baseline a fresh observation would lay down, or null without a usable group.json. */
export function baselineFrom(obs: Observation): Baseline | null {
  if (obs.group.state !== 'ok') return null;
  return {
    schemaVersion: 1,
    groupId: obs.group.definition.groupId,
    groupVersionId: obs.group.definition.groupVersionId,
    createdAt: obs.observedAt,
    treeDigest: obs.tree.treeDigest,
    units: obs.tree.units,
  };
}

/** Resolves the baseline for an observation; a baseline problem becomes a finding of the observation. */
export async function resolveBaseline(stateDir: string, obs: Observation): Promise<{ baseline: Baseline | null; state: BaselineState }> {
  const candidate = baselineFrom(obs);
  if (!candidate) return { baseline: null, state: 'none' };
  try {
    if (blindDeployedPlaces(obs).length > 0) {
      // Compared with the stored baseline if there is one, never laid down from a partial view.
      const got = await loadBaseline(stateDir, candidate.groupId, candidate.groupVersionId);
      return got.state === 'found' ? { baseline: got.baseline, state: 'compared' } : { baseline: null, state: 'none' };
    }
    const got = await loadOrCreateBaseline(stateDir, candidate);
    if (got.replaced) {
      obs.findings.push(finding('BASELINE_REPLACED', `the stored baseline was unreadable and was laid down again: ${got.replaced}`));
    }
    return { baseline: got.baseline, state: got.created ? 'created' : 'compared' };
  } catch (err) {
    obs.findings.push(finding('FILE_UNREADABLE', `cannot use the baseline in ${stateDir}: ${(err as Error).message}`));
    return { baseline: null, state: 'none' };
  }
}

/**
 * The digests stored for the group version on disk now, if any: at start they
 * let files whose size, mtime, ctime and inode are unchanged skip hashing.
 * Only a hint: anything wrong here is found and said by the pass itself.
 */
export async function storedDigests(root: string, layout: LayoutConfig, stateDir: string): Promise<Map<string, FileDigest>> {
  const g = await readGroup(root, layout);
  if (g.state !== 'ok') return new Map();
  try {
    const got = await loadBaseline(stateDir, g.definition.groupId, g.definition.groupVersionId);
    return got.state === 'found' ? digestsByPath(got.baseline.units) : new Map();
  } catch {
    return new Map(); // unsafe IDs or unreadable state: the pass itself will say so
  }
}
