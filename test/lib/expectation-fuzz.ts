// Seeded fuzzing of expectations: what `--expect` reads and what the agent
// receives over MQTT. Valid expectations of every shape (deploy-system-instance,
// search-system-instances and get-system-instance outputs, a sequence of them,
// the envelope with archive digests) are mutated: duplicate keys, misspelt,
// case-changed and misplaced keys, empty strings, nulls, wrong types, removed
// keys, truncation, invalid UTF-8, huge strings, deep nesting, extra keys.
//
// The oracle: a mutated input is either refused (exit 2 with a message), or
// accepted with every check of the original kept. A check is one the verdict
// makes from an expectation: the group ID, the group version, the system
// instance, the deployment ID and the archive digests. "Kept" is tested two
// ways, both of which must hold:
// - the expectation `verify` reads (its own loadExpectation) names the
//   original's value for every check (a mutation that removes an optional key
//   declares the check it legitimately takes away);
// - `verify --expect` is run against trap cores, each built to fail exactly one
//   of the original's checks and nothing else: a core on another group, another
//   group version, that registered another system instance, whose runtime.log
//   names another deployment, or whose flow archive has other bytes (the same
//   entries). None may be VERIFIED.
// The agent's reader (the MQTT payload as classifyInbound decodes it, then
// parseExpectation) is held to the first rule too.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { main } from '../../src/cli/main.js';
import { loadExpectation } from '../../src/cli/verify.js';
import { classifyInbound, topicsFor } from '../../src/report/protocol.js';
import { normalizeUrn, parseExpectation, type Expectation } from '../../src/verify/expectation.js';
import { isGreengrassV2Expectation } from '../../src/verify/expectations.js';
import { DEFAULT_IDS, systemInstanceSummary, type CoreIds } from '../../scripts/simulated-core.js';
import { runCli } from './cli-child.js';
import { overSeeds, Rand } from './seeded.js';
import { refreshFlowLog, tempCore, type TempCore } from './core.js';

/** What the verdict checks against an expectation. */
export type Check = 'group' | 'version' | 'instance' | 'deployment' | 'digest';
export const CHECKS: readonly Check[] = ['group', 'version', 'instance', 'deployment', 'digest'];

export type Base = 'deploy' | 'envelope' | 'search' | 'get' | 'sequence';
const BASES: readonly Base[] = ['deploy', 'envelope', 'search', 'get', 'sequence'];

/**
 * By construction: `valid` must be accepted and VERIFIED on the healthy core;
 * `invalid` is something the reader is specified to refuse; `any` may go
 * either way (the oracle alone decides).
 */
export type Intent = 'valid' | 'invalid' | 'any';

export interface ExpectationCase {
  name: string;
  base: Base;
  bytes: Buffer;
  intent: Intent;
  /** Checks the mutation legitimately takes away (an optional key removed). */
  relaxes: Check[];
}

/** The values the original expectations carry: what the checks compare with. */
export interface Originals {
  ids: CoreIds;
  archiveName: string;
  archiveSha256: string;
}

type Doc = Record<string, unknown>;
type Path = (string | number)[];

// ---- the originals ----

const OTHER_GROUP = '0c1d2e3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5';

function summaryOf(ids: CoreIds, over: Partial<Record<string, unknown>> = {}): Doc {
  return { ...systemInstanceSummary(ids), ...over };
}

function deployDoc(o: Originals): Doc {
  return { summary: summaryOf(o.ids), greengrassDeploymentId: o.ids.deploymentId };
}

function getDoc(o: Originals): Doc {
  return {
    description: {
      summary: summaryOf(o.ids),
      definition: { language: 'GRAPHQL', text: `{ system(id: "${o.ids.flowName}System") { devices { id } } }` },
      s3BucketName: 'my-thingsgraph-bucket',
      metricsConfiguration: { cloudMetricEnabled: false },
      validatedNamespaceVersion: 1,
      validatedDependencyRevisions: [{ id: 'urn:tdm:aws/examples:deviceModel:MotionSensor', revisionNumber: 1 }],
      flowActionsRoleArn: `arn:aws:iam::${o.ids.account}:role/ThingsGraphRole`,
    },
  };
}

/** The base documents (a sequence is an array of documents written one after another). */
function baseDoc(base: Base, o: Originals): Doc | Doc[] {
  switch (base) {
    case 'deploy':
      return deployDoc(o);
    case 'envelope':
      return { expectation: deployDoc(o), requestId: 'req-0001', resources: [{ name: o.archiveName, sha256: o.archiveSha256 }] };
    case 'search':
      return {
        summaries: [
          summaryOf(o.ids),
          summaryOf(o.ids, {
            id: o.ids.systemInstanceId.replace(/_V001$/, 'Other_V001'),
            greengrassGroupId: OTHER_GROUP,
            greengrassGroupVersionId: '1b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8',
            greengrassGroupName: 'OtherGroup',
          }),
          summaryOf(o.ids, { id: o.ids.systemInstanceId.replace(/_V001$/, 'Cloud_V001'), target: 'CLOUD', greengrassGroupId: undefined, greengrassGroupVersionId: undefined, greengrassGroupName: undefined }),
        ].map((s) => JSON.parse(JSON.stringify(s)) as Doc),
      };
    case 'get':
      return getDoc(o);
    case 'sequence':
      return [deployDoc(o), getDoc(o)];
  }
}

