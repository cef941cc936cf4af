// What check sends: one envelope per deployment, each with a fresh request ID,
// and where it goes (the group's topic, or each named thing's). Pure.
//
// An answer is a report whose expectation.sha256 is the SHA-256 of the
// canonical JSON of the envelope sent: the fresh request ID inside makes that
// digest unique, so a retained or spooled report from before can never pass
// for the answer, and no clock needs comparing.
import { groupExpectedTopic, reportWildcard, thingGroupExpectedTopic, topicsFor } from '../report/protocol.js';
import { canonicalJson, sha256Hex } from '../verify/canonical.js';
import type { DeviceDeployment } from '../verify/deploy-response.js';
import { normalizeUrn } from '../verify/expectation.js';
import type { GetDeploymentInput } from '../verify/greengrass-v2-expectation.js';

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

interface TargetBase {
  /** Position in the input, for stable output order. */
  index: number;
  /** The envelope as published. */
  payload: string;
  /** SHA-256 of the envelope's canonical JSON: what an answer carries. */
  sha256: string;
  requestId: string;
  /** Where the envelope goes when devices are found by group (see below). */
  groupTopic: string;
  /** What a device must observe to answer for it: the v1 group ID, or the v2 target (`thinggroup/<name>`, `thing/<name>`). */
  key: string;
}

/** A Things Graph deployment, sent to `<prefix>/groups/<groupId>/expected`. */
export interface Target extends TargetBase {
  layout: 'thingsgraph-v1';
  deployment: DeviceDeployment;
  envelope: Envelope;
}

/** What a Greengrass v2 device receives: the get-deployment output as printed, with a fresh request ID. */
export interface GreengrassV2Envelope {
  expectation: unknown;
  requestId: string;
}

/**
 * A Greengrass v2 deployment. Sent to `<prefix>/thinggroups/<name>/expected`
 * for a thing group (every core of it that follows the group answers: who they
 * are is not known in advance), or to `<prefix>/<thing>/expected` for one thing.
 */
export interface GreengrassV2Target extends TargetBase {
  layout: 'greengrass-v2';
  deployment: GetDeploymentInput;
  envelope: GreengrassV2Envelope;
  /** thinggroup: any number of devices may answer; thing: that one only. */
  targetKind: 'thinggroup' | 'thing';
}

export type AnyTarget = Target | GreengrassV2Target;

interface PlanBase {
  prefix: string;
  /** `group`: found by the group (v2: the target) they observe; `thing`: the things named with --thing. */
  mode: 'group' | 'thing';
  things: string[];
  reportFilter: string;
}

export interface ThingsGraphPlan extends PlanBase {
  layout: 'thingsgraph-v1';
  targets: Target[];
}

export interface GreengrassV2Plan extends PlanBase {
  layout: 'greengrass-v2';
  targets: GreengrassV2Target[];
}

export type Plan = ThingsGraphPlan | GreengrassV2Plan;

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

export function planCheck(input: PlanInput): ThingsGraphPlan {
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
      layout: 'thingsgraph-v1', index, deployment: d, envelope, payload: JSON.stringify(envelope), sha256: envelopeSha256(envelope), requestId,
      groupTopic: groupExpectedTopic(input.prefix, d.summary.greengrassGroupId), key: d.summary.greengrassGroupId,
    };
  });
  return { layout: 'thingsgraph-v1', prefix: input.prefix, mode: things.length > 0 ? 'thing' : 'group', targets, things, reportFilter: reportWildcard(input.prefix) };
}

export interface GreengrassV2PlanInput {
  prefix: string;
  deployments: readonly GetDeploymentInput[];
  things?: readonly string[];
  newRequestId: () => string;
}

/**
 * The plan for Greengrass v2 deployments: get-deployment outputs (each sent to
 * its target), or one core's list-effective-deployments output (sent to that
 * core, named with --thing: the output does not say whose it is).
 */
export function planGreengrassV2Check(input: GreengrassV2PlanInput): GreengrassV2Plan {
  const things = [...new Set(input.things ?? [])];
  for (const t of things) topicsFor(input.prefix, t); // throws on a name that cannot be a topic level
  const targets = input.deployments.map((d, index): GreengrassV2Target => {
    const e = d.expectation;
    const label = `${e.kind === 'deployment' ? e.deploymentId : 'list-effective-deployments output'}${d.where ? ` (${d.where})` : ''}`;
    let target: string | undefined;
    if (e.kind === 'effective-deployments') {
      if (things.length !== 1) throw new PlanError(`${label} lists the deployments of one core without naming it: name that core with one --thing`);
      target = `thing/${things[0]!}`;
    } else {
      target = e.target;
      if (target === undefined && things.length === 0) throw new PlanError(`${label} names no targetArn, so no device to ask: name the cores with --thing`);
    }
    const requestId = input.newRequestId();
    const envelope: GreengrassV2Envelope = { expectation: d.document, requestId };
    const targetKind = target?.startsWith('thing/') ? 'thing' : 'thinggroup';
    const name = target ? target.slice(target.indexOf('/') + 1) : '';
    let groupTopic = '';
    if (target !== undefined) {
      try {
        groupTopic = targetKind === 'thing' ? topicsFor(input.prefix, name).expected : thingGroupExpectedTopic(input.prefix, name);
      } catch (err) {
        throw new PlanError(`${label}: ${(err as Error).message}`);
      }
    }
    return {
      layout: 'greengrass-v2', index, deployment: d, envelope, payload: JSON.stringify(envelope), sha256: sha256Hex(canonicalJson(envelope)), requestId,
      groupTopic, key: target ?? '', targetKind,
    };
  });
  return { layout: 'greengrass-v2', prefix: input.prefix, mode: things.length > 0 ? 'thing' : 'group', targets, things, reportFilter: reportWildcard(input.prefix) };
}
