// A streaming tar reader for flow archives: plain tar bytes in, entries and
// their content out, never a file written. It reads headers itself (see
// tar-header.ts) rather than through a general-purpose parser, because a
// verifier must read an archive exactly as the tool that unpacks it, and
// refuse what two tools could read in two ways.
//
// Framing: a header block, the entry's content padded to 512 bytes, the next
// header; two zero blocks end the archive and only zeros may follow them.
// Metadata records (pax `x`, GNU `L` and `K`) apply to the next entry only,
// at most one of each kind, and must agree with it:
// - a pax `size` equals the header's size (a reader that ignores pax frames
//   the archive by the header);
// - a pax `path` and a GNU long name never both name one entry (GNU tar
//   takes the pax path, node-tar the long name);
// - the name in the header after an `L` record is the start of the long name
//   (GNU tar and Python write it that way; anything else names another file
//   for a reader without long-name support);
// - link names only on links;
// - no multi-byte character past a record's first block (node-tar decodes a
//   record piece by piece, so its reading would depend on how the stream is cut).
// Once framing is in doubt the reader stops: what follows could be read as
// data by one tool and as headers by another.
import type { EntryType } from '../model/observation.js';
import { mapEntryType } from './archive-safety.js';
import {
  BLOCK,
  decodeUtf8,
  headerPath,
  isZeroBlock,
  paxRecordVerdict,
  parseLongName,
  parsePax,
  readHeader,
  splitSensitiveRecord,
  type TarHeader,
} from './tar-header.js';

export interface TarEntryInfo {
  /** The entry's path as the unpacking tool sees it (lossy UTF-8 when nameProblem is set). */
  path: string;
  typeflag: string;
  type: EntryType;
  size: number;
  mode: number;
  /** The name's bytes are not usable as a name (not UTF-8). */
  nameProblem?: string;
}

/** Where the reader sends what it finds. Calls are synchronous, in archive order. */
export interface TarSink {
  /** An entry begins; return true to receive its content (regular files only). */
  entry(info: TarEntryInfo): boolean;
  data(chunk: Buffer): void;
  /** The content of an entry that was received ended; `complete` is false when the stream ended inside it. */
  entryEnd(complete: boolean): void;
  /** Well-formed, but not something a flow archive may hold. */
  unsafe(message: string): void;
  /** Damaged, ambiguous or truncated: reading stops at the first one. */
  corrupt(message: string): void;
}

export interface TarReaderOptions {
  /** Largest pax or long-name record accepted. */
  maxMetaBytes: number;
}

type Mode = 'header' | 'meta' | 'body' | 'skip' | 'eof' | 'dead';

interface Pending {
  pax?: Map<string, string>;
  longName?: Buffer;
  longLink?: Buffer;
}

const ZEROS = Buffer.alloc(64 * 1024);

const padOf = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

function startsWith(whole: Buffer, start: Buffer): boolean {
  return start.length <= whole.length && whole.compare(start, 0, start.length, 0, start.length) === 0;
}

export class TarReader {
  private mode: Mode = 'header';
  private readonly headerBuf = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Bytes of content, record or padding left in the current mode. */
  private remaining = 0;
  private padAfter = 0;
  private metaKind: 'x' | 'L' | 'K' = 'x';
  private metaBuf: Buffer = Buffer.alloc(0);
  private metaFill = 0;
  private pending: Pending = {};
  private zeroBlock = false;
  private receiving = false;
  private ended = false;

  constructor(
    private readonly sink: TarSink,
    private readonly opts: TarReaderOptions,
  ) {}

  /** Both zero blocks of the end-of-archive marker were read. */
  get sawEnd(): boolean {
    return this.ended;
  }

  /** Stops reading for good (a limit tripped, the caller gave up). */
  stop(): void {
    this.mode = 'dead';
  }

