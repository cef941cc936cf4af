// Reads a zip archive's entries without extracting anything: the end record,
// the central directory, every local header, and (for files) the content,
// inflated within limits to get each entry's SHA-256. Built for hostile input:
// every offset is checked against the file before it is used, every count and
// size against ArchiveLimits before work is spent on it, and memory is one
// read window plus the entry list (capped by maxEntries).
//
// Format (APPNOTE 6.3.x), the parts read here, little-endian:
//   end of central directory (EOCD)   sig 0x06054b50, 22 bytes + comment (<= 65535)
//   zip64 EOCD locator                sig 0x07064b50, 20 bytes, just before the EOCD
//   zip64 EOCD record                 sig 0x06064b50, at the offset the locator gives
//   central directory header          sig 0x02014b50, 46 bytes + name + extra + comment
//   local file header                 sig 0x04034b50, 30 bytes + name + extra, then the data
//   zip64 extended information extra  id 0x0001: the 64-bit values of fields set to 0xFFFFFFFF
// What the Java nucleus's unzip (java.util.zip.ZipFile, Unarchiver.unzip)
// refuses or does differently is a finding here, not a silent difference:
// encrypted entries, names that are not UTF-8, names leaving the folder.
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32, createInflateRaw, type InflateRaw } from 'node:zlib';
import type { ArchiveLimits } from '../../config/layout.js';
import { finding } from '../../model/findings.js';
import type { ZipEntryInfo, ZipEntryType, ZipInspection } from '../../model/greengrass-v2.js';
import { entryKey, entryLimitBreach, FindingCap, unsafePathReason } from '../archive-safety.js';
import type { RateLimiter } from '../rate-limit.js';

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const WINDOW = 256 * 1024;
const DATA_CHUNK = 64 * 1024;
/** Above this the central directory cannot be a legitimate artifact's. */
export const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;

const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const HOST_UNIX = 3;

export interface ZipReadOptions {
  limits: ArchiveLimits;
  /** Paces the bytes read for entry contents (the background agent's hashing cap). */
  limiter?: RateLimiter;
  signal?: AbortSignal;
  /** SHA-256 of the whole archive, when the caller hashed it already. */
  archiveSha256?: string | null;
}

/** Thrown inside the reader to stop at the first structural problem; becomes one RESOURCE_CORRUPT. */
class ZipStop extends Error {}

interface Central {
  info: ZipEntryInfo;
  nameBytes: Buffer;
  flags: number;
  localOffset: number;
  /** Entry checks passed: its content may be read and compared. */
  readable: boolean;
}

/** A positioned reader with one window of cache, bounded to [0, size). */
class Window {
  private buf = Buffer.alloc(0);
  private start = 0;
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  async bytes(pos: number, len: number, what: string): Promise<Buffer> {
    if (!Number.isSafeInteger(pos) || pos < 0 || len < 0 || pos + len > this.size) {
      throw new ZipStop(`${what} lies outside the file (offset ${pos}, ${len} bytes, file ${this.size} bytes)`);
    }
    if (pos >= this.start && pos + len <= this.start + this.buf.length) {
      return this.buf.subarray(pos - this.start, pos - this.start + len);
    }
    const want = Math.min(Math.max(len, WINDOW), this.size - pos);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(buf, got, want - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < len) throw new ZipStop(`${what}: the file ended early (it shrank while read)`);
    this.buf = buf.subarray(0, got);
    this.start = pos;
    return this.buf.subarray(0, len);
  }
}

function u64(b: Buffer, off: number, what: string): number {
  const v = b.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipStop(`${what} is larger than 2^53`);
  return Number(v);
}

/** Finds the EOCD: the last signature whose comment ends exactly at the end of the file. */
async function findEnd(w: Window): Promise<number> {
  if (w.size < EOCD_SIZE) throw new ZipStop('not a zip file: too short for an end of central directory record');
  const tailLen = Math.min(w.size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = w.size - tailLen;
  const tail = Buffer.from(await w.bytes(tailStart, tailLen, 'the end of the file'));
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) !== SIG_EOCD) continue;
    if (tail.readUInt16LE(i + 20) === tailLen - i - EOCD_SIZE) return tailStart + i;
  }
  throw new ZipStop('no end of central directory record: not a zip file, or truncated');
}

