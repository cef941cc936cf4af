// Digests over deployed files, and the baseline comparison. Pure: no I/O.
//
// Format v1 (what is hashed, UTF-8):
//   unit digest = SHA-256 of  "dw-unit-v1\n"  then, per file in ascending byte
//                 order of its UTF-8 path:  <path> \0 <sha256 hex> \0 <size decimal> \0 <mode octal> \n
//   tree digest = SHA-256 of  "dw-tree-v1\n"  then, per unit in ascending byte
//                 order of its UTF-8 path:  <unit path> \0 <unit digest hex> \n
// A path may hold any character but NUL; the other fields hold neither NUL nor
// newline, so a path always ends at the first NUL of its record and the
// serialization reads back one way only. Mode is the full st_mode (type and
// permission bits), so a symlink never collides with a file of equal content.
import { createHash } from 'node:crypto';
import type { UnitDigest } from './observation.js';

export const UNIT_DIGEST_HEADER = 'dw-unit-v1\n';
export const TREE_DIGEST_HEADER = 'dw-tree-v1\n';

export interface FileFacts {
  sha256: string;
  size: number;
  mode: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Compares as the strings' UTF-8 bytes would, without encoding them (a sort of
 * a 10,000-file unit made some 266,000 short-lived buffers per change). UTF-8
 * byte order is code point order; in UTF-16 a surrogate (half of a code point
 * above U+FFFF) sorts below U+E000-U+FFFF, yet its code point sorts above
 * every BMP one.
 */
export function byUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function checkPath(p: string): void {
  if (p.includes('\0')) throw new TypeError(`path holds a NUL: ${JSON.stringify(p)}`);
}

function checkFacts(p: string, f: FileFacts): void {
  if (!HEX64.test(f.sha256)) throw new TypeError(`bad sha256 for ${JSON.stringify(p)}`);
  if (!Number.isSafeInteger(f.size) || f.size < 0) throw new TypeError(`bad size for ${JSON.stringify(p)}`);
  if (!Number.isSafeInteger(f.mode) || f.mode < 0) throw new TypeError(`bad mode for ${JSON.stringify(p)}`);
}

/** Digest of one unit's files, keyed by path relative to the unit. */
export function unitDigest(files: Record<string, FileFacts>): string {
  const h = createHash('sha256').update(UNIT_DIGEST_HEADER, 'utf8');
  for (const p of Object.keys(files).sort(byUtf8)) {
    const f = files[p]!;
    checkPath(p);
    checkFacts(p, f);
    h.update(`${p}\0${f.sha256}\0${f.size}\0${f.mode.toString(8)}\n`, 'utf8');
  }
  return h.digest('hex');
}

/** Digest over units: their paths and unit digests. */
export function treeDigest(units: { path: string; digest: string }[]): string {
  const sorted = [...units].sort((a, b) => byUtf8(a.path, b.path) || byUtf8(a.digest, b.digest));
  const h = createHash('sha256').update(TREE_DIGEST_HEADER, 'utf8');
  for (const u of sorted) {
    checkPath(u.path);
    if (!HEX64.test(u.digest)) throw new TypeError(`bad digest for unit ${JSON.stringify(u.path)}`);
    h.update(`${u.path}\0${u.digest}\n`, 'utf8');
  }
  return h.digest('hex');
}

export type FileField = 'sha256' | 'size' | 'mode';

export interface FileChange {
  /** Relative to the root, POSIX separators. */
  path: string;
  expected?: FileFacts;
  actual?: FileFacts;
  /** For a modified file: which facts differ. */
  changed?: FileField[];
}

export interface UnitComparison {
  modified: FileChange[];
  missing: FileChange[];
  added: FileChange[];
}

/** Root-relative path of a file in a unit; a lone-file unit has the key "". */
export function filePath(unitPath: string, key: string): string {
  if (key === '') return unitPath;
  if (unitPath === '') return key;
  return `${unitPath}/${key}`;
}

/** Every file digest of some units, keyed by root-relative path (what a rescan may trust). */
export function digestsByPath<T>(units: { path: string; files: Record<string, T> }[]): Map<string, T> {
  const m = new Map<string, T>();
  for (const u of units) for (const [k, d] of Object.entries(u.files)) m.set(filePath(u.path, k), d);
  return m;
}

function facts(f: FileFacts): FileFacts {
  return { sha256: f.sha256, size: f.size, mode: f.mode };
}

/** Files of every unit, by root-relative path. Own keys only: "__proto__" is a legal file name. */
function flatten(units: UnitDigest[]): Map<string, FileFacts> {
  const out = new Map<string, FileFacts>();
  for (const u of units) {
    for (const key of Object.keys(u.files)) out.set(filePath(u.path, key), u.files[key]!);
  }
  return out;
}

/** What changed between the baseline and the current digests, sorted by path. */
export function compareUnits(baseline: UnitDigest[], current: UnitDigest[]): UnitComparison {
  const was = flatten(baseline);
  const now = flatten(current);
  const out: UnitComparison = { modified: [], missing: [], added: [] };
  for (const [path, e] of was) {
    const a = now.get(path);
    if (!a) {
      out.missing.push({ path, expected: facts(e) });
      continue;
    }
    const changed: FileField[] = [];
    if (a.sha256 !== e.sha256) changed.push('sha256');
    if (a.size !== e.size) changed.push('size');
    if (a.mode !== e.mode) changed.push('mode');
    if (changed.length) out.modified.push({ path, expected: facts(e), actual: facts(a), changed });
  }
  for (const [path, a] of now) {
    if (!was.has(path)) out.added.push({ path, actual: facts(a) });
  }
  const order = (x: FileChange, y: FileChange) => byUtf8(x.path, y.path);
  out.modified.sort(order);
  out.missing.sort(order);
  out.added.sort(order);
  return out;
}
