// The verdict: a pure function of what was observed, the baseline and the
// expectation. No I/O here, so every rule is testable on plain data.
import type { Observation } from '../model/observation.js';
import type { Baseline } from '../model/baseline.js';
import { compareUnits } from '../model/digest.js';
import { stripArchiveExt } from '../model/flow-names.js';
import { normalizeUrn, type Expectation } from './expectation.js';
import { FINDING_CODES, finding, unreadablePlace, type Category, type Finding } from '../model/findings.js';

export type Status = 'VERIFIED' | 'MISMATCH' | 'FAILED' | 'TAMPERED' | 'INCOMPLETE';
export const STATUSES: readonly Status[] = ['VERIFIED', 'MISMATCH', 'FAILED', 'TAMPERED', 'INCOMPLETE'];

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
  const blind = blindPlaces(obs);

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
    out.push(...driftFindings(baseline, obs, blind));
  }
  out.push(...unreadableFindings(obs), ...obs.findings, ...(extra ?? []));
  return { status: statusOf(out), findings: out };
}

// ---- what could not be read ----
//
// A place that could not be read (EACCES for a user who is not root, EIO ...)
// is FILE_UNREADABLE, and the verdict INCOMPLETE: never evidence that the
// deployment failed or changed. So no rule below concludes "missing", "not
// registered" or "not running" from a place it could not read.

/** `p` is `dir` or lies below it. */
const under = (p: string, dir: string): boolean => dir === '' || p === dir || p.startsWith(`${dir}/`);

/** Root-relative places that could not be read, whoever found them. */
export function blindPlaces(obs: Observation): string[] {
  const places = new Set<string>();
  const take = (fs: Finding[]) => {
    for (const f of fs) {
      const u = unreadablePlace(f);
      if (u) places.add(u.path);
    }
  };
  take(obs.findings);
  for (const r of obs.flowResources) {
    if (r.archive) take(r.archive.findings);
    take(r.folderFindings);
  }
  if (obs.group.state === 'unreadable') places.add(obs.group.path);
  for (const u of obs.runtimeFiles.unreadable ?? []) places.add(u.path);
  for (const u of obs.flowSearch?.unreadable ?? []) places.add(u.path);
  for (const p of [...(obs.thingsGraphLog.unreadable ?? []), ...(obs.runtimeLog.unreadable ?? [])]) places.add(p);
  return [...places].sort();
}

/**
 * FILE_UNREADABLE for the places only the observation's state records (group.json,
 * the runtime files, folders searched for flows), unless a finding already
 * names that place or one above it.
 */
function unreadableFindings(obs: Observation): Finding[] {
  const said: string[] = [];
  const note = (fs: Finding[]) => {
    for (const f of fs) if (f.code === 'FILE_UNREADABLE' && f.path !== undefined) said.push(f.path);
  };
  note(obs.findings);
  for (const r of obs.flowResources) if (r.archive) note(r.archive.findings);
  const out: Finding[] = [];
  const add = (path: string, code: string, message: string) => {
    if (said.some((s) => under(path, s))) return;
    said.push(path);
    out.push(finding('FILE_UNREADABLE', message, { path, actual: code }));
  };
  const g = obs.group;
  if (g.state === 'unreadable') add(g.path, g.reason, `cannot read the group definition (${g.reason}): the group, its version and the core thing are not known`);
  for (const u of obs.flowSearch?.unreadable ?? []) add(u.path, u.reason, `cannot list a folder searched for flow resources (${u.reason})`);
  for (const u of obs.runtimeFiles.unreadable ?? []) add(u.path, u.reason, `cannot tell whether this Things Graph runtime file is there (${u.reason})`);
  return out;
}

function lastPath(files: string[]): { path?: string } {
  const p = files[files.length - 1];
  return p ? { path: p } : {};
}

