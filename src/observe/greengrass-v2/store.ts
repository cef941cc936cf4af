// Lists the component store under <v2 root>/packages: the recipes, and the
// artifacts and artifacts-unarchived folders per component version. Listing
// and recipe reading only; hashing happens in the tree walk.
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { finding, type Finding } from '../../model/findings.js';
import {
  componentNameHash,
  type ComponentVersionObservation,
  type NucleusKind,
  type RecipeObservation,
} from '../../model/greengrass-v2.js';
import { readDeviceText } from '../files.js';
import { parseRecipe, parseRecipeMetadata } from './recipe.js';

/** Recipes carry component configuration defaults; a few MiB is already generous. */
export const MAX_RECIPE_BYTES = 4 * 1024 * 1024;
const MAX_METADATA_BYTES = 64 * 1024;
/** Component versions beyond this are not listed (a store this large is not a device's). */
export const MAX_COMPONENT_VERSIONS = 10_000;

const JAVA_RECIPE = /^([A-Za-z0-9_-]{43})@(.+)\.recipe\.yaml$/;
const LITE_RECIPE = /^(.+)\.(json|yaml|yml)$/;

export interface StorePaths {
  recipes: string;
  artifacts: string;
  unarchived: string;
}

export function storePaths(v2Root: string): StorePaths {
  const pk = posix.join(v2Root, 'packages');
  return { recipes: posix.join(pk, 'recipes'), artifacts: posix.join(pk, 'artifacts'), unarchived: posix.join(pk, 'artifacts-unarchived') };
}

function codeOf(err: unknown): string {
  const c = (err as NodeJS.ErrnoException | null)?.code;
  return typeof c === 'string' ? c : 'EIO';
}

type Listing = { state: 'ok'; entries: Dirent[] } | { state: 'missing' } | { state: 'unreadable'; code: string };

async function list(abs: string): Promise<Listing> {
  try {
    const entries = await readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { state: 'ok', entries };
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    return { state: 'unreadable', code };
  }
}

export interface StoreListing {
  recipeStore: 'ok' | 'missing' | 'unreadable';
  components: ComponentVersionObservation[];
  orphanFolders: string[];
  strayEntries: string[];
  findings: Finding[];
}

interface Entry {
  c: ComponentVersionObservation;
}

function byKey(name: string, version: string): string {
  return `${name}\0${version}`;
}