/** The checks each original makes. */
export function checksOfBase(base: Base): Check[] {
  switch (base) {
    case 'deploy':
    case 'sequence':
      return ['group', 'version', 'instance', 'deployment'];
    case 'envelope':
      return ['group', 'version', 'instance', 'deployment', 'digest'];
    case 'search':
    case 'get':
      return ['group', 'version', 'instance'];
  }
}

// ---- what the reader reads, by path ----

const SUMMARY_KEYS = ['id', 'arn', 'status', 'target', 'greengrassGroupName', 'createdAt', 'updatedAt', 'greengrassGroupId', 'greengrassGroupVersionId'];
const SUMMARY_REQUIRED = ['id', 'greengrassGroupId', 'greengrassGroupVersionId'];

interface KeyRole {
  /** The reader looks at this key and checks its type. */
  read: boolean;
  /** Removing it must be refused. */
  required: boolean;
  /** Removing it takes this check away (legitimately). */
  carries?: Check;
  /** The other keys the reader knows in the same object. */
  siblings: readonly string[];
}

const UNREAD: KeyRole = { read: false, required: false, siblings: [] };

/** The role of the key at `path` in a document of `base` (for a sequence, the path starts with the document index). */
function roleOf(base: Base, path: Path, doc: unknown): KeyRole {
  let p = path;
  let b: Base = base;
  if (base === 'sequence') {
    b = p[0] === 0 ? 'deploy' : 'get';
    p = p.slice(1);
  }
  const key = p[p.length - 1];
  const parent = p.slice(0, -1).join('.');
  const summaryRole = (cloud: boolean): KeyRole => ({
    read: true,
    required: SUMMARY_REQUIRED.includes(key as string) && (!cloud || key === 'id'),
    ...(key === 'greengrassGroupId' ? { carries: 'group' as Check } : key === 'greengrassGroupVersionId' ? { carries: 'version' as Check } : key === 'id' ? { carries: 'instance' as Check } : {}),
    siblings: SUMMARY_KEYS,
  });
  const isSummaryKey = SUMMARY_KEYS.includes(key as string);
  switch (b) {
    case 'deploy':
      if (p.length === 1) {
        if (key === 'summary') return { read: true, required: true, siblings: ['summary', 'greengrassDeploymentId'] };
        if (key === 'greengrassDeploymentId') return { read: true, required: false, carries: 'deployment', siblings: ['summary', 'greengrassDeploymentId'] };
        return UNREAD;
      }
      if (parent === 'summary' && isSummaryKey) return summaryRole(false);
      return UNREAD;
    case 'envelope':
      if (p.length === 1) {
        if (key === 'expectation') return { read: true, required: true, siblings: ['expectation', 'requestId', 'resources'] };
        if (key === 'requestId') return { read: true, required: false, siblings: ['expectation', 'requestId', 'resources'] };
        if (key === 'resources') return { read: true, required: false, carries: 'digest', siblings: ['expectation', 'requestId', 'resources'] };
        return UNREAD;
      }
      if (parent === 'expectation') return roleOf('deploy', p.slice(1), doc);
      if (parent === 'expectation.summary') return roleOf('deploy', p.slice(1), doc);
      if (p[0] === 'resources' && p.length === 2) return { read: true, required: false, carries: 'digest', siblings: [] };
      if (p[0] === 'resources' && p.length === 3 && (key === 'name' || key === 'sha256')) return { read: true, required: true, siblings: ['name', 'sha256'] };
      return UNREAD;
    case 'search':
      if (p.length === 1) {
        if (key === 'summaries') return { read: true, required: true, siblings: ['summaries', 'nextToken', 'NextToken'] };
        return UNREAD;
      }
      if (p[0] === 'summaries' && p.length === 2) {
        // Our summary is the first; removing it is removing the deployment.
        return { read: true, required: p[1] === 0, siblings: [] };
      }
      if (p[0] === 'summaries' && p.length === 3 && isSummaryKey) {
        const s = (doc as Doc).summaries as Doc[];
        const cloud = (s[p[1] as number] as Doc | undefined)?.target === 'CLOUD';
        const r = summaryRole(cloud);
        // Only the first summary is the one this core is judged by.
        return p[1] === 0 ? r : { ...r, carries: undefined as unknown as Check };
      }
      return UNREAD;
    case 'get':
      if (p.length === 1) {
        if (key === 'description') return { read: true, required: true, siblings: ['description'] };
        return UNREAD;
      }
      if (p.length === 2 && p[0] === 'description') {
        const siblings = ['summary', 'definition', 's3BucketName', 'metricsConfiguration', 'validatedNamespaceVersion', 'validatedDependencyRevisions', 'flowActionsRoleArn'];
        return key === 'summary' ? { read: true, required: true, siblings } : { read: false, required: false, siblings };
      }
      if (parent === 'description.summary' && isSummaryKey) return summaryRole(false);
      return UNREAD;
    default:
      return UNREAD;
  }
}

// ---- serialisation with what JSON.stringify cannot write ----

/** A key written as `DUP<n>:<key>` is written as `<key>`: a second copy of a key in one object. */
const DUP = '\u0000dup';
/** A key written as `ESC:<key>` has its first letter written as a \u escape (the same key to a JSON reader). */
const ESC = '\u0000esc:';
/** A value `{[RAW]: text}` is written as the text itself. */
const RAW = '\u0000raw';

