// Which log files a core has, and in which order they are read. Written once,
// for the one-shot read (`verify`) and the agent's tail alike:
//
// - a log folder holds the current file (its name matches the pattern with an
//   empty group 1) and rotated siblings (group 1 is the suffix); only regular
//   files count, symlinks and FIFOs named like a log are left alone;
// - the order is oldest first: rotated files by mtime, then by name (numbered
//   suffixes by number, highest, i.e. oldest, first), and the current file last;
// - compressed siblings (.gz, ...) are listed but never read;
// - ThingsGraph.log sits in one folder per region, `<userLogDir>/<region>/ThingsGraph/`.
//   A group moved to another region leaves the old folder behind, so only the
//   region whose log was written last (the newest mtime of any of its log
//   files; on a tie, the region whose name sorts last) is the current one, and
//   only its files are read: a stale region's registrations are about another
//   deployment and must not count for this one;
// - a folder that exists but cannot be listed is a FILE_UNREADABLE finding (a
//   region that cannot be listed cannot be ruled out as the current one);
//   a missing folder is simply no logs.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayoutConfig } from '../config/layout.js';
import { finding, type Finding } from '../model/findings.js';
import { errorCode, isMissing, rootRelative } from './files.js';

export interface LogFile {
  path: string;
  /** Root-relative, POSIX separators. */
  rel: string;
  name: string;
  mtimeMs: number;
  size: number;
  dev: number;
  ino: number;
  /** No rotation suffix: the file the writer appends to. */
  current: boolean;
  /** A regular file (lstat): anything else named like a log is listed so that it is said to be unreadable. */
  regular: boolean;
}

export interface LogSet {
  /** The folder read (for ThingsGraph.log, the current region's); null when there is none. */
  dir: string | null;
  /** The region of `dir` (ThingsGraph.log only). */
  region?: string;
  /** What to read, oldest first, the current file last. Compressed siblings are left out. */
  files: LogFile[];
  /** Folders that exist but cannot be listed. */
  findings: Finding[];
}

const COMPRESSED = /\.(gz|bz2|xz|zst|zip|lz4)$/i;

/** The pattern without the flags that make a RegExp stateful. */
function stateless(pattern: RegExp): RegExp {
  return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
}

// Numbered siblings (logrotate's .1 newest, .2 older) sort by number, highest
// (oldest) first; other suffixes (dates) sort as text.
function compareNames(a: string, b: string, pattern: RegExp): number {
  const sa = pattern.exec(a)?.[1] ?? '';
  const sb = pattern.exec(b)?.[1] ?? '';
  const na = /^\.?(\d+)$/.exec(sa);
  const nb = /^\.?(\d+)$/.exec(sb);
  if (na && nb) return Number(nb[1]) - Number(na[1]);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Log files in `dir` matching `pattern`, in reading order, compressed ones included. Throws when `dir` cannot be listed. */
async function listFolder(root: string, dir: string, pattern: RegExp): Promise<LogFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const re = stateless(pattern);
  const files: LogFile[] = [];
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    try {
      // lstat: a folder named like a log is no log; anything else that is not a regular
      // file (a link, a FIFO, a device) is listed, and its reader calls it unreadable.
      const st = await lstat(path);
      if (st.isDirectory()) continue;
      files.push({
        path, rel: rootRelative(root, path), name, mtimeMs: st.mtimeMs, size: st.size, dev: st.dev, ino: st.ino,
        current: m[1] === undefined || m[1] === '',
        regular: st.isFile(),
      });
    } catch (err) {
      if (!isMissing(err)) throw err; // vanished after the listing: skip it
    }
  }
  files.sort((a, b) => {
    if (a.current !== b.current) return a.current ? 1 : -1;
    if (a.mtimeMs !== b.mtimeMs) return a.mtimeMs - b.mtimeMs;
    return compareNames(a.name, b.name, re);
  });
  return files;
}

/** A folder's files, or none and a finding when it exists but cannot be listed. */
async function listOrFind(root: string, dir: string, pattern: RegExp, findings: Finding[]): Promise<LogFile[]> {
  try {
    return await listFolder(root, dir, pattern);
  } catch (err) {
    findings.push(finding('FILE_UNREADABLE', `cannot list logs: ${(err as Error).message}`, { path: rootRelative(root, dir), actual: errorCode(err) }));
    return [];
  }
}

const readable = (files: LogFile[]) => files.filter((f) => !COMPRESSED.test(f.name));

/** runtime.log and its rotated siblings in `<systemLogDir>/`. */
export async function discoverRuntimeLogs(root: string, layout: LayoutConfig): Promise<LogSet> {
  const dir = join(root, layout.systemLogDir);
  const findings: Finding[] = [];
  const files = await listOrFind(root, dir, new RegExp(layout.runtimeLogPattern), findings);
  return { dir, files: readable(files), findings };
}

/** ThingsGraph.log and its rotated siblings in the current region's folder (see the rules above). */
export async function discoverThingsGraphLogs(root: string, layout: LayoutConfig): Promise<LogSet> {
  const pattern = new RegExp(layout.thingsGraphLogPattern);
  const base = join(root, layout.userLogDir);
  const findings: Finding[] = [];
  let regions: string[] = [];
  try {
    regions = (await readdir(base, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch (err) {
    if (!isMissing(err)) {
      findings.push(finding('FILE_UNREADABLE', `cannot list logs: ${(err as Error).message}`, { path: rootRelative(root, base), actual: errorCode(err) }));
    }
  }
  let best: { region: string; dir: string; newest: number; files: LogFile[] } | null = null;
  for (const region of regions) {
    const dir = join(base, region, 'ThingsGraph');
    const files = await listOrFind(root, dir, pattern, findings);
    if (files.length === 0) continue;
    const newest = Math.max(...files.map((f) => f.mtimeMs));
    // Regions come in name order: on a tie the later name wins.
    if (!best || newest >= best.newest) best = { region, dir, newest, files };
  }
  if (!best) return { dir: null, files: [], findings };
  return { dir: best.dir, region: best.region, files: readable(best.files), findings };
}

/** True when two discoveries name the same files, unchanged but for the current file's size and mtime. */
export function sameRotatedFiles(a: LogSet, b: LogSet): boolean {
  if (a.dir !== b.dir || a.files.length !== b.files.length) return false;
  return a.files.every((f, i) => {
    const g = b.files[i]!;
    if (f.name !== g.name || f.ino !== g.ino || f.dev !== g.dev || f.current !== g.current) return false;
    // The current file grows; a rotated file that changes was rewritten.
    return f.current || (f.size === g.size && f.mtimeMs === g.mtimeMs);
  });
}
