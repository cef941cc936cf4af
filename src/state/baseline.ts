// The baseline: digests of every deployed file for one group version, kept in
// the state folder so `verify` and a running agent judge drift the same way.
import { join } from 'node:path';
import { readRegularFile } from '../io/guarded-read.js';
import type { Baseline } from '../model/baseline.js';
import { writeFileAtomic } from './atomic.js';
import { withLock } from './lock.js';

/**
 * A baseline entry is about 200 bytes a file: 64 MiB holds some 300,000 files,
 * far more than a core deploys, and is as much as a Pi should parse at once.
 */
const MAX_BASELINE_BYTES = 64 * 1024 * 1024;

const SAFE_ID = /^[A-Za-z0-9._-]{1,128}$/;

function baselinePath(stateDir: string, groupId: string, groupVersionId: string): string {
  // IDs come from a file on the device: never let one name a path outside the state folder.
  if (!SAFE_ID.test(groupId) || !SAFE_ID.test(groupVersionId) || groupId.startsWith('.') || groupVersionId.startsWith('.')) {
    throw new Error(`group ID or version ID has characters unsafe for a file name: ${groupId}/${groupVersionId}`);
  }
  return join(stateDir, 'baselines', groupId, `${groupVersionId}.json`);
}

export function lockPath(stateDir: string): string {
  return join(stateDir, 'state.lock');
}

function isBaseline(v: unknown): v is Baseline {
  const b = v as Baseline;
  return (
    typeof v === 'object' && v !== null && b.schemaVersion === 1 && typeof b.groupId === 'string' &&
    typeof b.groupVersionId === 'string' && typeof b.treeDigest === 'string' && Array.isArray(b.units)
  );
}

export type BaselineLoad =
  | { state: 'found'; baseline: Baseline }
  | { state: 'absent' }
  | { state: 'unreadable'; reason: string };

export async function loadBaseline(stateDir: string, groupId: string, groupVersionId: string): Promise<BaselineLoad> {
  const p = baselinePath(stateDir, groupId, groupVersionId);
  let text: string;
  try {
    text = (await readRegularFile(p, { maxBytes: MAX_BASELINE_BYTES })).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    return { state: 'unreadable', reason: (err as Error).message };
  }
  try {
    const v: unknown = JSON.parse(text);
    if (!isBaseline(v)) return { state: 'unreadable', reason: `${p} is not a baseline` };
    return { state: 'found', baseline: v };
  } catch (err) {
    return { state: 'unreadable', reason: `${p}: ${(err as Error).message}` };
  }
}

export async function saveBaseline(stateDir: string, b: Baseline): Promise<void> {
  await writeFileAtomic(baselinePath(stateDir, b.groupId, b.groupVersionId), JSON.stringify(b));
}

/**
 * Loads the baseline for a group version, or stores `candidate` as the new one
 * when there is none, under the state lock so two processes agree on one.
 */
export async function loadOrCreateBaseline(
  stateDir: string,
  candidate: Baseline,
): Promise<{ baseline: Baseline; created: boolean; replaced?: string }> {
  return withLock(lockPath(stateDir), async () => {
    const got = await loadBaseline(stateDir, candidate.groupId, candidate.groupVersionId);
    if (got.state === 'found') return { baseline: got.baseline, created: false };
    // An unreadable baseline (torn by a disk that lied, or edited) is replaced:
    // the alternative is judging against nothing forever.
    await saveBaseline(stateDir, candidate);
    if (got.state === 'unreadable') return { baseline: candidate, created: true, replaced: got.reason };
    return { baseline: candidate, created: true };
  });
}
