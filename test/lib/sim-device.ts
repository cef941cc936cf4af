// A simulated core's word, made with the agent's own code: an observation of
// a healthy core (shaped like test/lib/observation.ts), judged with judge()
// against the expectation parsed with parseExpectation(), built into a report
// with buildReport(). Never hand-written report JSON: what check reads here is
// what an agent would send.
import type { Observation, UnitDigest } from '../../src/model/observation.js';
import { DEFAULT_GREENGRASS_V2_LAYOUT } from '../../src/config/layout.js';
import type { GreengrassV2Observation } from '../../src/model/greengrass-v2.js';
import { finding, type Finding } from '../../src/model/findings.js';
import type { Hasher } from '../../src/observe/hash.js';
import { observeGreengrassV2 } from '../../src/observe/greengrass-v2/observe.js';
import { judgeGreengrassV2 } from '../../src/verify/greengrass-v2.js';
import { parseGreengrassV2Expectation, type GreengrassV2Expectation } from '../../src/verify/greengrass-v2-expectation.js';
import { buildGreengrassV2Observed } from '../../src/verify/greengrass-v2-report.js';
import { parseExpectation, type Expectation } from '../../src/verify/expectation.js';
import { buildGreengrassV2Report, buildReport, type GreengrassV2Report, type Report } from '../../src/verify/report.js';
import { judge } from '../../src/verify/verdict.js';
import { healthyObservation } from './observation.js';

export interface SimDevice {
  thing: string;
  groupId: string;
  /** The group version the core runs. */
  groupVersionId: string;
  deploymentId: string;
  systemInstanceId: string;
  archiveSha256?: string;
  /** The flow resource's ID: its folder under mlmodel/ (each group has its own). */
  resourceId?: string;
  /** Per-folder digests (paths root-relative). */
  units?: { path: string; digest: string }[];
  /** A deployed file changed: the report says TAMPERED. */
  tampered?: boolean;
}

export const RESOURCE_ID = '3c0f1e2d-4b5a-4978-8e6d-5c4b3a291807';
const archivePath = (resourceId: string) => `greengrass/ggc/deployment/mlmodel/${resourceId}/flow-Door.tar.gz`;

/** The folders of a healthy core (the group folder's digest from `seed`: it differs per group). */
export function defaultUnits(seed = 'a', resourceId = RESOURCE_ID): { path: string; digest: string }[] {
  return [
    { path: 'greengrass/ggc/deployment/group', digest: seed.repeat(64).slice(0, 64) },
    { path: 'greengrass/ggc/deployment/lambda/arn:aws:lambda:us-east-1:123456789012:function:ThingsGraphConnector:3', digest: '1'.repeat(64) },
    { path: `greengrass/ggc/deployment/mlmodel/${resourceId}`, digest: '2'.repeat(64) },
    { path: 'thingsgraph/engine', digest: '3'.repeat(64) },
  ];
}

export function observationOf(d: SimDevice): Observation {
  const obs = healthyObservation();
  if (obs.group.state !== 'ok') throw new Error('fixture');
  const def = obs.group.definition;
  def.groupId = d.groupId;
  def.groupVersionId = d.groupVersionId;
  def.arn = `arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/${d.groupId}/versions/${d.groupVersionId}`;
  def.coreThing = d.thing;
  obs.flowResources[0]!.archive!.sha256 = d.archiveSha256 ?? 'a'.repeat(64);
  obs.flowResources[0]!.archive!.path = archivePath(d.resourceId ?? RESOURCE_ID);
  obs.thingsGraphLog.registered = [d.systemInstanceId];
  obs.runtimeLog.deploymentId = d.deploymentId;
  obs.tree.units = (d.units ?? defaultUnits('a', d.resourceId)).map((u): UnitDigest => ({ path: u.path, digest: u.digest, files: {} }));
  if (d.tampered) obs.findings.push(finding('ARTIFACT_MODIFIED', 'deployed file changed', { path: 'thingsgraph/engine/engine.properties' }));
  return obs;
}

export interface ReportContextLite {
  sequence: number;
  requestId?: string | null;
  now?: Date;
}

