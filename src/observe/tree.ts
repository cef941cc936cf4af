// Walks the deployed units under a root and digests every file in them.
// Symlinks are recorded, never followed. Names are handled as raw bytes for
// I/O (a name need not be valid UTF-8); keys are their UTF-8 decoding.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { lstat as lstatCb, type Dirent, type Stats } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { filePath, treeDigest, unitDigest } from '../model/digest.js';
import { finding, type Finding } from '../model/findings.js';
import { HashError, type FileHash, type Hasher } from './hash.js';
import type { FileDigest, TreeObservation, UnitDigest } from '../model/observation.js';

export interface TreeProgress {
  /** Entries digested so far (hashed or trusted). */
  files: number;
  /** Bytes actually read so far. */
  bytes: number;
  /** Known once listing is complete. */
  totalFiles?: number;
}

export interface HashTreeOptions {
  hasher: Hasher;
  /** Root-relative POSIX path; true skips the entry (and a folder's whole subtree). */
  exclude?: (rel: string) => boolean;
  /** The last digests, keyed by root-relative path. */
  previous?: Map<string, FileDigest>;
  /** Reuse a previous sha256 when size, mtime, ctime and inode are all unchanged. */
  trustUnchangedStat?: boolean;
  onProgress?: (p: TreeProgress) => void;
  signal?: AbortSignal;
}

const SLASH = Buffer.from('/');
/** Codes that say what the thing is (not a regular file), not that it could not be read. */
const NOT_A_FILE = new Set(['ENOTREG', 'EISDIR']);
const SYMLINK_PREFIX = Buffer.from('symlink\0');
const PROGRESS_EVERY = 256;

type Kind = 'dir' | 'file' | 'symlink' | 'fifo' | 'socket' | 'device' | 'unknown';

function kindOf(e: Dirent<Buffer> | Stats): Kind {
  if (e.isFile()) return 'file';
  if (e.isDirectory()) return 'dir';
  if (e.isSymbolicLink()) return 'symlink';
  if (e.isFIFO()) return 'fifo';
  if (e.isSocket()) return 'socket';
  if (e.isBlockDevice() || e.isCharacterDevice()) return 'device';
  return 'unknown';
}

/** Callback lstat: about twice the rate of fs/promises on a rescan, where it is most of the work. */
function lstat(p: Buffer): Promise<Stats> {
  return new Promise((resolve, reject) => lstatCb(p, (err, st) => (err ? reject(err) : resolve(st))));
}

