// An expectation of either layout: what the AWS CLI printed about a Things
// Graph deployment (expectation.ts) or a Greengrass v2 one
// (greengrass-v2-expectation.ts), bare or in the envelope. The document's
// shape tells which (expectationLayout); each layout's own parser then reads
// it on its own strict rules. Pure.
import { parseStrictJson } from '../model/strict-json.js';
import { isOlder, MAX_EXPECTATION_BYTES, parseExpectation, type Expectation } from './expectation.js';
import { expectationLayout, parseGreengrassV2Document, type GreengrassV2Expectation } from './greengrass-v2-expectation.js';
import type { LayoutName } from './report.js';

export type AnyExpectation = Expectation | GreengrassV2Expectation;

export function isGreengrassV2Expectation(e: AnyExpectation): e is GreengrassV2Expectation {
  return (e as GreengrassV2Expectation).layout === 'greengrass-v2';
}

export function layoutOfExpectation(e: AnyExpectation): LayoutName {
  return isGreengrassV2Expectation(e) ? 'greengrass-v2' : 'thingsgraph-v1';
}

export type AnyExpectationResult =
  | { ok: true; expectation: AnyExpectation }
  /** `layout`: the layout the document was meant for, when its shape says. */
  | { ok: false; error: string; layout: LayoutName | null };

const stripBom = (t: string) => (t.charCodeAt(0) === 0xfeff ? t.slice(1) : t);

/** The layout a text's shape names, without judging the rest of it: null when it is not one JSON document of either shape. */
export function layoutOfText(text: string): LayoutName | null {
  const read = parseStrictJson(stripBom(text));
  return read.ok ? expectationLayout(read.value) : null;
}

/**
 * Exactly one expectation, of whichever layout the document's shape names;
 * anything that is not a Greengrass v2 document is read as Things Graph output
 * (which also takes several documents one after another).
 */
export function parseAnyExpectation(text: string, opts: { maxBytes?: number } = {}): AnyExpectationResult {
  const max = opts.maxBytes ?? MAX_EXPECTATION_BYTES;
  if (Buffer.byteLength(text) > max) return { ok: false, error: `expectation is larger than ${max} bytes`, layout: null };
  const read = parseStrictJson(stripBom(text));
  if (read.ok && expectationLayout(read.value) === 'greengrass-v2') {
    const r = parseGreengrassV2Document(read.value);
    return r.ok ? r : { ...r, layout: 'greengrass-v2' };
  }
  const r = parseExpectation(text, { maxBytes: max });
  return r.ok ? r : { ...r, layout: read.ok ? expectationLayout(read.value) : null };
}

/**
 * Whether `candidate` is older than `held` (both of one layout): Things Graph
 * by summary.updatedAt, a v2 deployment by its creationTimestamp. When either
 * does not say, or they are of different kinds, neither is older.
 */
export function isOlderExpectation(candidate: AnyExpectation, held: AnyExpectation): boolean {
  const a = isGreengrassV2Expectation(candidate);
  const b = isGreengrassV2Expectation(held);
  if (!a && !b) return isOlder(candidate, held);
  if (!a || !b) return false;
  if (candidate.kind !== 'deployment' || held.kind !== 'deployment') return false;
  if (candidate.creationTimestamp === undefined || held.creationTimestamp === undefined) return false;
  return Date.parse(candidate.creationTimestamp) < Date.parse(held.creationTimestamp);
}
