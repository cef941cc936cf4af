// Pure reading of tar's building blocks: one 512-byte header, the records of
// a pax extended header, a GNU long-name record. No I/O, no streams.
//
// What is accepted is the part of the format every common reader (GNU tar,
// libarchive, Python's tarfile, node-tar) reads the same way. Where readers
// part, the block is refused with a reason rather than read one way, because
// the verifier must see what the tool that unpacks the archive will see:
//
//   header checksum   the unsigned sum only (GNU and Python also take a signed one)
//   numeric fields    octal digits, optional leading spaces, then only NULs or
//                     spaces; no base-256, no leading NUL (GNU skips one, the
//                     others read an empty field), no garbage after the digits
//   magic             "ustar\0" "00" (POSIX), "ustar  \0" (old GNU) or none (v7)
//   prefix field      POSIX magic only; with another magic the area must be
//                     zero (Python joins it to the name, GNU and node-tar do not)
//   text fields       bytes after the terminating NUL must be NULs
//   pax records       "<len> <key>=<value>\n" with an exact length, UTF-8, no
//                     NUL, no key twice (readers split, cut and merge them in
//                     different ways); keys limited to what cannot change what
//                     is unpacked (see PAX_KEYS)
//   long names        a GNU `L` record is a name followed only by NULs
//   records           no multi-byte character past the first block (node-tar
//                     decodes them piece by piece; see splitSensitiveRecord)
import { TextDecoder } from 'node:util';

export const BLOCK = 512;

/** Which header layout a block uses, from its magic field. */
export type TarFormat = 'posix' | 'gnu' | 'v7';

export interface TarHeader {
  /** The typeflag byte as a one-character string ("\0" for an old-style file). */
  typeflag: string;
  /** The name field up to its NUL. */
  name: Buffer;
  /** The ustar prefix up to its NUL (POSIX magic only; empty otherwise). */
  prefix: Buffer;
  linkname: Buffer;
  size: number;
  mode: number;
  format: TarFormat;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

/** Field offsets and lengths of a ustar header. */
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 8],
  prefix: [345, 155],
} as const;

/** Bytes of the prefix field a POSIX reader may fill with star's atime and ctime. */
const PREFIX_CHECKED = 130;

const SPACE = 0x20;
const NUL = 0;

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** The unsigned header sum, with the checksum field counted as spaces. */
export function headerSum(block: Buffer): number {
  let sum = 8 * SPACE;
  for (let i = 0; i < 148; i++) sum += block[i] as number;
  for (let i = 156; i < BLOCK; i++) sum += block[i] as number;
  return sum;
}

/**
 * A numeric field: optional leading spaces, octal digits, then only NULs or
 * spaces to the end of the field. `blank` allows a field with no digits (as 0):
 * some writers leave uid, gid or mtime empty and every reader takes that as 0.
 */
export function octalField(block: Buffer, off: number, len: number, what: string, blank = false): Parsed<number> {
  const end = off + len;
  if (((block[off] as number) & 0x80) !== 0) return bad(`${what} is a base-256 number`);
  let i = off;
  while (i < end && block[i] === SPACE) i++;
  let digits = 0;
  let value = 0;
  while (i < end && (block[i] as number) >= 0x30 && (block[i] as number) <= 0x37) {
    value = value * 8 + ((block[i] as number) - 0x30);
    i++;
    digits++;
  }
  while (i < end && (block[i] === NUL || block[i] === SPACE)) i++;
  if (i !== end) return bad(`${what} is not an octal number: ${printable(block.subarray(off, end))}`);
  if (digits === 0 && !blank) return bad(`${what} is blank`);
  return ok(value);
}

/** A text field up to its NUL; anything but NULs after it is refused (`clean` bytes of the field are checked). */
export function textField(block: Buffer, off: number, len: number, what: string, clean = len): Parsed<Buffer> {
  const field = block.subarray(off, off + len);
  const nul = field.indexOf(NUL);
  if (nul === -1) return ok(field);
  for (let i = nul + 1; i < clean; i++) {
    if (field[i] !== NUL) return bad(`${what} has bytes after its terminating NUL`);
  }
  return ok(field.subarray(0, nul));
}

