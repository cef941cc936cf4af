// From the session to what a person reads: one row per device (or per
// silent group), the verdict of each, and the exit code. Pure. The device's
// word decides the verdict; the cloud's status is a column beside it. A row's
// columns follow the deployment kind: a Things Graph row names the group, its
// version and the system instance; a Greengrass v2 row the target, the
// deployment, how the device recorded it, an ongoing one, and the store.
import { normalizeUrn } from '../verify/expectation.js';
import type { Answer, AnswerFinding } from './answer.js';
import type { AnyTarget, GreengrassV2Target, Target } from './plan.js';
import type { CheckSession, DeviceWord } from './session.js';

/** A device's report status, or what check concluded without one. */
export type RowVerdict = 'VERIFIED' | 'MISMATCH' | 'FAILED' | 'TAMPERED' | 'INCOMPLETE' | 'REFUSED' | 'OTHER GROUP' | 'NO ANSWER';

interface RowBase {
  /** The device; null for a group nobody answered for. */
  thing: string | null;
  verdict: RowVerdict;
  findings: AnswerFinding[];
  findingCount: number;
  generatedAt: string | null;
  /** Seconds between the report and the end of the check. */
  reportAgeSeconds: number | null;
  sequence: number | null;
  /** Several devices answered for this group (a v1 group has one core): none of them confirms it. */
  sharedGroup: boolean;
  /** One line on what to do, for anything but VERIFIED. */
  note: string | null;
}

/** A Things Graph deployment's row. */
export interface Row extends RowBase {
  layout: 'thingsgraph-v1';
  groupId: string | null;
  groupName: string | null;
  systemInstanceId: string | null;
  /** The summary's own status (DEPLOYED_IN_TARGET, FAILED, ...). */
  cloudStatus: string | null;
  expected: { groupVersionId: string | null; deploymentId: string | null };
  seen: { groupId: string | null; groupVersionId: string | null; deploymentId: string | null } | null;
  /** The expected system instance is among those the runtime registered. */
  systemInstanceRegistered: boolean | null;
  /** The flow state the device reports (running, stopped, ...). */
  flow: string | null;
}

/** A Greengrass v2 deployment's row. */
export interface GreengrassV2Row extends RowBase {
  layout: 'greengrass-v2';
  /** `thinggroup/<name>` or `thing/<name>`, from the deployment's targetArn. */
  target: string | null;
  deploymentName: string | null;
  /** The deployment's own status (ACTIVE, COMPLETED, CANCELED, ...). */
  cloudStatus: string | null;
  expected: { deploymentId: string | null; components: { name: string; version: string }[] };
  seen: {
    deploymentId: string | null;
    target: string | null;
    /** How the device recorded its newest finished deployment. */
    record: 'succeeded' | 'failed' | null;
    ongoingDeploymentId: string | null;
    /** Component versions in its store. */
    componentCount: number;
    treeDigest: string | null;
  } | null;
  /** Each component the deployment names, as this device holds it (empty without an answer). */
  components: ComponentCheck[];
}

/** A deployed component on one device: the version wanted, what the store holds, what runs, its state. */
export interface ComponentCheck {
  name: string;
  expected: string;
  /** The versions of it in the component store. */
  stored: string[];
  /** The version the nucleus runs (its configuration), when the device could read it. */
  running: string | null;
  /** Its newest lifecycle state since the nucleus started (RUNNING, BROKEN, ...), when known. */
  state: string | null;
  /** The expected version is stored, nothing else runs, and it is not BROKEN or ERRORED. */
  asDeployed: boolean;
  /** The device's report listed only some components: this one may be among those left out. */
  unknown: boolean;
}

export type AnyRow = Row | GreengrassV2Row;

export type Outcome = 'confirmed' | 'refuted' | 'silent';

/** 0 every device confirmed; 1 any answered otherwise (wins over silence); 3 any silent. */
export const EXIT_CODES: Record<Outcome, number> = { confirmed: 0, refuted: 1, silent: 3 };

