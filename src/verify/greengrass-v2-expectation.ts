// What the cloud says a Greengrass v2 core should run: the JSON that
// `aws greengrassv2 get-deployment` prints (GetDeploymentResponse), or what
// `aws greengrassv2 list-effective-deployments --core-device-thing-name X`
// prints (ListEffectiveDeploymentsResponse), bare or in the envelope
// {expectation, requestId} the device receives. Pure: text in, an expectation
// or a reason out. Field names are the service model's (botocore
// greengrassv2/2020-11-30/service-2.json), see docs/greengrass-v2-layout.md.
//
// Strictness: the text is read by the one strict JSON reader
// (src/model/strict-json.ts: duplicate keys, deep nesting and a byte order
// mark in the middle are refused, and said where); an unknown key
// that is a near miss of a known one is refused and the known one named; other
// unknown keys in AWS's output are left alone, since the service adds fields
// over time. The envelope is ours, so unknown keys there are refused outright.
import { parseStrictJson } from '../model/strict-json.js';
import { canonicalJson, sha256Hex } from './canonical.js';
import { targetOfIotArn } from '../model/greengrass-v2.js';

export interface ExpectedComponent {
  name: string;
  version: string;
}

interface Common {
  layout: 'greengrass-v2';
  requestId?: string;
  /** SHA-256 of the canonical JSON of the whole document received. */
  sha256: string;
}

/** From get-deployment: the device must run exactly these component versions from exactly this deployment. */
export interface DeploymentExpectation extends Common {
  kind: 'deployment';
  deploymentId: string;
  targetArn?: string;
  /** "thinggroup/<name>" or "thing/<name>", as the nucleus's GroupName spells it. */
  target?: string;
  revisionId?: string;
  deploymentName?: string;
  deploymentStatus?: string;
  iotJobId?: string;
  isLatestForTarget?: boolean;
  /** ISO-8601 UTC. */
  creationTimestamp?: string;
  /** Sorted by name. */
  components: ExpectedComponent[];
}

export interface EffectiveDeployment {
  deploymentId: string;
  deploymentName?: string;
  targetArn: string;
  target: string;
  coreDeviceExecutionStatus: string;
  iotJobId?: string;
  creationTimestamp?: string;
  modifiedTimestamp?: string;
  reason?: string;
}

/**
 * From list-effective-deployments: which deployments apply to the core and
 * what the cloud last heard of each. It names no component versions; it checks
 * which deployment the device last applied per target, and whether the
 * device's own record agrees with the cloud's status.
 */
export interface EffectiveDeploymentsExpectation extends Common {
  kind: 'effective-deployments';
  deployments: EffectiveDeployment[];
}

export type GreengrassV2Expectation = DeploymentExpectation | EffectiveDeploymentsExpectation;

export type GreengrassV2ExpectationResult = { ok: true; expectation: GreengrassV2Expectation } | { ok: false; error: string };

export const DEPLOYMENT_STATUSES = ['ACTIVE', 'COMPLETED', 'CANCELED', 'FAILED', 'INACTIVE'] as const;
export const EXECUTION_STATUSES = ['IN_PROGRESS', 'QUEUED', 'FAILED', 'COMPLETED', 'TIMED_OUT', 'CANCELED', 'REJECTED', 'SUCCEEDED'] as const;

const MAX_BYTES = 256 * 1024;
const TARGET_ARN = /^arn:[^:]*:iot:[^:]+:[0-9]+:(?:thing|thinggroup)\/.+$/;
const COMPONENT_NAME = /^[a-zA-Z0-9\-_.]{1,128}$/;
const COMPONENT_VERSION = /^[0-9A-Za-z.+-]{1,64}$/;

const GET_DEPLOYMENT_KEYS = [
  'targetArn', 'revisionId', 'deploymentId', 'deploymentName', 'deploymentStatus', 'iotJobId', 'iotJobArn', 'components',
  'deploymentPolicies', 'iotJobConfiguration', 'creationTimestamp', 'isLatestForTarget', 'parentTargetArn', 'tags',
];
const COMPONENT_SPEC_KEYS = ['componentVersion', 'configurationUpdate', 'runWith'];
const EFFECTIVE_KEYS = ['effectiveDeployments', 'nextToken'];
const EFFECTIVE_ENTRY_KEYS = [
  'deploymentId', 'deploymentName', 'iotJobId', 'iotJobArn', 'description', 'targetArn', 'coreDeviceExecutionStatus', 'reason',
  'creationTimestamp', 'modifiedTimestamp', 'statusDetails',
];
const ENVELOPE_KEYS = ['expectation', 'requestId', 'resources'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Edit distance, bounded: enough to tell a typo from a different word. */
function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The known key an unknown one is probably a misspelling of, if any. */
export function nearKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  for (const k of known) if (k.toLowerCase() === lower) return k;
  if (key.length < 5) return undefined;
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(lower, k.toLowerCase());
    if (d <= 2 && (!best || d < best.d)) best = { k, d };
  }
  return best?.k;
}

