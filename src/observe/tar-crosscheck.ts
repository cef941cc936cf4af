// node-tar as a second reader of every flow archive. The same decompressed
// bytes our reader (tar-reader.ts) reads go, in the same pass, through
// node-tar's Parser, the reader of the `tar` package that Node.js tools unpack
// with; what each saw is compared entry by entry:
//
//   order     the n-th entry of one is the n-th entry of the other
//   path      node-tar's path (its own decoding of name, prefix, pax path and
//             GNU long name) equals ours
//   type      node-tar's entry type is the one our typeflag names
//   size      the same
//   content   the bytes node-tar hands on for a file have our SHA-256
//             (optional: it hashes every byte a second time)
//   warnings  node-tar warns about nothing (a warning means it skipped or
//             re-read a header)
//
// The first difference is the answer: after it, the two readers frame the
// stream differently and everything else would differ too. Nothing is
// extracted, nothing written; node-tar's gzip sniffing is never reached (a tar
// stream that starts like gzip is a disagreement here, and refused by the
// caller first), zstd and brotli detection are off. node-tar is synchronous on plain tar input: every entry
// is consumed as it comes (counted, hashed or resumed), so it buffers at most
// a partial block and one metadata record.
//
// node-tar decodes a metadata record (pax, GNU long name) piece by piece as
// UTF-8 text, so its reading of a record with multi-byte characters past the
// first block depends on where its input was cut; our reader refuses such
// records (tar-header.ts, splitSensitiveRecord), so what is compared here
// decodes the same however the stream is cut.
import { createHash, type Hash } from 'node:crypto';
import { Parser, types, type ReadEntry } from 'tar';

/** What our reader saw of one entry. `sha256` is read when node-tar's copy of the content ends. */
export interface OurEntry {
  path: string;
  typeflag: string;
  size: number;
  sha256?: string;
}

export interface CrossCheckOptions {
  /** Largest metadata record node-tar reads (the same bound our reader applies). */
  maxMetaBytes: number;
  /** Also compare the SHA-256 of every file's content. */
  digests: boolean;
}

/** Where the two readers part, for a finding. */
export interface Disagreement {
  /** 1-based entry index, or null when the difference is not about one entry. */
  entry: number | null;
  path: string | null;
  what: string;
}

/** The node-tar type name our typeflag stands for ('\0' is an old-style file, which node-tar calls File). */
function nodeTarTypeOf(typeflag: string): string {
  const code = typeflag === '\0' ? '0' : typeflag;
  return (types.isCode(code) ? types.name.get(code) : undefined) ?? 'Unsupported';
}

/** A path in a message: quoted, and clipped (a hostile one can be 4 KiB of NULs). */
function quote(p: string): string {
  const q = JSON.stringify(p);
  return q.length > 120 ? `${q.slice(0, 117)}..."` : q;
}

function describe(e: { path: string; type: string; size: number }): string {
  return `${e.type} ${quote(e.path)} (${e.size} bytes)`;
}

export class NodeTarCrossCheck {
  private parser: Parser | null;
  /** Our entries not yet matched with node-tar's, oldest first. */
  private readonly pending: OurEntry[] = [];
  private compared = 0;
  private theirs = 0;
  private problem: Disagreement | null = null;
  private ended = false;
  /** The first bytes of the stream (to tell a gzip header), and a first byte held until the second comes. */
  private head: Buffer = Buffer.alloc(0);
  private first: Buffer | null = null;

  constructor(private readonly opts: CrossCheckOptions) {
    const p = new Parser({
      strict: false,
      brotli: false,
      zstd: false,
      maxMetaEntrySize: opts.maxMetaBytes,
      onwarn: (code: string, message: string) => this.onWarn(code, message),
    });
    p.on('entry', (e: ReadEntry) => this.onEntry(e, false));
    p.on('ignoredEntry', (e: ReadEntry) => this.onEntry(e, true));
    p.on('error', (err: Error) => this.differ(null, null, `node-tar fails: ${err.message}`));
    this.parser = p;
  }

  /** The first difference, or null while the readers agree. */
  get disagreement(): Disagreement | null {
    return this.problem;
  }

  /** Our reader saw an entry (in archive order). */
  ours(e: OurEntry): void {
    if (this.parser) this.pending.push(e);
  }