const BAD_NOTE: Partial<Record<RowVerdict, string>> = {
  MISMATCH: 'the core runs something other than this deployment: see the findings',
  FAILED: 'the deployment did not land or the flow does not run: see the findings and the core\'s runtime.log',
  TAMPERED: 'what landed changed on the core: see the findings, then redeploy',
  INCOMPLETE: 'the agent could not see everything (often file permissions): see the findings',
  REFUSED: 'the device could not use the expectation sent',
  'NO ANSWER': 'no report in time: is the agent running and connected? Try a longer --timeout',
};

/** Where a v2 core's notes differ: no flow, and the nucleus keeps its own log. */
const BAD_NOTE_V2: Partial<Record<RowVerdict, string>> = {
  ...BAD_NOTE,
  FAILED: 'the deployment did not land, or a component is broken: see the findings and the nucleus log (greengrass.log)',
  INCOMPLETE: 'the agent could not see everything (a deployment still ongoing, or file permissions): see the findings',
};

const noteOf = (layout: AnyRow['layout'], v: RowVerdict) => (layout === 'greengrass-v2' ? BAD_NOTE_V2 : BAD_NOTE)[v];

function registered(a: Answer, t: Target): boolean {
  const want = normalizeUrn(t.deployment.summary.id);
  return a.observed.systemInstances.some((s) => normalizeUrn(s) === want);
}

function ageSeconds(generatedAt: string | null, nowMs: number): number | null {
  if (!generatedAt) return null;
  const t = Date.parse(generatedAt);
  return Number.isNaN(t) ? null : Math.max(0, Math.round((nowMs - t) / 1000));
}

function flowOf(a: Answer): string | null {
  if (a.flow) return a.flow;
  // Older agents without a health section: what the findings say.
  if (a.findings.some((f) => f.code === 'FLOW_NOT_RUNNING')) return 'stopped';
  if (a.findings.some((f) => f.code === 'RUNTIME_NOT_INITIALIZED')) return 'not-initialized';
  return null;
}

function common(): RowBase {
  return {
    thing: null, verdict: 'NO ANSWER', findings: [], findingCount: 0, generatedAt: null, reportAgeSeconds: null, sequence: null,
    sharedGroup: false, note: BAD_NOTE['NO ANSWER']!,
  };
}

function baseRow(t: Target | null): Row {
  const s = t?.deployment.summary;
  return {
    ...common(),
    layout: 'thingsgraph-v1',
    groupId: s?.greengrassGroupId ?? null,
    groupName: s?.greengrassGroupName ?? null,
    systemInstanceId: s?.id ?? null,
    cloudStatus: s?.status ?? null,
    expected: { groupVersionId: s?.greengrassGroupVersionId ?? null, deploymentId: t?.deployment.greengrassDeploymentId ?? null },
    seen: null,
    systemInstanceRegistered: null,
    flow: null,
  };
}

function baseV2Row(t: GreengrassV2Target | null): GreengrassV2Row {
  const x = t?.deployment.expectation;
  // list-effective-deployments names deployments, not one with its components: nothing per component to compare.
  const e = x?.kind === 'deployment' ? x : undefined;
  return {
    ...common(),
    layout: 'greengrass-v2',
    target: e?.target ?? (t?.key || null),
    deploymentName: e?.deploymentName ?? null,
    cloudStatus: e?.deploymentStatus ?? null,
    expected: { deploymentId: e?.deploymentId ?? null, components: e?.components ?? [] },
    seen: null,
    components: [],
  };
}

/** What a v2 device holds of each deployed component, from the components its report lists. */
export function componentChecks(expected: readonly { name: string; version: string }[], a: Answer): ComponentCheck[] {
  const seen = a.v2?.components ?? [];
  const cut = (a.v2?.componentCount ?? 0) > seen.length;
  return expected.map((e) => {
    const mine = seen.filter((c) => c.name === e.name);
    const running = mine.find((c) => c.running !== null)?.running ?? null;
    const state = mine.find((c) => c.version === (running ?? e.version))?.state ?? mine.find((c) => c.state !== null)?.state ?? null;
    const stored = [...new Set(mine.map((c) => c.version))].sort();
    const asDeployed = stored.includes(e.version) && (running === null || running === e.version) && state !== 'BROKEN' && state !== 'ERRORED';
    return { name: e.name, expected: e.version, stored, running, state, asDeployed, unknown: cut && mine.length === 0 };
  });
}

