// Parses a recipe as the component store holds it. The Java nucleus writes
// every recipe it keeps through its YAML recipe serializer (PascalCase keys,
// so `Uri`, `Digest`, `Algorithm`, `Unarchive`) and reads recipes case-
// insensitively; nucleus lite keeps the cloud's JSON as received and reads keys
// case-sensitively. Keys are matched without regard to case here, like the
// Java reader, and two spellings of one key are refused: which one a nucleus
// would use is not something to guess about.
import { parse } from 'yaml';
import { artifactFileName, normalizeDigest, type RecipeArtifact, type RecipeManifest } from '../../model/greengrass-v2.js';

export interface ParsedRecipe {
  name: string;
  version: string;
  manifests: RecipeManifest[];
  artifacts: RecipeArtifact[];
  uriKeys: string[];
}

/** ComponentRecipe.COMPONENT_NAME_PATTERN and its length limit. */
const NAME = /^[a-zA-Z0-9\-_.]{1,128}$/;
/** At most 64 characters (ComponentRecipe), and never a path. */
const VERSION = /^[0-9A-Za-z.+-]{1,64}$/;
/** Aliases are legal YAML; a few hundred expand nothing a recipe needs. */
const MAX_ALIASES = 100;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value of a key, matched without regard to case; refuses two spellings. */
export function getKey(o: Record<string, unknown>, key: string, where: string): { key: string; value: unknown } | undefined {
  const want = key.toLowerCase();
  const hits = Object.keys(o).filter((k) => k.toLowerCase() === want);
  if (hits.length > 1) throw new Error(`${where} spells ${key} more than one way (${hits.join(', ')})`);
  if (hits.length === 0) return undefined;
  return { key: hits[0]!, value: o[hits[0]!] };
}

function str(o: Record<string, unknown>, key: string, where: string): string | null {
  const hit = getKey(o, key, where);
  if (hit === undefined || hit.value === null) return null;
  if (typeof hit.value !== 'string') throw new Error(`${where}.${hit.key} must be a string`);
  return hit.value;
}

function list(o: Record<string, unknown>, key: string, where: string): unknown[] {
  const hit = getKey(o, key, where);
  if (hit === undefined || hit.value === null) return [];
  if (!Array.isArray(hit.value)) throw new Error(`${where}.${hit.key} must be a list`);
  return hit.value;
}

/** Parses recipe text (YAML, or JSON, which is YAML too). Throws Error with a reason for an unusable recipe. */
export function parseRecipe(text: string): ParsedRecipe {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: MAX_ALIASES, uniqueKeys: true, prettyErrors: false });
  } catch (err) {
    throw new Error(`not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isObject(doc)) throw new Error('not a mapping');
  const name = str(doc, 'ComponentName', 'recipe');
  if (!name) throw new Error('ComponentName is missing');
  // "." and ".." fit the pattern, but as a folder name they would name another place in the store.
  if (!NAME.test(name) || name === '.' || name === '..') throw new Error(`ComponentName is not a component name: ${JSON.stringify(name.slice(0, 200))}`);
  const version = str(doc, 'ComponentVersion', 'recipe');
  if (!version) throw new Error('ComponentVersion is missing (or not a string)');
  if (!VERSION.test(version) || version === '.' || version === '..') throw new Error(`ComponentVersion is not a version: ${JSON.stringify(version.slice(0, 200))}`);

  const manifests: RecipeManifest[] = [];
  const artifacts: RecipeArtifact[] = [];
  const uriKeys = new Set<string>();
  list(doc, 'Manifests', 'recipe').forEach((m, i) => {
    const at = `Manifests[${i}]`;
    if (!isObject(m)) throw new Error(`${at} must be a mapping`);
    const platform: Record<string, string> = {};
    const p = getKey(m, 'Platform', at);
    if (p !== undefined && p.value !== null) {
      if (!isObject(p.value)) throw new Error(`${at}.Platform must be a mapping`);
      for (const [k, v] of Object.entries(p.value)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') platform[k] = String(v);
      }
    }
    const arts = list(m, 'Artifacts', at);
    arts.forEach((a, j) => {
      const aat = `${at}.Artifacts[${j}]`;
      if (!isObject(a)) throw new Error(`${aat} must be a mapping`);
      const uriHit = getKey(a, 'Uri', aat);
      if (!uriHit || typeof uriHit.value !== 'string' || uriHit.value === '') throw new Error(`${aat} has no URI`);
      uriKeys.add(uriHit.key);
      const unarchiveRaw = str(a, 'Unarchive', aat);
      const unarchive = (unarchiveRaw ?? 'NONE').toUpperCase();
      if (unarchive !== 'NONE' && unarchive !== 'ZIP') throw new Error(`${aat}.Unarchive is ${unarchiveRaw}: only NONE and ZIP exist`);
      artifacts.push({
        uri: uriHit.value,
        fileName: artifactFileName(uriHit.value),
        digest: normalizeDigest(str(a, 'Algorithm', aat), str(a, 'Digest', aat)),
        unarchive,
        manifest: i,
      });
    });
    manifests.push({ platform, artifactCount: arts.length });
  });
  return { name, version, manifests, artifacts, uriKeys: [...uriKeys].sort() };
}

/** Parses a Java nucleus .metadata.json sibling: {"componentVersionArn": "..."}. */
export function parseRecipeMetadata(text: string): string | null {
  try {
    const doc: unknown = JSON.parse(text);
    if (isObject(doc) && typeof doc.componentVersionArn === 'string') return doc.componentVersionArn;
  } catch {
    // Unusable metadata is ignored by the nucleus too (ComponentStore.getRecipeMetadata logs and proceeds).
  }
  return null;
}