function checkKeys(o: Record<string, unknown>, known: readonly string[], where: string, strict: boolean): void {
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue;
    const near = nearKey(key, known);
    if (near) throw new Error(`${where} has an unknown key ${JSON.stringify(key)}; did you mean ${JSON.stringify(near)}?`);
    if (strict) throw new Error(`${where} has an unknown key ${JSON.stringify(key)} (known: ${known.join(', ')})`);
  }
}

function optString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`${where}.${key} must be a string`);
  return v;
}

function reqString(o: Record<string, unknown>, key: string, where: string): string {
  const v = optString(o, key, where);
  if (v === undefined || v === '') throw new Error(`${where}.${key} is missing`);
  return v;
}

/** The CLI prints ISO 8601 by default and epoch seconds with cli_timestamp_format=none. */
function timestamp(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  let ms: number;
  if (typeof v === 'number' && Number.isFinite(v)) ms = v < 1e11 ? v * 1000 : v;
  else if (typeof v === 'string') ms = Date.parse(v);
  else throw new Error(`${where}.${key} must be a timestamp`);
  if (!Number.isFinite(ms)) throw new Error(`${where}.${key} is not a timestamp: ${JSON.stringify(v)}`);
  return new Date(ms).toISOString();
}

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], what: string): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${what} is ${JSON.stringify(v)}; one of ${allowed.join(', ')}`);
  return v as T;
}

function targetArnOf(o: Record<string, unknown>, where: string, required: boolean): { arn?: string; target?: string } {
  const arn = required ? reqString(o, 'targetArn', where) : optString(o, 'targetArn', where);
  if (arn === undefined) return {};
  if (!TARGET_ARN.test(arn)) throw new Error(`${where}.targetArn is not an IoT thing or thing group ARN: ${arn}`);
  return { arn, target: targetOfIotArn(arn)! };
}

function fromGetDeployment(inner: Record<string, unknown>, base: Omit<Common, 'layout'>): DeploymentExpectation {
  const where = 'get-deployment output';
  checkKeys(inner, GET_DEPLOYMENT_KEYS, where, false);
  const deploymentId = reqString(inner, 'deploymentId', where);
  const comps = inner.components;
  if (!isObject(comps)) throw new Error(`${where}.components must be an object mapping component names to versions`);
  const components: ExpectedComponent[] = [];
  for (const name of Object.keys(comps)) {
    const at = `${where}.components[${JSON.stringify(name)}]`;
    if (!COMPONENT_NAME.test(name)) throw new Error(`${at}: not a component name`);
    const spec = comps[name];
    if (!isObject(spec)) throw new Error(`${at} must be an object`);
    checkKeys(spec, COMPONENT_SPEC_KEYS, at, false);
    const version = reqString(spec, 'componentVersion', at);
    if (!COMPONENT_VERSION.test(version)) throw new Error(`${at}.componentVersion is not a version: ${JSON.stringify(version)}`);
    for (const k of ['configurationUpdate', 'runWith'] as const) {
      if (spec[k] !== undefined && spec[k] !== null && !isObject(spec[k])) throw new Error(`${at}.${k} must be an object`);
    }
    components.push({ name, version });
  }
  components.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const e: DeploymentExpectation = { layout: 'greengrass-v2', kind: 'deployment', deploymentId, components, ...base };
  const t = targetArnOf(inner, where, false);
  if (t.arn) {
    e.targetArn = t.arn;
    e.target = t.target!;
  }
  const set = <K extends keyof DeploymentExpectation>(k: K, v: DeploymentExpectation[K] | undefined) => {
    if (v !== undefined) e[k] = v;
  };
  set('revisionId', optString(inner, 'revisionId', where));
  set('deploymentName', optString(inner, 'deploymentName', where));
  set('deploymentStatus', oneOf(optString(inner, 'deploymentStatus', where), DEPLOYMENT_STATUSES, `${where}.deploymentStatus`));
  set('iotJobId', optString(inner, 'iotJobId', where));
  set('creationTimestamp', timestamp(inner, 'creationTimestamp', where));
  const latest = inner.isLatestForTarget;
  if (latest !== undefined && latest !== null) {
    if (typeof latest !== 'boolean') throw new Error(`${where}.isLatestForTarget must be true or false`);
    e.isLatestForTarget = latest;
  }
  return e;
}

function fromEffective(inner: Record<string, unknown>, base: Omit<Common, 'layout'>): EffectiveDeploymentsExpectation {
  const where = 'list-effective-deployments output';
  checkKeys(inner, EFFECTIVE_KEYS, where, false);
  const list = inner.effectiveDeployments;
  if (!Array.isArray(list)) throw new Error(`${where}.effectiveDeployments must be a list`);
  if (typeof inner.nextToken === 'string' && inner.nextToken !== '') {
    throw new Error(`${where} is one page of several (nextToken is set): pass the whole list (the CLI pages by itself unless --no-paginate)`);
  }
  const deployments = list.map((d, i): EffectiveDeployment => {
    const at = `${where}.effectiveDeployments[${i}]`;
    if (!isObject(d)) throw new Error(`${at} must be an object`);
    checkKeys(d, EFFECTIVE_ENTRY_KEYS, at, false);
    const t = targetArnOf(d, at, true);
    const out: EffectiveDeployment = {
      deploymentId: reqString(d, 'deploymentId', at),
      targetArn: t.arn!,
      target: t.target!,
      coreDeviceExecutionStatus: oneOf(reqString(d, 'coreDeviceExecutionStatus', at), EXECUTION_STATUSES, `${at}.coreDeviceExecutionStatus`)!,
    };
    const name = optString(d, 'deploymentName', at);
    if (name !== undefined) out.deploymentName = name;
    const job = optString(d, 'iotJobId', at);
    if (job !== undefined) out.iotJobId = job;
    const reason = optString(d, 'reason', at);
    if (reason !== undefined) out.reason = reason;
    const c = timestamp(d, 'creationTimestamp', at);
    if (c !== undefined) out.creationTimestamp = c;
    const m = timestamp(d, 'modifiedTimestamp', at);
    if (m !== undefined) out.modifiedTimestamp = m;
    return out;
  });
  return { layout: 'greengrass-v2', kind: 'effective-deployments', deployments, ...base };
}

/** Which layout an expectation document is for, from its shape alone; null when it is neither. */
export function expectationLayout(doc: unknown): 'thingsgraph-v1' | 'greengrass-v2' | null {
  if (!isObject(doc)) return null;
  const inner = 'expectation' in doc ? doc.expectation : doc;
  if (!isObject(inner)) return null;
  if (isObject(inner.summary)) return 'thingsgraph-v1';
  if ('deploymentId' in inner || 'effectiveDeployments' in inner) return 'greengrass-v2';
  return null;
}

export interface ParseOptions {
  /** Larger inputs are refused. */
  maxBytes?: number;
}

export function parseGreengrassV2Expectation(text: string, opts: ParseOptions = {}): GreengrassV2ExpectationResult {
  const max = opts.maxBytes ?? MAX_BYTES;
  if (Buffer.byteLength(text) > max) return { ok: false, error: `expectation is larger than ${max} bytes` };
  // The one strict reader: a key twice, deep nesting and the like are refused, and said where.
  const read = parseStrictJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  if (!read.ok) return { ok: false, error: `expectation is not valid JSON: ${read.error}` };
  return parseGreengrassV2Document(read.value);
}

/** The same, from a document already read strictly (src/model/strict-json.ts). */
export function parseGreengrassV2Document(doc: unknown): GreengrassV2ExpectationResult {
  try {
    return { ok: true, expectation: fromDocument(doc) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

function fromDocument(doc: unknown): GreengrassV2Expectation {
  if (!isObject(doc)) throw new Error('expectation must be a JSON object');
  const enveloped = 'expectation' in doc;
  const inner = enveloped ? doc.expectation : doc;
  if (!isObject(inner)) throw new Error('"expectation" must be a JSON object');
  const base: Omit<Common, 'layout'> = { sha256: sha256Hex(canonicalJson(doc)) };
  if (enveloped) {
    checkKeys(doc, ENVELOPE_KEYS, 'envelope', true);
    const requestId = optString(doc, 'requestId', 'envelope');
    if (requestId !== undefined) base.requestId = requestId;
    const res = doc.resources;
    if (res !== undefined && res !== null && !(Array.isArray(res) && res.length === 0)) {
      throw new Error('envelope.resources name Things Graph flow archives; a Greengrass v2 expectation takes its digests from the recipes');
    }
  }
  const hasDeployment = 'deploymentId' in inner;
  const hasEffective = 'effectiveDeployments' in inner;
  if (hasDeployment && hasEffective) throw new Error('expectation has both deploymentId and effectiveDeployments: pass one command\'s output');
  if (hasEffective) return fromEffective(inner, base);
  if (hasDeployment) return fromGetDeployment(inner, base);
  if (isObject(inner.summary)) throw new Error('expectation is Things Graph output (deploy-system-instance), not Greengrass v2');
  throw new Error('expectation has neither deploymentId (get-deployment output) nor effectiveDeployments (list-effective-deployments output)');
}

/** One Greengrass v2 output of several (check's input), with where it was and the document as printed. */
export interface GetDeploymentInput {
  /** get-deployment's (one deployment, its components), or list-effective-deployments' (one core's). */
  expectation: GreengrassV2Expectation;
  /** The AWS CLI output itself (out of its envelope): what goes into the envelope a device receives. */
  document: unknown;
  /** Where in the input, for messages: `document 2 (line 14)`, `item 3`. */
  where: string;
}

export interface GetDeploymentInputs {
  deployments: GetDeploymentInput[];
  /** Entries not asked about, each with why (a deployment superseded by a newer one for its target). */
  skipped: { deploymentId: string; where: string; reason: string }[];
  notes: string[];
}

/** The deployment ID an entry stands for: get-deployment's; list-effective-deployments names several, none of them the one. */
export function entryDeploymentId(e: GreengrassV2Expectation): string | null {
  return e.kind === 'deployment' ? e.deploymentId : null;
}

/**
 * get-deployment outputs, one after another or in an array, bare or in the
 * envelope a device receives (its requestId is dropped: check sends its own);
 * or one list-effective-deployments output (one core's, so with one --thing).
 * Each read on the rules above. Of several deployments for one target the
 * newest (creationTimestamp) stands: a target runs one deployment at a time.
 * Throws Error naming where a document is not usable.
 */
export function parseGetDeploymentDocuments(items: readonly { value: unknown; where: string }[]): GetDeploymentInputs {
  const read: GetDeploymentInput[] = [];
  const notes: string[] = [];
  for (const { value, where } of items) {
    const w = where || 'the input';
    const r = parseGreengrassV2Document(value);
    if (!r.ok) throw new Error(`${w}: ${r.error}`);
    const document = isObject(value) && 'expectation' in value ? value.expectation : value;
    read.push({ expectation: r.expectation, document, where });
    if (r.expectation.kind === 'deployment' && r.expectation.isLatestForTarget === false) {
      notes.push(`${r.expectation.deploymentId}${where ? ` (${where})` : ''} is no longer the latest deployment for ${r.expectation.target ?? 'its target'}: its devices may have moved on to a newer one`);
    }
  }
  const lists = read.filter((d) => d.expectation.kind === 'effective-deployments');
  if (lists.length > 0 && read.length > 1) {
    throw new Error(`${lists[0]!.where || 'the input'} is list-effective-deployments output, which speaks for one core: give it alone, with that core's --thing`);
  }
  const when = (d: GetDeploymentInput) => (d.expectation.kind === 'deployment' && d.expectation.creationTimestamp ? Date.parse(d.expectation.creationTimestamp) : -Infinity);
  const keyOf = (d: GetDeploymentInput) => (d.expectation.kind === 'deployment' ? (d.expectation.target ?? `deployment:${d.expectation.deploymentId}`) : 'effective');
  const skipped: GetDeploymentInputs['skipped'] = [];
  const kept: GetDeploymentInput[] = [];
  for (const d of read) {
    const key = keyOf(d);
    const rivals = read.filter((o) => keyOf(o) === key);
    // The newest for the target; on a tie (the same deployment twice) the first in the input.
    const best = [...rivals].sort((a, b) => when(b) - when(a))[0]!;
    if (best === d) {
      kept.push(d);
      continue;
    }
    const reason = entryDeploymentId(best.expectation) === entryDeploymentId(d.expectation)
      ? `the same deployment as ${best.where || 'another entry'}`
      : `superseded by a newer deployment for ${key} (${best.where || 'another entry'})`;
    skipped.push({ deploymentId: entryDeploymentId(d.expectation)!, where: d.where, reason });
  }
  return { deployments: kept, skipped, notes };
}
