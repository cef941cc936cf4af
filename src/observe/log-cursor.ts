// Tails one log file for the live agent: each call returns only the complete
// lines written since the last call, and survives rotation (rename or
// copytruncate) without losing the rotated file's last lines.
import { open, readdir, lstat, type FileHandle } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { isMissing } from './files.js';
import { LineSplitter, MAX_LINE_BYTES } from './log-lines.js';

/** What a cursor remembers of its file; enough to resume after a restart. */
export interface LogCursorState {
  dev: number;
  ino: number;
  /** Start of the first line not yet returned. */
  offset: number;
  /** SHA-256 (hex) of the file's first headLen bytes: tells a truncated-and-rewritten file apart. */
  headHash: string;
  headLen: number;
}

export interface LogCursorOptions {
  /** Where to begin in a file already present at the first read. Default 'start'. */
  from?: 'start' | 'end';
  maxLineBytes?: number;
  /** Bytes read per call at most; `hasMore` says when a call stopped early. Default 1 MiB. */
  maxBytesPerRead?: number;
  /** Names in the same folder that may hold the rotated file. Default: the file's name plus a suffix. */
  siblingPattern?: RegExp;
  /** Resume from a snapshot(). */
  state?: LogCursorState;
}

const CHUNK = 64 * 1024;
const HEAD_BYTES = 256;
// Bytes just before the offset, re-read with each append: if they changed, the
// file was truncated and rewritten past our offset between two calls.
const TAIL_BYTES = 64;

interface Tracked {
  dev: number;
  ino: number;
  /** Bytes consumed (the splitter holds those of an unfinished line). */
  offset: number;
  head: Buffer;
  /** Set after a restore: the head must match before the offset can be trusted. */
  headCheck?: { hash: string; len: number };
  tail: Buffer;
  splitter: LineSplitter;
}

// A rotated file still being finished, found again by inode or, after a
// copytruncate, by its head.
interface Draining {
  find: { ino: number; dev: number } | { headHash: string; headLen: number; notIno: number };
  offset: number;
  splitter: LineSplitter;
}

