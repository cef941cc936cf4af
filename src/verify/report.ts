// The report: the device's word, as one versioned JSON document (schema in
// schema/report.schema.json). Pure: built from an observation and a verdict.
// One report speaks for one layout (`layout`): what was observed and what was
// expected are the layout's own (Things Graph on Greengrass v1, or Greengrass
// v2); the status, findings, counts and checks are the same for both.
import type { BaselineState } from '../model/baseline.js';
import type { GreengrassV2Observation } from '../model/greengrass-v2.js';
import type { Observation } from '../model/observation.js';
import type { Expectation } from './expectation.js';
import type { Finding, FindingCode } from '../model/findings.js';
import type { GreengrassV2Expectation } from './greengrass-v2-expectation.js';
import {
  buildGreengrassV2Observed,
  describeGreengrassV2Expectation,
  type GreengrassV2ExpectationPart,
  type GreengrassV2Observed,
  type GreengrassV2ReportContext,
} from './greengrass-v2-report.js';
import type { Status, Verdict } from './verdict.js';

export type { BaselineState } from '../model/baseline.js';

export const REPORT_SCHEMA = 'deploy-witness/report';
export const REPORT_SCHEMA_VERSION = 1;

/** The layouts a core can be verified in. */
export const LAYOUTS = ['thingsgraph-v1', 'greengrass-v2'] as const;
export type LayoutName = (typeof LAYOUTS)[number];

export interface Checks {
  /** When files were last observed (any kind of pass). */
  observedAt: string;
  lastFullHashAt?: string;
  lastRescanAt?: string;
  lastEventAt?: string;
  lastHeartbeatAt?: string;
}

/** What every report carries, whatever its layout. */
export interface ReportBase {
  schema: typeof REPORT_SCHEMA;
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  layout: LayoutName;
  agent: { name: 'deploy-witness'; version: string };
  thing: string | null;
  sequence: number | null;
  requestId: string | null;
  generatedAt: string;
  status: Status;
  counts: Partial<Record<FindingCode, number>>;
  findings: Finding[];
  findingsTruncated: boolean;
  checks: Checks;
  health?: unknown;
}

/** A Things Graph (Greengrass v1) core's report. */
export interface Report extends ReportBase {
  layout: 'thingsgraph-v1';
  expectation: {
    sha256: string;
    systemInstanceId: string;
    greengrassGroupId: string;
    greengrassGroupVersionId: string | null;
    greengrassDeploymentId: string | null;
    requestId: string | null;
  } | null;
  observed: {
    coreThing: string | null;
    groupArn: string | null;
    groupId: string | null;
    groupVersionId: string | null;
    /** Best effort on a v1 core: null when no log line names one. */
    deploymentId: string | null;
    systemInstances: string[];
    runtimeInitialized: boolean;
    runtimeVersion: string | null;
    archives: { name: string; path: string; sha256: string | null; size: number; entryCount: number }[];
    units: { path: string; digest: string; files: number }[];
    /** Set when the report was cut to fit a message and lists only some units. */
    unitsTruncated?: boolean;
    treeDigest: string;
    baseline: { state: BaselineState; createdAt: string | null; treeDigest: string | null };
    filesHashed: number;
    bytesHashed: number;
  };
}

/** A Greengrass v2 core's report. */
export interface GreengrassV2Report extends ReportBase {
  layout: 'greengrass-v2';
  expectation: GreengrassV2ExpectationPart | null;
  observed: GreengrassV2Observed;
}

/** A report of either layout: what the transports carry. */
export type AnyReport = Report | GreengrassV2Report;

export interface ReportContext {
  agentVersion: string;
  thing?: string | null;
  sequence?: number | null;
  requestId?: string | null;
  now: Date;
  baseline: { state: BaselineState; createdAt: string | null; treeDigest: string | null };
  checks?: Omit<Checks, 'observedAt'>;
  health?: unknown;
}

export function countFindings(findings: Finding[]): Partial<Record<FindingCode, number>> {
  const counts: Partial<Record<FindingCode, number>> = {};
  for (const f of findings) counts[f.code] = (counts[f.code] ?? 0) + 1;
  return counts;
}