interface Directory {
  entries: number;
  cdOffset: number;
  cdSize: number;
}

async function readDirectory(w: Window, eocd: number): Promise<Directory> {
  const e = await w.bytes(eocd, EOCD_SIZE, 'the end record');
  let disk = e.readUInt16LE(4);
  let cdDisk = e.readUInt16LE(6);
  let onDisk = e.readUInt16LE(8);
  let entries = e.readUInt16LE(10);
  let cdSize = e.readUInt32LE(12);
  let cdOffset = e.readUInt32LE(16);
  let cdEnd = eocd;
  const zip64 = entries === 0xffff || onDisk === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff;
  if (zip64) {
    if (eocd < 20) throw new ZipStop('zip64 end record locator is missing');
    const loc = await w.bytes(eocd - 20, 20, 'the zip64 locator');
    if (loc.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) throw new ZipStop('zip64 end record locator is missing');
    if (loc.readUInt32LE(4) !== 0 || loc.readUInt32LE(16) !== 1) throw new ZipStop('multi-disk zip archives are not supported');
    const at = u64(loc, 8, 'zip64 end record offset');
    const rec = await w.bytes(at, 56, 'the zip64 end record');
    if (rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw new ZipStop('zip64 end record has a bad signature');
    if (at + 56 > eocd - 20) throw new ZipStop('zip64 end record overlaps the end record');
    disk = rec.readUInt32LE(16);
    cdDisk = rec.readUInt32LE(20);
    onDisk = u64(rec, 24, 'zip64 entry count');
    entries = u64(rec, 32, 'zip64 entry count');
    cdSize = u64(rec, 40, 'zip64 central directory size');
    cdOffset = u64(rec, 48, 'zip64 central directory offset');
    cdEnd = at;
  }
  if (disk !== 0 || cdDisk !== 0 || onDisk !== entries) throw new ZipStop('multi-disk zip archives are not supported');
  // Java's ZipFile tolerates data prepended to the archive; an artifact has none,
  // and a gap is exactly where a second, different archive could hide.
  if (cdOffset + cdSize !== cdEnd) {
    throw new ZipStop(`central directory is not where the end record says (ends at ${cdOffset + cdSize}, end record at ${cdEnd})`);
  }
  return { entries, cdOffset, cdSize };
}

function typeOf(name: string, host: number, external: number): { type: ZipEntryType; mode: number | null } {
  const mode = host === HOST_UNIX ? external >>> 16 : null;
  const fmt = mode === null ? 0 : mode & 0o170000;
  if (fmt === 0o120000) return { type: 'symlink', mode };
  if (fmt === 0o010000) return { type: 'fifo', mode };
  if (fmt === 0o020000 || fmt === 0o060000) return { type: 'device', mode };
  if (fmt === 0o140000) return { type: 'other', mode };
  if (name.endsWith('/') || fmt === 0o040000) return { type: 'directory', mode };
  return { type: 'file', mode };
}

/** The zip64 extra's values, for the fields that hold 0xFFFFFFFF (in APPNOTE order). */
function zip64Values(extra: Buffer, want: { uncompressed: boolean; compressed: boolean; offset: boolean }): { uncompressed?: number; compressed?: number; offset?: number } {
  let p = 0;
  while (p + 4 <= extra.length) {
    const id = extra.readUInt16LE(p);
    const len = extra.readUInt16LE(p + 2);
    if (p + 4 + len > extra.length) throw new ZipStop('an extra field runs past its entry');
    if (id === 0x0001) {
      const body = extra.subarray(p + 4, p + 4 + len);
      const out: { uncompressed?: number; compressed?: number; offset?: number } = {};
      let q = 0;
      const next = (what: string): number => {
        if (q + 8 > body.length) throw new ZipStop('zip64 extra field is too short');
        const v = u64(body, q, what);
        q += 8;
        return v;
      };
      if (want.uncompressed) out.uncompressed = next('zip64 size');
      if (want.compressed) out.compressed = next('zip64 compressed size');
      if (want.offset) out.offset = next('zip64 offset');
      return out;
    }
    p += 4 + len;
  }
  if (p !== extra.length) throw new ZipStop('extra fields are malformed');
  if (want.uncompressed || want.compressed || want.offset) throw new ZipStop('entry needs a zip64 extra field but has none');
  return {};
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Inspects one zip archive. Never throws for problems with the archive itself: they become findings. */
export async function inspectZip(abs: string, rel: string, opts: ZipReadOptions): Promise<ZipInspection> {
  const out: ZipInspection = {
    path: rel,
    size: 0,
    archiveSha256: opts.archiveSha256 ?? null,
    complete: false,
    entryCount: 0,
    totalBytes: 0,
    entries: [],
    findings: [],
  };
  let fh: FileHandle;
  try {
    fh = await open(abs, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    out.findings.push(finding('FILE_UNREADABLE', `archive cannot be opened (${code})`, { path: rel, actual: code }));
    return out;
  }
  const corrupt = new FindingCap('RESOURCE_CORRUPT', rel, 'archive errors');
  const unsafe = new FindingCap('UNSAFE_ARCHIVE_ENTRY', rel, 'unsafe entries');
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      out.findings.push(finding('FILE_UNREADABLE', 'archive is not a regular file', { path: rel }));
      return out;
    }
    out.size = st.size;
    const scan = new Scan(new Window(fh, st.size), out, opts, corrupt, unsafe);
    try {
      await scan.run();
      out.complete = corrupt.count === 0;
    } catch (err) {
      if (err instanceof ZipStop) corrupt.add(`zip archive is damaged: ${err.message}`);
      else if (typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).code !== 'ABORT_ERR') {
        out.findings.push(finding('FILE_UNREADABLE', `archive could not be read: ${(err as Error).message}`, { path: rel }));
      } else throw err;
    }
  } finally {
    await fh.close().catch(() => undefined);
    out.findings.push(...corrupt.findings(), ...unsafe.findings());
  }
  if (out.findings.some((f) => f.code === 'FILE_UNREADABLE')) out.complete = false;
  return out;
}

