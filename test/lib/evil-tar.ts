// Writes raw tar headers, so tests can build archives that node-tar's
// `create` would refuse or sanitise: absolute and `..` paths, links, device
// nodes, FIFOs, unknown types, pax and GNU long-name records of any shape,
// broken or signed checksums, odd numeric fields, missing end blocks.

export interface RawEntry {
  /** Up to 100 bytes (the name field); longer paths go in `prefix`. */
  path: string;
  /** Name bytes used instead of `path` (names that are not UTF-8). */
  pathBytes?: Buffer;
  /** ustar prefix field (up to 155 bytes). */
  prefix?: string;
  /** Typeflag: '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '5' dir, '6' FIFO, 'x', 'g', 'L', 'K', ... */
  type?: string;
  body?: Buffer | string;
  /** Size written in the header; defaults to the body's length. */
  size?: number;
  mode?: number;
  linkpath?: string;
  /** Header layout: POSIX ustar (default), old GNU, or v7 (no magic). */
  magic?: 'posix' | 'gnu' | 'v7';
  /** Raw bytes laid over the header (after the fields, before the checksum). */
  patch?: { offset: number; bytes: Buffer | string }[];
  /** Store a wrong checksum. */
  badChecksum?: boolean;
  /** Store the checksum as a signed sum (bytes above 0x7f count negative), as old tars did. */
  signedChecksum?: boolean;
  /** How the checksum's digits are laid out (default: as GNU tar writes them). */
  checksumForm?: ChecksumForm;
}

export const BLOCK = 512;

/** Header field offsets, for patches. */
export const FIELD = {
  name: 0,
  mode: 100,
  uid: 108,
  gid: 116,
  size: 124,
  mtime: 136,
  chksum: 148,
  typeflag: 156,
  linkname: 157,
  magic: 257,
  version: 263,
  uname: 265,
  gname: 297,
  devmajor: 329,
  devminor: 337,
  prefix: 345,
} as const;

function putBytes(buf: Buffer, off: number, len: number, b: Buffer): void {
  if (b.length > len) throw new Error(`field too long: ${b.toString('latin1')}`);
  b.copy(buf, off);
}

function putString(buf: Buffer, off: number, len: number, s: string): void {
  putBytes(buf, off, len, Buffer.from(s));
}

/** Octal, zero-padded to len-1 digits, NUL-terminated. */
function putOctal(buf: Buffer, off: number, len: number, n: number): void {
  putString(buf, off, len, n.toString(8).padStart(len - 1, '0') + '\0');
}

/**
 * How the checksum's digits are written: what GNU tar writes (six digits, NUL,
 * space), and other forms readers take: seven digits then NUL or space, leading
 * spaces, or eight digits filling the field with no terminator.
 */
export type ChecksumForm = 'gnu' | 'seven-nul' | 'seven-space' | 'leading-space' | 'eight';

const CHECKSUM_FORMS: Record<ChecksumForm, (sum: number) => string> = {
  gnu: (n) => `${n.toString(8).padStart(6, '0')}\0 `,
  'seven-nul': (n) => `${n.toString(8).padStart(7, '0')}\0`,
  'seven-space': (n) => `${n.toString(8).padStart(7, '0')} `,
  'leading-space': (n) => `  ${n.toString(8).padStart(5, '0')}\0`.slice(-8),
  eight: (n) => n.toString(8).padStart(8, '0'),
};

/** Writes the checksum of a header in place: unsigned (what POSIX says) or signed. */
export function setChecksum(h: Buffer, opts: { signed?: boolean; wrong?: boolean; form?: ChecksumForm } = {}): void {
  h.fill(0x20, FIELD.chksum, FIELD.chksum + 8);
  let sum = 0;
  for (const b of h) sum += opts.signed && b > 0x7f ? b - 256 : b;
  if (opts.wrong) sum += 1;
  h.fill(0, FIELD.chksum, FIELD.chksum + 8);
  putString(h, FIELD.chksum, 8, CHECKSUM_FORMS[opts.form ?? 'gnu'](sum & 0o777777));
}