function keyText(k: string): string {
  if (k.startsWith(DUP)) return JSON.stringify(k.slice(k.indexOf(':') + 1));
  if (k.startsWith(ESC)) {
    const key = k.slice(ESC.length);
    return `"\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(key.slice(1)).slice(1)}`;
  }
  return JSON.stringify(k);
}

function ser(v: unknown, indent: string, depth: number): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  const nl = indent ? `\n${indent.repeat(depth + 1)}` : '';
  const end = indent ? `\n${indent.repeat(depth)}` : '';
  const sep = indent ? ': ' : ':';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[${v.map((x) => `${nl}${ser(x, indent, depth + 1)}`).join(',')}${end}]`;
  }
  const o = v as Doc;
  if (Object.hasOwn(o, RAW)) return o[RAW] as string;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined);
  if (keys.length === 0) return '{}';
  return `{${keys.map((k) => `${nl}${keyText(k)}${sep}${ser(o[k], indent, depth + 1)}`).join(',')}${end}}`;
}

function serialize(doc: Doc | Doc[], base: Base, r: Rand): string {
  const indent = r.pick(['', '  ', '    ', '\t']);
  if (base === 'sequence') return (doc as Doc[]).map((d) => ser(d, indent, 0)).join(r.pick(['\n', '\n\n', ' ']));
  return ser(doc, indent, 0);
}

// ---- walking the document ----

interface Slot {
  path: Path;
  parent: Doc;
  key: string;
}

function slots(v: unknown, path: Path = [], out: Slot[] = []): Slot[] {
  if (Array.isArray(v)) v.forEach((x, i) => slots(x, [...path, i], out));
  else if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v as Doc)) {
      out.push({ path: [...path, k], parent: v as Doc, key: k });
      slots((v as Doc)[k], [...path, k], out);
    }
  }
  return out;
}

function objects(v: unknown, path: Path = [], out: { path: Path; o: Doc }[] = []): { path: Path; o: Doc }[] {
  if (Array.isArray(v)) v.forEach((x, i) => objects(x, [...path, i], out));
  else if (v !== null && typeof v === 'object') {
    out.push({ path, o: v as Doc });
    for (const k of Object.keys(v as Doc)) objects((v as Doc)[k], [...path, k], out);
  }
  return out;
}

/** Replaces key `from` with `to` in place, keeping the key order. */
function renameKey(o: Doc, from: string, to: string): void {
  const entries = Object.entries(o);
  for (const k of Object.keys(o)) delete o[k];
  for (const [k, v] of entries) o[k === from ? to : k] = v;
}

/** A misspelling within what a person slips into: one edit, a case change, or another word separator. */
function misspell(key: string, r: Rand): string {
  const i = r.int(0, Math.max(0, key.length - 1));
  const letter = () => 'abcdefghijklmnopqrstuvwxyz'[r.int(0, 25)] as string;
  switch (r.int(0, 7)) {
    case 0:
      return key.length > 1 ? key.slice(0, i) + key.slice(i + 1) : `${key}${letter()}`;
    case 1:
      return key.slice(0, i) + letter() + key.slice(i);
    case 2:
      return i + 1 < key.length ? key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2) : `${key}s`;
    case 3: {
      const c = letter();
      return key.slice(0, i) + (c === key[i] ? 'q' : c) + key.slice(i + 1);
    }
    case 4:
      return key[0]!.toUpperCase() + key.slice(1);
    case 5:
      return r.pick([key.toLowerCase(), key.toUpperCase()]);
    case 6:
      return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    default:
      return key.replace(/Id$/, 'ID').replace(/^id$/, 'ID');
  }
}

function wrongTypes(v: unknown): unknown[] {
  if (typeof v === 'string') return [null, 0, 42, 1.5, true, false, [], {}, [v], { value: v }];
  if (Array.isArray(v)) return [null, 'x', 1, true, {}, { 0: v[0] }];
  if (v !== null && typeof v === 'object') return [null, 'x', 1, true, [], [v]];
  return [null, 'x', [], {}];
}

const OTHER_VALUES = ['11111111-2222-4333-8444-555555555555', '', ' ', null, 'urn:tdm:us-east-1/123456789012/default:deployment:Other_V009'];

function deepArray(depth: number): Doc {
  return { [RAW]: `${'['.repeat(depth)}${']'.repeat(depth)}` };
}

// ---- the mutations ----

interface Mutated {
  note: string;
  intent: Intent;
  relaxes?: Check[];
}

type Mutation = (doc: Doc | Doc[], base: Base, r: Rand) => Mutated;

const pickSlot = (doc: unknown, r: Rand, filter: (s: Slot) => boolean = () => true): Slot | null => {
  const all = slots(doc).filter(filter);
  return all.length === 0 ? null : r.pick(all);
};

const name = (p: Path) => p.join('.');

/** A mutation with nothing left to act on (an earlier one took it away). */
const NOTHING: Mutated = { note: 'nothing to mutate', intent: 'any' };

const MUTATIONS: Record<string, Mutation> = {
  misspell(doc, base, r) {
    const s = pickSlot(doc, r, (x) => !x.key.startsWith('\u0000'));
    if (!s) return NOTHING;
    const role = roleOf(base, s.path, doc);
    let to = misspell(s.key, r);
    if (to === s.key) to = `${s.key}x`;
    if (Object.hasOwn(s.parent, to)) return { note: `misspell ${name(s.path)}: ${to} taken`, intent: 'any' };
    renameKey(s.parent, s.key, to);
    const intent: Intent = !role.read ? 'any' : role.siblings.includes(to) ? 'any' : 'invalid';
    return { note: `${name(s.path)} spelt ${JSON.stringify(to)}`, intent };
  },
  emptyOrNull(doc, base, r) {
    const s = pickSlot(doc, r, (x) => !x.key.startsWith('\u0000'));
    if (!s) return NOTHING;
    const role = roleOf(base, s.path, doc);
    const v = r.pick(['', ' ', '\t', null, '\u00a0']);
    s.parent[s.key] = v;
    // The reader reads nextToken as "present or not": any value means another page.
    const intent: Intent = role.read && s.key !== 'nextToken' ? 'invalid' : 'any';
    return { note: `${name(s.path)} = ${JSON.stringify(v)}`, intent };
  },
  wrongType(doc, base, r) {
    const s = pickSlot(doc, r, (x) => !x.key.startsWith('\u0000'));
    if (!s) return NOTHING;
    const role = roleOf(base, s.path, doc);
    const v = r.pick(wrongTypes(s.parent[s.key]));
    s.parent[s.key] = v;
    return { note: `${name(s.path)} = ${JSON.stringify(v)}`, intent: role.read && s.key !== 'nextToken' ? 'invalid' : 'any' };
  },
  remove(doc, base, r) {
    const s = pickSlot(doc, r, (x) => !x.key.startsWith('\u0000'));
    if (!s) return NOTHING;
    const role = roleOf(base, s.path, doc);
    delete s.parent[s.key];
    if (role.required) return { note: `no ${name(s.path)}`, intent: 'invalid' };
    if (role.carries) return { note: `no ${name(s.path)}`, intent: 'valid', relaxes: [role.carries] };
    // An optional key the reader reads (a date, a status, a target) may change what the summary
    // is; a key it does not read changes nothing.
    return { note: `no ${name(s.path)}`, intent: role.read ? 'any' : 'valid' };
  },
  removeElement(doc, base, r) {
    if (base === 'envelope') {
      (doc as Doc).resources = [];
      return { note: 'resources = []', intent: 'valid', relaxes: ['digest'] };
    }
    const list = (doc as Doc).summaries;
    if (base === 'search' && Array.isArray(list) && list.length === 3) {
      const i = r.int(1, 2);
      list.splice(i, 1);
      return { note: `summaries[${i}] removed`, intent: 'valid' };
    }
    return MUTATIONS.remove!(doc, base, r);
  },
  move(doc, base, r) {
    // A known key put where the reader does not look for it: the check it carried must not go quietly.
    const s = pickSlot(doc, r, (x) => roleOf(base, x.path, doc).read && typeof x.parent[x.key] !== 'object');
    if (!s) return NOTHING;
    const targets = objects(doc).filter((t) => t.o !== s.parent && !Object.hasOwn(t.o, s.key) && !Object.hasOwn(t.o, RAW));
    if (targets.length === 0) return { note: 'nothing to move', intent: 'valid' };
    const t = r.pick(targets);
    t.o[s.key] = s.parent[s.key];
    delete s.parent[s.key];
    return { note: `${name(s.path)} moved into ${name(t.path) || '$'}`, intent: 'any' };
  },
  copy(doc, base, r) {
    const s = pickSlot(doc, r, (x) => roleOf(base, x.path, doc).read);
    if (!s) return NOTHING;
    const targets = objects(doc).filter((t) => t.o !== s.parent && !Object.hasOwn(t.o, s.key) && !Object.hasOwn(t.o, RAW));
    if (targets.length === 0) return { note: 'nothing to copy', intent: 'valid' };
    const t = r.pick(targets);
    // A copy, not the object itself: the target may lie inside it.
    t.o[s.key] = r.chance(0.5) ? structuredClone(s.parent[s.key]) : r.pick(OTHER_VALUES);
    return { note: `${name(s.path)} also in ${name(t.path) || '$'}: ${JSON.stringify(t.o[s.key])?.slice(0, 40)}`, intent: 'any' };
  },
  duplicate(doc, base, r) {
    const s = pickSlot(doc, r, (x) => !x.key.startsWith('\u0000'));
    if (!s) return NOTHING;
    const v = r.chance(0.5) ? structuredClone(s.parent[s.key]) : r.pick(OTHER_VALUES);
    const entries = Object.entries(s.parent);
    for (const k of Object.keys(s.parent)) delete s.parent[k];
    const first = r.chance(0.5);
    for (const [k, val] of entries) {
      if (k === s.key && first) s.parent[`${DUP}1:${k}`] = v;
      s.parent[k] = val;
      if (k === s.key && !first) s.parent[`${DUP}1:${k}`] = v;
    }
    return { note: `${name(s.path)} twice (${first ? 'before' : 'after'}: ${JSON.stringify(v)?.slice(0, 40)})`, intent: 'invalid' };
  },
  unknownKey(doc, base, r) {
    const ts = objects(doc).filter((x) => !Object.hasOwn(x.o, RAW));
    if (ts.length === 0) return NOTHING;
    const t = r.pick(ts);
    const k = r.chance(0.5) ? r.word(r.int(2, 14)) : r.pick(['Id', 'GroupId', 'deploymentId', 'resource', 'digest', 'sha', 'groupVersion', 'version', 'Summary', 'expected', 'greengrass']);
    if (Object.hasOwn(t.o, k)) return { note: 'unknown key taken', intent: 'valid' };
    t.o[k] = r.pick(['x', 1, null, [], { a: 1 }, OTHER_GROUP]);
    return { note: `unknown key ${JSON.stringify(k)} in ${name(t.path) || '$'}`, intent: 'any' };
  },
  hugeString(doc, base, r) {
    const s = pickSlot(doc, r, (x) => typeof x.parent[x.key] === 'string' && !x.key.startsWith('\u0000'));
    if (!s) return NOTHING;
    const n = r.pick([64 * 1024, 1024 * 1024, 5 * 1024 * 1024]);
    s.parent[s.key] = `${s.parent[s.key] as string}${'x'.repeat(n)}`;
    return { note: `${name(s.path)} + ${n} bytes`, intent: n > 4 * 1024 * 1024 ? 'invalid' : 'any' };
  },
  deep(doc, base, r) {
    const ts = objects(doc).filter((x) => !Object.hasOwn(x.o, RAW));
    if (ts.length === 0) return NOTHING;
    const t = r.pick(ts);
    const d = r.pick([8, 30, 65, 1000, 100_000, 1_000_000]);
    // Its own key: a second nesting in the same object must not replace the first.
    let k = 'x-deep';
    for (let i = 2; Object.hasOwn(t.o, k); i++) k = `x-deep${i}`;
    t.o[k] = deepArray(d);
    return { note: `nesting ${d} in ${name(t.path) || '$'}`, intent: d <= 30 ? 'valid' : d >= 65 ? 'invalid' : 'any' };
  },
};

const REMOVING = new Set(['remove', 'removeElement', 'move']);

/** Valid variants: each must be accepted and VERIFIED on the healthy core. */
const KEEP: Record<string, Mutation> = {
  unchanged: () => ({ note: 'unchanged', intent: 'valid' }),
  shuffled(doc, _b, r) {
    for (const { o } of objects(doc)) {
      const entries = Object.entries(o);
      for (const k of Object.keys(o)) delete o[k];
      for (let i = entries.length - 1; i > 0; i--) {
        const j = r.int(0, i);
        [entries[i], entries[j]] = [entries[j]!, entries[i]!];
      }
      for (const [k, v] of entries) o[k] = v;
    }
    return { note: 'keys in another order', intent: 'valid' };
  },
  escapedKey(doc, base, r) {
    const s = pickSlot(doc, r, (x) => roleOf(base, x.path, doc).read && !x.key.startsWith('\u0000'));
    if (!s) return NOTHING;
    renameKey(s.parent, s.key, `${ESC}${s.key}`);
    return { note: `${name(s.path)} with a \\u escape`, intent: 'valid' };
  },
  note(doc, _b, r) {
    const t = r.pick(objects(doc).filter((x) => !Object.hasOwn(x.o, RAW)));
    t.o[`x-note-${r.word(4)}`] = `caf\u00e9 \u{1f600} ${r.word(3)}`;
    return { note: 'an unknown key, non-ASCII text', intent: 'valid' };
  },
  epochDates(doc) {
    for (const s of slots(doc)) {
      if (s.key === 'createdAt' || s.key === 'updatedAt') s.parent[s.key] = Date.parse(s.parent[s.key] as string) / 1000;
    }
    return { note: 'dates in epoch seconds', intent: 'valid' };
  },
  urnCase(doc) {
    for (const s of slots(doc)) if (s.key === 'id' && typeof s.parent[s.key] === 'string') s.parent[s.key] = (s.parent[s.key] as string).replace(':deployment:', ':Deployment:');
    return { note: 'URN with :Deployment:', intent: 'valid' };
  },
  upperHex(doc) {
    for (const s of slots(doc)) if (s.key === 'sha256') s.parent[s.key] = (s.parent[s.key] as string).toUpperCase();
    return { note: 'digest in upper-case hex', intent: 'valid' };
  },
};

interface TextDamage {
  bytes: Buffer;
  note: string;
  intent: Intent;
}

/** Damage to the text: what a serializer never writes but a disk, a pipe or an attacker might. */
function damageText(text: string, base: Base, r: Rand): TextDamage {
  const b = Buffer.from(text);
  switch (r.int(0, 6)) {
    case 0: {
      const cut = r.int(0, b.length - 1);
      // A cut between the documents of a sequence leaves a whole first document.
      const first = base === 'sequence' ? firstDocEnd(text) : -1;
      const gap = first >= 0 && cut >= first && /^\s*$/.test(b.subarray(first, cut).toString());
      return { bytes: b.subarray(0, cut), note: `cut at ${cut} of ${b.length}`, intent: gap ? 'any' : 'invalid' };
    }
    case 1: {
      const quotes: number[] = [];
      for (let i = 0; i < b.length; i++) if (b[i] === 0x22) quotes.push(i);
      const at = r.pick(quotes) + 1;
      const bad = r.pick([[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]]);
      return { bytes: Buffer.concat([b.subarray(0, at), Buffer.from(bad), b.subarray(at)]), note: `bytes ${bad.map((x) => x.toString(16)).join(' ')} at ${at}`, intent: 'invalid' };
    }
    case 2: {
      const how = r.pick(['garbage', 'comment', 'quote', 'nan', 'trailing-comma', 'nul']);
      const t =
        how === 'garbage' ? `${text}\n}junk`
        : how === 'comment' ? text.replace('{', '{ // by hand\n')
        : how === 'quote' ? text.replace(/"(\w+)":/, "'$1':")
        : how === 'nan' ? text.replace(/"updatedAt":\s*"[^"]*"/, '"updatedAt": NaN')
        : how === 'trailing-comma' ? text.replace(/}$/, ',}')
        : `${text}\u0000`;
      return { bytes: Buffer.from(t), note: how, intent: t === text ? 'valid' : 'invalid' };
    }
    case 3:
      return { bytes: Buffer.from(`\ufeff${text}`), note: 'byte order mark', intent: 'valid' };
    case 4:
      return { bytes: Buffer.from(text.replace(/\n/g, '\r\n')), note: 'CRLF', intent: 'valid' };
    case 5:
      // The same output twice (a shell loop run twice): the same deployment, or an envelope twice.
      return { bytes: Buffer.from(`${text}\n${text}`), note: 'written twice', intent: base === 'envelope' ? 'invalid' : 'any' };
    default:
      return { bytes: Buffer.from(`{"summary":${JSON.stringify('x'.repeat(4 * 1024 * 1024 + 16))}}`), note: 'larger than 4 MiB', intent: 'invalid' };
  }
}

function firstDocEnd(text: string): number {
  let depth = 0;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** One seeded case: about one in six a valid variant, the rest mutated in one or two ways. */
export function expectationCase(seed: number, o: Originals): ExpectationCase {
  const r = new Rand(seed);
  const base = r.pick(BASES);
  const doc = baseDoc(base, o);
  const kind = r.next();
  if (kind < 0.17) {
    const [k, m] = r.pick(Object.entries(KEEP));
    const res = m(doc, base, r);
    return { name: `seed ${seed} ${base}: valid, ${k}: ${res.note}`, base, bytes: Buffer.from(serialize(doc, base, r)), intent: 'valid', relaxes: [] };
  }
  if (kind < 0.82) {
    const notes: string[] = [];
    const relaxes: Check[] = [];
    let intent = 'valid' as Intent;
    const rounds = r.chance(0.2) ? 2 : 1;
    for (let i = 0; i < rounds; i++) {
      const [k, m] = r.pick(Object.entries(MUTATIONS));
      const res = m(doc, base, r);
      notes.push(`${k}: ${res.note}`);
      relaxes.push(...(res.relaxes ?? []));
      if (i > 0 && REMOVING.has(k)) {
        // A removal can take the first mutation away with what it removes.
        intent = res.intent === 'invalid' ? 'invalid' : 'any';
      } else {
        intent = res.intent === 'invalid' || intent === 'invalid' ? 'invalid' : res.intent === 'any' || intent === 'any' ? 'any' : 'valid';
      }
    }
    // Two mutations can undo each other's intent (a key removed, then a copy of it added back).
    if (rounds > 1 && intent !== 'invalid') intent = 'any';
    return { name: `seed ${seed} ${base}: ${notes.join('; ')}`, base, bytes: Buffer.from(serialize(doc, base, r)), intent, relaxes };
  }
  const d = damageText(serialize(doc, base, r), base, r);
  return { name: `seed ${seed} ${base}: ${d.note}`, base, bytes: d.bytes, intent: d.intent, relaxes: [] };
}

// ---- the oracle ----

export interface CheckValues {
  group?: string;
  version?: string;
  instance?: string;
  deployment?: string;
  /** `name=sha256`, sorted. */
  digest?: string[];
}

export function checkValues(e: Expectation): CheckValues {
  const v: CheckValues = {
    group: e.greengrassGroupId,
    version: e.greengrassGroupVersionId,
    instance: normalizeUrn(e.systemInstanceId),
  };
  if (e.greengrassDeploymentId !== undefined) v.deployment = e.greengrassDeploymentId;
  if (e.resources.length > 0) v.digest = e.resources.map((x) => `${x.name}=${x.sha256}`).sort();
  return v;
}

export function originalValues(o: Originals): Required<CheckValues> {
  return {
    group: o.ids.groupId,
    version: o.ids.groupVersionId,
    instance: normalizeUrn(o.ids.systemInstanceId),
    deployment: o.ids.deploymentId,
    digest: [`${o.archiveName}=${o.archiveSha256}`],
  };
}

/** The checks of `want` that `got` no longer makes (absent, or a digest gone). */
export function droppedChecks(got: CheckValues, want: Required<CheckValues>, checks: readonly Check[]): Check[] {
  return checks.filter((c) => {
    if (c === 'digest') return want.digest.some((d) => !(got.digest ?? []).includes(d.replace(/=(.*)$/, (_, h: string) => `=${h.toLowerCase()}`)));
    return got[c] === undefined;
  });
}

export interface ExpectationFuzzTally {
  cases: number;
  byIntent: Record<Intent, number>;
  refused: number;
  accepted: number;
  crashes: number;
  hangs: number;
  /** Refused without saying why (exit 2, nothing on stderr). */
  silentRefusals: number;
  /** VERIFIED on a trap core that fails exactly one of the original's checks. */
  verifiedCheckDropped: number;
  /** Accepted by verify, and its expectation no longer makes one of the original's checks. */
  parsedCheckDropped: number;
  /** The same, by the agent's reader (an MQTT payload). */
  agentCheckDropped: number;
  /** Built to be refused (a duplicate key, an empty string, a misspelt key, ...), yet accepted. */
  brokenAccepted: number;
  agentBrokenAccepted: number;
  /** Valid variants VERIFIED on the healthy core, of byIntent.valid. */
  validVerified: number;
  /** Trap runs made (accepted cases x the checks they must keep). */
  trapRuns: number;
  maxMs: number;
  bad: string[];
}

export function emptyExpectationTally(): ExpectationFuzzTally {
  return {
    cases: 0, byIntent: { valid: 0, invalid: 0, any: 0 }, refused: 0, accepted: 0, crashes: 0, hangs: 0, silentRefusals: 0,
    verifiedCheckDropped: 0, parsedCheckDropped: 0, agentCheckDropped: 0, brokenAccepted: 0, agentBrokenAccepted: 0,
    validVerified: 0, trapRuns: 0, maxMs: 0, bad: [],
  };
}

/** The counts that must be 0 (and every valid variant verified). */
export function clean(t: ExpectationFuzzTally): boolean {
  return t.crashes + t.hangs + t.silentRefusals + t.verifiedCheckDropped + t.parsedCheckDropped + t.agentCheckDropped + t.brokenAccepted + t.agentBrokenAccepted === 0 &&
    t.validVerified === t.byIntent.valid;
}


/** `deploy-witness verify` in this process (the command's own code, without a process around it). */
async function verifyInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const code = await main(['verify', ...args], { stdout: out, stderr: err as unknown as NodeJS.WriteStream, env: {} });
  return { code, stdout, stderr };
}

function statusOf(stdout: string): string | null {
  try {
    return (JSON.parse(stdout) as { status?: string }).status ?? null;
  } catch {
    return null;
  }
}

const STACK = /\n\s+at .*:\d+:\d+|unexpected error/;

/** The trap values: none is what any mutation writes. */
export const TRAP_IDS: Record<Exclude<Check, 'digest'>, Partial<CoreIds>> = {
  group: { groupId: 'e0e1e2e3-e4e5-4e6e-8e7e-e8e9eaebeced' },
  version: { groupVersionId: 'f0f1f2f3-f4f5-4f6f-8f7f-f8f9fafbfcfd' },
  instance: { systemInstanceId: 'urn:tdm:us-east-1/123456789012/default:deployment:Trap_V007' },
  deployment: { deploymentId: 'd0d1d2d3-d4d5-4d6d-8d7d-d8d9dadbdcdd' },
};

/** A core that fails only the digest check: the same archive entries, compressed otherwise. */
async function recompress(core: TempCore): Promise<void> {
  const p = join(core.root, core.paths.archive);
  const tar = gunzipSync(await readFile(p));
  await writeFile(p, gzipSync(tar, { level: 1 }));
}

/**
 * A worker: a healthy core, the five trap cores, and a folder for the case
 * file. Cases run one at a time on a worker (the flow log is refreshed before
 * each run so that flow health never depends on how long the run has taken).
 */
export class ExpectationFuzzWorker {
  private runs = 0;

  private constructor(
    readonly healthy: TempCore,
    readonly traps: Map<Check, TempCore>,
    private readonly dir: string,
    private readonly timeoutMs: number,
  ) {}

  static async create(timeoutMs = 20_000): Promise<ExpectationFuzzWorker> {
    const spec = { lambdaFiles: 1, engineFiles: 1 };
    const healthy = await tempCore(spec);
    const traps = new Map<Check, TempCore>();
    for (const [c, ids] of Object.entries(TRAP_IDS)) traps.set(c as Check, await tempCore({ ...spec, ids }));
    const digest = await tempCore(spec);
    await recompress(digest);
    traps.set('digest', digest);
    const dir = await mkdtemp(join(tmpdir(), 'dw-expfuzz-'));
    return new ExpectationFuzzWorker(healthy, traps, dir, timeoutMs);
  }

  get originals(): Originals {
    return { ids: this.healthy.ids, archiveName: this.healthy.paths.archive.split('/').pop()!, archiveSha256: this.healthy.archiveSha256 };
  }

  /** The verify flags for a core, with a state folder of its own for every run: no baseline carries over. */
  private async args(core: TempCore, file: string): Promise<string[]> {
    const state = join(this.dir, `state-${this.runs++}`);
    await rm(state, { recursive: true, force: true });
    await refreshFlowLog(core);
    return ['--root', core.root, '--state', state, '--expect', file, '--json', '--hash-rate', '0'];
  }

  /** Runs the original expectation of `base` on a trap: what makes the trap a trap (tests use it). */
  async verifyOn(core: TempCore, bytes: Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
    const file = join(this.dir, 'expect.json');
    await writeFile(file, bytes);
    try {
      return await verifyInProcess(await this.args(core, file));
    } finally {
      await this.cleanStates();
    }
  }

  private async cleanStates(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
  }

  async run(c: ExpectationCase, t: ExpectationFuzzTally): Promise<void> {
    const o = this.originals;
    const want = originalValues(o);
    const checks = checksOfBase(c.base).filter((x) => !c.relaxes.includes(x));
    const file = join(this.dir, 'expect.json');
    await writeFile(file, c.bytes);
    t.cases++;
    t.byIntent[c.intent]++;
    try {
      await this.agentPath(c, want, checks, t);
      const r = await runCli(['verify', ...(await this.args(this.healthy, file))], { deadlineMs: this.timeoutMs });
      t.maxMs = Math.max(t.maxMs, r.ms);
      if (r.hung) {
        t.hangs++;
        t.bad.push(`hang: ${c.name}`);
        return;
      }
      if (r.code === 2) {
        if (STACK.test(r.stderr)) {
          t.crashes++;
          t.bad.push(`crash (exit 2, a stack): ${c.name}: ${r.stderr.split('\n').slice(0, 3).join(' | ')}`);
          return;
        }
        t.refused++;
        if (!/--expect /.test(r.stderr)) {
          t.silentRefusals++;
          t.bad.push(`refused without naming --expect: ${c.name}: ${JSON.stringify(r.stderr.slice(0, 200))}`);
        }
        if (c.intent === 'valid') t.bad.push(`valid but refused: ${c.name}: ${r.stderr.trim().slice(0, 300)}`);
        return;
      }
      const status = statusOf(r.stdout);
      if ((r.code !== 0 && r.code !== 1) || status === null || STACK.test(r.stderr)) {
        t.crashes++;
        t.bad.push(`crash (exit ${r.code}): ${c.name}: ${r.stderr.split('\n').slice(0, 3).join(' | ')}`);
        return;
      }
      t.accepted++;
      if (c.intent === 'invalid') {
        t.brokenAccepted++;
        t.bad.push(`broken but accepted (${status}): ${c.name}`);
      }
      if (c.intent === 'valid') {
        if (status === 'VERIFIED') t.validVerified++;
        else t.bad.push(`valid but ${status}: ${c.name}: ${r.stdout.slice(0, 400)}`);
      }
      // What verify read, in this process, by its own code.
      let e: Expectation | null;
      try {
        const read = await loadExpectation(file, { observedGroup: async () => o.ids.groupId });
        // Every shape fuzzed here is Things Graph output: read as Greengrass v2, it would be judged as another layout.
        if (read && isGreengrassV2Expectation(read)) {
          t.bad.push(`read as a Greengrass v2 expectation: ${c.name}`);
          return;
        }
        e = read;
      } catch (err) {
        t.crashes++;
        t.bad.push(`verify accepted, its reader refused in-process: ${c.name}: ${(err as Error).message}`);
        return;
      }
      if (e) {
        const dropped = droppedChecks(checkValues(e), want, checks);
        if (dropped.length > 0) {
          t.parsedCheckDropped++;
          t.bad.push(`accepted with ${dropped.join(', ')} dropped: ${c.name}`);
        }
      }
      for (const check of checks) {
        const trap = this.traps.get(check)!;
        const tr = await verifyInProcess(await this.args(trap, file));
        t.trapRuns++;
        if (tr.code === 0 || statusOf(tr.stdout) === 'VERIFIED') {
          t.verifiedCheckDropped++;
          t.bad.push(`VERIFIED on the ${check} trap: ${c.name}`);
        }
      }
    } finally {
      await this.cleanStates();
    }
  }

  /** The agent's reader: the payload decoded as the transport hands it on, then parseExpectation. */
  private async agentPath(c: ExpectationCase, want: Required<CheckValues>, checks: Check[], t: ExpectationFuzzTally): Promise<void> {
    const topics = topicsFor('deploy-witness', this.healthy.ids.coreThing);
    const msg = classifyInbound(topics.expected, c.bytes, topics);
    if (msg.kind === 'expected-unreadable') return;
    if (msg.kind !== 'expected') throw new Error(`the expected topic is classified ${msg.kind}`);
    let parsed;
    try {
      parsed = parseExpectation(msg.text);
    } catch (err) {
      t.crashes++;
      t.bad.push(`crash in the agent's reader: ${c.name}: ${(err as Error).message}`);
      return;
    }
    if (!parsed.ok) return;
    // The agent takes one system instance; a listing of several is the CLI's.
    if (c.intent === 'invalid') {
      t.agentBrokenAccepted++;
      t.bad.push(`agent: broken but accepted: ${c.name}`);
    }
    const dropped = droppedChecks(checkValues(parsed.expectation), want, checks);
    if (dropped.length > 0) {
      t.agentCheckDropped++;
      t.bad.push(`agent: accepted with ${dropped.join(', ')} dropped: ${c.name}`);
    }
  }

  async close(): Promise<void> {
    await this.healthy.cleanup();
    for (const c of this.traps.values()) await c.cleanup();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Runs seeds [first, first+n) on `workers` parallel workers. */
export async function fuzzExpectations(opts: { first: number; n: number; workers: number; onProgress?: (done: number) => void }): Promise<ExpectationFuzzTally> {
  const t = emptyExpectationTally();
  await overSeeds(opts, () => ExpectationFuzzWorker.create(), async (w, seed) => {
    await w.run(expectationCase(seed, w.originals), t);
    opts.onProgress?.(t.cases);
  });
  return t;
}

export { DEFAULT_IDS };