  write(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      switch (this.mode) {
        case 'dead':
          return;
        case 'header': {
          let block: Buffer;
          if (this.headerFill === 0 && chunk.length - off >= BLOCK) {
            block = chunk.subarray(off, off + BLOCK);
            off += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.headerFill, chunk.length - off);
            chunk.copy(this.headerBuf, this.headerFill, off, off + n);
            this.headerFill += n;
            off += n;
            if (this.headerFill < BLOCK) return;
            this.headerFill = 0;
            block = this.headerBuf;
          }
          this.onHeader(block);
          break;
        }
        case 'body': {
          const n = Math.min(this.remaining, chunk.length - off);
          if (this.receiving) this.sink.data(chunk.subarray(off, off + n));
          this.remaining -= n;
          off += n;
          if (this.remaining === 0) this.endBody();
          break;
        }
        case 'meta': {
          const n = Math.min(this.remaining, chunk.length - off);
          chunk.copy(this.metaBuf, this.metaFill, off, off + n);
          this.metaFill += n;
          this.remaining -= n;
          off += n;
          if (this.remaining === 0) this.onMeta();
          break;
        }
        case 'skip': {
          const n = Math.min(this.remaining, chunk.length - off);
          this.remaining -= n;
          off += n;
          if (this.remaining === 0) this.mode = 'header';
          break;
        }
        case 'eof': {
          while (off < chunk.length) {
            const n = Math.min(ZEROS.length, chunk.length - off);
            if (chunk.compare(ZEROS, 0, n, off, off + n) !== 0) {
              this.fail('data after the end-of-archive marker (a reader that skips zero blocks sees more entries)');
              return;
            }
            off += n;
          }
          break;
        }
      }
    }
  }

  /** The stream ended: judge where it stopped. */
  end(): void {
    switch (this.mode) {
      case 'dead':
      case 'eof':
        return;
      case 'body':
        if (this.receiving) this.sink.entryEnd(false);
        return this.fail('tar stream is truncated inside an entry');
      case 'meta':
      case 'skip':
        return this.fail('tar stream is truncated inside a record');
      case 'header':
        if (this.headerFill > 0) return this.fail('tar stream is truncated inside a header');
        if (this.hasPending()) return this.fail('tar stream ends after a pax or long-name record, with no entry');
        return this.fail('tar stream ends without the end-of-archive marker (truncated)');
    }
  }

  private fail(message: string): void {
    if (this.mode === 'dead') return;
    this.mode = 'dead';
    this.sink.corrupt(message);
  }

  private hasPending(): boolean {
    const p = this.pending;
    return p.pax !== undefined || p.longName !== undefined || p.longLink !== undefined;
  }

  private skip(n: number): void {
    if (n === 0) {
      this.mode = 'header';
    } else {
      this.mode = 'skip';
      this.remaining = n;
    }
  }

  private onHeader(block: Buffer): void {
    if (isZeroBlock(block)) {
      if (this.hasPending()) return this.fail('a pax or long-name record is followed by the end of the archive, not an entry');
      if (this.zeroBlock) {
        this.mode = 'eof';
        this.ended = true;
      }
      this.zeroBlock = true;
      return;
    }
    // GNU tar stops at a lone zero block, node-tar reads on past it.
    if (this.zeroBlock) return this.fail('a lone zero block inside the archive (readers disagree on what follows it)');
    const parsed = readHeader(block);
    if (!parsed.ok) return this.fail(parsed.problem);
    const h = parsed.value;
    switch (h.typeflag) {
      case 'x':
        if (this.pending.pax) return this.fail('two pax headers for one entry');
        return this.startMeta('x', h.size, 'pax header');
      case 'L':
        if (this.pending.longName) return this.fail('two GNU long names for one entry');
        return this.startMeta('L', h.size, 'GNU long-name');
      case 'K':
        if (this.pending.longLink) return this.fail('two GNU long link names for one entry');
        return this.startMeta('K', h.size, 'GNU long-link');
      case 'g':
        // Its records would apply to every entry after it, in ways readers do not share.
        this.sink.unsafe('global pax header (it changes every entry after it)');
        return this.skip(h.size + padOf(h.size));
      default:
        return this.onEntry(h);
    }
  }

  private startMeta(kind: 'x' | 'L' | 'K', size: number, what: string): void {
    if (size > this.opts.maxMetaBytes) return this.fail(`oversized ${what} record (${size} bytes)`);
    this.metaKind = kind;
    this.metaBuf = Buffer.alloc(size);
    this.metaFill = 0;
    this.remaining = size;
    this.padAfter = padOf(size);
    this.mode = 'meta';
    if (size === 0) this.onMeta();
  }

  private onMeta(): void {
    const body = this.metaBuf;
    this.metaBuf = Buffer.alloc(0);
    const split = splitSensitiveRecord(body);
    if (split) return this.fail(split);
    if (this.metaKind === 'x') {
      const pax = parsePax(body);
      if (!pax.ok) return this.fail(pax.problem);
      for (const [k, v] of pax.value) {
        const verdict = paxRecordVerdict(k, v);
        if (verdict?.kind === 'corrupt') return this.fail(verdict.problem);
        if (verdict) this.sink.unsafe(verdict.problem);
      }
      this.pending.pax = pax.value;
    } else {
      const what = this.metaKind === 'L' ? 'GNU long-name' : 'GNU long-link';
      const name = parseLongName(body, what);
      if (!name.ok) return this.fail(name.problem);
      if (this.metaKind === 'L') this.pending.longName = name.value;
      else this.pending.longLink = name.value;
    }
    this.skip(this.padAfter);
  }

  private onEntry(h: TarHeader): void {
    const { pax, longName, longLink } = this.pending;
    this.pending = {};
    const type = mapEntryType(h.typeflag);
    const isLink = type === 'symlink' || type === 'hardlink';

    const paxSize = pax?.get('size');
    if (paxSize !== undefined && Number(paxSize) !== h.size) {
      return this.fail(`pax size ${paxSize} disagrees with the header's size ${h.size}`);
    }
    const paxPath = pax?.get('path');
    if (paxPath !== undefined && longName) return this.fail('an entry named both by a pax path and by a GNU long name');
    const own = headerPath(h);
    if (longName && (own.length === 0 || !startsWith(longName, own))) {
      return this.fail('a GNU long name disagrees with the name in the header it belongs to');
    }
    if (!isLink && (longLink || pax?.has('linkpath') || h.linkname.length > 0)) {
      return this.fail('a link name on an entry that is not a link');
    }
    const pathBytes = paxPath !== undefined ? Buffer.from(paxPath, 'utf8') : (longName ?? own);
    if (pathBytes.length === 0) return this.fail('an entry without a name');
    const decoded = decodeUtf8(pathBytes);
    const path = decoded ?? pathBytes.toString('utf8');

    // Readers frame these differently: node-tar reads a folder as empty whatever
    // its size, and takes a "file" ending in / for a folder.
    if (type === 'directory' && h.size !== 0) return this.fail(`folder entry with ${h.size} bytes of content: ${path}`);
    if (type === 'file' && path.endsWith('/')) return this.fail(`file entry named like a folder: ${path}`);
    if ((isLink || type === 'device' || type === 'fifo') && h.size !== 0) {
      return this.fail(`${type} entry with ${h.size} bytes of content: ${path}`);
    }

    const info: TarEntryInfo = { path, typeflag: h.typeflag, type, size: h.size, mode: h.mode };
    if (decoded === null) info.nameProblem = 'name is not valid UTF-8';
    const wants = this.sink.entry(info);
    if (this.mode === 'dead') return;
    // A GNU sparse entry is followed by extension blocks only GNU tar frames.
    if (h.typeflag === 'S') {
      this.mode = 'dead';
      return;
    }
    if (type === 'file' && wants) {
      this.receiving = true;
      this.remaining = h.size;
      this.padAfter = padOf(h.size);
      this.mode = 'body';
      if (h.size === 0) this.endBody();
    } else {
      this.skip(h.size + padOf(h.size));
    }
  }

  private endBody(): void {
    if (this.receiving) this.sink.entryEnd(true);
    this.receiving = false;
    this.skip(this.padAfter);
  }
}