function deploymentFindings(obs: Observation, exp: Expectation | null): Finding[] {
  const out: Finding[] = [];
  const log = obs.runtimeLog;
  // Part of runtime.log could not be read: which deployment is the newest is not known.
  if ((log.unreadable ?? []).length > 0) return out;
  const at = lastPath(log.files);
  const failed = log.deploymentFailed;
  if (failed) {
    const want = exp?.greengrassDeploymentId;
    const id = failed.deploymentId;
    // The runtime's line usually names the ID itself: then it is said once, in the quote.
    const quoted = id !== undefined && failed.message.includes(id);
    const which =
      id === undefined ? 'the newest deployment'
      : want === undefined ? (quoted ? 'a deployment' : `deployment ${id}`)
      : id === want ? (quoted ? 'the expected deployment' : `the expected deployment, ${id},`)
      : `deployment ${id} (not the one expected, ${want})`;
    out.push(finding('DEPLOYMENT_FAILED', `the Greengrass runtime reports that ${which} failed: ${failed.message}`, {
      ...at,
      ...(want !== undefined ? { expected: { deploymentId: want } } : {}),
      actual: { failedDeploymentId: id ?? null },
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
  const dir = rf.path ?? 'thingsgraph';
  const places = { dir: `${dir}/`, db: `${dir}/ThingsGraph.db`, engine: `${dir}/engine/` };
  // Only what was looked at and is not there is missing; what could not be looked at is said as FILE_UNREADABLE.
  const unknown = new Set((rf.unreadable ?? []).map((u) => u.path));
  const missing = (['dir', 'db', 'engine'] as const)
    .filter((k) => !rf[k] && !unknown.has(places[k].replace(/\/$/, '')))
    .map((k) => places[k]);
  if (missing.length > 0) {
    out.push(finding('RUNTIME_FILES_MISSING', `Things Graph runtime files are missing: ${missing.join(', ')}`, {
      path: dir, expected: { present: Object.values(places) }, actual: { missing },
    }));
  }
  const tg = obs.thingsGraphLog;
  const at = lastPath(tg.files);
  const registered = tg.registered.map(normalizeUrn);
  // A log that could not be read in full may hold the registration: its silence proves nothing.
  const blindLog = (tg.unreadable ?? []).length > 0;
  if (exp) {
    if (!registered.includes(normalizeUrn(exp.systemInstanceId)) && !blindLog) {
      out.push(finding('SYSTEM_INSTANCE_NOT_REGISTERED', 'the Things Graph runtime has not registered the system instance since it last started', {
        ...at, expected: exp.systemInstanceId, actual: tg.registered,
      }));
    }
  } else if (registered.length === 0 && !blindLog) {
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
  // A folder the search could not list may hold what is not found elsewhere.
  const searchBlind = (obs.flowSearch?.unreadable ?? []).length > 0;

  if (searchBlind) {
    // Absence is not known: nothing is said missing.
  } else if (obs.flowResources.length === 0 && (def?.hasThingsGraphConnector === true || wanted.size > 0)) {
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
      if (searchBlind) continue; // the archive may sit in the folder that could not be listed
      out.push(finding('RESOURCE_DIGEST_MISMATCH', `flow resource ${r.name} has only an unpacked folder on the core, no archive to compare`, {
        ...(got.folder ? { path: got.folder } : {}), expected: r.sha256, actual: null,
      }));
    } else if (got.archive.sha256 === null && got.archive.findings.some((f) => unreadablePlace(f) !== null)) {
      // Could not be read: its FILE_UNREADABLE finding says so; its digest is not known, not different.
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

function driftFindings(baseline: Baseline, obs: Observation, blind: string[]): Finding[] {
  const d = compareUnits(baseline.units, obs.tree.units);
  // Files below a place that could not be read were not seen: not missing, not changed.
  const seen = (m: { path: string }) => !blind.some((b) => under(m.path, b));
  return [
    ...d.modified.filter(seen).map((m) => finding('ARTIFACT_MODIFIED', 'deployed file changed', { path: m.path, expected: m.expected, actual: m.actual })),
    ...d.missing.filter(seen).map((m) => finding('ARTIFACT_MISSING', 'deployed file is gone', { path: m.path, expected: m.expected })),
    ...d.added.filter(seen).map((m) => finding('ARTIFACT_ADDED', 'file appeared in a deployed folder', { path: m.path, actual: m.actual })),
  ];
}
