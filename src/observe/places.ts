// Finds what to observe: deployed units and flow resources. Listing only;
// reading and hashing happen elsewhere.
import { readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayoutConfig } from '../config/layout.js';
import { flowFolderPattern } from '../model/flow-names.js';
import { errorCode, isMissing } from './files.js';

/** POSIX join for root-relative paths (reports use / on every platform). */
export function rel(...parts: string[]): string {
  return parts.filter((p) => p.length > 0).join('/');
}

type Listing = { name: string; dir: boolean; file: boolean }[] & { unreadable?: string };

/** A folder's entries in name order; none when it is missing, and none with `unreadable` (the error code) when it cannot be listed. */
async function list(abs: string): Promise<Listing> {
  try {
    const ents = await readdir(abs, { withFileTypes: true });
    return ents
      .map((e) => ({ name: e.name, dir: e.isDirectory(), file: e.isFile() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    // Missing: the verifier judges absence. Unreadable: absence is not known, and the caller says so.
    return isMissing(err) ? [] : Object.assign([], { unreadable: errorCode(err) });
  }
}

/**
 * The baseline units: group/ as one, each child of lambda/ and mlmodel/ (and
 * of any other folder under the deployment folder) as one, loose files as
 * their own, and the Things Graph engine/. One unit per deployed thing keeps
 * the per-folder digests meaningful to a person reading a report.
 * A folder that cannot be listed is a unit of its own, so that hashing it
 * says it cannot be read instead of its units silently not being there.
 */
export async function deployedUnits(root: string, layout: LayoutConfig): Promise<string[]> {
  const units: string[] = [];
  const dep = layout.deploymentDir;
  const top = await list(join(root, dep));
  if (top.unreadable !== undefined) units.push(dep);
  for (const e of top) {
    if (e.file) units.push(rel(dep, e.name));
    else if (e.dir && e.name === 'group') units.push(rel(dep, e.name));
    else if (e.dir) {
      const kids = await list(join(root, dep, e.name));
      if (kids.length === 0) units.push(rel(dep, e.name));
      for (const k of kids) units.push(rel(dep, e.name, k.name));
    }
  }
  units.push(rel(layout.thingsGraphDir, 'engine'));
  return units;
}

export interface FlowPlaces {
  /** Root-relative archive paths. */
  archives: string[];
  /** Root-relative folders named like a flow resource (flow-<name>). */
  folders: string[];
  /** Folders searched that could not be listed, with the error code. */
  unreadable: { path: string; reason: string }[];
}

const MAX_DEPTH = 6;

/**
 * Walks the search paths (bounded depth, no symlinks followed) for flow
 * archives and folders. Anything named like an archive is listed as one,
 * whatever it is (a link, FIFO, device or folder), so that the inspection
 * judges it instead of it passing unseen.
 */
export async function findFlowPlaces(root: string, layout: LayoutConfig): Promise<FlowPlaces> {
  const archiveRe = new RegExp(layout.flowArchivePattern);
  const folderRe = flowFolderPattern(layout.flowArchivePattern);
  const out: FlowPlaces = { archives: [], folders: [], unreadable: [] };
  const seen = new Set<string>();
  const walk = async (relDir: string, depth: number): Promise<void> => {
    if (seen.has(relDir) || depth > MAX_DEPTH) return;
    seen.add(relDir);
    const entries = await list(join(root, relDir));
    if (entries.unreadable !== undefined) out.unreadable.push({ path: relDir, reason: entries.unreadable });
    for (const e of entries) {
      const p = rel(relDir, e.name);
      if (archiveRe.test(e.name)) out.archives.push(p);
      else if (e.dir) {
        if (folderRe.test(e.name)) out.folders.push(p);
        else await walk(p, depth + 1);
      }
    }
  };
  for (const s of layout.flowSearchPaths) {
    try {
      if ((await lstat(join(root, s))).isDirectory()) await walk(s, 0);
    } catch (err) {
      // A missing search path is fine; one that cannot be looked at may hide a resource.
      if (!isMissing(err)) out.unreadable.push({ path: s, reason: errorCode(err) });
    }
  }
  out.archives.sort();
  out.folders.sort();
  out.unreadable.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}
