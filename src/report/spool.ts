// The durable report spool: every outbound message is on disk (atomic write,
// fsync) before anyone tries to send it, so a broker outage, a restart or a
// SIGKILL loses nothing. One file per entry; only a small index is in memory.
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InputRefusedError, readRegularText } from '../io/guarded-read.js';
import { ensurePrivateDir, writeFileAtomic, isAtomicTemp } from '../state/atomic.js';
import { silentLogger, type Logger } from '../log.js';
import type { MessageKind, OutboundMessage } from './transport.js';

export const DEFAULT_MAX_ENTRIES = 500;
export const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;

/** Sequence numbers are reserved in blocks, so the counter file is written once per block, not per append. */
const SEQ_BLOCK = 100;
const SEQ_FILE = 'next-seq';
const SEQ_DIGITS = 12;
const KINDS: readonly MessageKind[] = ['report', 'part', 'heartbeat', 'shadow'];
const ENTRY_NAME = /^(\d{12})\.(report|part|heartbeat|shadow)\.json$/;

/** What the index keeps per entry: no payload, so memory stays bounded. */
export interface SpoolEntry {
  spoolSeq: number;
  kind: MessageKind;
  /** Size of the entry file. */
  bytes: number;
}

/** An entry file's content. */
export interface SpoolRecord {
  spoolSeq: number;
  /** ISO 8601 time of the append. */
  enqueuedAt: string;
  message: OutboundMessage;
}

export interface SpoolOptions {
  maxEntries?: number;
  maxBytes?: number;
  logger?: Logger;
  /** Clock for enqueuedAt. */
  now?: () => Date;
  /** Fault injection for tests: called inside each entry write, after the temp file is durable, before rename. */
  faults?: { beforeRename?: () => void | Promise<void> };
}

export interface Spool {
  readonly dir: string;
  /** Writes the message durably, then indexes it; resolves only after fsync. */
  append(message: OutboundMessage): Promise<SpoolEntry>;
  /** The oldest entry. */
  peek(): SpoolEntry | undefined;
  /** Reads an entry's record from disk; undefined (and forgotten) if it vanished or is unreadable. */
  read(spoolSeq: number): Promise<SpoolRecord | undefined>;
  /** Forgets and deletes an entry; a no-op for an unknown one. */
  remove(spoolSeq: number): Promise<void>;
  readonly size: { entries: number; bytes: number };
  /** Entries dropped to stay within bounds since open. */
  readonly dropped: number;
  /** A copy of the index, oldest first. */
  entries(): SpoolEntry[];
}

export function entryFileName(spoolSeq: number, kind: MessageKind): string {
  return `${String(spoolSeq).padStart(SEQ_DIGITS, '0')}.${kind}.json`;
}

export function parseEntryFileName(name: string): { spoolSeq: number; kind: MessageKind } | undefined {
  const m = ENTRY_NAME.exec(name);
  if (!m) return undefined;
  return { spoolSeq: Number(m[1]), kind: m[2] as MessageKind };
}

function isMessage(v: unknown): v is OutboundMessage {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    typeof m.topic === 'string' &&
    m.topic.length > 0 &&
    typeof m.payload === 'string' &&
    (m.qos === 0 || m.qos === 1) &&
    (m.retain === undefined || typeof m.retain === 'boolean') &&
    KINDS.includes(m.kind as MessageKind)
  );
}

/** Parses an entry file; undefined unless it is well formed and agrees with its name. */
export function parseRecord(text: string, expected: { spoolSeq: number; kind: MessageKind }): SpoolRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (r.spoolSeq !== expected.spoolSeq || typeof r.enqueuedAt !== 'string' || !isMessage(r.message)) return undefined;
  if (r.message.kind !== expected.kind) return undefined;
  return { spoolSeq: r.spoolSeq, enqueuedAt: r.enqueuedAt, message: r.message };
}

/**
 * Which entries to drop (oldest first within each group) to get back within
 * bounds: heartbeats, then shadow updates, then reports and parts. The newest
 * 'report' and the `keep` entry (the one just appended) are never chosen, so
 * the bound can be exceeded when nothing else is left to drop.
 */
