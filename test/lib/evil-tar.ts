// Writes raw ustar headers, so tests can build archives that node-tar's
// `create` would refuse or sanitise: absolute and `..` paths, links, device
// nodes, FIFOs, broken checksums, missing end blocks.

export interface RawEntry {
  /** Up to 100 bytes (the name field); longer paths go in `prefix`. */
  path: string;
  /** ustar prefix field (up to 155 bytes). */
  prefix?: string;
  /** Typeflag: '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '5' dir, '6' FIFO. */
  type?: string;
  body?: Buffer | string;
  /** Size written in the header; defaults to the body's length. */
  size?: number;
  mode?: number;
  linkpath?: string;
  /** Store a wrong checksum. */
  badChecksum?: boolean;
}

const BLOCK = 512;

function putString(buf: Buffer, off: number, len: number, s: string): void {
  const b = Buffer.from(s);
  if (b.length > len) throw new Error(`field too long: ${s}`);
  b.copy(buf, off);
}

/** Octal, zero-padded to len-1 digits, NUL-terminated. */
function putOctal(buf: Buffer, off: number, len: number, n: number): void {
  putString(buf, off, len, n.toString(8).padStart(len - 1, '0') + '\0');
}

/** One 512-byte ustar header. */
export function ustarHeader(e: RawEntry): Buffer {
  const h = Buffer.alloc(BLOCK);
  const type = e.type ?? '0';
  const size = e.size ?? (type === '0' ? Buffer.byteLength(e.body ?? '') : 0);
  putString(h, 0, 100, e.path);
  putOctal(h, 100, 8, e.mode ?? (type === '5' ? 0o755 : 0o644));
  putOctal(h, 108, 8, 0);
  putOctal(h, 116, 8, 0);
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, 1_700_000_000);
  h.fill(0x20, 148, 156); // checksum counts as spaces while summing
  putString(h, 156, 1, type);
  if (e.linkpath) putString(h, 157, 100, e.linkpath);
  putString(h, 257, 6, 'ustar\0');
  putString(h, 263, 2, '00');
  putString(h, 265, 32, 'root');
  putString(h, 297, 32, 'root');
  putOctal(h, 329, 8, 0);
  putOctal(h, 337, 8, 0);
  if (e.prefix) putString(h, 345, 155, e.prefix);
  let sum = 0;
  for (const b of h) sum += b;
  if (e.badChecksum) sum += 1;
  putString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** Body padded to whole blocks. */
export function padded(body: Buffer): Buffer {
  const rest = body.length % BLOCK;
  return rest === 0 ? body : Buffer.concat([body, Buffer.alloc(BLOCK - rest)]);
}

/** A tar stream of the entries; `end: false` leaves out the two zero blocks. */
export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(ustarHeader(e));
    const body = Buffer.from(e.body ?? '');
    if (body.length > 0) parts.push(padded(body));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
