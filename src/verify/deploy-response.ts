// What the AWS CLI prints about Things Graph system instances, read strictly:
//
//   aws iotthingsgraph deploy-system-instance   {summary, greengrassDeploymentId}
//   aws iotthingsgraph search-system-instances  {summaries: [summary...], nextToken?}
//   aws iotthingsgraph get-system-instance      {description: {summary, definition, ...}}
//
// and several of these as a JSON array or one after another (JSON lines, or
// the pretty outputs of a shell loop). `createdAt`/`updatedAt` are ISO strings
// or epoch seconds, depending on the CLI version. Pure: text in, deployments
// or a ResponseError naming the problem and where it is.
//
// Strict, because a check silently lost is worse than a refusal: a key named
// twice, an empty string, a misspelt key (`GreengrassGroupVersionId`), a
// device deployment that does not name its group and group version, a
// deployment ID or archive digests where they are not read, are all errors.
// Keys this reader does not know and that resemble no known key are ignored,
// so that a newer CLI's additions do not break it.
import { parseStrictJsonSequence, type JsonDocument } from '../model/strict-json.js';

export const CLOUD_STATUSES = [
  'NOT_DEPLOYED', 'BOOTSTRAP', 'DEPLOY_IN_PROGRESS', 'DEPLOYED_IN_TARGET',
  'UNDEPLOY_IN_PROGRESS', 'FAILED', 'PENDING_DELETE', 'DELETED_IN_TARGET',
] as const;
export type CloudStatus = (typeof CLOUD_STATUSES)[number];
export const TARGETS = ['GREENGRASS', 'CLOUD'] as const;
export type Target = (typeof TARGETS)[number];

/** A system instance summary; dates as ISO-8601 strings whatever form the input used. */
export interface SystemInstanceSummary {
  id: string;
  arn?: string;
  status?: CloudStatus;
  target?: Target;
  greengrassGroupName?: string;
  createdAt?: string;
  updatedAt?: string;
  greengrassGroupId?: string;
  greengrassGroupVersionId?: string;
}

export type ResponseShape = 'deploy-system-instance' | 'search-system-instances' | 'get-system-instance';

/** A system instance deployed to a Greengrass group: something a core can confirm. */
export interface DeviceDeployment {
  summary: SystemInstanceSummary & { greengrassGroupId: string; greengrassGroupVersionId: string };
  /** Only deploy-system-instance prints it; unknown is not a mismatch. */
  greengrassDeploymentId?: string;
  shape: ResponseShape;
  /** Where in the input, for messages: `document 2 (line 14) summaries[3]`. */
  where: string;
}

export interface SkippedSummary {
  summary: SystemInstanceSummary;
  where: string;
  reason: string;
}

export interface ParsedResponses {
  deployments: DeviceDeployment[];
  /** Summaries that are not something a device can confirm, each with why. */
  skipped: SkippedSummary[];
  /** Things worth telling the user that are not errors (an incomplete listing). */
  notes: string[];
  /** The documents as read: one value, or the array of a sequence. */
  document: unknown;
}

export class ResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResponseError';
  }
}

const SUMMARY_KEYS = ['id', 'arn', 'status', 'target', 'greengrassGroupName', 'createdAt', 'updatedAt', 'greengrassGroupId', 'greengrassGroupVersionId'];
const DEPLOY_KEYS = ['summary', 'greengrassDeploymentId'];
const SEARCH_KEYS = ['summaries', 'nextToken', 'NextToken'];
const GET_KEYS = ['description'];
const DESCRIPTION_KEYS = [
  'summary', 'definition', 's3BucketName', 'metricsConfiguration', 'validatedNamespaceVersion',
  'validatedDependencyRevisions', 'flowActionsRoleArn',
];
const URN = /^urn:tdm:[^/\s]+\/[^/\s]+\/[^:\s]+:deployment:\S+$/i;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
/** Epoch seconds from 2000 to 2100: a bigger number is milliseconds or garbage. */
const EPOCH_RANGE = [946_684_800, 4_102_444_800] as const;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const BOM = '\uFEFF';

