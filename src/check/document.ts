// The result of a check as one versioned document (schema/check.schema.json):
// what --json prints and what the table and the page are drawn from. Pure.
import type { SkippedSummary } from '../verify/deploy-response.js';
import { entryDeploymentId } from '../verify/greengrass-v2-expectation.js';
import type { LayoutName } from '../verify/report.js';
import { fleetConsistency, type Cohort, type FleetMember } from './consistency.js';
import type { AnyTarget } from './plan.js';
import { buildRows, countRows, EXIT_CODES, outcomeMessage, outcomeOf, type AnyRow, type Counts, type Outcome } from './rows.js';
import type { CheckSession } from './session.js';

export const CHECK_SCHEMA = 'deploy-witness/check';
export const CHECK_SCHEMA_VERSION = 1;

/** `R`: the rows' type; a document of a Things Graph check has Things Graph rows. */
export interface CheckDocument<R extends AnyRow = AnyRow> {
  schema: typeof CHECK_SCHEMA;
  schemaVersion: typeof CHECK_SCHEMA_VERSION;
  agent: { name: 'deploy-witness'; version: string };
  startedAt: string;
  finishedAt: string;
  /** Which kind of deployment was checked: the rows' columns follow it. */
  layout: LayoutName;
  /** How devices were found: by the group they observe, or named with --thing. */
  mode: 'group' | 'thing';
  firstAnswer: boolean;
  timeoutSeconds: number;
  /** Every device answered before the timeout (nothing left to wait for). */
  complete: boolean;
  outcome: Outcome;
  exitCode: number;
  message: string;
  counts: Counts;
  rows: R[];
  /** Entries not asked about: a Things Graph system instance, or a superseded v2 deployment. */
  skipped: ({ systemInstanceId: string; where: string; reason: string } | { deploymentId: string; where: string; reason: string })[];
  notes: string[];
  consistency: Cohort[];
}

export interface DocumentInput {
  session: CheckSession;
  skipped: readonly (SkippedSummary | { deploymentId: string; where: string; reason: string })[];
  notes: readonly string[];
  startedAt: Date;
  finishedAt: Date;
  firstAnswer: boolean;
  timeoutSeconds: number;
  version: string;
}

/** What ties a device to the others: its system instance (Things Graph), or the v2 deployment it answered for. */
function tie(t: AnyTarget): Pick<FleetMember, 'systemInstanceId' | 'deploymentId'> {
  return t.layout === 'thingsgraph-v1'
    ? { systemInstanceId: t.deployment.summary.id, deploymentId: null }
    : { systemInstanceId: null, deploymentId: entryDeploymentId(t.deployment.expectation) };
}

/** Devices that answered, for the fleet comparison. */
function members(session: CheckSession): FleetMember[] {
  const out: FleetMember[] = [];
  if (session.plan.mode === 'group') {
    for (const g of session.groups) {
      for (const w of g.devices.values()) {
        if (w.answer) out.push({ thing: w.thing, ...tie(g.target), answer: w.answer });
      }
    }
  } else {
    for (const s of session.thingSlots) {
      if (s.word.answer && s.target) out.push({ thing: s.thing, ...tie(s.target), answer: s.word.answer });
    }
  }
  return out;
}

export function checkDocument(i: DocumentInput): CheckDocument {
  const rows = buildRows(i.session, i.finishedAt.getTime());
  const outcome = outcomeOf(rows);
  const counts = countRows(rows);
  return {
    schema: CHECK_SCHEMA,
    schemaVersion: CHECK_SCHEMA_VERSION,
    agent: { name: 'deploy-witness', version: i.version },
    startedAt: i.startedAt.toISOString(),
    finishedAt: i.finishedAt.toISOString(),
    layout: i.session.plan.layout,
    mode: i.session.plan.mode,
    firstAnswer: i.firstAnswer,
    timeoutSeconds: i.timeoutSeconds,
    complete: i.session.done(),
    outcome,
    exitCode: EXIT_CODES[outcome],
    message: outcomeMessage(outcome, counts),
    counts,
    rows,
    skipped: i.skipped.map((s) => ('summary' in s ? { systemInstanceId: s.summary.id, where: s.where, reason: s.reason } : { deploymentId: s.deploymentId, where: s.where, reason: s.reason })),
    notes: [...i.notes],
    consistency: fleetConsistency(members(i.session)),
  };
}
