// The v2 readers and judge composed once, in process, with no state folder:
// observe a root, judge it, build the report's observed part. The finding
// tests and the v2 benchmark drive the pieces through this to reach each one
// directly; people and the agent use `verify` / `run` (the core state), whose
// baseline rule (baselineKey, baselineCandidate) this shares.
import { DEFAULT_ARCHIVE_LIMITS, DEFAULT_GREENGRASS_V2_LAYOUT, type ArchiveLimits, type GreengrassV2LayoutConfig } from '../src/config/layout.js';
import type { GreengrassV2Baseline, GreengrassV2Observation, NucleusKind, ZipInspection } from '../src/model/greengrass-v2.js';
import type { FileDigest } from '../src/model/observation.js';
import { createHasher, type Hasher } from '../src/observe/hash.js';
import { observeGreengrassV2 } from '../src/observe/greengrass-v2/observe.js';
import type { TreeProgress } from '../src/observe/tree.js';
import { baselineCandidate, baselineKey, judgeGreengrassV2 } from '../src/verify/greengrass-v2.js';
import type { GreengrassV2Expectation } from '../src/verify/greengrass-v2-expectation.js';
import { buildGreengrassV2Observed, type GreengrassV2Observed } from '../src/verify/greengrass-v2-report.js';
import type { Verdict } from '../src/verify/verdict.js';

export interface VerifyV2Options {
  root: string;
  layout?: Partial<GreengrassV2LayoutConfig>;
  nucleus?: NucleusKind | 'auto';
  expectation?: GreengrassV2Expectation | null;
  baseline?: GreengrassV2Baseline | null;
  archiveLimits?: ArchiveLimits;
  hasher?: Hasher;
  previous?: Map<string, FileDigest>;
  previousArchives?: Map<string, ZipInspection>;
  trustUnchangedStat?: boolean;
  platform?: { os: string; architecture: string };
  onProgress?: (p: TreeProgress) => void;
  now?: () => Date;
}

export interface VerifyV2Result {
  observation: GreengrassV2Observation;
  verdict: Verdict;
  observed: GreengrassV2Observed;
  /** A baseline for the newest finished deployment, when none was given and one can be laid down. */
  newBaseline: GreengrassV2Baseline | null;
}

export async function verifyV2(opts: VerifyV2Options): Promise<VerifyV2Result> {
  const hasher = opts.hasher ?? createHasher({ concurrency: 1, rateLimitMBps: 0, threads: false });
  try {
    const observation = await observeGreengrassV2({
      root: opts.root,
      layout: { ...DEFAULT_GREENGRASS_V2_LAYOUT, ...opts.layout },
      archiveLimits: opts.archiveLimits ?? DEFAULT_ARCHIVE_LIMITS,
      hasher,
      nucleus: opts.nucleus ?? 'auto',
      ...(opts.platform ? { platform: opts.platform } : {}),
      ...(opts.previous ? { previous: opts.previous } : {}),
      ...(opts.previousArchives ? { previousArchives: opts.previousArchives } : {}),
      ...(opts.trustUnchangedStat !== undefined ? { trustUnchangedStat: opts.trustUnchangedStat } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    const baseline = opts.baseline ?? null;
    const verdict = judgeGreengrassV2({ observation, baseline, expectation: opts.expectation ?? null });
    const key = baselineKey(observation);
    const usable = baseline !== null && key !== null && baseline.deploymentId === key;
    // The core state's rule for what may be laid down, judged without a baseline as it does.
    const newBaseline = usable ? null : baselineCandidate(observation, judgeGreengrassV2({ observation, baseline: null, expectation: null }).findings);
    const observed = buildGreengrassV2Observed(observation, {
      baseline: usable
        ? { state: 'compared', createdAt: baseline.createdAt, treeDigest: baseline.treeDigest, deploymentId: baseline.deploymentId }
        : newBaseline
          ? { state: 'created', createdAt: newBaseline.createdAt, treeDigest: newBaseline.treeDigest, deploymentId: newBaseline.deploymentId }
          : { state: 'none', createdAt: null, treeDigest: null, deploymentId: null },
    });
    return { observation, verdict, observed, newBaseline };
  } finally {
    if (!opts.hasher) await hasher.close();
  }
}
