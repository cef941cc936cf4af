// The verdict: a pure function of what was observed, the baseline and the
// expectation. No I/O here, so every rule is testable on plain data.
import type { Observation } from '../model/observation.js';
import type { Baseline } from '../model/baseline.js';
import { compareUnits } from '../model/digest.js';
import { stripArchiveExt } from '../model/flow-names.js';
import { normalizeUrn, type Expectation } from './expectation.js';
import { FINDING_CODES, finding, type Category, type Finding } from '../model/findings.js';

export type Status = 'VERIFIED' | 'MISMATCH' | 'FAILED' | 'TAMPERED' | 'INCOMPLETE';

/** Most telling first: a device on another version is not "tampered", it is elsewhere. */
const STATUS_BY_CATEGORY: [Category, Status][] = [
  ['mismatch', 'MISMATCH'],
  ['failed', 'FAILED'],
  ['health', 'FAILED'],
  ['tampered', 'TAMPERED'],
  ['agent', 'INCOMPLETE'],
];

export function statusOf(findings: Finding[]): Status {
  const errors = new Set(findings.filter((f) => f.severity === 'error').map((f) => FINDING_CODES[f.code].category));
  for (const [cat, status] of STATUS_BY_CATEGORY) if (errors.has(cat)) return status;
  return 'VERIFIED';
}

export interface VerdictInput {
  observation: Observation;
  /** The baseline for the observed group version, if one was loaded. */
  baseline: Baseline | null;
  expectation: Expectation | null;
  /** Findings from outside the observation: the agent's own state, local health. */
  extra?: Finding[];
}

export interface Verdict {
  status: Status;
  findings: Finding[];
}

export function judge({ observation: obs, baseline, expectation: exp, extra }: VerdictInput): Verdict {
  const out: Finding[] = [];
  const group = obs.group;
  const def = group.state === 'ok' ? group.definition : undefined;

  if (group.state === 'missing') {
    out.push(finding('GROUP_DEFINITION_MISSING', 'no deployed group definition on the core', { path: group.path }));
  } else if (group.state === 'invalid') {
    out.push(finding('GROUP_DEFINITION_INVALID', `group definition is unusable: ${group.reason}`, { path: group.path }));
  }

  if (exp && def) {
    if (def.groupId !== exp.greengrassGroupId) {
      out.push(finding('GROUP_ID_MISMATCH', 'the core runs another Greengrass group', {
        path: group.path, expected: exp.greengrassGroupId, actual: def.groupId,
      }));
    }
    if (exp.greengrassGroupVersionId && def.groupVersionId !== exp.greengrassGroupVersionId) {
      out.push(finding('GROUP_VERSION_MISMATCH', 'the core runs another group version', {
        path: group.path, expected: exp.greengrassGroupVersionId, actual: def.groupVersionId,
      }));
    }
  }

  out.push(...deploymentFindings(obs, exp));
  out.push(...runtimeFindings(obs, exp, def?.hasThingsGraphConnector === true));
  out.push(...resourceFindings(obs, exp));
  if (baseline && def && baseline.groupVersionId === def.groupVersionId && baseline.groupId === def.groupId) {
    out.push(...driftFindings(baseline, obs));
  }
  out.push(...obs.findings, ...(extra ?? []));
  return { status: statusOf(out), findings: out };
}

function lastPath(files: string[]): { path?: string } {
  const p = files[files.length - 1];
  return p ? { path: p } : {};
}

function deploymentFindings(obs: Observation, exp: Expectation | null): Finding[] {
  const out: Finding[] = [];
  const log = obs.runtimeLog;
  const at = lastPath(log.files);
  if (log.deploymentFailed) {
    out.push(finding('DEPLOYMENT_FAILED', `the Greengrass runtime reports the deployment failed: ${log.deploymentFailed.message}`, {
      ...at, expected: exp?.greengrassDeploymentId, actual: log.deploymentFailed.deploymentId,
    }));
  }
  // A deployment ID is best effort on a v1 core: only a seen ID can mismatch.
  if (exp?.greengrassDeploymentId && log.deploymentId && log.deploymentId !== exp.greengrassDeploymentId) {
    out.push(finding('DEPLOYMENT_ID_MISMATCH', 'the newest deployment on the core is another one', {
      ...at, expected: exp.greengrassDeploymentId, actual: log.deploymentId,
    }));
  }
  return out;
}

