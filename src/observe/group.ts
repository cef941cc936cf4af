// Parses a Greengrass v1 group.json. Pure: bytes (or text) in, GroupObservation out.
//
// The definition decides whether Things Graph is in play at all, so one that
// cannot be read whole is GROUP_DEFINITION_INVALID, never a definition with
// parts missing. Read strictly: UTF-8 only, no key twice (JSON.parse would
// keep the last copy silently), bounded nesting. Then its shape:
// - required: `Arn`, a group version ARN
//   (arn:aws:greengrass:<region>:<account>:/greengrass/groups/<groupId>/versions/<groupVersionId>);
//   `Cores`, a non-empty array whose entries name a core thing (`thingArn`),
//   because the core is named by `Cores[0]`; and `Version`, equal to the
//   version in `Arn`. The definition the core writes carries the version
//   twice; a file missing one copy, or with two that differ, was not written
//   whole by a deployment, and the version is what the whole check hangs on.
// - checked where present: `Region` (equal to the region in `Arn`),
//   `Devices`, and `GroupDefinitions` with its `Lambdas`, `Connectors`,
//   `Resources`, `Subscriptions` and `Logging` sections, each an object with a
//   `Content` array of objects. `Connectors` is not confirmed by the public
//   record: its absence is fine, a wrong type is not.
// Unknown keys are left alone. Keys are read as `Key` or `key` (writers differ);
// both spellings in one object is ambiguous and refused.
import { parseStrictJson, parseStrictJsonBytes, type JsonValue } from '../model/strict-json.js';
import type { GroupDefinition, GroupObservation } from '../model/observation.js';

/** Connector ARNs, IDs or Lambda names that mean "the Things Graph connector". */
export const DEFAULT_CONNECTOR_PATTERN = 'things[-_ ]?graph';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads `Key` or `key`: code that writes group.json is not consistent about case. */
function field(obj: Json, key: string): unknown {
  if (key in obj) return obj[key];
  const lower = key[0]!.toLowerCase() + key.slice(1);
  return obj[lower];
}

function str(obj: Json, key: string): string | undefined {
  const v = field(obj, key);
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function content(defs: Json, section: string): unknown[] {
  const s = field(defs, section);
  if (!isObject(s)) return [];
  const c = field(s, 'Content');
  return Array.isArray(c) ? c : [];
}

/** Every string inside a value, depth-limited (resource data shapes vary). */
function strings(v: unknown, depth = 0, out: string[] = []): string[] {
  if (depth > 8) return out;
  if (typeof v === 'string') {
    out.push(v);
    // Some writers keep resource Data as a JSON string.
    if (v.startsWith('{')) {
      const inner = parseStrictJson(v, { maxDepth: 8 });
      // Not JSON: the string itself is enough.
      if (inner.ok) strings(inner.value, depth + 1, out);
    }
  } else if (Array.isArray(v)) {
    for (const x of v) strings(x, depth + 1, out);
  } else if (isObject(v)) {
    for (const x of Object.values(v)) strings(x, depth + 1, out);
  }
  return out;
}

export function basenameOf(p: string): string {
  const parts = p.split(/[/\\]/);
  return parts[parts.length - 1] ?? p;
}

const GROUP_VERSION_ARN =
  /^arn:aws(?:-[a-z]+)*:greengrass:([a-z0-9-]+):(\d{12}):\/greengrass\/groups\/([A-Za-z0-9._-]+)\/versions\/([A-Za-z0-9._-]+)$/;

/** `arn:aws:greengrass:<region>:<account>:/greengrass/groups/<groupId>/versions/<versionId>` → its parts. */
export function parseGroupArn(arn: string): { groupId: string; groupVersionId: string; region: string } | null {
  const m = GROUP_VERSION_ARN.exec(arn);
  if (!m) return null;
  return { region: m[1] as string, groupId: m[3] as string, groupVersionId: m[4] as string };
}

function thingNameFromArn(arn: string): string | undefined {
  const m = /:thing\/(.+)$/.exec(arn);
  return m ? m[1] : undefined;
}

export interface GroupParseOptions {
  flowArchivePattern: RegExp;
  connectorPattern?: RegExp;
}

// The shape of a definition, as data: each check returns what is wrong at `at`, or null.
type Check = (v: unknown, at: string) => string | null;

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v === '' ? 'an empty string' : 'a string';
  return `a ${typeof v}`;
}

const text: Check = (v, at) => (typeof v === 'string' && v.length > 0 ? null : `${at} is ${kindOf(v)}, not a non-empty string`);

function matching(re: RegExp, what: string): Check {
  return (v, at) => text(v, at) ?? (re.test(v as string) ? null : `${at} is not ${what}: ${JSON.stringify(v)}`);
}

const count: Check = (v, at) =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? null : `${at} is ${kindOf(v)}, not a whole number of bytes`;

