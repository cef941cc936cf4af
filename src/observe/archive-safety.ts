// Pure checks on tar entries: what an entry is, whether extracting it could
// escape or harm its folder, and whether an archive stays inside its limits.
import type { ArchiveLimits } from '../config/layout.js';
import { finding, type Finding, type FindingCode } from '../model/findings.js';
import type { EntryType } from '../model/observation.js';

/** Longest entry path accepted (Linux PATH_MAX); longer ones only cost memory. */
export const MAX_ENTRY_PATH_BYTES = 4096;

/** Findings of one kind recorded per archive before they are summarised. */
export const MAX_FINDINGS_PER_KIND = 100;

/** Maps node-tar's type names to ours. */
export function mapEntryType(tarType: string): EntryType {
  switch (tarType) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return 'file';
    case 'Directory':
      return 'directory';
    case 'SymbolicLink':
      return 'symlink';
    case 'Link':
      return 'hardlink';
    case 'CharacterDevice':
    case 'BlockDevice':
      return 'device';
    case 'FIFO':
      return 'fifo';
    default:
      return 'other';
  }
}

/** Segments of an entry path; both separators count, since extractors on Windows honour `\`. */
function segments(p: string): string[] {
  return p.split(/[\\/]/);
}

/** Why an entry path could land outside the folder, or null when it cannot. */
export function unsafePathReason(p: string): string | null {
  if (p.startsWith('/')) return 'absolute path';
  if (p.startsWith('\\')) return 'backslash-rooted path';
  // `C:` alone is drive-relative, which still leaves the folder.
  if (/^[A-Za-z]:/.test(p)) return 'drive-letter path';
  if (segments(p).includes('..')) return "'..' segment";
  return null;
}

/** Why an entry is unsafe to extract (path or type), or null. */
export function unsafeEntryReason(p: string, type: EntryType): string | null {
  const byPath = unsafePathReason(p);
  if (byPath) return byPath;
  switch (type) {
    case 'symlink':
      return 'symbolic link';
    case 'hardlink':
      return 'hard link';
    case 'device':
      return 'device node';
    case 'fifo':
      return 'FIFO';
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
