// One Greengrass v2 verification without the agent or `verify --layout`:
// observe a root, judge it, build the report's observed part. The tests and
// the benchmark drive the v2 pieces through this until the agent carries
// them; run alone it is a small CLI (`npm run verify-v2 -- --help`).
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DEFAULT_ARCHIVE_LIMITS, DEFAULT_GREENGRASS_V2_LAYOUT, type ArchiveLimits, type GreengrassV2LayoutConfig } from '../src/config/layout.js';
import type { Finding } from '../src/model/findings.js';
import type { GreengrassV2Baseline, GreengrassV2Observation, NucleusKind, ZipInspection } from '../src/model/greengrass-v2.js';
import type { FileDigest } from '../src/model/observation.js';
import { createHasher, type Hasher } from '../src/observe/hash.js';
import { observeGreengrassV2 } from '../src/observe/greengrass-v2/observe.js';
import type { TreeProgress } from '../src/observe/tree.js';
import { deploymentState, judgeGreengrassV2 } from '../src/verify/greengrass-v2.js';
import { parseGreengrassV2Expectation, type GreengrassV2Expectation } from '../src/verify/greengrass-v2-expectation.js';
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
    const dep = deploymentState(observation);
    const id = dep.finished?.metadata.deploymentId ?? null;
    const usable = baseline !== null && id !== null && baseline.deploymentId === id;
    // A baseline is laid down only for a settled store whose content matched its recipes.
    const tampered = verdict.findings.some((f: Finding) => f.severity === 'error' && ['ARTIFACT_DIGEST_MISMATCH', 'ARTIFACT_MODIFIED', 'ARTIFACT_MISSING', 'ARTIFACT_ADDED', 'RECIPE_INVALID', 'UNSAFE_ARCHIVE_ENTRY', 'RESOURCE_CORRUPT'].includes(f.code));
    const newBaseline: GreengrassV2Baseline | null =
      !usable && id !== null && !dep.ongoing && !tampered
        ? { schemaVersion: 1, layout: 'greengrass-v2', deploymentId: id, createdAt: observation.observedAt, treeDigest: observation.tree.treeDigest, units: observation.tree.units }
        : null;
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

const HELP = `Usage: verify-v2 --root DIR [--expect FILE] [--baseline FILE] [--nucleus auto|java|lite] [--v2-root PATH] [--json]

Verifies the Greengrass v2 root under DIR once: deployment records, recipes,
artifact digests, unarchived folders against their zip archives, running
versions and component states.

  --expect FILE     aws greengrassv2 get-deployment or list-effective-deployments
                    output, bare or in the envelope {expectation, requestId}
  --baseline FILE   compare with this baseline; written there when absent
  --v2-root PATH    the Java nucleus root relative to DIR (default greengrass/v2)
  --json            print the verdict and the observed part as JSON

Exit 0 when VERIFIED, 1 for any other device state, 2 for bad input.
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        root: { type: 'string' },
        expect: { type: 'string' },
        baseline: { type: 'string' },
        nucleus: { type: 'string', default: 'auto' },
        'v2-root': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`verify-v2: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!args.root) {
    process.stderr.write(`verify-v2: --root is required\n\n${HELP}`);
    return 2;
  }
  if (!['auto', 'java', 'lite'].includes(args.nucleus!)) {
    process.stderr.write(`verify-v2: --nucleus must be auto, java or lite, not ${args.nucleus}\n`);
    return 2;
  }
  let expectation: GreengrassV2Expectation | null = null;
  if (args.expect) {
    let text: string;
    try {
      text = await readFile(args.expect, 'utf8');
    } catch (err) {
      process.stderr.write(`verify-v2: --expect ${args.expect}: ${(err as Error).message}\n`);
      return 2;
    }
    const r = parseGreengrassV2Expectation(text);
    if (!r.ok) {
      process.stderr.write(`verify-v2: --expect ${args.expect}: ${r.error}\n`);
      return 2;
    }
    expectation = r.expectation;
  }
  let baseline: GreengrassV2Baseline | null = null;
  if (args.baseline) {
    try {
      baseline = JSON.parse(await readFile(args.baseline, 'utf8')) as GreengrassV2Baseline;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        process.stderr.write(`verify-v2: --baseline ${args.baseline}: ${(err as Error).message}\n`);
        return 2;
      }
    }
  }
  const r = await verifyV2({
    root: resolve(args.root),
    nucleus: args.nucleus as NucleusKind | 'auto',
    expectation,
    baseline,
    ...(args['v2-root'] ? { layout: { rootPath: args['v2-root'] } } : {}),
  });
  if (args.baseline && r.newBaseline) await writeFile(args.baseline, `${JSON.stringify(r.newBaseline)}\n`);
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ status: r.verdict.status, findings: r.verdict.findings, observed: r.observed }, null, 2)}\n`);
  } else {
    process.stdout.write(`${r.verdict.status}: ${r.observed.components.length} component versions, ${r.observation.tree.filesHashed} files hashed\n`);
    for (const f of r.verdict.findings) process.stdout.write(`  ${f.severity} ${f.code}${f.path ? ` ${f.path}` : ''}: ${f.message}\n`);
  }
  return r.verdict.status === 'VERIFIED' ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then((code) => process.exit(code), (err) => {
    process.stderr.write(`verify-v2: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