function formatOf(block: Buffer): Parsed<TarFormat> {
  const m = block.subarray(F.magic[0], F.magic[0] + F.magic[1]);
  if (m.equals(Buffer.from('ustar\u000000', 'latin1'))) return ok('posix');
  if (m.equals(Buffer.from('ustar  \u0000', 'latin1'))) return ok('gnu');
  if (m.every((b) => b === 0)) return ok('v7');
  return bad(`unknown header magic ${printable(m)}`);
}

/** Outside POSIX ustar, readers disagree on whether the prefix area is part of the name. */
function prefixAreaProblem(block: Buffer): string | null {
  for (let i = F.prefix[0]; i < F.prefix[0] + F.prefix[1]; i++) {
    if (block[i] !== 0) return 'a non-POSIX header carries data in the ustar prefix area';
  }
  return null;
}

/** Reads one header block that is not all zeros. */
export function readHeader(block: Buffer): Parsed<TarHeader> {
  const sum = octalField(block, F.chksum[0], F.chksum[1], 'header checksum');
  if (!sum.ok) return sum;
  if (sum.value !== headerSum(block)) return bad('header checksum does not match (damaged or forged header)');
  const format = formatOf(block);
  if (!format.ok) return format;
  const mode = octalField(block, F.mode[0], F.mode[1], 'mode');
  if (!mode.ok) return mode;
  const size = octalField(block, F.size[0], F.size[1], 'size');
  if (!size.ok) return size;
  for (const [what, [off, len]] of [['uid', F.uid], ['gid', F.gid], ['mtime', F.mtime]] as const) {
    const n = octalField(block, off, len, what, true);
    if (!n.ok) return n;
  }
  const name = textField(block, F.name[0], F.name[1], 'name field');
  if (!name.ok) return name;
  const linkname = textField(block, F.linkname[0], F.linkname[1], 'link name field');
  if (!linkname.ok) return linkname;
  let prefix: Buffer = Buffer.alloc(0);
  if (format.value === 'posix') {
    const p = textField(block, F.prefix[0], F.prefix[1], 'prefix field', PREFIX_CHECKED);
    if (!p.ok) return p;
    prefix = p.value;
  } else {
    const why = prefixAreaProblem(block);
    if (why) return bad(why);
  }
  return ok({
    typeflag: String.fromCharCode(block[F.typeflag[0]] as number),
    name: name.value,
    prefix,
    linkname: linkname.value,
    size: size.value,
    mode: mode.value & 0o7777,
    format: format.value,
  });
}

/** The path a header names by itself: `prefix/name` under POSIX ustar, else the name. */
export function headerPath(h: TarHeader): Buffer {
  return h.prefix.length > 0 ? Buffer.concat([h.prefix, Buffer.from('/'), h.name]) : h.name;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8, or null when the bytes are not UTF-8. */
export function decodeUtf8(b: Buffer): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

/** A pax extended header body: every record must parse; no key twice. */
export function parsePax(body: Buffer): Parsed<Map<string, string>> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < body.length) {
    let i = off;
    let n = 0;
    while (i < body.length && (body[i] as number) >= 0x30 && (body[i] as number) <= 0x39) {
      n = n * 10 + ((body[i] as number) - 0x30);
      i++;
      if (i - off > 8) return bad('pax record length has too many digits');
    }
    if (i === off) return bad(`pax record at byte ${off} has no length`);
    if (body[off] === 0x30) return bad(`pax record at byte ${off} has a length with a leading zero`);
    if (body[i] !== SPACE) return bad(`pax record at byte ${off}: no space after the length`);
    const end = off + n;
    if (end > body.length) return bad(`pax record at byte ${off} runs past the end of the header`);
    if (body[end - 1] !== 0x0a) return bad(`pax record at byte ${off} does not end where its length says`);
    const rec = body.subarray(i + 1, end - 1);
    if (rec.includes(NUL)) return bad(`pax record at byte ${off} holds a NUL`);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) return bad(`pax record at byte ${off} has no key=value`);
    const key = decodeUtf8(rec.subarray(0, eq));
    const value = decodeUtf8(rec.subarray(eq + 1));
    if (key === null || value === null) return bad(`pax record at byte ${off} is not UTF-8`);
    if (out.has(key)) return bad(`pax key ${JSON.stringify(key)} appears twice`);
    out.set(key, value);
    off = end;
  }
  return ok(out);
}

