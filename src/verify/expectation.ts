// What the cloud says was deployed. The device receives it in an envelope,
//
//   {"expectation": {"summary": {...}, "greengrassDeploymentId": "..."},
//    "requestId": "...", "resources": [{"name": "flow-X.tar.gz", "sha256": "<hex>"}]}
//
// (what `deploy-witness check` sends), or bare: what the AWS CLI prints for
// deploy-system-instance, get-system-instance or search-system-instances (read
// by deploy-response.ts, on the same strict rules). Pure: text in,
// Expectation or a reason out.
import { canonicalJson, sha256Hex } from './canonical.js';
import {
  checkKeys, isObject, optString, parseDeployDocuments, readDeployShape, readDocuments, ResponseError,
  type DeviceDeployment, type ParsedResponses,
} from './deploy-response.js';

export interface ExpectedResource {
  name: string;
  sha256: string;
}

export interface Expectation {
  systemInstanceId: string;
  arn?: string;
  cloudStatus?: string;
  target?: string;
  greengrassGroupName?: string;
  greengrassGroupId: string;
  greengrassGroupVersionId: string;
  /** Only deploy-system-instance prints it: absent means unknown, never a mismatch. */
  greengrassDeploymentId?: string;
  /** ISO-8601: a device keeps the newer of two expectations. */
  createdAt?: string;
  updatedAt?: string;
  requestId?: string;
  resources: ExpectedResource[];
  /** SHA-256 of the canonical JSON of the whole document received. */
  sha256: string;
}

export type ExpectationResult = { ok: true; expectation: Expectation } | { ok: false; error: string };

const HEX64 = /^[0-9a-f]{64}$/i;
/** What arrives over MQTT is at most 128 KB; a stored one was received that way. */
export const MAX_EXPECTATION_BYTES = 256 * 1024;
const ENVELOPE_KEYS = ['expectation', 'requestId', 'resources'];
const RESOURCE_KEYS = ['name', 'sha256'];
const MAX_FILE_NAME_BYTES = 255;
const MAX_REQUEST_ID = 256;
const MAX_RESOURCES = 64;

/** Normalises a system instance URN so `deployment` and `Deployment` compare equal. */
export function normalizeUrn(urn: string): string {
  return urn.replace(/:deployment:/i, ':deployment:');
}

export interface ParseOptions {
  /** Larger inputs are refused (a get-system-instance output with its definition can be near 1 MB). */
  maxBytes?: number;
}

function sizeError(text: string, maxBytes: number): string | null {
  return Buffer.byteLength(text) > maxBytes ? `expectation is larger than ${maxBytes} bytes` : null;
}

/** Exactly one expectation: an envelope, or a CLI output that names one device deployment. */
export function parseExpectation(text: string, opts: ParseOptions = {}): ExpectationResult {
  const tooBig = sizeError(text, opts.maxBytes ?? MAX_EXPECTATION_BYTES);
  if (tooBig) return { ok: false, error: tooBig };
  try {
    const docs = readDocuments(text);
    const first = docs[0]!.value;
    if (docs.length === 1 && isObject(first) && Object.hasOwn(first, 'expectation')) {
      return { ok: true, expectation: fromEnvelope(first) };
    }
    const parsed = parseDeployDocuments(docs);
    const all = fromResponses(parsed);
    if (all.length === 0) {
      const why = parsed.skipped.length === 1 ? `: ${parsed.skipped[0]!.reason}` : '';
      throw new ResponseError(`names no system instance a core can confirm${why}`);
    }
    if (all.length > 1) {
      throw new ResponseError(`names ${all.length} Greengrass system instances (groups ${all.map((e) => e.greengrassGroupId).join(', ')}); give the one for this core`);
    }
    return { ok: true, expectation: all[0]! };
  } catch (err) {
    return { ok: false, error: reason(err) };
  }
}

export type ExpectationsResult =
  | { ok: true; expectations: Expectation[]; skipped: ParsedResponses['skipped']; notes: string[] }
  | { ok: false; error: string };

/**
 * Every device deployment in a CLI output (or the one in an envelope), for a
 * caller that picks by the group a core observes (see selectForGroup).
 */
export function parseExpectations(text: string, opts: ParseOptions = {}): ExpectationsResult {
  const tooBig = sizeError(text, opts.maxBytes ?? MAX_EXPECTATION_BYTES);
  if (tooBig) return { ok: false, error: tooBig };
  try {
    const docs = readDocuments(text);
    const first = docs[0]!.value;
    if (docs.length === 1 && isObject(first) && Object.hasOwn(first, 'expectation')) {
      return { ok: true, expectations: [fromEnvelope(first)], skipped: [], notes: [] };
    }
    const parsed = parseDeployDocuments(docs);
    return { ok: true, expectations: fromResponses(parsed), skipped: parsed.skipped, notes: parsed.notes };
  } catch (err) {
    return { ok: false, error: reason(err) };
  }
}