export async function readComponentStore(opts: { root: string; v2Root: string; nucleus: NucleusKind }): Promise<StoreListing> {
  const paths = storePaths(opts.v2Root);
  const findings: Finding[] = [];
  const strays: string[] = [];
  const entries = new Map<string, Entry>();
  /** Java recipes that cannot be read, by name hash and version: their folders are not orphans. */
  const unreadableByHash = new Map<string, Entry>();

  const make = (name: string, version: string, nameHash: string | null, recipe: RecipeObservation | null): ComponentVersionObservation => ({
    name,
    version,
    nameHash,
    recipe,
    componentVersionArn: null,
    artifactsDir: posix.join(paths.artifacts, name, version),
    unarchivedDir: posix.join(paths.unarchived, name, version),
    archives: [],
  });

  const recipes = await list(join(opts.root, paths.recipes));
  if (recipes.state === 'unreadable') {
    findings.push(finding('FILE_UNREADABLE', `cannot list the recipe store (${recipes.code}); it is owner-only (700)`, { path: paths.recipes, actual: recipes.code }));
  } else if (recipes.state === 'ok') {
    for (const d of recipes.entries) {
      if (entries.size >= MAX_COMPONENT_VERSIONS) {
        findings.push(finding('FILE_UNREADABLE', `more than ${MAX_COMPONENT_VERSIONS} recipes; the rest are not read`, { path: paths.recipes }));
        break;
      }
      const rel = posix.join(paths.recipes, d.name);
      if (opts.nucleus === 'java') {
        const m = JAVA_RECIPE.exec(d.name);
        if (!m) continue; // .metadata.json siblings and anything else the store may hold
        const [, hash, version] = m as unknown as [string, string, string];
        const recipe = d.isFile() ? await readRecipe(opts.root, rel, findings) : { state: 'invalid' as const, path: rel, reason: 'not a regular file' };
        if (recipe.state === 'ok') {
          if (componentNameHash(recipe.name) !== hash || recipe.version !== version) {
            const bad: RecipeObservation = { state: 'invalid', path: rel, reason: `file name does not match the recipe inside (${recipe.name} ${recipe.version})` };
            const e = { c: make(hash, version, hash, bad) };
            unreadableByHash.set(byKey(hash, version), e);
            continue;
          }
          const e = { c: make(recipe.name, recipe.version, hash, recipe) };
          e.c.componentVersionArn = await readArn(opts.root, posix.join(paths.recipes, `${hash}@${version}.metadata.json`));
          entries.set(byKey(recipe.name, recipe.version), e);
        } else {
          unreadableByHash.set(byKey(hash, version), { c: make(hash, version, hash, recipe) });
        }
      } else {
        const m = LITE_RECIPE.exec(d.name);
        if (!m) continue;
        const base = m[1]!;
        const recipe = d.isFile() ? await readRecipe(opts.root, rel, findings) : { state: 'invalid' as const, path: rel, reason: 'not a regular file' };
        if (recipe.state === 'ok' && base === `${recipe.name}-${recipe.version}`) {
          if (!entries.has(byKey(recipe.name, recipe.version))) entries.set(byKey(recipe.name, recipe.version), { c: make(recipe.name, recipe.version, null, recipe) });
          continue;
        }
        // Nucleus lite splits the file name at its last '-' to find the component.
        const cut = base.lastIndexOf('-');
        const name = cut > 0 ? base.slice(0, cut) : base;
        const version = cut > 0 ? base.slice(cut + 1) : '';
        const bad: RecipeObservation =
          recipe.state === 'ok'
            ? { state: 'invalid', path: rel, reason: `file name does not match the recipe inside (${recipe.name} ${recipe.version})` }
            : recipe;
        if (!entries.has(byKey(name, version))) entries.set(byKey(name, version), { c: make(name, version, null, bad) });
      }
    }
  }

  // Folders per component version, in both artifact trees.
  const orphans = new Set<string>();
  for (const top of [paths.artifacts, paths.unarchived]) {
    const names = await list(join(opts.root, top));
    if (names.state === 'unreadable') {
      findings.push(finding('FILE_UNREADABLE', `cannot list ${top} (${names.code})`, { path: top, actual: names.code }));
      continue;
    }
    if (names.state === 'missing') continue;
    for (const n of names.entries) {
      const nRel = posix.join(top, n.name);
      if (!n.isDirectory()) {
        strays.push(nRel);
        continue;
      }
      const versions = await list(join(opts.root, nRel));
      if (versions.state === 'unreadable') {
        findings.push(finding('FILE_UNREADABLE', `cannot list ${nRel} (${versions.code})`, { path: nRel, actual: versions.code }));
        continue;
      }
      if (versions.state === 'missing') continue;
      for (const v of versions.entries) {
        const vRel = posix.join(nRel, v.name);
        if (!v.isDirectory()) {
          strays.push(vRel);
          continue;
        }
        if (entries.has(byKey(n.name, v.name))) continue;
        if (recipes.state === 'unreadable') {
          // Recipes cannot be listed: the folder is a component whose recipe is unknown, not an orphan.
          entries.set(byKey(n.name, v.name), { c: make(n.name, v.name, null, null) });
          continue;
        }
        const unread = opts.nucleus === 'java' ? unreadableByHash.get(byKey(componentNameHash(n.name), v.name)) : undefined;
        if (unread) {
          // The folder's name hashes to the recipe file's prefix: that is the component's name.
          unread.c.name = n.name;
          unread.c.artifactsDir = posix.join(paths.artifacts, n.name, v.name);
          unread.c.unarchivedDir = posix.join(paths.unarchived, n.name, v.name);
          continue;
        }
        orphans.add(vRel);
      }
    }
  }

  const components = [...entries.values(), ...unreadableByHash.values()].map((e) => e.c);
  components.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  return { recipeStore: recipes.state === 'ok' ? 'ok' : recipes.state, components, orphanFolders: [...orphans].sort(), strayEntries: strays.sort(), findings };
}

async function readRecipe(root: string, rel: string, findings: Finding[]): Promise<RecipeObservation> {
  const r = await readDeviceText(join(root, rel), MAX_RECIPE_BYTES);
  switch (r.state) {
    case 'missing':
      return { state: 'unreadable', path: rel, reason: 'vanished while read' };
    case 'unreadable':
      findings.push(finding('FILE_UNREADABLE', `cannot read recipe (${r.code})`, { path: rel, actual: r.code }));
      return { state: 'unreadable', path: rel, reason: r.code };
    case 'invalid':
      return { state: 'invalid', path: rel, reason: r.reason };
    case 'ok':
      break;
  }
  try {
    const p = parseRecipe(r.text);
    const format = rel.endsWith('.json') ? 'json' : 'yaml';
    return { state: 'ok', path: rel, format, ...p };
  } catch (err) {
    return { state: 'invalid', path: rel, reason: (err as Error).message };
  }
}

async function readArn(root: string, rel: string): Promise<string | null> {
  const r = await readDeviceText(join(root, rel), MAX_METADATA_BYTES);
  return r.state === 'ok' ? parseRecipeMetadata(r.text) : null;
}