function codeOf(err: unknown): string | undefined {
  const c = (err as NodeJS.ErrnoException | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function vanished(err: unknown): boolean {
  const c = codeOf(err);
  return c === 'ENOENT' || c === 'ENOTDIR';
}

/** A unit path made root-relative, or null when it would leave the root. */
export function normalizeUnitPath(p: string): string | null {
  if (p.includes('\0')) return null;
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) return null;
  return parts.join('/');
}

/** At most `limit` tasks at once; the first failure is rethrown to the producer. */
class TaskPool {
  private active = 0;
  private waiters: (() => void)[] = [];
  private failure: { err: unknown } | undefined;
  constructor(private readonly limit: number) {}

  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async run(task: () => Promise<void>): Promise<void> {
    while (this.active >= this.limit) await this.wait();
    if (this.failure) throw this.failure.err;
    this.active++;
    task()
      .catch((err) => {
        this.failure ??= { err };
      })
      .finally(() => {
        this.active--;
        const w = this.waiters;
        this.waiters = [];
        for (const wake of w) wake();
      });
  }

  /** Waits for everything in flight; rethrows the first failure. */
  async drain(): Promise<void> {
    while (this.active > 0) await this.wait();
    if (this.failure) throw this.failure.err;
  }

  /** Waits for everything in flight, ignoring failures (used on the way out). */
  async settle(): Promise<void> {
    while (this.active > 0) await this.wait();
  }
}

interface Unit {
  path: string;
  files: Record<string, FileDigest>;
}

class TreeWalk {
  readonly findings: Finding[] = [];
  filesHashed = 0;
  bytesHashed = 0;
  private done = 0;
  private listed = 0;
  private totalFiles: number | undefined;
  private readonly pool: TaskPool;
  private readonly root: Buffer;
  /** Follows opts.signal. Each queued hash listens on it, as many as the pool holds. */
  private readonly jobSignal: AbortSignal | undefined;
  private readonly unlink: () => void = () => {};

  constructor(
    root: string,
    private readonly opts: HashTreeOptions,
  ) {
    this.root = Buffer.from(root);
    const outer = opts.signal;
    if (outer) {
      const ctl = new AbortController();
      setMaxListeners(0, ctl.signal);
      const forward = () => ctl.abort(outer.reason);
      outer.addEventListener('abort', forward, { once: true });
      this.unlink = () => outer.removeEventListener('abort', forward);
      this.jobSignal = ctl.signal;
    }
    // Open files stay bounded by the hasher; the pool only bounds stats and queued jobs.
    this.pool = new TaskPool(Math.max(256, opts.hasher.concurrency * 64));
  }

  async unit(unitPath: string): Promise<Unit> {
    const unit: Unit = { path: unitPath, files: {} };
    const abs = unitPath === '' ? this.root : Buffer.concat([this.root, SLASH, Buffer.from(unitPath)]);
    let st: Stats;
    try {
      st = await lstat(abs);
    } catch (err) {
      // A missing unit is an empty unit: the verifier decides what that means.
      if (!vanished(err)) this.unreadable(unitPath, codeOf(err) ?? String(err));
      return unit;
    }
    const kind = kindOf(st);
    if (kind === 'dir') await this.walk(unit, abs);
    else await this.entry(unit, abs, '', kind);
    return unit;
  }

  async finish(): Promise<void> {
    this.totalFiles = this.listed;
    await this.pool.drain();
    this.progress(true);
  }

  async abandon(): Promise<void> {
    await this.pool.settle();
  }

  release(): void {
    this.unlink();
  }

  private async walk(unit: Unit, unitAbs: Buffer): Promise<void> {
    const stack: { abs: Buffer; key: string }[] = [{ abs: unitAbs, key: '' }];
    for (let dir = stack.pop(); dir; dir = stack.pop()) {
      let entries: Dirent<Buffer>[];
      try {
        entries = await readdir(dir.abs, { withFileTypes: true, encoding: 'buffer' });
      } catch (err) {
        if (!vanished(err)) this.unreadable(filePath(unit.path, dir.key), codeOf(err) ?? String(err));
        continue;
      }
      entries.sort((a, b) => Buffer.compare(a.name, b.name));
      const subdirs: { abs: Buffer; key: string }[] = [];
      for (const e of entries) {
        this.opts.signal?.throwIfAborted();
        const name = e.name.toString('utf8');
        const key = dir.key === '' ? name : `${dir.key}/${name}`;
        if (this.opts.exclude?.(filePath(unit.path, key))) continue;
        const abs = Buffer.concat([dir.abs, SLASH, e.name]);
        let kind = kindOf(e);
        if (kind === 'unknown') {
          // Some file systems do not report types in listings.
          try {
            kind = kindOf(await lstat(abs));
          } catch (err) {
            if (!vanished(err)) this.unreadable(filePath(unit.path, key), codeOf(err) ?? String(err));
            continue;
          }
        }
        if (kind === 'dir') subdirs.push({ abs, key });
        else await this.entry(unit, abs, key, kind);
      }
      // Reverse so folders are visited in name order.
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    }
  }

  /** Schedules one non-folder entry. */
  private async entry(unit: Unit, abs: Buffer, key: string, kind: Kind): Promise<void> {
    const rel = filePath(unit.path, key);
    this.opts.signal?.throwIfAborted();
    if (kind === 'file') {
      this.listed++;
      await this.pool.run(() => this.file(unit, abs, key, rel));
    } else if (kind === 'symlink') {
      this.listed++;
      await this.pool.run(() => this.symlink(unit, abs, key, rel));
    } else {
      this.findings.push(finding('FILE_UNREADABLE', `not a regular file (${kind}), left out of the digest`, { path: rel }));
    }
  }

  private async file(unit: Unit, abs: Buffer, key: string, rel: string): Promise<void> {
    const prev = this.opts.trustUnchangedStat ? this.opts.previous?.get(rel) : undefined;
    if (prev) {
      let st: Stats;
      try {
        st = await lstat(abs);
      } catch (err) {
        if (!vanished(err)) this.unreadable(rel, codeOf(err) ?? String(err));
        return;
      }
      if (st.isFile() && st.size === prev.size && st.mtimeMs === prev.mtimeMs && st.ctimeMs === prev.ctimeMs && st.ino === prev.ino) {
        this.record(unit, key, rel, { ...statFacts(st), sha256: prev.sha256 });
        return;
      }
    }
    let r: FileHash;
    try {
      r = await this.opts.hasher.hash(abs, this.jobSignal ? { signal: this.jobSignal } : {});
    } catch (err) {
      if (!(err instanceof HashError)) throw err;
      if (err.vanished) return; // gone since listing: the baseline comparison calls it missing
      if (err.code === 'ELOOP') return this.symlink(unit, abs, key, rel); // became a symlink
      this.unreadable(rel, err.code);
      return;
    }
    this.filesHashed++;
    this.bytesHashed += r.size;
    this.record(unit, key, rel, r);
  }

  private async symlink(unit: Unit, abs: Buffer, key: string, rel: string): Promise<void> {
    let st: Stats;
    let target: Buffer;
    try {
      st = await lstat(abs);
      target = await readlink(abs, { encoding: 'buffer' });
    } catch (err) {
      if (vanished(err)) return;
      this.unreadable(rel, codeOf(err) ?? String(err));
      return;
    }
    const sha256 = createHash('sha256').update(SYMLINK_PREFIX).update(target).digest('hex');
    this.record(unit, key, rel, { ...statFacts(st), sha256 });
  }

  private record(unit: Unit, key: string, rel: string, d: FileDigest): void {
    if (Object.hasOwn(unit.files, key)) {
      // Two names that are not valid UTF-8 can decode to one key.
      this.findings.push(finding('FILE_UNREADABLE', 'file name collides with another once decoded as UTF-8', { path: rel }));
    } else {
      // defineProperty, not assignment: a file named "__proto__" must become a key, not a prototype.
      Object.defineProperty(unit.files, key, {
        value: { sha256: d.sha256, size: d.size, mode: d.mode, mtimeMs: d.mtimeMs, ctimeMs: d.ctimeMs, ino: d.ino },
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    this.done++;
    if (this.done % PROGRESS_EVERY === 0) this.progress(false);
  }

  /**
   * A place that could not be read carries its error code as `actual`: what is
   * below it is not known, so the verdict draws no conclusion about it. A file
   * swapped for something else mid-walk (ENOTREG, EISDIR) was seen: no code.
   */
  private unreadable(rel: string, code: string): void {
    const seen = NOT_A_FILE.has(code);
    this.findings.push(finding('FILE_UNREADABLE', `cannot read (${code}), left out of the digest`, { path: rel, ...(seen ? {} : { actual: code }) }));
  }

  private progress(final: boolean): void {
    const cb = this.opts.onProgress;
    if (!cb) return;
    const p: TreeProgress = { files: this.done, bytes: this.bytesHashed };
    if (this.totalFiles !== undefined) p.totalFiles = this.totalFiles;
    else if (final) p.totalFiles = this.listed;
    cb(p);
  }
}

function statFacts(st: Stats): Omit<FileDigest, 'sha256'> {
  return { size: st.size, mode: st.mode, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
}

/**
 * Digests each unit under root: a folder (recursively) or a lone file. A
 * missing unit is an empty unit; files that vanish mid-walk are absent;
 * unreadable and special files become FILE_UNREADABLE findings.
 */
export async function hashTree(
  root: string,
  unitPaths: string[],
  opts: HashTreeOptions,
): Promise<{ tree: TreeObservation; findings: Finding[] }> {
  opts.signal?.throwIfAborted();
  const walk = new TreeWalk(root, opts);
  const paths = new Set<string>();
  for (const p of unitPaths) {
    const n = normalizeUnitPath(p);
    if (n === null) walk.findings.push(finding('FILE_UNREADABLE', 'unit path leaves the root, not hashed', { path: p.replace(/\0/g, '') }));
    else paths.add(n);
  }
  const sorted = [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const units: Unit[] = [];
  try {
    for (const p of sorted) units.push(await walk.unit(p));
    await walk.finish();
  } catch (err) {
    await walk.abandon();
    throw err;
  } finally {
    walk.release();
  }
  const digests: UnitDigest[] = units.map((u) => ({ path: u.path, digest: unitDigest(u.files), files: u.files }));
  return {
    tree: {
      units: digests,
      treeDigest: treeDigest(digests),
      filesHashed: walk.filesHashed,
      bytesHashed: walk.bytesHashed,
    },
    findings: walk.findings,
  };
}