const anyObject: Check = (v, at) => (isObject(v) ? null : `${at} is ${kindOf(v)}, not an object`);

function oneOf(...checks: Check[]): Check {
  return (v, at) => (checks.some((c) => c(v, at) === null) ? null : `${at} is ${kindOf(v)}, which does not fit here`);
}

function arrayOf(item: Check, opts: { nonEmpty?: boolean } = {}): Check {
  return (v, at) => {
    if (!Array.isArray(v)) return `${at} is ${kindOf(v)}, not an array`;
    if (opts.nonEmpty && v.length === 0) return `${at} is an empty array`;
    for (let i = 0; i < v.length; i++) {
      const why = item(v[i], `${at}[${i}]`);
      if (why) return why;
    }
    return null;
  };
}

interface FieldSpec {
  key: string;
  required?: boolean;
  check: Check;
}

/** An object whose listed keys (`Key` or `key`) pass their checks; other keys are not looked at. */
function fields(specs: FieldSpec[], also?: (obj: Json, at: string) => string | null): Check {
  return (v, at) => {
    if (!isObject(v)) return `${at} is ${kindOf(v)}, not an object`;
    for (const spec of specs) {
      const lower = spec.key[0]!.toLowerCase() + spec.key.slice(1);
      const name = at === '' ? spec.key : `${at}.${spec.key}`;
      if (spec.key in v && lower !== spec.key && lower in v) return `${name} is given twice, as "${spec.key}" and "${lower}"`;
      const value = field(v, spec.key);
      if (value === undefined) {
        if (spec.required) return `${name} is missing`;
        continue;
      }
      const why = spec.check(value, name);
      if (why) return why;
    }
    return also ? also(v, at) : null;
  };
}

const THING_ARN = /^arn:aws(?:-[a-z]+)*:iot:[a-z0-9-]+:\d{12}:thing\/[A-Za-z0-9:_-]+$/;
// Greengrass's own Lambdas carry no region nor account (arn:aws:lambda:::function:GGIPDetector:1).
const LAMBDA_ARN = /^arn:aws(?:-[a-z]+)*:lambda:[a-z0-9-]*:(?:\d{12})?:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;

/** A section of GroupDefinitions: an object with a Content array of such items. */
const section = (item: Check): Check => fields([{ key: 'Content', required: true, check: arrayOf(item) }]);

const CORE = fields([{ key: 'ThingArn', required: true, check: matching(THING_ARN, 'a thing ARN') }]);
const DEVICE = fields([{ key: 'ThingArn', check: matching(THING_ARN, 'a thing ARN') }]);
const LAMBDA = fields([
  { key: 'FunctionArn', required: true, check: matching(LAMBDA_ARN, 'a Lambda function ARN') },
  { key: 'DeploymentConfiguration', check: fields([{ key: 'CodeSize', check: count }]) },
]);
const CONNECTOR = fields([
  { key: 'ConnectorArn', required: true, check: matching(/^arn:/, 'an ARN') },
  { key: 'Id', check: text },
]);
const RESOURCE = fields(
  [
    { key: 'Id', check: text },
    { key: 'Name', check: text },
    { key: 'Type', check: text },
    { key: 'Data', check: oneOf(text, anyObject) },
    { key: 'ResourceDataContainer', check: anyObject },
  ],
  (r, at) =>
    field(r, 'ResourceDataContainer') === undefined && field(r, 'Data') === undefined
      ? `${at} has neither "ResourceDataContainer" nor "Data"`
      : null,
);
const SUBSCRIPTION = fields(['Id', 'Source', 'Subject', 'Target'].map((key) => ({ key, check: text })));

/** Both copies of the version, and the region, must agree with the ARN. */
function arnAgreement(doc: Json): string | null {
  const ids = parseGroupArn(field(doc, 'Arn') as string);
  if (!ids) return null;
  const version = field(doc, 'Version');
  if (version !== ids.groupVersionId) {
    return `Version (${JSON.stringify(version)}) differs from the version in Arn (${JSON.stringify(ids.groupVersionId)})`;
  }
  const region = field(doc, 'Region');
  if (region !== undefined && region !== ids.region) {
    return `Region (${JSON.stringify(region)}) differs from the region in Arn (${JSON.stringify(ids.region)})`;
  }
  return null;
}

const GROUP = fields(
  [
    {
      key: 'Arn',
      required: true,
      check: matching(GROUP_VERSION_ARN, 'a group version ARN (arn:aws:greengrass:<region>:<account>:/greengrass/groups/<groupId>/versions/<groupVersionId>)'),
    },
    { key: 'Version', required: true, check: text },
    { key: 'Region', check: matching(REGION, 'an AWS region') },
    { key: 'Cores', required: true, check: arrayOf(CORE, { nonEmpty: true }) },
    { key: 'Devices', check: arrayOf(DEVICE) },
    {
      key: 'GroupDefinitions',
      check: fields([
        { key: 'Lambdas', check: section(LAMBDA) },
        { key: 'Connectors', check: section(CONNECTOR) },
        { key: 'Resources', check: section(RESOURCE) },
        { key: 'Subscriptions', check: section(SUBSCRIPTION) },
        { key: 'Logging', check: section(anyObject) },
      ]),
    },
  ],
  arnAgreement,
);

