// What check sends: one envelope per deployment, each with a fresh request ID,
// and where it goes (the group's topic, or each named thing's). Pure.
//
// An answer is a report whose expectation.sha256 is the SHA-256 of the
// canonical JSON of the envelope sent: the fresh request ID inside makes that
// digest unique, so a retained or spooled report from before can never pass
// for the answer, and no clock needs comparing.
import { groupExpectedTopic, reportWildcard, topicsFor } from '../report/protocol.js';
import { canonicalJson, sha256Hex } from '../verify/canonical.js';
import type { DeviceDeployment } from '../verify/deploy-response.js';
import { normalizeUrn } from '../verify/expectation.js';

export interface EnvelopeResource {
  name: string;
  sha256: string;
}

/** A flow archive's digest given with --resource-file; `systemInstanceId` absent: for every deployment. */
export interface ResourceDigest extends EnvelopeResource {
  systemInstanceId?: string;
}

export interface Envelope {
  expectation: { summary: Record<string, string>; greengrassDeploymentId?: string };
  requestId: string;
  resources: EnvelopeResource[];
}

export interface Target {
  /** Position in the input, for stable output order. */
  index: number;
  deployment: DeviceDeployment;
  envelope: Envelope;
  /** The envelope as published. */
  payload: string;
  /** SHA-256 of the envelope's canonical JSON: what an answer carries. */
  sha256: string;
  requestId: string;
  /** `<prefix>/groups/<groupId>/expected`. */
  groupTopic: string;
}

export interface Plan {
  prefix: string;
  /** `group`: found by the group they observe; `thing`: the things named with --thing. */
  mode: 'group' | 'thing';
  targets: Target[];
  things: string[];
  reportFilter: string;
}

/** The summary as sent: the fields read, dates as ISO strings. */
function summaryOf(d: DeviceDeployment): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.summary)) if (typeof v === 'string') out[k] = v;
  return out;
}

export function buildEnvelope(d: DeviceDeployment, requestId: string, resources: EnvelopeResource[]): Envelope {
  const expectation: Envelope['expectation'] = { summary: summaryOf(d) };
  if (d.greengrassDeploymentId !== undefined) expectation.greengrassDeploymentId = d.greengrassDeploymentId;
  return { expectation, requestId, resources };
}

export function envelopeSha256(e: Envelope): string {
  return sha256Hex(canonicalJson(e));
}

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/** The digests that apply to one deployment: those without an ID, and those for its system instance. */
export function resourcesFor(d: DeviceDeployment, all: readonly ResourceDigest[]): EnvelopeResource[] {
  const mine = all.filter((r) => r.systemInstanceId === undefined || normalizeUrn(r.systemInstanceId) === normalizeUrn(d.summary.id));
  const byName = new Map<string, EnvelopeResource>();
  for (const r of mine) {
    const prior = byName.get(r.name);
    if (prior && prior.sha256 !== r.sha256) {
      throw new PlanError(`two --resource-file digests for ${r.name} apply to ${d.summary.id}: give one`);
    }
    byName.set(r.name, { name: r.name, sha256: r.sha256 });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface PlanInput {
  prefix: string;
  deployments: readonly DeviceDeployment[];
  things?: readonly string[];
  resources?: readonly ResourceDigest[];
  /** Fresh and unguessable per call (crypto randomness in the command). */
  newRequestId: () => string;
}

export function planCheck(input: PlanInput): Plan {
  const resources = input.resources ?? [];
  for (const r of resources) {
    if (r.systemInstanceId !== undefined && !input.deployments.some((d) => normalizeUrn(d.summary.id) === normalizeUrn(r.systemInstanceId!))) {
      throw new PlanError(`--resource-file ${r.systemInstanceId}=...: no deployment in the input is for that system instance`);
    }
  }
  const things = [...new Set(input.things ?? [])];
  for (const t of things) topicsFor(input.prefix, t); // throws on a name that cannot be a topic level
  const targets = input.deployments.map((d, index): Target => {
    const requestId = input.newRequestId();
    const envelope = buildEnvelope(d, requestId, resourcesFor(d, resources));
    return {
      index, deployment: d, envelope, payload: JSON.stringify(envelope), sha256: envelopeSha256(envelope), requestId,
      groupTopic: groupExpectedTopic(input.prefix, d.summary.greengrassGroupId),
    };
  });
  return { prefix: input.prefix, mode: things.length > 0 ? 'thing' : 'group', targets, things, reportFilter: reportWildcard(input.prefix) };
}