function baseRowOf(t: AnyTarget | null, layout: AnyRow['layout']): AnyRow {
  if (t) return t.layout === 'thingsgraph-v1' ? baseRow(t) : baseV2Row(t);
  return layout === 'thingsgraph-v1' ? baseRow(null) : baseV2Row(null);
}

function withReport(row: AnyRow, a: Answer, t: AnyTarget | null, nowMs: number): AnyRow {
  const heard = {
    thing: a.thing,
    findings: a.findings,
    findingCount: a.findingCount,
    generatedAt: a.generatedAt,
    reportAgeSeconds: ageSeconds(a.generatedAt, nowMs),
    sequence: a.sequence,
  };
  if (row.layout === 'thingsgraph-v1') {
    return {
      ...row, ...heard,
      seen: { groupId: a.observed.groupId, groupVersionId: a.observed.groupVersionId, deploymentId: a.observed.deploymentId },
      systemInstanceRegistered: t?.layout === 'thingsgraph-v1' ? registered(a, t) : null,
      flow: flowOf(a),
    };
  }
  const v = a.v2;
  return {
    ...row, ...heard,
    seen: v
      ? { deploymentId: v.deploymentId, target: v.target, record: v.record, ongoingDeploymentId: v.ongoingDeploymentId, componentCount: v.componentCount, treeDigest: v.treeDigest }
      : null,
    components: v ? componentChecks(row.expected.components, a) : [],
  };
}

/** The cloud's status beside the device's word, when they tell different stories. */
function cloudNote(verdict: RowVerdict, t: AnyTarget): string | null {
  if (t.layout === 'greengrass-v2') {
    const x = t.deployment.expectation;
    const s = x.kind === 'deployment' ? x.deploymentStatus : undefined;
    if (s === undefined || s === 'ACTIVE' || s === 'COMPLETED') return null;
    return verdict === 'VERIFIED' ? `the device says VERIFIED though the deployment is ${s}` : `the deployment is ${s}`;
  }
  const s = t.deployment.summary.status;
  if (s === undefined || s === 'DEPLOYED_IN_TARGET') return null;
  if (s === 'BOOTSTRAP' || s === 'DEPLOY_IN_PROGRESS') {
    return verdict === 'VERIFIED' ? null : `the cloud says ${s}: the deployment may not have reached the device yet; wait longer (--timeout)`;
  }
  return verdict === 'VERIFIED' ? `the device says VERIFIED though the cloud says ${s}` : `the cloud says ${s}`;
}

function joinNotes(...n: (string | null | undefined)[]): string | null {
  const parts = n.filter((x): x is string => !!x);
  return parts.length ? parts.join('; ') : null;
}

function wordRow(t: AnyTarget, w: DeviceWord, nowMs: number): AnyRow {
  const row = { ...baseRowOf(t, t.layout), thing: w.thing };
  if (w.answer) {
    const r = withReport(row, w.answer, t, nowMs);
    return { ...r, verdict: w.answer.status, note: joinNotes(noteOf(r.layout, w.answer.status), cloudNote(w.answer.status, t)) };
  }
  if (w.refusal) {
    const r = withReport(row, w.refusal, t, nowMs);
    return { ...r, verdict: 'REFUSED', note: `${BAD_NOTE.REFUSED}: ${w.refusal.refusal}` };
  }
  return row;
}

function groupLabel(t: AnyTarget): string {
  return t.layout === 'thingsgraph-v1' ? `group ${t.deployment.summary.greengrassGroupId}` : t.key;
}