/** One pass over one archive. */
class Scan {
  private readonly centrals: Central[] = [];

  constructor(
    private readonly w: Window,
    private readonly out: ZipInspection,
    private readonly opts: ZipReadOptions,
    private readonly corrupt: FindingCap,
    private readonly unsafe: FindingCap,
  ) {}

  async run(): Promise<void> {
    const eocd = await findEnd(this.w);
    const dir = await readDirectory(this.w, eocd);
    const limits = this.opts.limits;
    if (dir.entries > limits.maxEntries) throw new ZipStop(`archive exceeds a limit: more than ${limits.maxEntries} entries (${dir.entries})`);
    if (dir.cdSize > MAX_CENTRAL_DIRECTORY_BYTES) throw new ZipStop(`central directory larger than ${MAX_CENTRAL_DIRECTORY_BYTES} bytes`);
    await this.readCentral(dir);
    await this.checkLocals(dir.cdOffset);
    for (const c of this.centrals) {
      this.opts.signal?.throwIfAborted();
      if (c.readable && c.info.type === 'file') await this.readContent(c);
    }
  }

  private async readCentral(dir: Directory): Promise<void> {
    const limits = this.opts.limits;
    const keys = new Set<string>();
    let pos = dir.cdOffset;
    const end = dir.cdOffset + dir.cdSize;
    for (let i = 0; i < dir.entries; i++) {
      this.opts.signal?.throwIfAborted();
      if (pos + CENTRAL_SIZE > end) throw new ZipStop(`central directory ends before entry ${i + 1} of ${dir.entries}`);
      const h = Buffer.from(await this.w.bytes(pos, CENTRAL_SIZE, 'a central directory header'));
      if (h.readUInt32LE(0) !== SIG_CENTRAL) throw new ZipStop(`central directory entry ${i + 1} has a bad signature`);
      const host = h.readUInt8(5);
      const flags = h.readUInt16LE(8);
      const method = h.readUInt16LE(10);
      const crc = h.readUInt32LE(16);
      let comp = h.readUInt32LE(20);
      let size = h.readUInt32LE(24);
      const nameLen = h.readUInt16LE(28);
      const extraLen = h.readUInt16LE(30);
      const commentLen = h.readUInt16LE(32);
      const external = h.readUInt32LE(38);
      let localOffset = h.readUInt32LE(42);
      const varLen = nameLen + extraLen + commentLen;
      if (pos + CENTRAL_SIZE + varLen > end) throw new ZipStop(`central directory entry ${i + 1} runs past the directory`);
      const v = Buffer.from(await this.w.bytes(pos + CENTRAL_SIZE, varLen, 'a central directory entry'));
      const nameBytes = v.subarray(0, nameLen);
      const extra = v.subarray(nameLen, nameLen + extraLen);
      const z = zip64Values(extra, { uncompressed: size === 0xffffffff, compressed: comp === 0xffffffff, offset: localOffset === 0xffffffff });
      size = z.uncompressed ?? size;
      comp = z.compressed ?? comp;
      localOffset = z.offset ?? localOffset;
      pos += CENTRAL_SIZE + varLen;

      let name: string;
      let nameOk = true;
      try {
        name = UTF8.decode(nameBytes);
      } catch {
        name = nameBytes.toString('latin1');
        nameOk = false;
      }
      const { type, mode } = typeOf(name, host, external);
      const info: ZipEntryInfo = { path: name, type, size, compressedSize: comp, method, crc32: crc, mode };
      const c: Central = { info, nameBytes: Buffer.from(nameBytes), flags, localOffset, readable: true };
      this.out.entries.push(info);
      this.out.entryCount++;
      this.out.totalBytes += size;
      this.centrals.push(c);

      const breach = entryLimitBreach(name, this.out.entryCount, this.out.totalBytes, limits);
      if (breach) throw new ZipStop(`archive exceeds a limit: ${breach}`);
      if (this.w.size > 0 && this.out.totalBytes / this.w.size > limits.maxRatio) {
        throw new ZipStop(`archive exceeds a limit: decompression ratio above ${limits.maxRatio} (${this.out.totalBytes} bytes declared in a ${this.w.size}-byte file)`);
      }
      const why = this.unsafeReason(name, nameOk, type, flags, keys);
      if (why) {
        this.unsafe.add(`unsafe archive entry (${why}): ${name}`, { actual: name });
        info.unsafe = why;
        c.readable = false;
      }
      if (method !== METHOD_STORED && method !== METHOD_DEFLATED && type === 'file') {
        this.corrupt.add(`entry uses compression method ${method}, which is not supported: ${name}`, { actual: name });
        c.readable = false;
      }
      if (method === METHOD_STORED && comp !== size) {
        this.corrupt.add(`stored entry has different sizes (${comp} and ${size}): ${name}`, { actual: name });
        c.readable = false;
      }
    }
    if (pos !== end) throw new ZipStop(`central directory holds ${end - pos} bytes after its last entry`);
  }

