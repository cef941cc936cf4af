// Reads a flow-*.tar.gz once, never extracting: one read stream feeds the
// whole-file SHA-256 and a gunzip whose output goes to our own tar reader
// (tar-reader.ts). We gunzip ourselves so that every decompressed byte is
// counted against the limits, and read the tar stream ourselves so that an
// archive is read the way the tool that unpacks it reads it, or refused.
//
// The archive must be a regular file. It is lstat'ed before it is opened
// (opening a device node can act on the device), opened without following a
// link and without blocking (a FIFO swapped in meanwhile must not hang the
// open), and fstat'ed again: a link, FIFO, socket, device or folder where a
// flow archive is expected is RESOURCE_CORRUPT, never skipped.
import { createHash, type Hash } from 'node:crypto';
import { constants as fsc, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from '../config/layout.js';
import { finding } from '../model/findings.js';
import { entryLimitBreach, FindingCap, streamLimitBreach, unsafeEntryReason } from './archive-safety.js';
import { NodeTarCrossCheck } from './tar-crosscheck.js';
import { TarReader, type TarEntryInfo, type TarSink } from './tar-reader.js';
import type { ArchiveEntry, ArchiveInspection } from '../model/observation.js';

const READ_CHUNK = 64 * 1024;
/** Pax and GNU long-name records above this are not legitimate flow archives. */
const MAX_META_ENTRY_BYTES = 64 * 1024;
const GZIP_MAGIC = [0x1f, 0x8b];

export interface InspectOptions {
  limits?: ArchiveLimits;
  /** node-tar also hashes every file's content, compared with ours (default false: sizes and framing only). */
  nodeTarDigests?: boolean;
}

/** Inspects one archive. Never throws for problems with the archive itself: they become findings. */
export async function inspectArchive(
  absPath: string,
  relPath: string,
  opts: InspectOptions = {},
): Promise<ArchiveInspection> {
  const limits = opts.limits ?? DEFAULT_ARCHIVE_LIMITS;
  const out: ArchiveInspection = {
    path: relPath,
    size: 0,
    sha256: null,
    entryCount: 0,
    totalBytes: 0,
    entries: [],
    findings: [],
  };
  const unreadable = (message: string, err?: unknown): ArchiveInspection => {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    out.findings.push(finding('FILE_UNREADABLE', message, { path: relPath, actual: code }));
    return out;
  };

  const notAFile = (st: Stats | null): ArchiveInspection => {
    const what = st ? kindOf(st) : 'a symbolic link';
    out.findings.push(
      finding('RESOURCE_CORRUPT', `archive is ${what}, not a regular file`, { path: relPath, actual: what }),
    );
    return out;
  };

  let before: Stats;
  try {
    before = await lstat(absPath);
  } catch (err) {
    return unreadable(`archive cannot be read: ${errText(err)}`, err);
  }
  if (!before.isFile()) return notAFile(before);
  let fh: FileHandle;
  try {
    fh = await open(absPath, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return notAFile(null);
    return unreadable(`archive cannot be opened: ${errText(err)}`, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return notAFile(st);
    if (st.ino !== before.ino || st.dev !== before.dev) return unreadable('archive was replaced while being opened');
    out.size = st.size;
    const scan = new ArchiveScan(relPath, st.size, limits, out, opts.nodeTarDigests ?? false);
    const fileHash = createHash('sha256');
    let read = 0;
    try {
      for await (const chunk of fh.createReadStream({ highWaterMark: READ_CHUNK, autoClose: false })) {
        const buf = chunk as Buffer;
        fileHash.update(buf);
        read += buf.length;
        await scan.push(buf);
        if (scan.stopped) break;
      }
    } catch (err) {
      scan.abandon();
      return unreadable(`archive could not be read: ${errText(err)}`, err);
    }
    await scan.end();
    if (!scan.stopped) {
      out.sha256 = fileHash.digest('hex');
      if (read !== st.size) {
        out.findings.push(
          finding('FILE_UNREADABLE', 'archive changed size while being read', {
            path: relPath,
            expected: st.size,
            actual: read,
          }),
        );
        out.size = read;
      }
    }
    return out;
  } catch (err) {
    return unreadable(`archive could not be inspected: ${errText(err)}`, err);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** The state of one pass over an archive: gunzip, tar reader, counters, findings. */
class ArchiveScan implements TarSink {
  stopped = false;
  private gzip: 'unknown' | 'yes' | 'no' = 'unknown';
  private gunzip?: Gunzip;
  private gunzipDead = false;
  private readonly tar: TarReader;
  private tarDead = false;
  /** node-tar reading the same bytes: any difference from our reader is RESOURCE_CORRUPT. */
  private readonly second: NodeTarCrossCheck;
  private headChecked = false;
  private head: Buffer = Buffer.alloc(0);
  private streamBytes = 0;
  private fileBytes = 0;
  /** Offset in the file of the last non-zero byte read: what may trail the gzip stream is zeros. */
  private lastNonZero = -1;
  private current?: { rec: ArchiveEntry; hash: Hash; got: number };
  private collected = false;
  private readonly unsafeCap: FindingCap;
  private readonly corruptCap: FindingCap;

  constructor(
    relPath: string,
    private readonly fileSize: number,
    private readonly limits: ArchiveLimits,
    private readonly out: ArchiveInspection,
    digests: boolean,
  ) {
    this.unsafeCap = new FindingCap('UNSAFE_ARCHIVE_ENTRY', relPath, 'unsafe entries');
    this.corruptCap = new FindingCap('RESOURCE_CORRUPT', relPath, 'archive errors');
    this.tar = new TarReader(this, { maxMetaBytes: MAX_META_ENTRY_BYTES });
    this.second = new NodeTarCrossCheck({ maxMetaBytes: MAX_META_ENTRY_BYTES, digests });
  }

  /** Takes the next chunk of the file; resolves when the gunzip can take more. */
  async push(chunk: Buffer): Promise<void> {
    this.noteTail(chunk);
    if (this.gzip === 'unknown') this.start(chunk);
    const gz = this.gunzip;
    if (!gz || this.gunzipDead || this.stopped) return;
    if (!gz.write(chunk)) await drained(gz);
  }

  /** The whole file was read: flush the gunzip and the reader, then judge the ending. */
  async end(): Promise<void> {
    if (this.gzip === 'unknown') this.start(Buffer.alloc(0));
    const gz = this.gunzip;
    if (gz && !this.gunzipDead && !this.stopped) {
      gz.end();
      await finished(gz).catch(() => undefined);
    }
    if (gz && !this.gunzipDead && !this.stopped) {
      if (!this.tarDead) this.tar.end();
      // Our reader read the stream whole (or refused it, which stopped the comparison).
      this.second.end();
      // zlib stops at a zero byte after a gzip member and ignores the rest;
      // gzip(1) warns about it and tar then fails: only zeros may trail.
      if (this.lastNonZero >= gz.bytesWritten) {
        this.corruptCap.add('data after the end of the gzip stream', {
          actual: { gzipBytes: gz.bytesWritten, fileBytes: this.fileBytes },
        });
      }
    }
    this.abandon();
  }

  /** Drops the gunzip (early stop or read error); collects the findings. */
  abandon(): void {
    this.gunzip?.destroy();
    this.gunzipDead = true;
    if (!this.collected) {
      this.collected = true;
      const d = this.second.disagreement;
      if (d) {
        const at = d.entry === null ? '' : ` at entry ${d.entry}${d.path === null ? '' : ` (${JSON.stringify(d.path).slice(0, 120)})`}`;
        this.corruptCap.add(`node-tar reads the archive differently${at}: ${d.what}`, { actual: { reader: 'node-tar', ...d } });
      }
      this.second.stop();
      this.out.findings.push(...this.corruptCap.findings(), ...this.unsafeCap.findings());
    }
  }

  // TarSink: what the reader finds.

  entry(info: TarEntryInfo): boolean {
    if (this.stopped) return false;
    this.out.entryCount++;
    this.out.totalBytes += info.size;
    const breach = entryLimitBreach(info.path, this.out.entryCount, this.out.totalBytes, this.limits);
    if (breach) {
      this.stop(breach, info.path);
      return false;
    }
    const rec: ArchiveEntry = { path: info.path, type: info.type, size: info.size, mode: info.mode };
    this.out.entries.push(rec);
    this.second.ours({
      path: info.path,
      typeflag: info.typeflag,
      size: info.size,
      get sha256() {
        return rec.sha256;
      },
    });
    const why = info.nameProblem ?? unsafeEntryReason(info.path, info.type, info.typeflag);
    if (why) this.unsafeCap.add(`unsafe archive entry (${why}): ${JSON.stringify(info.path)}`, { actual: info.path });
    if (info.type !== 'file') return false;
    this.current = { rec, hash: createHash('sha256'), got: 0 };
    return true;
  }

  data(chunk: Buffer): void {
    const c = this.current;
    if (!c) return;
    c.hash.update(chunk);
    c.got += chunk.length;
  }

  entryEnd(complete: boolean): void {
    const c = this.current;
    this.current = undefined;
    // A truncated entry ends early; its digest would be of a fragment.
    if (c && complete && c.got === c.rec.size) c.rec.sha256 = c.hash.digest('hex');
  }

  unsafe(message: string): void {
    if (!this.stopped) this.unsafeCap.add(`unsafe archive entry: ${message}`);
  }

  corrupt(message: string): void {
    // Our reader stops at the first: the archive is refused, there is nothing left to compare.
    this.second.stop();
    if (!this.stopped) this.corruptCap.add(message);
  }

  private start(first: Buffer): void {
    if (first.length < 2 || first[0] !== GZIP_MAGIC[0] || first[1] !== GZIP_MAGIC[1]) {
      this.gzip = 'no';
      this.second.stop();
      this.corruptCap.add('not a gzip file');
      return;
    }
    this.gzip = 'yes';
    const gz = createGunzip();
    gz.on('data', (c: Buffer) => this.onTarBytes(c));
    gz.on('error', (err) => {
      if (this.gunzipDead) return;
      this.gunzipDead = true;
      this.second.stop();
      this.corruptCap.add(`gzip stream is damaged: ${errText(err)}`, { actual: { code: zlibCode(err) } });
    });
    this.gunzip = gz;
  }

  private noteTail(chunk: Buffer): void {
    for (let i = chunk.length - 1; i >= 0; i--) {
      if (chunk[i] !== 0) {
        this.lastNonZero = this.fileBytes + i;
        break;
      }
    }
    this.fileBytes += chunk.length;
  }

  private onTarBytes(chunk: Buffer): void {
    if (this.stopped || this.gunzipDead) return;
    this.streamBytes += chunk.length;
    const breach = streamLimitBreach(this.streamBytes, this.fileSize, this.limits);
    if (breach) return this.stop(breach);
    if (!this.headChecked) {
      // gzip-in-gzip: some parsers unwrap a second layer by themselves (node-tar does); tar tools do not.
      // The first two bytes of the stream may come in two chunks.
      this.head = this.head.length === 0 ? chunk.subarray(0, 2) : Buffer.concat([this.head, chunk.subarray(0, 1)]);
      if (this.head.length >= 2) {
        this.headChecked = true;
        if (this.head[0] === GZIP_MAGIC[0] && this.head[1] === GZIP_MAGIC[1]) {
          this.tarDead = true;
          this.tar.stop();
          this.second.stop();
          this.corruptCap.add('gzip holds another gzip stream, not a tar stream');
        }
      }
    }
    this.tar.write(chunk);
    this.second.write(chunk);
  }

  /** A limit tripped: record it and stop all further work on this archive. */
  private stop(reason: string, entry?: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.tar.stop();
    this.second.stop();
    this.corruptCap.add(`archive exceeds a limit: ${reason}`, entry ? { actual: entry } : {});
  }
}

/** Resolves when a writable drains, or can no longer drain. */
function drained(s: Gunzip): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('error', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('error', done);
    s.on('close', done);
  });
}

/** What a non-regular file is, for a finding. */
function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'an unknown kind of file';
}

function zlibCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
