// Pure checks on tar entries: what an entry is, whether extracting it could
// escape or harm its folder, and whether an archive stays inside its limits.
import type { ArchiveLimits } from '../config/layout.js';
import { finding, type Finding, type FindingCode } from '../model/findings.js';
import type { EntryType } from '../model/observation.js';

/** Longest entry path accepted (Linux PATH_MAX); longer ones only cost memory. */
export const MAX_ENTRY_PATH_BYTES = 4096;

/** Findings of one kind recorded per archive before they are summarised. */
export const MAX_FINDINGS_PER_KIND = 100;

/**
 * Every tar typeflag we name, what it maps to, and how it is called in a
 * finding. Only regular files ('0', old-style '\0') and folders ('5') are
 * accepted as entries; 'x', 'L' and 'K' are metadata the reader applies to the
 * next entry, 'g' is refused by the reader. Everything else is refused here:
 * - links, devices and FIFOs could escape or harm the folder they land in;
 * - 'S' (GNU sparse): GNU tar rebuilds a file with holes from a map, so its
 *   content is not the stored bytes;
 * - '7' (contiguous file): GNU tar and node-tar extract it as a regular file,
 *   but no tool that builds flow archives writes one;
 * - 'D', 'M', 'N', 'V', 'I', 'A', 'X' and unknown letters: vendor records that
 *   readers handle differently (GNU tar extracts unknown types as files,
 *   node-tar skips them, node-tar reads 'N' as a long name and 'X' as pax).
 */
const TYPEFLAGS = new Map<string, { type: EntryType; what: string }>([
  ['0', { type: 'file', what: 'regular file' }],
  ['\0', { type: 'file', what: 'regular file' }],
  ['5', { type: 'directory', what: 'folder' }],
  ['1', { type: 'hardlink', what: 'hard link' }],
  ['2', { type: 'symlink', what: 'symbolic link' }],
  ['3', { type: 'device', what: 'character device' }],
  ['4', { type: 'device', what: 'block device' }],
  ['6', { type: 'fifo', what: 'FIFO' }],
  ['7', { type: 'other', what: "contiguous file (type '7')" }],
  ['S', { type: 'other', what: "GNU sparse file (type 'S')" }],
  ['D', { type: 'other', what: "GNU dump directory (type 'D')" }],
  ['M', { type: 'other', what: "GNU multi-volume continuation (type 'M')" }],
  ['N', { type: 'other', what: "old GNU long-name record (type 'N')" }],
  ['V', { type: 'other', what: "GNU volume header (type 'V')" }],
  ['I', { type: 'other', what: "inode metadata (type 'I')" }],
  ['A', { type: 'other', what: "Solaris ACL (type 'A')" }],
  ['X', { type: 'other', what: "old Solaris extended header (type 'X')" }],
]);

/** Maps a tar typeflag to our entry type; unknown flags are 'other'. */
export function mapEntryType(typeflag: string): EntryType {
  return TYPEFLAGS.get(typeflag)?.type ?? 'other';
}

/** How a typeflag is called in a finding. */
export function typeflagName(typeflag: string): string {
  const known = TYPEFLAGS.get(typeflag);
  if (known) return known.what;
  const code = typeflag.charCodeAt(0);
  const shown = code > 0x20 && code < 0x7f ? `'${typeflag}'` : `0x${code.toString(16).padStart(2, '0')}`;
  return `unknown entry type ${shown}`;
}

/** Segments of an entry path; both separators count, since extractors on Windows honour `\`. */
function segments(p: string): string[] {
  return p.split(/[\\/]/);
}

/** C0 and C1 controls and DEL: a newline in a name splits every line-based listing of it. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why an entry path could land outside the folder or be misread, or null. */
export function unsafePathReason(p: string): string | null {
  if (CONTROL.test(p)) return 'control character in the name';
  if (p.startsWith('/')) return 'absolute path';
  if (p.startsWith('\\')) return 'backslash-rooted path';
  // `C:` alone is drive-relative, which still leaves the folder.
  if (/^[A-Za-z]:/.test(p)) return 'drive-letter path';
  if (segments(p).includes('..')) return "'..' segment";
  return null;
}