  private unsafeReason(name: string, nameOk: boolean, type: ZipEntryType, flags: number, keys: Set<string>): string | null {
    if (!nameOk) return 'name is not valid UTF-8';
    if (name.includes('\0')) return 'name holds a NUL';
    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) return 'encrypted entry';
    const byPath = unsafePathReason(name);
    if (byPath) return byPath;
    if (type === 'symlink') return 'symbolic link';
    if (type === 'device') return 'device node';
    if (type === 'fifo') return 'FIFO';
    if (type === 'other') return 'socket or unknown type';
    const key = entryKey(name);
    if (key !== '' && keys.has(key)) return 'duplicate entry name';
    keys.add(key);
    return null;
  }

  /** Every local header must agree with its central entry, and entry data may neither overlap nor reach the directory. */
  private async checkLocals(cdOffset: number): Promise<void> {
    const byOffset = [...this.centrals].sort((a, b) => a.localOffset - b.localOffset);
    let prevEnd = 0;
    let prevName = '';
    for (const c of byOffset) {
      this.opts.signal?.throwIfAborted();
      const name = c.info.path;
      if (c.localOffset < prevEnd) {
        throw new ZipStop(`entries overlap (${prevName} and ${name}): a zip bomb construction`);
      }
      const h = Buffer.from(await this.w.bytes(c.localOffset, LOCAL_SIZE, `the local header of ${name}`));
      if (h.readUInt32LE(0) !== SIG_LOCAL) throw new ZipStop(`local header of ${name} has a bad signature`);
      const flags = h.readUInt16LE(6);
      const method = h.readUInt16LE(8);
      const crc = h.readUInt32LE(14);
      const comp = h.readUInt32LE(18);
      const size = h.readUInt32LE(22);
      const nameLen = h.readUInt16LE(26);
      const extraLen = h.readUInt16LE(28);
      const localName = await this.w.bytes(c.localOffset + LOCAL_SIZE, nameLen, `the local name of ${name}`);
      if (!localName.equals(c.nameBytes)) {
        throw new ZipStop(`local header disagrees with the central directory: names ${JSON.stringify(localName.toString('latin1'))} and ${JSON.stringify(name)}`);
      }
      if (method !== c.info.method) throw new ZipStop(`local header disagrees with the central directory on the compression method of ${name}`);
      if ((flags & FLAG_ENCRYPTED) !== (c.flags & FLAG_ENCRYPTED)) throw new ZipStop(`local header disagrees with the central directory on encryption of ${name}`);
      if (!(flags & FLAG_DATA_DESCRIPTOR)) {
        const sizesAgree = (comp === 0xffffffff || comp === c.info.compressedSize) && (size === 0xffffffff || size === c.info.size);
        if (crc !== c.info.crc32 || !sizesAgree) {
          throw new ZipStop(`local header disagrees with the central directory on the CRC or sizes of ${name}`);
        }
      }
      const dataStart = c.localOffset + LOCAL_SIZE + nameLen + extraLen;
      const dataEnd = dataStart + c.info.compressedSize;
      if (dataEnd > cdOffset) throw new ZipStop(`data of ${name} runs into the central directory`);
      (c as Central & { dataStart?: number }).dataStart = dataStart;
      prevEnd = dataEnd;
      prevName = name;
    }
  }

  private async readContent(c: Central): Promise<void> {
    const start = (c as Central & { dataStart?: number }).dataStart;
    if (start === undefined) return;
    const { info } = c;
    const h = createHash('sha256');
    let crc = 0;
    let produced = 0;
    let over = false;
    const take = (chunk: Buffer): void => {
      produced += chunk.length;
      if (produced > info.size) {
        over = true;
        return;
      }
      h.update(chunk);
      crc = crc32(chunk, crc);
    };
    const inflater: InflateRaw | null = info.method === METHOD_DEFLATED ? createInflateRaw() : null;
    let inflateError: Error | null = null;
    let drained: Promise<void> = Promise.resolve();
    if (inflater) {
      inflater.on('data', (chunk: Buffer) => {
        take(chunk);
        if (over) inflater.destroy();
      });
      drained = new Promise<void>((resolve) => {
        inflater.on('end', resolve);
        inflater.on('close', resolve);
        inflater.on('error', (err) => {
          inflateError = err;
          resolve();
        });
      });
    }
    let pos = start;
    const end = start + info.compressedSize;
    while (pos < end && !over && !inflateError) {
      this.opts.signal?.throwIfAborted();
      const len = Math.min(DATA_CHUNK, end - pos);
      const chunk = Buffer.from(await this.w.bytes(pos, len, `the data of ${info.path}`));
      pos += len;
      if (this.opts.limiter) await this.opts.limiter.take(len, this.opts.signal);
      if (!inflater) take(chunk);
      else if (!inflater.destroyed && !inflater.write(chunk)) await drainedOrClosed(inflater);
    }
    if (inflater) {
      if (!inflater.destroyed) inflater.end();
      await drained;
    }
    if (over) {
      this.corrupt.add(`entry inflates past its declared size of ${info.size} bytes: ${info.path}`, { actual: info.path });
    } else if (inflateError) {
      this.corrupt.add(`entry data is damaged (${(inflateError as Error).message}): ${info.path}`, { actual: info.path });
    } else if (produced !== info.size) {
      this.corrupt.add(`entry holds ${produced} bytes, not the ${info.size} its header declares: ${info.path}`, { actual: info.path });
    } else if ((crc >>> 0) !== info.crc32) {
      this.corrupt.add(`entry CRC-32 does not match its header: ${info.path}`, { actual: info.path });
    } else {
      info.sha256 = h.digest('hex');
    }
  }
}

/** Resolves when a writable drains or closes; leaves no listener behind either way. */
function drainedOrClosed(w: InflateRaw): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}
