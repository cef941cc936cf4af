// What the cloud says was deployed: the JSON `aws iotthingsgraph
// deploy-system-instance` prints, bare or in an envelope that adds archive
// digests and a request ID. Pure: text in, Expectation or a reason out.
import { canonicalJson, sha256Hex } from './canonical.js';

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
  greengrassGroupVersionId?: string;
  greengrassDeploymentId?: string;
  requestId?: string;
  resources: ExpectedResource[];
  /** SHA-256 of the canonical JSON of the whole document received. */
  sha256: string;
}

export type ExpectationResult = { ok: true; expectation: Expectation } | { ok: false; error: string };

const URN = /^urn:tdm:[^/\s]+\/[^/\s]+\/[^:\s]+:deployment:\S+$/i;
const HEX64 = /^[0-9a-f]{64}$/i;
const MAX_BYTES = 256 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`${where}.${key} must be a string`);
  return v;
}

/** Normalises a system instance URN so `deployment` and `Deployment` compare equal. */
export function normalizeUrn(urn: string): string {
  return urn.replace(/:deployment:/i, ':deployment:');
}

export function parseExpectation(text: string): ExpectationResult {
  if (Buffer.byteLength(text) > MAX_BYTES) return { ok: false, error: `expectation is larger than ${MAX_BYTES} bytes` };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `expectation is not valid JSON: ${(err as Error).message}` };
  }
  try {
    return { ok: true, expectation: fromDocument(doc) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

function fromDocument(doc: unknown): Expectation {
  if (!isObject(doc)) throw new Error('expectation must be a JSON object');
  const enveloped = 'expectation' in doc;
  const inner = enveloped ? doc.expectation : doc;
  if (!isObject(inner)) throw new Error('"expectation" must be a JSON object');
  const summary = inner.summary;
  if (!isObject(summary)) {
    throw new Error('expectation has no "summary" object (expected the output of deploy-system-instance)');
  }
  const id = optString(summary, 'id', 'summary');
  if (!id) throw new Error('summary.id is missing');
  if (!URN.test(id)) throw new Error(`summary.id is not a system instance URN (urn:tdm:REGION/ACCOUNT/default:deployment:NAME): ${id}`);
  const target = optString(summary, 'target', 'summary');
  if (target !== undefined && target !== 'GREENGRASS') {
    throw new Error(`summary.target is ${target}: only GREENGRASS deployments land on a core`);
  }
  const groupId = optString(summary, 'greengrassGroupId', 'summary');
  if (!groupId) throw new Error('summary.greengrassGroupId is missing');

  const e: Expectation = {
    systemInstanceId: id,
    greengrassGroupId: groupId,
    resources: [],
    sha256: sha256Hex(canonicalJson(doc)),
  };
  const opt = (k: keyof Expectation, v: string | undefined) => {
    if (v) (e as unknown as Record<string, unknown>)[k] = v;
  };
  opt('arn', optString(summary, 'arn', 'summary'));
  opt('cloudStatus', optString(summary, 'status', 'summary'));
  opt('target', target);
  opt('greengrassGroupName', optString(summary, 'greengrassGroupName', 'summary'));
  opt('greengrassGroupVersionId', optString(summary, 'greengrassGroupVersionId', 'summary'));
  opt('greengrassDeploymentId', optString(inner, 'greengrassDeploymentId', 'expectation'));

  if (enveloped) {
    opt('requestId', optString(doc, 'requestId', 'envelope'));
    const res = doc.resources;
    if (res !== undefined && res !== null) {
      if (!Array.isArray(res)) throw new Error('envelope.resources must be an array');
      res.forEach((r, i) => {
        if (!isObject(r)) throw new Error(`envelope.resources[${i}] must be an object`);
        const name = optString(r, 'name', `envelope.resources[${i}]`);
        const sha = optString(r, 'sha256', `envelope.resources[${i}]`);
        if (!name) throw new Error(`envelope.resources[${i}].name is missing`);
        if (!sha || !HEX64.test(sha)) throw new Error(`envelope.resources[${i}].sha256 must be 64 hex digits`);
        e.resources.push({ name, sha256: sha.toLowerCase() });
      });
    }
  }
  return e;
}
