// One verification pass: observe the core, load (or lay down) the baseline
// for the observed group version, judge, and build the report. Shared by
// `deploy-witness verify` and the running agent.
import type { Config } from '../config/config.js';
import type { HealthProvider } from '../health/provider.js';
import type { Hasher } from '../observe/hash.js';
import { observe } from '../observe/observe.js';
import type { FileDigest, Observation } from '../model/observation.js';
import type { Baseline } from '../model/baseline.js';
import { loadOrCreateBaseline } from '../state/baseline.js';
import type { Expectation } from '../verify/expectation.js';
import { finding } from '../model/findings.js';
import { buildReport, type BaselineState, type Checks, type Report } from '../verify/report.js';
import { judge, type Verdict } from '../verify/verdict.js';

export interface PassInput {
  config: Config;
  hasher: Hasher;
  expectation: Expectation | null;
  agentVersion: string;
  now?: () => Date;
  previous?: Map<string, FileDigest>;
  trustUnchangedStat?: boolean;
  onProgress?: (p: { files: number; bytes: number }) => void;
  thing?: string | null;
  sequence?: number | null;
  requestId?: string | null;
  checks?: Omit<Checks, 'observedAt'>;
  /** Local health: its findings join the verdict, its section the report. */
  health?: HealthProvider;
}

export interface PassResult {
  observation: Observation;
  baseline: Baseline | null;
  verdict: Verdict;
  report: Report;
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

/** Resolves the baseline for an observation; a baseline problem becomes a finding. */
export async function resolveBaseline(
  stateDir: string,
  obs: Observation,
): Promise<{ baseline: Baseline | null; state: BaselineState }> {
  const candidate = baselineFrom(obs);
  if (!candidate) return { baseline: null, state: 'none' };
  try {
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

export async function verifyPass(input: PassInput): Promise<PassResult> {
  const now = input.now ?? (() => new Date());
  const { config } = input;
  const observation = await observe({
    root: config.root,
    layout: config.layout,
    logPatterns: config.logPatterns,
    archiveLimits: config.archiveLimits,
    hasher: input.hasher,
    now,
    ...(input.previous ? { previous: input.previous } : {}),
    ...(input.trustUnchangedStat !== undefined ? { trustUnchangedStat: input.trustUnchangedStat } : {}),
    ...(input.onProgress ? { onProgress: input.onProgress } : {}),
  });
  return judgeObservation(input, observation, now);
}

/** The second half of a pass, for callers that observed incrementally. */
export async function judgeObservation(input: PassInput, observation: Observation, now: () => Date): Promise<PassResult> {
  const { baseline, state } = await resolveBaseline(input.config.stateDir, observation);
  const health = input.health ? await input.health.evaluate(observation, now(), { watcher: 'one pass' }) : undefined;
  const verdict = judge({ observation, baseline, expectation: input.expectation, ...(health ? { extra: health.findings } : {}) });
  const report = buildReport(observation, verdict, input.expectation, {
    agentVersion: input.agentVersion,
    thing: input.thing ?? input.config.thingName ?? null,
    sequence: input.sequence ?? null,
    requestId: input.requestId ?? null,
    now: now(),
    baseline: { state, createdAt: baseline?.createdAt ?? null, treeDigest: baseline?.treeDigest ?? null },
    ...(input.checks ? { checks: input.checks } : {}),
    ...(health ? { health: health.section } : {}),
  });
  return { observation, baseline, verdict, report };
}