/** Why an entry is unsafe to extract (path or type), or null. `typeflag` names an 'other' entry. */
export function unsafeEntryReason(p: string, type: EntryType, typeflag?: string): string | null {
  const byPath = unsafePathReason(p);
  if (byPath) return byPath;
  switch (type) {
    case 'file':
      // `a/.` or `.`: a file written over the folder that holds it.
      return segments(p).pop() === '.' ? "a file named '.'" : null;
    case 'symlink':
      return 'symbolic link';
    case 'hardlink':
      return 'hard link';
    case 'device':
      return 'device node';
    case 'fifo':
      return 'FIFO';
    case 'other':
      return typeflag === undefined ? 'entry type not used in flow archives' : typeflagName(typeflag);
    default:
      return null;
  }
}

/** Number of named segments: empty and `.` segments do not count. */
export function pathDepth(p: string): number {
  return segments(p).filter((s) => s !== '' && s !== '.').length;
}

/** A limit the entries seen so far break, or null. Checked per entry, before its data is read. */
export function entryLimitBreach(
  entryPath: string,
  entryCount: number,
  totalBytes: number,
  limits: ArchiveLimits,
): string | null {
  if (entryCount > limits.maxEntries) return `more than ${limits.maxEntries} entries`;
  if (totalBytes > limits.maxTotalBytes) return `entries total more than ${limits.maxTotalBytes} bytes`;
  if (Buffer.byteLength(entryPath) > MAX_ENTRY_PATH_BYTES) {
    return `entry path longer than ${MAX_ENTRY_PATH_BYTES} bytes`;
  }
  const depth = pathDepth(entryPath);
  if (depth > limits.maxPathDepth) return `entry path ${depth} levels deep (limit ${limits.maxPathDepth})`;
  return null;
}

/** Tar framing allowed on top of maxTotalBytes: headers, pax records, padding. */
export function tarOverheadAllowance(limits: ArchiveLimits): number {
  return limits.maxEntries * 16 * 1024 + 64 * 1024;
}

/**
 * A limit the decompressed stream breaks, or null. Called as bytes arrive; the
 * stream only grows, so the ratio test against the whole file size is exact.
 */
export function streamLimitBreach(streamBytes: number, fileSize: number, limits: ArchiveLimits): string | null {
  if (fileSize > 0 && streamBytes / fileSize > limits.maxRatio) {
    return `decompression ratio above ${limits.maxRatio} (${streamBytes} bytes from a ${fileSize}-byte file)`;
  }
  if (streamBytes > limits.maxTotalBytes + tarOverheadAllowance(limits)) {
    return `decompressed stream larger than ${limits.maxTotalBytes} bytes plus tar framing`;
  }
  return null;
}

/**
 * The key an entry is matched under in its unpacked folder: leading `./`
 * segments, repeated and trailing slashes removed. `""` is the folder itself.
 */
export function entryKey(p: string): string {
  return p
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/**
 * Whether every key sits under one top-level folder named like the unpacked
 * folder (`tar czf flow-x.tar.gz flow-x/`). All or nothing: stripping only
 * some entries would pair two different archive paths with one folder file.
 */
export function hasTopFolder(keys: readonly string[], folderName: string): boolean {
  const inside = keys.filter((k) => k !== '');
  if (inside.length === 0) return false;
  const prefix = `${folderName}/`;
  return inside.every((k) => k === folderName || k.startsWith(prefix)) && inside.some((k) => k.startsWith(prefix));
}

/** Removes the top-level folder from a key (see hasTopFolder). */
export function stripTopFolder(key: string, folderName: string): string {
  if (key === folderName) return '';
  return key.startsWith(`${folderName}/`) ? key.slice(folderName.length + 1) : key;
}

/** Keeps the first `max` findings of one code and summarises the rest in one more. */
export class FindingCap {
  private readonly kept: Finding[] = [];
  private dropped = 0;

  constructor(
    private readonly code: FindingCode,
    private readonly path: string,
    private readonly what: string,
    private readonly max = MAX_FINDINGS_PER_KIND,
  ) {}

  add(message: string, extra: { path?: string; expected?: unknown; actual?: unknown } = {}): void {
    if (this.kept.length < this.max) this.kept.push(finding(this.code, message, { path: this.path, ...extra }));
    else this.dropped++;
  }

  get count(): number {
    return this.kept.length + this.dropped;
  }

  findings(): Finding[] {
    if (this.dropped === 0) return [...this.kept];
    const more = finding(this.code, `${this.dropped} more ${this.what} not listed`, {
      path: this.path,
      actual: { more: this.dropped },
    });
    return [...this.kept, more];
  }
}
