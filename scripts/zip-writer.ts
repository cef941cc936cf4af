// A small zip writer (stored and deflated entries, Unix modes) for the
// simulated Greengrass v2 root and the tests. It can also write what no sane
// zip tool writes (a local name that disagrees with the central directory,
// lying sizes and CRCs, entries sharing data), so hostile archives are built
// the same way as healthy ones. Not used by the agent.
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntrySpec {
  name: string;
  data?: Buffer | string;
  method?: 'store' | 'deflate';
  /** Full Unix st_mode (type and permissions); default a 0644 file, or a 0755 folder for names ending in '/'. */
  mode?: number;
  /** General-purpose flags to add (1 = encrypted). */
  flags?: number;
  /** Hostile: the name written in the local header instead of `name`. */
  localName?: string;
  /** Hostile: what the headers claim instead of the truth. */
  crc32?: number;
  size?: number;
  /** Hostile: point the central entry at another entry's local header (index into the entries). */
  shareDataOf?: number;
  /** Raw name bytes (names that are not UTF-8); overrides `name` in both headers. */
  nameBytes?: Buffer;
  /** Hostile: a compression method number written as is, over data stored as is. */
  rawMethod?: number;
}

export interface ZipOptions {
  comment?: string;
  /** Bytes before the first local header (a self-extractor stub). */
  prefix?: Buffer;
}

const DOS_TIME = 0x6000; // 12:00:00
const DOS_DATE = 0x5821; // 2024-01-01

export function buildZip(entries: ZipEntrySpec[], opts: ZipOptions = {}): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    offset += b.length;
  };
  if (opts.prefix) push(opts.prefix);
  const central: Buffer[] = [];
  const offsets: number[] = [];
  const metas: { crc: number; comp: number; size: number; method: number; name: Buffer; flags: number; mode: number }[] = [];
  for (const e of entries) {
    const isDir = e.name.endsWith('/');
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
    const method = e.rawMethod ?? (isDir ? 0 : e.method === 'store' ? 0 : 8);
    const body = method === 8 && e.rawMethod === undefined ? deflateRawSync(data) : data;
    const crc = e.crc32 ?? crc32(data) >>> 0;
    const size = e.size ?? data.length;
    const name = e.nameBytes ?? Buffer.from(e.name, 'utf8');
    const localName = e.localName !== undefined ? Buffer.from(e.localName, 'utf8') : name;
    const flags = (e.nameBytes ? 0 : 0x0800) | (e.flags ?? 0);
    const mode = e.mode ?? (isDir ? 0o040755 : 0o100644);
    offsets.push(offset);
    metas.push({ crc, comp: body.length, size, method, name, flags, mode });
    if (e.shareDataOf !== undefined) continue; // no local record of its own
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt16LE(DOS_TIME, 10);
    lh.writeUInt16LE(DOS_DATE, 12);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(localName.length, 26);
    lh.writeUInt16LE(0, 28);
    push(lh);
    push(localName);
    push(body);
  }
  entries.forEach((e, i) => {
    const m = metas[i]!;
    const shared = e.shareDataOf;
    const src = shared !== undefined ? metas[shared]! : m;
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, spec 2.0
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(m.flags, 8);
    ch.writeUInt16LE(src.method, 10);
    ch.writeUInt16LE(DOS_TIME, 12);
    ch.writeUInt16LE(DOS_DATE, 14);
    ch.writeUInt32LE(src.crc, 16);
    ch.writeUInt32LE(src.comp, 20);
    ch.writeUInt32LE(shared !== undefined ? src.size : m.size, 24);
    ch.writeUInt16LE(m.name.length, 28);
    ch.writeUInt16LE(0, 30);
    ch.writeUInt16LE(0, 32);
    ch.writeUInt16LE(0, 34);
    ch.writeUInt16LE(0, 36);
    ch.writeUInt32LE((m.mode << 16) >>> 0, 38);
    ch.writeUInt32LE(shared !== undefined ? offsets[shared]! : offsets[i]!, 42);
    central.push(ch, m.name);
  });
  const cdStart = offset;
  for (const c of central) push(c);
  const cdSize = offset - cdStart;
  const comment = Buffer.from(opts.comment ?? '', 'utf8');
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(0, 4);
  eocd.writeUInt16LE(0, 6);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(cdStart, 16);
  eocd.writeUInt16LE(comment.length, 20);
  push(eocd);
  push(comment);
  return Buffer.concat(parts);
}
