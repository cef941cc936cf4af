// Parses a Greengrass v1 group.json. Pure: text in, GroupObservation out.
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
      try {
        strings(JSON.parse(v), depth + 1, out);
      } catch {
        /* not JSON: the string itself is enough */
      }
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

/** `arn:...:/greengrass/groups/<groupId>/versions/<versionId>` → the two IDs. */
export function parseGroupArn(arn: string): { groupId: string; groupVersionId: string } | null {
  const parts = arn.split('/');
  if (parts.length < 6 || parts[2] !== 'groups' || parts[4] !== 'versions') return null;
  const groupId = parts[3];
  const groupVersionId = parts[5];
  if (!groupId || !groupVersionId) return null;
  return { groupId, groupVersionId };
}

function thingNameFromArn(arn: string): string | undefined {
  const m = /:thing\/(.+)$/.exec(arn);
  return m ? m[1] : undefined;
}

export interface GroupParseOptions {
  flowArchivePattern: RegExp;
  connectorPattern?: RegExp;
}

export function parseGroupJson(text: string, path: string, opts: GroupParseOptions): GroupObservation {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { state: 'invalid', path, reason: `not valid JSON: ${(err as Error).message}` };
  }
  if (!isObject(doc)) return { state: 'invalid', path, reason: 'the top level is not a JSON object' };
  const arn = str(doc, 'Arn');
  if (!arn) return { state: 'invalid', path, reason: 'no "Arn" field' };
  const ids = parseGroupArn(arn);
  if (!ids) return { state: 'invalid', path, reason: `"Arn" is not a group version ARN: ${arn}` };

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
