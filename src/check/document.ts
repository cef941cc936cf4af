// The result of a check as one versioned document (schema/check.schema.json):
// what --json prints and what the table and the page are drawn from. Pure.
import type { SkippedSummary } from '../verify/deploy-response.js';
import { fleetConsistency, type Cohort, type FleetMember } from './consistency.js';
import { buildRows, countRows, EXIT_CODES, outcomeMessage, outcomeOf, type Counts, type Outcome, type Row } from './rows.js';
import type { CheckSession } from './session.js';

export const CHECK_SCHEMA = 'deploy-witness/check';
export const CHECK_SCHEMA_VERSION = 1;

export interface CheckDocument {
  schema: typeof CHECK_SCHEMA;
  schemaVersion: typeof CHECK_SCHEMA_VERSION;
  agent: { name: 'deploy-witness'; version: string };
  startedAt: string;
  finishedAt: string;
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
  rows: Row[];
  skipped: { systemInstanceId: string; where: string; reason: string }[];
  notes: string[];
  consistency: Cohort[];
}

export interface DocumentInput {
  session: CheckSession;
  skipped: readonly SkippedSummary[];
  notes: readonly string[];
  startedAt: Date;
  finishedAt: Date;
  firstAnswer: boolean;
  timeoutSeconds: number;
  version: string;
}

/** Devices that answered, for the fleet comparison. */
function members(session: CheckSession): FleetMember[] {
  const out: FleetMember[] = [];
  if (session.plan.mode === 'group') {
    for (const g of session.groups) {
      for (const w of g.devices.values()) {
        if (w.answer) out.push({ thing: w.thing, systemInstanceId: g.target.deployment.summary.id, answer: w.answer });
      }
    }
  } else {
    for (const s of session.thingSlots) {
      if (s.word.answer && s.target) out.push({ thing: s.thing, systemInstanceId: s.target.deployment.summary.id, answer: s.word.answer });
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
    mode: i.session.plan.mode,
    firstAnswer: i.firstAnswer,
    timeoutSeconds: i.timeoutSeconds,
    complete: i.session.done(),
    outcome,
    exitCode: EXIT_CODES[outcome],
    message: outcomeMessage(outcome, counts),
    counts,
    rows,
    skipped: i.skipped.map((s) => ({ systemInstanceId: s.summary.id, where: s.where, reason: s.reason })),
    notes: [...i.notes],
    consistency: fleetConsistency(members(i.session)),
  };
}