/** Why a parsed document is not a usable group definition, or null. */
export function groupShapeProblem(doc: JsonValue): string | null {
  if (!isObject(doc)) return `the top level is ${kindOf(doc)}, not an object`;
  return GROUP(doc, '');
}

/** Nesting accepted in group.json: the deepest real definitions go about eight levels. */
const MAX_GROUP_DEPTH = 64;

export function parseGroupJson(input: string | Uint8Array, path: string, opts: GroupParseOptions): GroupObservation {
  const parsed =
    typeof input === 'string'
      ? parseStrictJson(input, { maxDepth: MAX_GROUP_DEPTH })
      : parseStrictJsonBytes(input, { maxDepth: MAX_GROUP_DEPTH });
  if (!parsed.ok) return { state: 'invalid', path, reason: `not valid JSON: ${parsed.error}` };
  const problem = groupShapeProblem(parsed.value);
  if (problem) return { state: 'invalid', path, reason: problem };
  const doc = parsed.value as Json;
  const arn = field(doc, 'Arn') as string;
  const { groupId, groupVersionId } = parseGroupArn(arn) as { groupId: string; groupVersionId: string };
  const ids = { groupId, groupVersionId };

  const connectorRe = opts.connectorPattern ?? new RegExp(DEFAULT_CONNECTOR_PATTERN, 'i');
  const defs = field(doc, 'GroupDefinitions');
  const d: Json = isObject(defs) ? defs : {};

  const lambdas = content(d, 'Lambdas').filter(isObject).flatMap((l) => {
    const functionArn = str(l, 'FunctionArn');
    if (!functionArn) return [];
    const cfg = field(l, 'DeploymentConfiguration');
    const codeSize = isObject(cfg) ? field(cfg, 'CodeSize') : undefined;
    return [{ functionArn, ...(typeof codeSize === 'number' ? { codeSize } : {}) }];
  });
  const connectors = content(d, 'Connectors').filter(isObject).flatMap((c) => {
    const connectorArn = str(c, 'ConnectorArn');
    if (!connectorArn) return [];
    const id = str(c, 'Id');
    return [{ connectorArn, ...(id ? { id } : {}) }];
  });
  // Two shapes: {Type, Data} (code that reads group.json) and the v1 API's
  // {Id, Name, ResourceDataContainer: {...: {S3Uri, DestinationPath}}}.
  const resources = content(d, 'Resources').filter(isObject).map((r) => {
    const all = strings(r);
    const s3Uri = all.find((s) => /^s3:\/\//i.test(s));
    const container = field(r, 'ResourceDataContainer') ?? field(r, 'Data');
    let destinationPath: string | undefined;
    let type = str(r, 'Type');
    if (isObject(container)) {
      for (const [k, v] of Object.entries(container)) {
        if (isObject(v)) {
          destinationPath ??= str(v, 'DestinationPath');
          type ??= k;
        }
      }
      destinationPath ??= str(container, 'DestinationPath');
    }
    const out: GroupDefinition['resources'][number] = {};
    const id = str(r, 'Id');
    const name = str(r, 'Name');
    if (id) out.id = id;
    if (name) out.name = name;
    if (s3Uri) out.s3Uri = s3Uri;
    if (destinationPath) out.destinationPath = destinationPath;
    if (type) out.type = type;
    return { out, all };
  });

  const flowNames = new Set<string>();
  for (const r of resources) {
    for (const s of r.all) {
      const b = basenameOf(s);
      if (opts.flowArchivePattern.test(b)) flowNames.add(b);
    }
  }

  const cores = field(doc, 'Cores');
  const core0 = Array.isArray(cores) && isObject(cores[0]) ? cores[0] : undefined;
  const coreThingArn = core0 ? str(core0, 'ThingArn') : undefined;

  const definition: GroupDefinition = {
    arn,
    ...ids,
    lambdas,
    connectors,
    resources: resources.map((r) => r.out),
    hasThingsGraphConnector:
      connectors.some((c) => connectorRe.test(c.connectorArn) || connectorRe.test(c.id ?? '')) ||
      lambdas.some((l) => connectorRe.test(l.functionArn)),
    flowResourceNames: [...flowNames].sort(),
  };
  const region = str(doc, 'Region');
  if (region) definition.region = region;
  if (coreThingArn) {
    definition.coreThingArn = coreThingArn;
    const name = thingNameFromArn(coreThingArn);
    if (name) definition.coreThing = name;
  }
  return { state: 'ok', path, definition };
}
