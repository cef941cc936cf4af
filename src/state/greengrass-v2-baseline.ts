// The Greengrass v2 baseline: digests of the component store as it was when a
// deployment had landed, one per deployment (its key: the deployment ID on the
// Java nucleus, the store's component versions on nucleus lite, see
// baselineKey in src/verify/greengrass-v2.ts), kept in the state folder beside
// the v1 baselines so that `verify` and a running agent judge drift alike.
import { join } from 'node:path';
import { readRegularFile } from '../io/guarded-read.js';
import { GREENGRASS_V2_LAYOUT, type GreengrassV2Baseline } from '../model/greengrass-v2.js';
import { parseStrictJsonBytes } from '../model/strict-json.js';
import { writeFileAtomic } from './atomic.js';
import { lockPath } from './baseline.js';
import { withLock } from './lock.js';

/** As for v1: 64 MiB holds some 300,000 files. */
const MAX_BASELINE_BYTES = 64 * 1024 * 1024;
/** A deployment ID is a UUID; a key from a file on the device must never name a path outside the folder. */
const SAFE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const V2_BASELINE_DIR = 'baselines-greengrass-v2';

function baselinePath(stateDir: string, key: string): string {
  if (!SAFE_KEY.test(key)) throw new Error(`deployment ID has characters unsafe for a file name: ${JSON.stringify(key.slice(0, 200))}`);
  return join(stateDir, V2_BASELINE_DIR, `${key}.json`);
}

function isBaseline(v: unknown): v is GreengrassV2Baseline {
  const b = v as GreengrassV2Baseline;
  return (
    typeof v === 'object' && v !== null && b.schemaVersion === 1 && b.layout === GREENGRASS_V2_LAYOUT &&
    typeof b.deploymentId === 'string' && typeof b.createdAt === 'string' && typeof b.treeDigest === 'string' && Array.isArray(b.units)
  );
}

export type V2BaselineLoad = { state: 'found'; baseline: GreengrassV2Baseline } | { state: 'absent' } | { state: 'unreadable'; reason: string };

export async function loadV2Baseline(stateDir: string, key: string): Promise<V2BaselineLoad> {
  const p = baselinePath(stateDir, key);
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(p, { maxBytes: MAX_BASELINE_BYTES });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    return { state: 'unreadable', reason: (err as Error).message };
  }
  const r = parseStrictJsonBytes(bytes);
  if (!r.ok) return { state: 'unreadable', reason: `${p}: ${r.error}` };
  if (!isBaseline(r.value) || r.value.deploymentId !== key) return { state: 'unreadable', reason: `${p} is not the baseline of ${key}` };
  return { state: 'found', baseline: r.value };
}

/**
 * The stored baseline for the candidate's key, or the candidate stored as it
 * when there is none (or the stored one is unreadable: judging against nothing
 * forever is worse), under the state lock so two processes agree on one.
 */
export async function loadOrCreateV2Baseline(
  stateDir: string,
  candidate: GreengrassV2Baseline,
): Promise<{ baseline: GreengrassV2Baseline; created: boolean; replaced?: string }> {
  return withLock(lockPath(stateDir), async () => {
    const got = await loadV2Baseline(stateDir, candidate.deploymentId);
    if (got.state === 'found') return { baseline: got.baseline, created: false };
    await writeFileAtomic(baselinePath(stateDir, candidate.deploymentId), JSON.stringify(candidate));
    return got.state === 'unreadable' ? { baseline: candidate, created: true, replaced: got.reason } : { baseline: candidate, created: true };
  });
}