/** One 512-byte header. */
export function ustarHeader(e: RawEntry): Buffer {
  const h = Buffer.alloc(BLOCK);
  const type = e.type ?? '0';
  const hasBody = !['1', '2', '5', '3', '4', '6'].includes(type);
  const size = e.size ?? (hasBody ? Buffer.byteLength(e.body ?? '') : 0);
  putBytes(h, FIELD.name, 100, e.pathBytes ?? Buffer.from(e.path));
  putOctal(h, FIELD.mode, 8, e.mode ?? (type === '5' ? 0o755 : 0o644));
  putOctal(h, FIELD.uid, 8, 0);
  putOctal(h, FIELD.gid, 8, 0);
  putOctal(h, FIELD.size, 12, size);
  putOctal(h, FIELD.mtime, 12, 1_700_000_000);
  h[FIELD.typeflag] = type.charCodeAt(0);
  if (e.linkpath) putString(h, FIELD.linkname, 100, e.linkpath);
  const magic = e.magic ?? 'posix';
  if (magic === 'posix') putString(h, FIELD.magic, 8, 'ustar\u000000');
  if (magic === 'gnu') putString(h, FIELD.magic, 8, 'ustar  \u0000');
  if (magic !== 'v7') {
    putString(h, FIELD.uname, 32, 'root');
    putString(h, FIELD.gname, 32, 'root');
    putOctal(h, FIELD.devmajor, 8, 0);
    putOctal(h, FIELD.devminor, 8, 0);
  }
  if (e.prefix) putString(h, FIELD.prefix, 155, e.prefix);
  for (const p of e.patch ?? []) Buffer.from(p.bytes).copy(h, p.offset);
  setChecksum(h, { signed: e.signedChecksum ?? false, wrong: e.badChecksum ?? false, form: e.checksumForm ?? 'gnu' });
  return h;
}

/** Body padded to whole blocks. */
export function padded(body: Buffer): Buffer {
  const rest = body.length % BLOCK;
  return rest === 0 ? body : Buffer.concat([body, Buffer.alloc(BLOCK - rest)]);
}

/** The body bytes an entry carries in the stream (a header-only entry carries none). */
function bodyOf(e: RawEntry): Buffer {
  return Buffer.from(e.body ?? '');
}

/** A tar stream of the entries, and where each header sits; `end: false` leaves out the two zero blocks. */
export function rawTarWithOffsets(entries: RawEntry[], opts: { end?: boolean } = {}): { tar: Buffer; headers: number[] } {
  const parts: Buffer[] = [];
  const headers: number[] = [];
  let off = 0;
  for (const e of entries) {
    headers.push(off);
    parts.push(ustarHeader(e));
    off += BLOCK;
    const body = bodyOf(e);
    if (body.length > 0) {
      const p = padded(body);
      parts.push(p);
      off += p.length;
    }
  }
  if (opts.end !== false) parts.push(Buffer.alloc(2 * BLOCK));
  return { tar: Buffer.concat(parts), headers };
}

export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  return rawTarWithOffsets(entries, opts).tar;
}

/** One pax record, `<len> <key>=<value>\n`, with its length computed. */
export function paxRecord(key: string, value: string | Buffer): Buffer {
  const kv = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = kv.length + 1;
  while (String(len).length + kv.length !== len) len = String(len).length + kv.length;
  return Buffer.concat([Buffer.from(String(len)), kv]);
}

/** A pax extended header (`x`, or `g` for a global one) carrying the records. */
export function paxHeader(records: [string, string | Buffer][], type: 'x' | 'g' = 'x'): RawEntry {
  return { path: 'PaxHeader/entry', type, body: Buffer.concat(records.map(([k, v]) => paxRecord(k, v))) };
}

/** A GNU long-name (`L`) or long-link (`K`) record: the name and its NUL. */
export function gnuLongName(name: string | Buffer, type: 'L' | 'K' = 'L'): RawEntry {
  return { path: '././@LongLink', type, magic: 'gnu', body: Buffer.concat([Buffer.from(name), Buffer.alloc(1)]) };
}