function hash(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

async function openRegular(path: string): Promise<{ fh: FileHandle; st: Stats } | null> {
  let fh: FileHandle;
  try {
    // O_NONBLOCK: a FIFO must not hang us; O_NOFOLLOW: a link is not the log (ELOOP), as for a FIFO.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') return null;
    throw err;
  }
  const st = await fh.stat().catch(async (err) => {
    await fh.close();
    throw err;
  });
  if (!st.isFile()) {
    await fh.close();
    return null;
  }
  return { fh, st };
}

export class LogCursor {
  private cur: Tracked | null = null;
  private drain: Draining | null = null;
  private firstSight = true;
  private more = false;
  private busy = false;
  private readonly from: 'start' | 'end';
  private readonly maxLineBytes: number;
  private readonly maxBytesPerRead: number;
  private readonly siblingPattern: RegExp;
  private readonly buf = Buffer.allocUnsafe(CHUNK);

  private counts = { bytesRead: 0, rotations: 0, rotationsMissed: 0 };
  private mtime: number | undefined;

  constructor(readonly path: string, opts: LogCursorOptions = {}) {
    this.from = opts.from ?? 'start';
    this.maxLineBytes = opts.maxLineBytes ?? MAX_LINE_BYTES;
    this.maxBytesPerRead = Math.max(1, opts.maxBytesPerRead ?? 1024 * 1024);
    const base = basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.siblingPattern = opts.siblingPattern ?? new RegExp(`^${base}.+$`);
    if (opts.state) {
      const s = opts.state;
      this.cur = {
        dev: s.dev,
        ino: s.ino,
        offset: s.offset,
        head: Buffer.alloc(0),
        headCheck: { hash: s.headHash, len: s.headLen },
        tail: Buffer.alloc(0),
        splitter: new LineSplitter(this.maxLineBytes),
      };
      this.firstSight = false;
    }
  }

  /** Every byte read from disk, heads and tails included. */
  get bytesRead(): number {
    return this.counts.bytesRead;
  }

  /** Rotations and truncations noticed. */
  get rotations(): number {
    return this.counts.rotations;
  }

  /** Rotated files that were gone (deleted, compressed) before they could be finished. */
  get rotationsMissed(): number {
    return this.counts.rotationsMissed;
  }

  /**
   * The file's mtime when the last readNew() opened it (undefined when it was
   * not there): an upper bound on when the lines it returned were written.
   */
  get mtimeMs(): number | undefined {
    return this.mtime;
  }

  /** True when the last readNew() stopped at maxBytesPerRead with bytes left. */
  get hasMore(): boolean {
    return this.more;
  }

  /**
   * What to persist. While a rotated file is still being finished this is the
   * rotated file's state, so a restart finishes it first.
   */
  snapshot(): LogCursorState | null {
    const d = this.drain;
    if (d && 'ino' in d.find) {
      // Head unknown for a draining file; an empty head always matches.
      const { ino, dev } = d.find;
      return { dev, ino, offset: d.offset - d.splitter.pendingBytes, headHash: hash(Buffer.alloc(0)), headLen: 0 };
    }
    const c = this.cur;
    if (!c) return null;
    const head = c.headCheck ?? { hash: hash(c.head), len: c.head.length };
    return { dev: c.dev, ino: c.ino, offset: c.offset - c.splitter.pendingBytes, headHash: head.hash, headLen: head.len };
  }

  /** Complete lines written since the last call, oldest first. One call at a time. */
  async readNew(): Promise<string[]> {
    // Two overlapping reads would hand out the same bytes twice.
    if (this.busy) throw new Error(`LogCursor.readNew is already running for ${this.path}`);
    this.busy = true;
    try {
      return await this.readOnce();
    } finally {
      this.busy = false;
    }
  }

  private async readOnce(): Promise<string[]> {
    const out: string[] = [];
    const budget = { left: this.maxBytesPerRead };
    // 'end' applies to a file present at the first call; one created later is read whole.
    const atEnd = this.firstSight && this.from === 'end';
    this.firstSight = false;
    this.more = false;
    this.mtime = undefined;
    if (this.drain && !(await this.finishDrain(out, budget))) return out;

    const opened = await openRegular(this.path);
    if (!opened) {
      // Gone: rotated away and not yet recreated, most likely.
      if (this.cur) {
        this.startDrain({ ino: this.cur.ino, dev: this.cur.dev });
        await this.finishDrain(out, budget);
      }
      return out;
    }
    const { fh, st } = opened;
    this.mtime = st.mtimeMs;
    try {
      let c = this.cur;
      if (c && (c.dev !== st.dev || c.ino !== st.ino)) {
        this.startDrain({ ino: c.ino, dev: c.dev });
        c = null;
        if (!(await this.finishDrain(out, budget))) return out;
      }
      if (c?.headCheck && !(await this.headMatches(fh, c.headCheck))) c = this.truncated(c);
      else if (c?.headCheck) {
        c.head = await this.readAt(fh, 0, Math.min(HEAD_BYTES, st.size));
        delete c.headCheck;
      }
      if (c && st.size < c.offset) c = this.truncated(c);
      if (this.drain && !(await this.finishDrain(out, budget))) return out;

      if (!c) c = await this.track(fh, st, atEnd);
      this.cur = c;
      await this.readCurrent(fh, st, c, out, budget);
      return out;
    } finally {
      await fh.close();
    }
  }

  private async track(fh: FileHandle, st: Stats, atEnd: boolean): Promise<Tracked> {
    const c: Tracked = {
      dev: st.dev,
      ino: st.ino,
      offset: atEnd ? st.size : 0,
      head: Buffer.alloc(0),
      tail: Buffer.alloc(0),
      splitter: new LineSplitter(this.maxLineBytes),
    };
    if (atEnd && st.size > 0) {
      c.head = await this.readAt(fh, 0, Math.min(HEAD_BYTES, st.size));
      c.tail = await this.readAt(fh, Math.max(0, st.size - TAIL_BYTES), Math.min(TAIL_BYTES, st.size));
      // Starting mid-line: its rest is not a line of its own.
      if (c.tail[c.tail.length - 1] !== 0x0a) c.splitter.skipToNextLine();
    }
    return c;
  }

  private truncated(c: Tracked): null {
    const head = c.headCheck ?? { hash: hash(c.head), len: c.head.length };
    this.counts.rotations++;
    // copytruncate: the old content lives on in a copy that starts the same way.
    this.drain = { find: { headHash: head.hash, headLen: head.len, notIno: c.ino }, offset: c.offset, splitter: c.splitter };
    this.cur = null;
    return null;
  }

  private startDrain(find: { ino: number; dev: number }): void {
    const c = this.cur!;
    this.counts.rotations++;
    this.drain = { find, offset: c.offset, splitter: c.splitter };
    this.cur = null;
  }

  /** Finishes the rotated file. False when the budget ran out first. */
  private async finishDrain(out: string[], budget: { left: number }): Promise<boolean> {
    const d = this.drain!;
    const sibling = await this.findSibling(d);
    if (!sibling) {
      this.counts.rotationsMissed++;
      this.drain = null;
      return true;
    }
    const { fh, st } = sibling;
    try {
      d.find = { ino: st.ino, dev: st.dev };
      d.offset = await this.readRange(fh, d.offset, st.size, d.splitter, out, budget);
      if (d.offset < st.size) {
        this.more = true;
        return false;
      }
      d.splitter.flush((line) => out.push(line)); // a rotated file is complete
      this.drain = null;
      return true;
    } finally {
      await fh.close();
    }
  }

  private async findSibling(d: Draining): Promise<{ fh: FileHandle; st: Stats } | null> {
    const dir = dirname(this.path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    for (const name of names.filter((n) => this.siblingPattern.test(n)).sort()) {
      const p = join(dir, name);
      let ls: Stats;
      try {
        ls = await lstat(p);
      } catch (err) {
        if (isMissing(err)) continue;
        throw err;
      }
      if (!ls.isFile()) continue;
      const f = d.find;
      if ('ino' in f ? ls.ino !== f.ino || ls.dev !== f.dev : ls.ino === f.notIno || ls.size < d.offset) continue;
      const opened = await openRegular(p);
      if (!opened) continue;
      if (opened.st.ino === ls.ino && ('ino' in f || (await this.headMatches(opened.fh, { hash: f.headHash, len: f.headLen })))) {
        return opened;
      }
      await opened.fh.close();
    }
    return null;
  }

  private async readCurrent(fh: FileHandle, st: Stats, c: Tracked, out: string[], budget: { left: number }): Promise<void> {
    if (st.size <= c.offset) return;
    // Re-read the bytes before the offset: a file truncated and regrown between
    // two calls shows different bytes there.
    if (c.tail.length > 0) {
      const before = await this.readAt(fh, c.offset - c.tail.length, c.tail.length);
      if (!before.equals(c.tail)) {
        this.truncated(c);
        if (!(await this.finishDrain(out, budget))) return;
        const fresh = await this.track(fh, st, false);
        this.cur = fresh;
        return this.readCurrent(fh, st, fresh, out, budget);
      }
    }
    c.offset = await this.readRange(fh, c.offset, st.size, c.splitter, out, budget, c);
    if (c.offset < st.size) this.more = true;
  }

  /** Reads [from, end) within budget into the splitter; returns the new offset. */
  private async readRange(
    fh: FileHandle,
    from: number,
    end: number,
    splitter: LineSplitter,
    out: string[],
    budget: { left: number },
    track?: Tracked,
  ): Promise<number> {
    let pos = from;
    while (pos < end && budget.left > 0) {
      const want = Math.min(CHUNK, end - pos, budget.left);
      const { bytesRead } = await fh.read(this.buf, 0, want, pos);
      if (bytesRead === 0) break;
      this.counts.bytesRead += bytesRead;
      budget.left -= bytesRead;
      const chunk = this.buf.subarray(0, bytesRead);
      if (track) {
        if (pos < HEAD_BYTES && track.head.length === pos) {
          track.head = Buffer.concat([track.head, chunk.subarray(0, HEAD_BYTES - pos)]);
        }
        const joined = bytesRead >= TAIL_BYTES ? chunk : Buffer.concat([track.tail, chunk]);
        track.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_BYTES)));
      }
      splitter.push(chunk, (line) => out.push(line));
      pos += bytesRead;
    }
    return pos;
  }

  private async readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
    const b = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(b, got, len - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.counts.bytesRead += got;
    return b.subarray(0, got);
  }

  private async headMatches(fh: FileHandle, want: { hash: string; len: number }): Promise<boolean> {
    const head = await this.readAt(fh, 0, want.len);
    return head.length === want.len && hash(head) === want.hash;
  }
}