/** The report judged against an expectation (or none). */
export function reportOf(d: SimDevice, expectation: Expectation | null, ctx: ReportContextLite): Report {
  const obs = observationOf(d);
  const verdict = judge({ observation: obs, baseline: null, expectation });
  return buildReport(obs, verdict, expectation, {
    agentVersion: 'sim', thing: d.thing, sequence: ctx.sequence, requestId: ctx.requestId ?? null, now: ctx.now ?? new Date(),
    baseline: { state: 'compared', createdAt: null, treeDigest: null },
  });
}

/** What the agent does with an envelope it receives: parse, judge, report (or refuse). */
export function answerTo(d: SimDevice, envelopeText: string, ctx: ReportContextLite): Report {
  const parsed = parseExpectation(envelopeText);
  if (!parsed.ok) {
    const obs = observationOf(d);
    const verdict = judge({ observation: obs, baseline: null, expectation: null, extra: [finding('EXPECTATION_INVALID', `the expectation received cannot be used: ${parsed.error}`)] });
    const requestId = (() => {
      try {
        const v = JSON.parse(envelopeText) as { requestId?: unknown };
        return typeof v.requestId === 'string' ? v.requestId : null;
      } catch {
        return null;
      }
    })();
    return buildReport(obs, verdict, null, {
      agentVersion: 'sim', thing: d.thing, sequence: ctx.sequence, requestId, now: ctx.now ?? new Date(),
      baseline: { state: 'compared', createdAt: null, treeDigest: null },
    });
  }
  return reportOf(d, parsed.expectation, { ...ctx, requestId: parsed.expectation.requestId ?? null });
}

// ---- Greengrass v2 ----
// A simulated v2 core's word: the observation read by the agent's own v2
// reader from a real simulated root (scripts/simulated-v2-root.ts), judged by
// judgeGreengrassV2 against the expectation parsed by the agent's parser,
// built by buildGreengrassV2Report. Devices of one variant share the
// observation (the bytes are the same); each speaks for its own thing.

export interface SimV2Device {
  thing: string;
  observation: GreengrassV2Observation;
}

/** What the agent's reader sees in a simulated v2 root. */
export async function observeV2Root(root: string, hasher: Hasher): Promise<GreengrassV2Observation> {
  return observeGreengrassV2({ root, layout: { ...DEFAULT_GREENGRASS_V2_LAYOUT }, hasher, platform: { os: 'linux', architecture: 'aarch64' } });
}

/** The thing groups a v2 device follows: the targets its report names. */
export function v2ThingGroups(d: SimV2Device): string[] {
  const targets = buildGreengrassV2Observed(d.observation, { baseline: { state: 'none', createdAt: null, treeDigest: null, deploymentId: null } }).targets;
  return targets.filter((t) => t.startsWith('thinggroup/')).map((t) => t.slice('thinggroup/'.length));
}

export function v2ReportOf(d: SimV2Device, expectation: GreengrassV2Expectation | null, ctx: ReportContextLite, extra: Finding[] = []): GreengrassV2Report {
  const verdict = judgeGreengrassV2({ observation: d.observation, baseline: null, expectation, extra });
  return buildGreengrassV2Report(d.observation, verdict, expectation, {
    agentVersion: 'sim', thing: d.thing, sequence: ctx.sequence, requestId: ctx.requestId ?? null, now: ctx.now ?? new Date(),
    baseline: { state: 'none', createdAt: null, treeDigest: null, deploymentId: null },
  });
}

/** What a v2 agent does with an envelope it receives: parse, judge, report (or refuse). */
export function answerToV2(d: SimV2Device, envelopeText: string, ctx: ReportContextLite): GreengrassV2Report {
  const parsed = parseGreengrassV2Expectation(envelopeText);
  if (!parsed.ok) {
    let requestId: string | null = null;
    try {
      const v = JSON.parse(envelopeText) as { requestId?: unknown };
      if (typeof v.requestId === 'string') requestId = v.requestId;
    } catch {
      /* no request ID to echo */
    }
    return v2ReportOf(d, null, { ...ctx, requestId }, [finding('EXPECTATION_INVALID', `the expectation received cannot be used: ${parsed.error}`)]);
  }
  return v2ReportOf(d, parsed.expectation, { ...ctx, requestId: parsed.expectation.requestId ?? null });
}