  /** The next bytes of the tar stream, as our reader got them. */
  write(chunk: Buffer): void {
    if (!this.parser || chunk.length === 0) return;
    if (this.head.length < 2) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, 2 - this.head.length)]);
      // node-tar would unwrap a gzip stream inside the gzip, asynchronously; no tar tool does.
      if (this.head[0] === 0x1f && (this.head.length < 2 || this.head[1] === 0x8b)) {
        if (this.head.length < 2) return this.holdFirst(chunk);
        return this.differ(null, null, 'node-tar would decompress the tar stream again: it starts like a gzip stream');
      }
      if (this.first) {
        const first = this.first;
        this.first = null;
        this.guard(() => this.parser?.write(first));
      }
    }
    this.guard(() => this.parser?.write(chunk));
  }

  /** The stream's first byte alone could start a gzip header: it waits for the second. */
  private holdFirst(chunk: Buffer): void {
    this.first = Buffer.from(chunk);
  }

  /** The stream ended and our reader read it whole: finish node-tar and compare what is left. */
  end(): void {
    if (!this.parser || this.ended) return;
    this.ended = true;
    const first = this.first;
    this.first = null;
    if (first) this.guard(() => this.parser?.write(first));
    this.guard(() => this.parser?.end());
    if (!this.parser) return;
    const left = this.pending[0];
    if (left) this.differ(this.compared + 1, left.path, `node-tar reads no entry here; deploy-witness reads ${describe({ ...left, type: nodeTarTypeOf(left.typeflag) })}`);
    this.stop();
  }

  /** Our reader stopped (damaged stream, a limit): the archive is refused already, the comparison ends. */
  stop(): void {
    this.parser?.removeAllListeners();
    // A late event from a parser we stopped listening to must not throw for want of a listener.
    this.parser?.on('error', () => undefined);
    this.parser = null;
    this.pending.length = 0;
  }

  /** node-tar is third-party code on hostile input: a throw is a reading we cannot share, not our crash. */
  private guard(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.differ(null, null, `node-tar fails: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private differ(entry: number | null, path: string | null, what: string): void {
    if (this.problem || !this.parser) return;
    this.problem = { entry, path, what };
    this.stop();
  }

  private onWarn(code: string, message: string): void {
    // node-tar calls an archive without entries unrecognised; so is it for us: an empty listing.
    if (code === 'TAR_BAD_ARCHIVE' && /Unrecognized archive format/.test(message) && this.theirs === 0 && this.compared === 0 && this.pending.length === 0) return;
    // The header node-tar could not read is the one after the entries it read.
    this.differ(this.theirs + 1, this.pending[0]?.path ?? null, `node-tar warns ${code}: ${message}`);
  }

  private onEntry(e: ReadEntry, ignored: boolean): void {
    // A metadata record node-tar skips for its size is one our reader refused already.
    if (ignored && e.meta) return;
    this.theirs++;
    const n = this.theirs;
    const mine = this.pending.shift();
    const theirs = { path: String(e.path), type: String(e.type), size: Number(e.size) };
    if (!mine) {
      e.resume();
      return this.differ(n, theirs.path, `node-tar reads ${describe(theirs)} where deploy-witness reads no entry`);
    }
    const expected = { path: mine.path, type: nodeTarTypeOf(mine.typeflag), size: mine.size };
    const diffs: string[] = [];
    if (theirs.path !== expected.path) diffs.push(`path ${quote(theirs.path)}`);
    if (theirs.type !== expected.type) diffs.push(`type ${theirs.type}`);
    if (theirs.size !== expected.size) diffs.push(`size ${theirs.size}`);
    if (diffs.length > 0) {
      e.resume();
      return this.differ(n, mine.path, `node-tar reads ${diffs.join(', ')} where deploy-witness reads ${describe(expected)}`);
    }
    this.compared++;
    const isFile = !ignored && (theirs.type === 'File' || theirs.type === 'OldFile' || theirs.type === 'ContiguousFile');
    if (!isFile) {
      e.resume();
      return;
    }
    // Counting what node-tar hands on costs nothing; hashing it again is the option.
    const hash: Hash | null = this.opts.digests ? createHash('sha256') : null;
    let got = 0;
    e.on('data', (c: Buffer) => {
      hash?.update(c);
      got += c.length;
    });
    e.on('end', () => {
      if (!this.parser) return;
      if (got !== mine.size) this.differ(n, mine.path, `node-tar hands on ${got} bytes of content where the entry has ${mine.size}`);
      else if (hash && mine.sha256 !== undefined && hash.digest('hex') !== mine.sha256) this.differ(n, mine.path, 'node-tar hands on other content (its SHA-256 differs)');
    });
  }
}