export function buildReport(
  obs: Observation,
  verdict: Verdict,
  expectation: Expectation | null,
  ctx: ReportContext,
): Report {
  const def = obs.group.state === 'ok' ? obs.group.definition : undefined;
  const report: Report = {
    schema: REPORT_SCHEMA,
    schemaVersion: REPORT_SCHEMA_VERSION,
    layout: 'thingsgraph-v1',
    agent: { name: 'deploy-witness', version: ctx.agentVersion },
    thing: ctx.thing ?? def?.coreThing ?? null,
    sequence: ctx.sequence ?? null,
    // The request this report answers; an unsolicited report answers none.
    requestId: ctx.requestId ?? null,
    generatedAt: ctx.now.toISOString(),
    status: verdict.status,
    expectation: expectation
      ? {
          sha256: expectation.sha256,
          systemInstanceId: expectation.systemInstanceId,
          greengrassGroupId: expectation.greengrassGroupId,
          greengrassGroupVersionId: expectation.greengrassGroupVersionId ?? null,
          greengrassDeploymentId: expectation.greengrassDeploymentId ?? null,
          requestId: expectation.requestId ?? null,
        }
      : null,
    observed: {
      coreThing: def?.coreThing ?? null,
      groupArn: def?.arn ?? null,
      groupId: def?.groupId ?? null,
      groupVersionId: def?.groupVersionId ?? null,
      deploymentId: obs.runtimeLog.deploymentId ?? null,
      systemInstances: obs.thingsGraphLog.registered,
      runtimeInitialized: obs.thingsGraphLog.initialized,
      runtimeVersion: obs.thingsGraphLog.runtimeVersion ?? null,
      archives: obs.flowResources.flatMap((r) =>
        r.archive
          ? [{ name: r.name, path: r.archive.path, sha256: r.archive.sha256, size: r.archive.size, entryCount: r.archive.entryCount }]
          : [],
      ),
      units: obs.tree.units.map((u) => ({ path: u.path, digest: u.digest, files: Object.keys(u.files).length })),
      treeDigest: obs.tree.treeDigest,
      baseline: ctx.baseline,
      filesHashed: obs.tree.filesHashed,
      bytesHashed: obs.tree.bytesHashed,
    },
    counts: countFindings(verdict.findings),
    findings: verdict.findings,
    findingsTruncated: false,
    checks: { observedAt: obs.observedAt, ...(ctx.checks ?? {}) },
  };
  if (ctx.health !== undefined) report.health = ctx.health;
  return report;
}

export interface GreengrassV2ReportInput {
  agentVersion: string;
  thing?: string | null;
  sequence?: number | null;
  requestId?: string | null;
  now: Date;
  baseline: GreengrassV2ReportContext['baseline'];
  checks?: Omit<Checks, 'observedAt'>;
  health?: unknown;
}

/** A Greengrass v2 core's report, from its observation and verdict. */
export function buildGreengrassV2Report(
  obs: GreengrassV2Observation,
  verdict: Verdict,
  expectation: GreengrassV2Expectation | null,
  ctx: GreengrassV2ReportInput,
): GreengrassV2Report {
  const running = obs.runningVersions.state === 'ok' ? obs.runningVersions.thingName ?? null : null;
  const report: GreengrassV2Report = {
    schema: REPORT_SCHEMA,
    schemaVersion: REPORT_SCHEMA_VERSION,
    layout: 'greengrass-v2',
    agent: { name: 'deploy-witness', version: ctx.agentVersion },
    thing: ctx.thing ?? running,
    sequence: ctx.sequence ?? null,
    requestId: ctx.requestId ?? null,
    generatedAt: ctx.now.toISOString(),
    status: verdict.status,
    expectation: expectation ? describeGreengrassV2Expectation(expectation) : null,
    observed: buildGreengrassV2Observed(obs, { baseline: ctx.baseline }),
    counts: countFindings(verdict.findings),
    findings: verdict.findings,
    findingsTruncated: false,
    checks: { observedAt: obs.observedAt, ...(ctx.checks ?? {}) },
  };
  if (ctx.health !== undefined) report.health = ctx.health;
  return report;
}