function reason(err: unknown): string {
  if (err instanceof ResponseError) return err.message.startsWith('not valid JSON') ? `expectation is ${err.message}` : err.message;
  throw err;
}

function fromResponses(parsed: ParsedResponses): Expectation[] {
  const sha256 = sha256Hex(canonicalJson(parsed.document));
  return parsed.deployments.map((d) => expectationOf(d, sha256));
}

/** The Expectation a device judges by, from a deployment read from the CLI output. */
export function expectationOf(d: DeviceDeployment, sha256: string, extra: { requestId?: string; resources?: ExpectedResource[] } = {}): Expectation {
  const s = d.summary;
  const e: Expectation = {
    systemInstanceId: s.id,
    greengrassGroupId: s.greengrassGroupId,
    greengrassGroupVersionId: s.greengrassGroupVersionId,
    resources: extra.resources ?? [],
    sha256,
  };
  if (s.arn !== undefined) e.arn = s.arn;
  if (s.status !== undefined) e.cloudStatus = s.status;
  if (s.target !== undefined) e.target = s.target;
  if (s.greengrassGroupName !== undefined) e.greengrassGroupName = s.greengrassGroupName;
  if (s.createdAt !== undefined) e.createdAt = s.createdAt;
  if (s.updatedAt !== undefined) e.updatedAt = s.updatedAt;
  if (d.greengrassDeploymentId !== undefined) e.greengrassDeploymentId = d.greengrassDeploymentId;
  if (extra.requestId !== undefined) e.requestId = extra.requestId;
  return e;
}

function fromEnvelope(doc: Record<string, unknown>): Expectation {
  checkKeys(doc, ENVELOPE_KEYS, 'envelope');
  const inner = doc.expectation;
  if (!isObject(inner)) throw new ResponseError('envelope.expectation must be a JSON object (the output of deploy-system-instance)');
  if (!Object.hasOwn(inner, 'summary')) {
    checkKeys(inner, ['summary', 'greengrassDeploymentId'], 'envelope.expectation');
    throw new ResponseError('envelope.expectation has no "summary" object (expected the output of deploy-system-instance)');
  }
  const sorted = readDeployShape(inner, 'envelope.expectation');
  if ('skipped' in sorted) throw new ResponseError(`envelope.expectation cannot be checked on a core: ${sorted.skipped.reason}`);
  const requestId = optString(doc, 'requestId', 'envelope');
  if (requestId !== undefined && requestId.length > MAX_REQUEST_ID) throw new ResponseError(`envelope.requestId is longer than ${MAX_REQUEST_ID} characters`);
  return expectationOf(sorted.deployment, sha256Hex(canonicalJson(doc)), {
    ...(requestId !== undefined ? { requestId } : {}),
    resources: readResources(doc),
  });
}

function readResources(doc: Record<string, unknown>): ExpectedResource[] {
  if (!Object.hasOwn(doc, 'resources')) return [];
  const res = doc.resources;
  if (!Array.isArray(res)) throw new ResponseError('envelope.resources must be an array');
  if (res.length > MAX_RESOURCES) throw new ResponseError(`envelope.resources has more than ${MAX_RESOURCES} entries`);
  const names = new Set<string>();
  return res.map((r, i) => {
    const where = `envelope.resources[${i}]`;
    if (!isObject(r)) throw new ResponseError(`${where} must be an object`);
    checkKeys(r, RESOURCE_KEYS, where);
    const name = optString(r, 'name', where);
    if (name === undefined) throw new ResponseError(`${where}.name is missing`);
    if (name.includes('/')) throw new ResponseError(`${where}.name must be a file name, not a path: ${name}`);
    // No file system here takes a longer name: such a resource could never be found, only reported missing.
    if (Buffer.byteLength(name) > MAX_FILE_NAME_BYTES) throw new ResponseError(`${where}.name is ${Buffer.byteLength(name)} bytes long; a file name has at most ${MAX_FILE_NAME_BYTES}`);
    if (names.has(name)) throw new ResponseError(`${where}.name ${name} is listed twice`);
    names.add(name);
    const sha = Object.hasOwn(r, 'sha256') ? r.sha256 : undefined;
    if (typeof sha !== 'string' || !HEX64.test(sha)) throw new ResponseError(`${where}.sha256 must be 64 hex digits`);
    return { name, sha256: sha.toLowerCase() };
  });
}

/**
 * Whether `candidate` is older than `held` by summary.updatedAt. A device keeps
 * the newer: an old response checked again must not leave it judging by it.
 * When either does not say, neither is older.
 */
export function isOlder(candidate: Expectation, held: Expectation): boolean {
  if (candidate.updatedAt === undefined || held.updatedAt === undefined) return false;
  return Date.parse(candidate.updatedAt) < Date.parse(held.updatedAt);
}