/** Drops a UTF-8 byte order mark: editors on Windows write one, and it is no content. */
export function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(1) : text;
}

// ---- keys: the near-miss check ----

const at = (where: string, key: string) => (where ? `${where}.${key}` : key);

/** Optimal string alignment distance (Damerau-Levenshtein with adjacent swaps). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key an unknown one is most likely a misspelling of, or null. */
export function nearMiss(key: string, known: readonly string[]): string | null {
  const k = key.toLowerCase().replace(/[_-]/g, '');
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of known) {
    const cl = c.toLowerCase();
    if (k === cl) return c;
    // Short keys tolerate one slip, longer ones two.
    const limit = Math.min(c.length, key.length) >= 8 ? 2 : 1;
    const dist = editDistance(k, cl);
    if (dist <= limit && dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  return best;
}

/**
 * Keys that carry a check, are optional, and are read in one place only. Put
 * anywhere else (the deployment ID inside the summary, digests next to a bare
 * deploy-system-instance output), the document still reads as valid, and the
 * check would be lost without a word.
 */
const CHECK_KEYS: Record<string, string> = {
  greengrassDeploymentId: 'next to "summary" (deploy-system-instance output, or envelope.expectation)',
  resources: 'at the top of an envelope ({"expectation": ..., "resources": [...]})',
};
const CHECK_KEY_NAMES = Object.keys(CHECK_KEYS);

function misplaced(key: string, where: string): ResponseError {
  const meant = nearMiss(key, CHECK_KEY_NAMES)!;
  return new ResponseError(`${where} has the key ${JSON.stringify(key)}, but ${JSON.stringify(meant)} is read only ${CHECK_KEYS[meant]}: here it would be ignored`);
}

/** Looks through a value the reader does not read for a key that carries a check (see CHECK_KEYS). */
function scanUnread(v: unknown, where: string): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => scanUnread(x, `${where}[${i}]`));
  } else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (nearMiss(k, CHECK_KEY_NAMES)) throw misplaced(k, where);
      scanUnread(x, at(where, k));
    }
  }
}

/**
 * Rejects an unknown key that looks like a known one (the value would be
 * silently unused), and a key that carries a check where it is not read
 * (CHECK_KEYS), also inside values the reader skips: unknown keys, and the
 * known keys listed in `unread`.
 */
export function checkKeys(o: Record<string, unknown>, known: readonly string[], where: string, unread: readonly string[] = []): void {
  // Paths inside the top-level response read `note.x`, not `the response.note.x`.
  const base = where === 'the response' ? '' : where;
  for (const key of Object.keys(o)) {
    if (known.includes(key)) {
      if (unread.includes(key)) scanUnread(o[key], at(base, key));
      continue;
    }
    const meant = nearMiss(key, known);
    if (meant) {
      throw new ResponseError(`${where} has the key ${JSON.stringify(key)}, which is not one this tool reads: did you mean ${JSON.stringify(meant)}?`);
    }
    if (nearMiss(key, CHECK_KEY_NAMES)) throw misplaced(key, where);
    scanUnread(o[key], at(base, key));
  }
}

// ---- values ----

/** A non-empty string without white space around it; undefined only when the key is absent. */
export function optString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  if (!Object.hasOwn(o, key)) return undefined;
  const v = o[key];
  if (typeof v !== 'string') throw new ResponseError(`${at(where, key)} must be a string, not ${describeValue(v)}`);
  if (v.trim() === '') throw new ResponseError(`${at(where, key)} is empty`);
  if (v.trim() !== v) throw new ResponseError(`${at(where, key)} has white space around it: ${JSON.stringify(v)}`);
  return v;
}

