// Reads a flow-*.tar.gz once, never extracting: one read stream feeds the
// whole-file SHA-256 and a gunzip whose output goes to node-tar's parser.
// We gunzip ourselves (not the parser) so that every decompressed byte is
// counted against the limits and nothing is handed to the parser after the
// end-of-archive marker (node-tar buffers such bytes without bound).
import { createHash, type Hash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from '../config/layout.js';
import { finding, type Finding } from '../model/findings.js';
import {
  entryLimitBreach,
  FindingCap,
  mapEntryType,
  streamLimitBreach,
  unsafeEntryReason,
} from './archive-safety.js';
import type { ArchiveEntry, ArchiveInspection } from '../model/observation.js';

const READ_CHUNK = 64 * 1024;
/** Pax and GNU long-name records above this are not legitimate flow archives. */
const MAX_META_ENTRY_BYTES = 64 * 1024;
const GZIP_MAGIC = [0x1f, 0x8b];

export interface InspectOptions {
  limits?: ArchiveLimits;
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

  let fh: FileHandle;
  try {
    // O_NONBLOCK: a FIFO put in the archive's place must not hang the open.
    fh = await open(absPath, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    return unreadable(`archive cannot be opened: ${errText(err)}`, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return unreadable('archive is not a regular file');
    out.size = st.size;
    const scan = new ArchiveScan(relPath, st.size, limits, out);
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

/** The state of one pass over an archive: gunzip, tar parser, counters, findings. */
class ArchiveScan {
  stopped = false;
  private gzip: 'unknown' | 'yes' | 'no' = 'unknown';
  private gunzip?: Gunzip;
  private gunzipDead = false;
  private parser?: Parser;
  private parserDead = false;
  private parserDone = false;
  private sawEof = false;
  private headChecked = false;
  private streamBytes = 0;
  private collected = false;
  private readonly unsafe: FindingCap;
  private readonly corrupt: FindingCap;

  constructor(
    relPath: string,
    private readonly fileSize: number,
    private readonly limits: ArchiveLimits,
    private readonly out: ArchiveInspection,
  ) {
    this.unsafe = new FindingCap('UNSAFE_ARCHIVE_ENTRY', relPath, 'unsafe entries');
    this.corrupt = new FindingCap('RESOURCE_CORRUPT', relPath, 'archive errors');
  }

  /** Takes the next chunk of the file; resolves when the gunzip can take more. */
  async push(chunk: Buffer): Promise<void> {
    if (this.gzip === 'unknown') this.start(chunk);
    const gz = this.gunzip;
    if (!gz || this.gunzipDead || this.stopped) return;
    if (!gz.write(chunk)) await drained(gz);
  }

  /** The whole file was read: flush the gunzip and the parser, then judge the ending. */
  async end(): Promise<void> {
    if (this.gzip === 'unknown') this.start(Buffer.alloc(0));
    const gz = this.gunzip;
    if (gz && !this.gunzipDead && !this.stopped) {
      gz.end();
      await finished(gz).catch(() => undefined);
    }
    if (!this.gunzipDead && !this.parserDead && !this.stopped && this.parser) {
      this.guard(() => this.parser?.end());
      if (!this.parserDone && !this.parserDead) this.corrupt.add('archive parser did not reach the end');
      if (!this.sawEof && this.corrupt.count === 0) {
        this.corrupt.add('tar stream ends without the end-of-archive marker (truncated)');
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
      this.out.findings.push(...this.corrupt.findings(), ...this.unsafe.findings());
    }
  }

  private start(first: Buffer): void {
    if (first.length < 2 || first[0] !== GZIP_MAGIC[0] || first[1] !== GZIP_MAGIC[1]) {
      this.gzip = 'no';
      this.corrupt.add('not a gzip file');
      return;
    }
    this.gzip = 'yes';
    const gz = createGunzip();
    gz.on('data', (c: Buffer) => this.onTarBytes(c));
    gz.on('error', (err) => {
      if (this.gunzipDead) return;
      this.gunzipDead = true;
      this.corrupt.add(`gzip stream is damaged: ${errText(err)}`, { actual: { code: zlibCode(err) } });
    });
    this.gunzip = gz;
    this.parser = new Parser({
      // Never let the parser decompress on its own: only plain tar reaches it.
      zstd: false,
      brotli: false,
      maxMetaEntrySize: MAX_META_ENTRY_BYTES,
      onReadEntry: (e) => this.onEntry(e),
      onwarn: (code, message, data) => this.onWarn(code, message, data as Record<string, unknown>),
    });
    this.parser.on('eof', () => {
      this.sawEof = true;
    });
    this.parser.on('end', () => {
      this.parserDone = true;
    });
    this.parser.on('error', (err: Error) => {
      this.parserDead = true;
      this.corrupt.add(`tar stream is damaged: ${errText(err)}`);
    });
    this.parser.on('ignoredEntry', (e: ReadEntry) => this.onIgnored(e));
  }

  private onTarBytes(chunk: Buffer): void {
    if (this.stopped || this.gunzipDead) return;
    this.streamBytes += chunk.length;
    const breach = streamLimitBreach(this.streamBytes, this.fileSize, this.limits);
    if (breach) return this.stop(breach);
    if (!this.headChecked && chunk.length > 0) {
      this.headChecked = true;
      // The parser would gunzip a second layer by itself; tar tools would not.
      if (chunk.length >= 2 && chunk[0] === GZIP_MAGIC[0] && chunk[1] === GZIP_MAGIC[1]) {
        this.parserDead = true;
        this.corrupt.add('gzip holds another gzip stream, not a tar stream');
      }
    }
    // After the end-of-archive marker, bytes are counted but not parsed.
    if (this.parserDead || this.sawEof) return;
    this.guard(() => this.parser?.write(chunk));
  }

  private onEntry(e: ReadEntry): void {
    const type = mapEntryType(e.type);
    const path = String(e.path);
    if (this.stopped) {
      e.resume();
      return;
    }
    this.out.entryCount++;
    this.out.totalBytes += e.size;
    const breach = entryLimitBreach(path, this.out.entryCount, this.out.totalBytes, this.limits);
    if (breach) {
      e.resume();
      return this.stop(breach, path);
    }
    const rec: ArchiveEntry = { path, type, size: e.size, mode: e.mode ?? 0 };
    this.out.entries.push(rec);
    const why = unsafeEntryReason(path, type);
    if (why) this.unsafe.add(`unsafe archive entry (${why}): ${path}`, { actual: path });
    if (type !== 'file') {
      e.resume();
      return;
    }
    const h: Hash = createHash('sha256');
    let got = 0;
    e.on('data', (c: Buffer) => {
      h.update(c);
      got += c.length;
    });
    e.on('end', () => {
      // A truncated entry ends early; its digest would be of a fragment.
      if (got === e.size) rec.sha256 = h.digest('hex');
    });
  }

  /** Entries node-tar skips: unknown types (recorded as 'other') and oversized metadata. */
  private onIgnored(e: ReadEntry): void {
    if (this.stopped) return;
    if (e.meta) {
      this.corrupt.add(`oversized ${e.type} record (${e.size} bytes)`, { actual: String(e.path) });
      return;
    }
    this.out.entryCount++;
    this.out.totalBytes += e.size;
    const path = String(e.path);
    const breach = entryLimitBreach(path, this.out.entryCount, this.out.totalBytes, this.limits);
    if (breach) return this.stop(breach, path);
    this.out.entries.push({ path, type: 'other', size: e.size, mode: e.mode ?? 0 });
    const why = unsafeEntryReason(path, 'other');
    if (why) this.unsafe.add(`unsafe archive entry (${why}): ${path}`, { actual: path });
  }

  private onWarn(code: string, message: string, data: Record<string, unknown>): void {
    if (this.stopped) return;
    const entry = entryPathOf(data);
    this.corrupt.add(`tar stream is damaged: ${code}: ${message}${entry ? ` (entry ${entry})` : ''}`, {
      actual: entry ? { code, entry } : { code },
    });
  }

  /** A limit tripped: record it and stop all further work on this archive. */
  private stop(reason: string, entry?: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.corrupt.add(`archive exceeds a limit: ${reason}`, entry ? { actual: entry } : {});
  }

  private guard(fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      this.parserDead = true;
      this.corrupt.add(`tar stream is damaged: ${errText(err)}`);
    }
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

function entryPathOf(data: Record<string, unknown>): string | undefined {
  for (const k of ['entry', 'header'] as const) {
    const v = data[k] as { path?: unknown } | undefined;
    if (v && typeof v.path === 'string') return v.path;
  }
  return undefined;
}

function zlibCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