/** What a pax key may hold. A key not listed here is not part of a flow archive. */
const PAX_KEYS = new Map<string, RegExp>(Object.entries({
  path: /^.+$/s,
  linkpath: /^.+$/s,
  size: /^(0|[1-9][0-9]{0,15})$/,
  // Seconds, optionally with a fraction; bounded so no reader's time type overflows.
  mtime: /^-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,9})?$/,
  atime: /^-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,9})?$/,
  ctime: /^-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,9})?$/,
  uid: /^(0|[1-9][0-9]{0,8})$/,
  gid: /^(0|[1-9][0-9]{0,8})$/,
  uname: /^.*$/s,
  gname: /^.*$/s,
  comment: /^.*$/s,
  // bsdtar on macOS writes a birth time; GNU tar ignores it.
  'LIBARCHIVE.creationtime': /^-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,9})?$/,
  // node-tar writes these when not asked for portable archives; readers ignore them.
  'SCHILY.dev': /^(0|[1-9][0-9]{0,19})$/,
  'SCHILY.ino': /^(0|[1-9][0-9]{0,19})$/,
  'SCHILY.nlink': /^(0|[1-9][0-9]{0,19})$/,
}));

export type PaxVerdict = { kind: 'corrupt' | 'unsafe'; problem: string } | null;

/**
 * Whether one pax record may appear in a flow archive. GNU sparse records make
 * GNU tar rebuild a different file from the stored bytes; xattrs, ACLs, charset
 * switches and vendor keys are nothing a flow needs, and some change what
 * extraction writes (file capabilities ride in xattrs).
 */
export function paxRecordVerdict(key: string, value: string): PaxVerdict {
  if (key.startsWith('GNU.sparse.')) return { kind: 'unsafe', problem: `GNU sparse file (pax ${key})` };
  const re = PAX_KEYS.get(key);
  if (!re) return { kind: 'unsafe', problem: `pax key not used in flow archives: ${JSON.stringify(key)}` };
  if (!re.test(value)) return { kind: 'corrupt', problem: `pax ${key} is malformed: ${JSON.stringify(value.slice(0, 64))}` };
  return null;
}

/**
 * Why node-tar could read a metadata record (pax, GNU long name) two ways, or
 * null. node-tar hands the record on in the pieces its input came in and
 * decodes each piece as UTF-8 on its own; the first piece is at least one
 * block, later ones start wherever a read ended. A character cut in two comes
 * out as replacement characters, so a record with a multi-byte character past
 * its first block (a UTF-8 continuation byte at offset 512 or later) names
 * one file or another depending on how the stream was read.
 */
export function splitSensitiveRecord(body: Buffer): string | null {
  for (let i = BLOCK; i < body.length; i++) {
    const b = body[i] as number;
    if (b >= 0x80 && b <= 0xbf) {
      return `a pax or long-name record longer than one block has a multi-byte character at byte ${i} (node-tar's reading of it depends on how the stream is cut)`;
    }
  }
  return null;
}

/** A GNU long-name (`L`) or long-link (`K`) body: a name, then only NULs (at least one). */
export function parseLongName(body: Buffer, what: string): Parsed<Buffer> {
  const nul = body.indexOf(NUL);
  if (nul === -1) return bad(`${what} record is not NUL-terminated`);
  if (nul === 0) return bad(`${what} record is empty`);
  for (let i = nul + 1; i < body.length; i++) {
    if (body[i] !== NUL) return bad(`${what} record has bytes after its terminating NUL`);
  }
  return ok(body.subarray(0, nul));
}

/** Bytes shown in a message: printable ASCII kept, the rest escaped, clipped. */
export function printable(b: Buffer, max = 40): string {
  let s = '';
  for (const c of b.subarray(0, max)) {
    s += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `"${s}${b.length > max ? '...' : ''}"`;
}