export function reqString(o: Record<string, unknown>, key: string, where: string, hint = ''): string {
  const v = optString(o, key, where);
  if (v === undefined) throw new ResponseError(`${at(where, key)} is missing${hint}`);
  return v;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`.slice(0, 60);
}

function oneOf<T extends string>(o: Record<string, unknown>, key: string, where: string, allowed: readonly T[]): T | undefined {
  const v = optString(o, key, where);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new ResponseError(`${at(where, key)} is ${JSON.stringify(v)}; expected one of ${allowed.join(', ')}`);
  }
  return v as T;
}

/** An ISO-8601 string or epoch seconds, as an ISO string (milliseconds, UTC). */
function date(o: Record<string, unknown>, key: string, where: string): string | undefined {
  if (!Object.hasOwn(o, key)) return undefined;
  const v = o[key];
  let ms: number;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < EPOCH_RANGE[0] || v > EPOCH_RANGE[1]) {
      throw new ResponseError(`${at(where, key)} is ${v}: not a time in epoch seconds`);
    }
    ms = Math.round(v * 1000);
  } else if (typeof v === 'string') {
    ms = Date.parse(v);
    if (!ISO_DATE.test(v) || Number.isNaN(ms)) throw new ResponseError(`${at(where, key)} is ${JSON.stringify(v)}: not an ISO-8601 time`);
  } else {
    throw new ResponseError(`${at(where, key)} must be an ISO-8601 time or epoch seconds, not ${describeValue(v)}`);
  }
  return new Date(ms).toISOString();
}

/** Milliseconds of summary.updatedAt, or null when the summary does not say. */
export function updatedAtMs(s: { updatedAt?: string }): number | null {
  return s.updatedAt === undefined ? null : Date.parse(s.updatedAt);
}

// ---- shapes ----

/** Reads one system instance summary (any target). */
export function readSummary(v: unknown, where: string): SystemInstanceSummary {
  if (v === undefined) throw new ResponseError(`${where} is missing`);
  if (!isObject(v)) throw new ResponseError(`${where} must be an object, not ${describeValue(v)}`);
  checkKeys(v, SUMMARY_KEYS, where);
  const id = reqString(v, 'id', where);
  if (!URN.test(id)) throw new ResponseError(`${at(where, 'id')} is not a system instance URN (urn:tdm:REGION/ACCOUNT/default:deployment:NAME): ${id}`);
  const s: SystemInstanceSummary = { id };
  const put = <K extends keyof SystemInstanceSummary>(k: K, val: SystemInstanceSummary[K] | undefined) => {
    if (val !== undefined) s[k] = val;
  };
  put('arn', optString(v, 'arn', where));
  put('status', oneOf(v, 'status', where, CLOUD_STATUSES));
  put('target', oneOf(v, 'target', where, TARGETS));
  put('greengrassGroupName', optString(v, 'greengrassGroupName', where));
  put('createdAt', date(v, 'createdAt', where));
  put('updatedAt', date(v, 'updatedAt', where));
  put('greengrassGroupId', optString(v, 'greengrassGroupId', where));
  put('greengrassGroupVersionId', optString(v, 'greengrassGroupVersionId', where));
  return s;
}

type Sorted = { deployment: DeviceDeployment } | { skipped: SkippedSummary };

/**
 * A device deployment, or why the summary is not one. A Greengrass summary must
 * name its group and group version: without them nothing on a core can be
 * compared, and a check would be lost without a word.
 */
function classify(summary: SystemInstanceSummary, rest: { greengrassDeploymentId?: string }, shape: ResponseShape, where: string, path: string): Sorted {
  if (summary.target === 'CLOUD') return { skipped: { summary, where, reason: 'target CLOUD: not a device deployment (only GREENGRASS deployments land on a core)' } };
  const g = summary.greengrassGroupId;
  const v = summary.greengrassGroupVersionId;
  if ((g === undefined || v === undefined) && summary.status === 'NOT_DEPLOYED' && rest.greengrassDeploymentId === undefined) {
    return { skipped: { summary, where, reason: 'NOT_DEPLOYED and names no group: no device to ask' } };
  }
  const hint = ` (a Greengrass deployment must name its group and group version; is this the output of ${shape}?)`;
  if (g === undefined) throw new ResponseError(`${at(path, 'greengrassGroupId')} is missing${hint}`);
  if (v === undefined) throw new ResponseError(`${at(path, 'greengrassGroupVersionId')} is missing${hint}`);
  const d: DeviceDeployment = { summary: { ...summary, greengrassGroupId: g, greengrassGroupVersionId: v }, shape, where };
  if (rest.greengrassDeploymentId !== undefined) d.greengrassDeploymentId = rest.greengrassDeploymentId;
  return { deployment: d };
}

/** The deploy-system-instance shape, {summary, greengrassDeploymentId}. */
export function readDeployShape(v: Record<string, unknown>, where: string): Sorted {
  checkKeys(v, DEPLOY_KEYS, where || 'the response');
  const summary = readSummary(v.summary, at(where, 'summary'));
  const depId = optString(v, 'greengrassDeploymentId', where);
  return classify(summary, depId === undefined ? {} : { greengrassDeploymentId: depId }, 'deploy-system-instance', where || 'the response', at(where, 'summary'));
}

function readSearchShape(v: Record<string, unknown>, where: string, notes: string[]): Sorted[] {
  checkKeys(v, SEARCH_KEYS, where || 'the response');
  const list = v.summaries;
  if (!Array.isArray(list)) throw new ResponseError(`${at(where, 'summaries')} must be an array, not ${describeValue(list)}`);
  if (v.nextToken !== undefined || v.NextToken !== undefined) {
    notes.push(`${where || 'the listing'} is one page of several (it has a next token): systems on the other pages are not checked; run search-system-instances without --max-items`);
  }
  return list.map((s, i) => {
    const w = `${at(where, 'summaries')}[${i}]`;
    return classify(readSummary(s, w), {}, 'search-system-instances', w, w);
  });
}

function readGetShape(v: Record<string, unknown>, where: string): Sorted {
  checkKeys(v, GET_KEYS, where || 'the response');
  const d = v.description;
  const w = at(where, 'description');
  if (!isObject(d)) throw new ResponseError(`${w} must be an object, not ${describeValue(d)}`);
  checkKeys(d, DESCRIPTION_KEYS, w, DESCRIPTION_KEYS.filter((k) => k !== 'summary'));
  return classify(readSummary(d.summary, at(w, 'summary')), {}, 'get-system-instance', w, at(w, 'summary'));
}

const SHAPE_HINT =
  'expected what aws iotthingsgraph deploy-system-instance ({"summary", "greengrassDeploymentId"}), ' +
  'search-system-instances ({"summaries"}) or get-system-instance ({"description"}) prints';

/** One response object of any of the three shapes. */
function readResponse(v: unknown, where: string, notes: string[]): Sorted[] {
  const w = where || 'the response';
  if (!isObject(v)) throw new ResponseError(`${w} must be a JSON object, not ${describeValue(v)}; ${SHAPE_HINT}`);
  const has = (k: string) => Object.hasOwn(v, k);
  const shapes = ['summary', 'summaries', 'description'].filter(has);
  if (shapes.length > 1) throw new ResponseError(`${w} has both ${shapes.map((s) => JSON.stringify(s)).join(' and ')}: one response per object`);
  if (has('summary')) return [readDeployShape(v, where)];
  if (has('summaries')) return readSearchShape(v, where, notes);
  if (has('description')) return [readGetShape(v, where)];
  const meant = Object.keys(v).map((k) => nearMiss(k, ['summary', 'summaries', 'description'])).find((m) => m !== null);
  if (meant) checkKeys(v, ['summary', 'summaries', 'description'], w);
  if (has('expectation')) throw new ResponseError(`${w} is an envelope ({"expectation", ...}); give the AWS CLI output itself`);
  throw new ResponseError(`${w} has no "summary", "summaries" or "description"; ${SHAPE_HINT}`);
}

/** Parses the JSON text into documents; a BOM is accepted, empty input is an error. */
export function readDocuments(text: string): JsonDocument[] {
  const body = stripBom(text);
  if (body.trim() === '') throw new ResponseError('the input is empty');
  // What people hand over (saved CLI output): a leading byte order mark is no content.
  const read = parseStrictJsonSequence(body, { bom: 'skip' });
  if (!read.ok) throw new ResponseError(`not valid JSON: ${read.error}`);
  return read.documents;
}

/**
 * Everything in the input: device deployments, and the summaries skipped with
 * why. Of several deployments for one group, the newest (`updatedAt`) stands;
 * the others are skipped as superseded, since a core runs one at a time.
 */
export function parseDeployResponses(text: string): ParsedResponses {
  return parseDeployDocuments(readDocuments(text));
}

/** The same, from documents already read (readDocuments). */
export function parseDeployDocuments(docs: JsonDocument[]): ParsedResponses {
  const notes: string[] = [];
  const sorted: Sorted[] = [];
  docs.forEach((d, i) => {
    const where = docs.length > 1 ? `document ${i + 1} (line ${d.line})` : '';
    if (Array.isArray(d.value)) {
      if (d.value.length === 0) throw new ResponseError(`${where || 'the input'} is an empty array`);
      d.value.forEach((item, k) => {
        const w = `${where ? `${where} ` : ''}item ${k + 1}`;
        if (Array.isArray(item)) throw new ResponseError(`${w} is an array inside an array; give response objects`);
        sorted.push(...readResponse(item, w, notes));
      });
    } else {
      sorted.push(...readResponse(d.value, where, notes));
    }
  });
  const deployments: DeviceDeployment[] = [];
  const skipped: SkippedSummary[] = [];
  for (const s of sorted) {
    if ('skipped' in s) skipped.push(s.skipped);
    else deployments.push(s.deployment);
  }
  const newest = newestPerGroup(deployments);
  const keptWhere = new Set(newest.map((n) => n.where));
  const keptByGroup = new Map(newest.map((n) => [n.summary.greengrassGroupId, n]));
  for (const d of deployments) {
    if (keptWhere.has(d.where)) continue;
    const kept = keptByGroup.get(d.summary.greengrassGroupId)!;
    const same = kept.summary.id === d.summary.id && kept.summary.greengrassGroupVersionId === d.summary.greengrassGroupVersionId;
    const reason = same
      ? `the same deployment as ${kept.where || 'another entry'}`
      : `superseded by a newer system instance for group ${d.summary.greengrassGroupId} (${kept.where || 'another entry'})`;
    skipped.push({ summary: d.summary, where: d.where, reason });
  }
  return { deployments: newest, skipped, notes, document: docs.length === 1 ? docs[0]!.value : docs.map((d) => d.value) };
}

/** Newer first; a summary that does not say when it was updated counts as oldest. A tie keeps input order. */
function newer(a: DeviceDeployment, b: DeviceDeployment): number {
  return (updatedAtMs(b.summary) ?? -Infinity) - (updatedAtMs(a.summary) ?? -Infinity);
}

/**
 * One deployment per group, the newest. Deployments with the same system
 * instance and group (a deploy output and a listing of the same instance)
 * merge: the deployment ID, which only deploy-system-instance prints, is kept.
 */
function newestPerGroup(list: DeviceDeployment[]): DeviceDeployment[] {
  const byGroup = new Map<string, DeviceDeployment[]>();
  for (const d of list) {
    const g = d.summary.greengrassGroupId;
    const same = byGroup.get(g);
    if (same) same.push(d);
    else byGroup.set(g, [d]);
  }
  const out: DeviceDeployment[] = [];
  for (const d of list) {
    const group = byGroup.get(d.summary.greengrassGroupId)!;
    const best = [...group].sort(newer)[0]!;
    if (best !== d) continue;
    const twin = group.find((o) => o !== d && o.greengrassDeploymentId !== undefined && o.summary.id === d.summary.id &&
      o.summary.greengrassGroupVersionId === d.summary.greengrassGroupVersionId);
    if (d.greengrassDeploymentId === undefined && twin) out.push({ ...d, greengrassDeploymentId: twin.greengrassDeploymentId! });
    else out.push(d);
  }
  return out;
}

/**
 * The deployment for the group a core observes: of several, the newest
 * (`updatedAt`). Null when none is for that group.
 */
export function selectForGroup<T extends { summary: { greengrassGroupId?: string; updatedAt?: string } }>(summaries: readonly T[], groupId: string): T | null {
  let best: T | null = null;
  for (const s of summaries) {
    if (s.summary.greengrassGroupId !== groupId) continue;
    if (best === null || (updatedAtMs(s.summary) ?? -Infinity) > (updatedAtMs(best.summary) ?? -Infinity)) best = s;
  }
  return best;
}