/** Rows in input order: per deployment, its devices (or one NO ANSWER row); per --thing, that thing. */
export function buildRows(session: CheckSession, nowMs: number): AnyRow[] {
  const rows: AnyRow[] = [];
  const layout = session.plan.layout;
  if (session.plan.mode === 'group') {
    for (const g of session.groups) {
      if (g.devices.size === 0) {
        const r = baseRowOf(g.target, layout);
        const nobody = g.target.layout === 'greengrass-v2' && g.target.targetKind === 'thinggroup'
          ? `no device of ${g.target.key} answered in time: is the agent running and connected on its cores, and does the agent follow the group (its deployment landed)? Try a longer --timeout`
          : r.note;
        rows.push({ ...r, note: joinNotes(nobody, cloudNote('NO ANSWER', g.target)) });
        continue;
      }
      // A v1 group has one core; a v2 thing group any number of them.
      const shared = g.target.layout === 'thingsgraph-v1' && g.devices.size > 1;
      const words = [...g.devices.values()].sort((a, b) => (a.thing < b.thing ? -1 : a.thing > b.thing ? 1 : 0));
      for (const w of words) {
        const r = wordRow(g.target, w, nowMs);
        rows.push(shared ? { ...r, sharedGroup: true, note: `${g.devices.size} devices answered for ${groupLabel(g.target)}, which has one core: the group is not confirmed` } : r);
      }
    }
    return rows;
  }
  for (const s of session.thingSlots) {
    if (s.otherGroup) {
      const a = s.otherGroup.answer;
      const r = withReport({ ...baseRowOf(null, layout), thing: s.thing }, a, null, nowMs);
      const observes = layout === 'thingsgraph-v1' ? `group ${a.observed.groupId ?? '(none)'}` : `${a.v2?.target ?? 'no deployment target'}`;
      rows.push({
        ...r, ...(r.layout === 'thingsgraph-v1' ? { groupId: a.observed.groupId } : {}), verdict: 'OTHER GROUP',
        note: `observes ${observes}, for which the input has no deployment`,
      } as AnyRow);
    } else if (s.target) {
      rows.push(wordRow(s.target, s.word, nowMs));
    } else {
      rows.push({ ...baseRowOf(null, layout), thing: s.thing, note: `${BAD_NOTE['NO ANSWER']!} (it did not say which ${layout === 'thingsgraph-v1' ? 'group' : 'deployment target'} it observes)` });
    }
  }
  return rows;
}

/** A row that counts against the deployment (anything but VERIFIED and silence). */
export function isBad(r: AnyRow): boolean {
  return r.sharedGroup || (r.verdict !== 'VERIFIED' && r.verdict !== 'NO ANSWER');
}

export function outcomeOf(rows: readonly AnyRow[]): Outcome {
  if (rows.some(isBad)) return 'refuted';
  if (rows.some((r) => r.verdict === 'NO ANSWER')) return 'silent';
  return 'confirmed';
}

export interface Counts {
  rows: number;
  verified: number;
  refuted: number;
  silent: number;
}

export function countRows(rows: readonly AnyRow[]): Counts {
  return {
    rows: rows.length,
    verified: rows.filter((r) => r.verdict === 'VERIFIED' && !r.sharedGroup).length,
    refuted: rows.filter(isBad).length,
    silent: rows.filter((r) => r.verdict === 'NO ANSWER').length,
  };
}

/** What the exit says, and what to do about it. */
export function outcomeMessage(outcome: Outcome, c: Counts): string {
  switch (outcome) {
    case 'confirmed':
      return `confirmed: all ${c.verified} device(s) say VERIFIED`;
    case 'refuted':
      return `not confirmed: ${c.refuted} device(s) answered something other than VERIFIED` +
        (c.silent > 0 ? `, ${c.silent} did not answer` : '') + '; see the findings of each';
    case 'silent':
      return `not confirmed: ${c.silent} device(s) did not answer in time (${c.verified} verified); ` +
        'check that their agent runs and is connected, or wait longer with --timeout';
  }
}