export function chooseDrops(
  index: readonly SpoolEntry[],
  limits: { maxEntries: number; maxBytes: number },
  keep?: number,
): number[] {
  let count = index.length;
  let bytes = index.reduce((s, e) => s + e.bytes, 0);
  const over = () => count > limits.maxEntries || bytes > limits.maxBytes;
  if (!over()) return [];
  let newestReport: number | undefined;
  for (const e of index) if (e.kind === 'report') newestReport = e.spoolSeq;
  const groups: readonly (readonly MessageKind[])[] = [['heartbeat'], ['shadow'], ['report', 'part']];
  const drops: number[] = [];
  for (const group of groups) {
    for (const e of index) {
      if (!over()) return drops;
      if (!group.includes(e.kind) || e.spoolSeq === keep || e.spoolSeq === newestReport) continue;
      drops.push(e.spoolSeq);
      count -= 1;
      bytes -= e.bytes;
    }
  }
  return drops;
}

class FileSpool implements Spool {
  // Insertion order is sequence order: appends are serialised and increasing.
  private readonly index = new Map<number, SpoolEntry>();
  private bytes = 0;
  private droppedCount = 0;
  private nextSeq: number;
  /** Every sequence below this is covered by the counter file. */
  private reserved: number;
  // Appends run one at a time so entries enter the index in sequence order.
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly opts: Required<Omit<SpoolOptions, 'faults'>> & Pick<SpoolOptions, 'faults'>,
    nextSeq: number,
    loaded: SpoolEntry[],
  ) {
    this.nextSeq = nextSeq;
    this.reserved = nextSeq;
    for (const e of loaded) this.put(e);
  }

  get size() {
    return { entries: this.index.size, bytes: this.bytes };
  }

  get dropped() {
    return this.droppedCount;
  }

  entries(): SpoolEntry[] {
    return [...this.index.values()].map((e) => ({ ...e }));
  }

  peek(): SpoolEntry | undefined {
    const first = this.index.values().next();
    return first.done ? undefined : { ...first.value };
  }

  append(message: OutboundMessage): Promise<SpoolEntry> {
    const run = this.tail.then(() => this.appendNow(message));
    this.tail = run.catch(() => {});
    return run;
  }

  private async appendNow(message: OutboundMessage): Promise<SpoolEntry> {
    const spoolSeq = this.nextSeq;
    const record: SpoolRecord = { spoolSeq, enqueuedAt: this.opts.now().toISOString(), message };
    const text = JSON.stringify(record);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.opts.maxBytes) {
      throw new RangeError(`spool entry of ${bytes} bytes exceeds the spool bound of ${this.opts.maxBytes} bytes`);
    }
    if (spoolSeq >= this.reserved) {
      // Persist the reservation before the sequence is used: after a restart
      // the counter is at least every sequence ever handed out.
      const reserved = spoolSeq + SEQ_BLOCK;
      await writeFileAtomic(join(this.dir, SEQ_FILE), `${reserved}\n`);
      this.reserved = reserved;
    }
    this.nextSeq = spoolSeq + 1; // consumed even if the write fails: never reused
    await writeFileAtomic(join(this.dir, entryFileName(spoolSeq, message.kind)), text, {
      beforeRename: this.opts.faults?.beforeRename,
    });
    const entry: SpoolEntry = { spoolSeq, kind: message.kind, bytes };
    this.put(entry);
    await this.enforceBounds(spoolSeq);
    return { ...entry };
  }

  /** Drops entries beyond the bounds; `keep` is never dropped. */
  async enforceBounds(keep?: number): Promise<void> {
    if (this.index.size <= this.opts.maxEntries && this.bytes <= this.opts.maxBytes) return;
    const drops = chooseDrops([...this.index.values()], this.opts, keep);
    if (drops.length === 0) return;
    const byKind: Partial<Record<MessageKind, number>> = {};
    for (const seq of drops) {
      const e = this.index.get(seq);
      if (!e) continue;
      byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
      await this.remove(seq);
      this.droppedCount += 1;
    }
    this.opts.logger.warn('spool full: dropped entries', { dropped: drops.length, ...byKind, spoolDir: this.dir });
  }

  async read(spoolSeq: number): Promise<SpoolRecord | undefined> {
    const e = this.index.get(spoolSeq);
    if (!e) return undefined;
    const path = join(this.dir, entryFileName(spoolSeq, e.kind));
    let text: string;
    try {
      // Into a kept buffer: a fresh one per read is native memory freed only at the next full collection.
      text = await readRegularText(path, { maxBytes: this.opts.maxBytes });
    } catch (err) {
      if (err instanceof InputRefusedError) {
        // Not a regular file, too large or not UTF-8: never ours to send.
        this.opts.logger.warn('spool entry refused, deleted', { spoolSeq, reason: err.detail });
        await this.remove(spoolSeq);
        return undefined;
      }
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (this.index.has(spoolSeq)) {
        this.forget(spoolSeq);
        this.opts.logger.warn('spool entry vanished', { spoolSeq });
      }
      return undefined;
    }
    const record = parseRecord(text, e);
    if (!record) {
      this.opts.logger.warn('spool entry unreadable, deleted', { spoolSeq });
      await this.remove(spoolSeq);
    }
    return record;
  }

  async remove(spoolSeq: number): Promise<void> {
    const e = this.index.get(spoolSeq);
    if (!e) return;
    // Forget first so peek() moves on at once. No directory fsync: if a power
    // cut undoes the unlink, the entry is re-sent with the same spoolSeq, which
    // a receiver recognises as a duplicate.
    this.forget(spoolSeq);
    await unlink(join(this.dir, entryFileName(spoolSeq, e.kind))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  private put(e: SpoolEntry): void {
    this.index.set(e.spoolSeq, e);
    this.bytes += e.bytes;
  }

  private forget(spoolSeq: number): void {
    const e = this.index.get(spoolSeq);
    if (!e) return;
    this.index.delete(spoolSeq);
    this.bytes -= e.bytes;
  }
}

async function readCounter(dir: string, logger: Logger): Promise<number> {
  let text: string;
  try {
    text = await readFile(join(dir, SEQ_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < 0) {
    logger.warn('spool sequence counter unreadable, using the entries alone', { spoolDir: dir });
    return 0;
  }
  return n;
}

/**
 * Opens (creating if needed) the spool in `dir`: removes temp files left by a
 * killed write, deletes entries that do not parse, and restores the sequence.
 */
export async function openSpool(dir: string, options: SpoolOptions = {}): Promise<Spool> {
  const opts = {
    maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    logger: options.logger ?? silentLogger(),
    now: options.now ?? (() => new Date()),
    faults: options.faults,
  };
  if (!(Number.isSafeInteger(opts.maxEntries) && opts.maxEntries > 0)) throw new RangeError('maxEntries must be a positive integer');
  if (!(Number.isSafeInteger(opts.maxBytes) && opts.maxBytes > 0)) throw new RangeError('maxBytes must be a positive integer');
  await ensurePrivateDir(dir);

  const names = (await readdir(dir)).sort(); // zero-padded names sort in sequence order
  const loaded: SpoolEntry[] = [];
  let highest = 0;
  let garbage = 0;
  for (const name of names) {
    if (isAtomicTemp(name)) {
      await unlink(join(dir, name)).catch(() => {});
      continue;
    }
    const id = parseEntryFileName(name);
    if (!id) continue;
    // Even a garbage entry's sequence was handed out once: count it.
    highest = Math.max(highest, id.spoolSeq);
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    if (!parseRecord(text, id)) {
      garbage += 1;
      opts.logger.warn('spool entry unreadable, deleted', { file: name });
      await unlink(join(dir, name)).catch(() => {});
      continue;
    }
    loaded.push({ ...id, bytes: Buffer.byteLength(text) });
  }
  const counter = await readCounter(dir, opts.logger);
  const nextSeq = Math.max(1, highest + 1, counter);
  const spool = new FileSpool(dir, opts, nextSeq, loaded);
  // Bounds may have shrunk since the last run.
  await spool.enforceBounds();
  opts.logger.debug('spool opened', { spoolDir: dir, entries: loaded.length, garbage, nextSeq });
  return spool;
}
