// From the session to what a person reads: one row per device (or per
// silent group), the verdict of each, and the exit code. Pure. The device's
// word decides the verdict; the cloud's status is a column beside it.
import { normalizeUrn } from '../verify/expectation.js';
import type { Answer, AnswerFinding } from './answer.js';
import type { Target } from './plan.js';
import type { CheckSession, DeviceWord } from './session.js';

/** A device's report status, or what check concluded without one. */
export type RowVerdict = 'VERIFIED' | 'MISMATCH' | 'FAILED' | 'TAMPERED' | 'INCOMPLETE' | 'REFUSED' | 'OTHER GROUP' | 'NO ANSWER';

export interface Row {
  /** The device; null for a group nobody answered for. */
  thing: string | null;
  groupId: string | null;
  groupName: string | null;
  systemInstanceId: string | null;
  verdict: RowVerdict;
  /** The summary's own status (DEPLOYED_IN_TARGET, FAILED, ...). */
  cloudStatus: string | null;
  expected: { groupVersionId: string | null; deploymentId: string | null };
  seen: { groupId: string | null; groupVersionId: string | null; deploymentId: string | null } | null;
  /** The expected system instance is among those the runtime registered. */
  systemInstanceRegistered: boolean | null;
  /** The flow state the device reports (running, stopped, ...). */
  flow: string | null;
  findings: AnswerFinding[];
  findingCount: number;
  generatedAt: string | null;
  /** Seconds between the report and the end of the check. */
  reportAgeSeconds: number | null;
  sequence: number | null;
  /** Several devices answered for this group: none of them confirms it. */
  sharedGroup: boolean;
  /** One line on what to do, for anything but VERIFIED. */
  note: string | null;
}

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

function baseRow(t: Target | null): Row {
  const s = t?.deployment.summary;
  return {
    thing: null,
    groupId: s?.greengrassGroupId ?? null,
    groupName: s?.greengrassGroupName ?? null,
    systemInstanceId: s?.id ?? null,
    verdict: 'NO ANSWER',
    cloudStatus: s?.status ?? null,
    expected: { groupVersionId: s?.greengrassGroupVersionId ?? null, deploymentId: t?.deployment.greengrassDeploymentId ?? null },
    seen: null,
    systemInstanceRegistered: null,
    flow: null,
    findings: [],
    findingCount: 0,
    generatedAt: null,
    reportAgeSeconds: null,
    sequence: null,
    sharedGroup: false,
    note: BAD_NOTE['NO ANSWER']!,
  };
}

function withReport(row: Row, a: Answer, t: Target | null, nowMs: number): Row {
  return {
    ...row,
    thing: a.thing,
    seen: { groupId: a.observed.groupId, groupVersionId: a.observed.groupVersionId, deploymentId: a.observed.deploymentId },
    systemInstanceRegistered: t ? registered(a, t) : null,
    flow: flowOf(a),
    findings: a.findings,
    findingCount: a.findingCount,
    generatedAt: a.generatedAt,
    reportAgeSeconds: ageSeconds(a.generatedAt, nowMs),
    sequence: a.sequence,
  };
}

/** The cloud's status beside the device's word, when they tell different stories. */
function cloudNote(verdict: RowVerdict, t: Target): string | null {
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

function wordRow(t: Target, w: DeviceWord, nowMs: number): Row {
  const row = { ...baseRow(t), thing: w.thing };
  if (w.answer) {
    const r = withReport(row, w.answer, t, nowMs);
    return { ...r, verdict: w.answer.status, note: joinNotes(BAD_NOTE[w.answer.status], cloudNote(w.answer.status, t)) };
  }
  if (w.refusal) {
    const r = withReport(row, w.refusal, t, nowMs);
    return { ...r, verdict: 'REFUSED', note: `${BAD_NOTE.REFUSED}: ${w.refusal.refusal}` };
  }
  return row;
}

/** Rows in input order: per deployment, its devices (or one NO ANSWER row); per --thing, that thing. */
export function buildRows(session: CheckSession, nowMs: number): Row[] {
  const rows: Row[] = [];
  if (session.plan.mode === 'group') {
    for (const g of session.groups) {
      if (g.devices.size === 0) {
        const r = baseRow(g.target);
        rows.push({ ...r, note: joinNotes(r.note, cloudNote('NO ANSWER', g.target)) });
        continue;
      }
      const shared = g.devices.size > 1;
      const words = [...g.devices.values()].sort((a, b) => (a.thing < b.thing ? -1 : a.thing > b.thing ? 1 : 0));
      for (const w of words) {
        const r = wordRow(g.target, w, nowMs);
        rows.push(shared ? { ...r, sharedGroup: true, note: `${g.devices.size} devices answered for group ${g.target.deployment.summary.greengrassGroupId}, which has one core: the group is not confirmed` } : r);
      }
    }
    return rows;
  }
  for (const s of session.thingSlots) {
    if (s.otherGroup) {
      const a = s.otherGroup.answer;
      const r = withReport({ ...baseRow(null), thing: s.thing }, a, null, nowMs);
      rows.push({
        ...r, groupId: a.observed.groupId, verdict: 'OTHER GROUP',
        note: `observes group ${a.observed.groupId ?? '(none)'}, for which the input has no deployment`,
      });
    } else if (s.target) {
      rows.push(wordRow(s.target, s.word, nowMs));
    } else {
      rows.push({ ...baseRow(null), thing: s.thing, note: `${BAD_NOTE['NO ANSWER']!} (it did not say which group it observes)` });
    }
  }
  return rows;
}

/** A row that counts against the deployment (anything but VERIFIED and silence). */
export function isBad(r: Row): boolean {
  return r.sharedGroup || (r.verdict !== 'VERIFIED' && r.verdict !== 'NO ANSWER');
}

export function outcomeOf(rows: readonly Row[]): Outcome {
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

export function countRows(rows: readonly Row[]): Counts {
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