function runtimeFindings(obs: Observation, exp: Expectation | null, connector: boolean): Finding[] {
  // Without a connector in the group nor an expectation, Things Graph is not in play.
  if (!connector && !exp) return [];
  const out: Finding[] = [];
  const rf = obs.runtimeFiles;
  const missing: string[] = [];
  if (!rf.dir) missing.push('thingsgraph/');
  if (!rf.db) missing.push('ThingsGraph.db');
  if (!rf.engine) missing.push('engine/');
  if (missing.length > 0) {
    out.push(finding('RUNTIME_FILES_MISSING', `Things Graph runtime files are missing: ${missing.join(', ')}`, { actual: missing }));
  }
  const tg = obs.thingsGraphLog;
  const at = lastPath(tg.files);
  const registered = tg.registered.map(normalizeUrn);
  if (exp) {
    if (!registered.includes(normalizeUrn(exp.systemInstanceId))) {
      out.push(finding('SYSTEM_INSTANCE_NOT_REGISTERED', 'the Things Graph runtime has not registered the system instance since it last started', {
        ...at, expected: exp.systemInstanceId, actual: tg.registered,
      }));
    }
  } else if (registered.length === 0) {
    out.push(finding('SYSTEM_INSTANCE_NOT_REGISTERED', 'the Things Graph runtime has registered no system instance since it last started', {
      ...at, actual: [],
    }));
  }
  return out;
}

function resourceFindings(obs: Observation, exp: Expectation | null): Finding[] {
  const out: Finding[] = [];
  const def = obs.group.state === 'ok' ? obs.group.definition : undefined;
  const onDisk = new Map(obs.flowResources.map((r) => [r.name, r]));
  const wanted = new Set<string>();
  for (const n of def?.flowResourceNames ?? []) wanted.add(stripArchiveExt(n));
  for (const r of exp?.resources ?? []) wanted.add(stripArchiveExt(r.name));

  if (obs.flowResources.length === 0 && (def?.hasThingsGraphConnector === true || wanted.size > 0)) {
    out.push(finding('RESOURCE_MISSING', 'the group deploys a Things Graph flow but no flow resource is on the core', {
      expected: [...wanted].map((n) => `${n}.tar.gz`),
    }));
  } else {
    for (const name of wanted) {
      if (!onDisk.has(name)) {
        out.push(finding('RESOURCE_MISSING', `flow resource ${name} is not on the core`, { expected: `${name}.tar.gz` }));
      }
    }
  }
  for (const r of exp?.resources ?? []) {
    const got = onDisk.get(stripArchiveExt(r.name));
    if (!got) continue;
    if (!got.archive) {
      out.push(finding('RESOURCE_DIGEST_MISMATCH', `flow resource ${r.name} has only an unpacked folder on the core, no archive to compare`, {
        ...(got.folder ? { path: got.folder } : {}), expected: r.sha256, actual: null,
      }));
    } else if (got.archive.sha256 !== r.sha256) {
      out.push(finding('RESOURCE_DIGEST_MISMATCH', `flow resource ${r.name} differs from the one deployed`, {
        path: got.archive.path, expected: r.sha256, actual: got.archive.sha256,
      }));
    }
  }
  for (const r of obs.flowResources) {
    if (r.archive) out.push(...r.archive.findings);
    out.push(...r.folderFindings);
  }
  return out;
}

function driftFindings(baseline: Baseline, obs: Observation): Finding[] {
  const d = compareUnits(baseline.units, obs.tree.units);
  return [
    ...d.modified.map((m) => finding('ARTIFACT_MODIFIED', 'deployed file changed', { path: m.path, expected: m.expected, actual: m.actual })),
    ...d.missing.map((m) => finding('ARTIFACT_MISSING', 'deployed file is gone', { path: m.path, expected: m.expected })),
    ...d.added.map((m) => finding('ARTIFACT_ADDED', 'file appeared in a deployed folder', { path: m.path, actual: m.actual })),
  ];
}
