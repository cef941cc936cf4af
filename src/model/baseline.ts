// The baseline: digests of every deployed file for one group version, as the
// state folder keeps it. The shape lives here so the pure verdict can read it
// without depending on how it is stored.
import type { UnitDigest } from './observation.js';

export interface Baseline {
  schemaVersion: 1;
  groupId: string;
  groupVersionId: string;
  createdAt: string;
  treeDigest: string;
  units: UnitDigest[];
}

/** What the report says of the baseline: laid down by this pass, compared with, or none to use. */
export type BaselineState = 'created' | 'compared' | 'none';
