// An advisory lock file shared by `verify` and a running agent. The holder's
// pid is inside; a lock whose pid is dead is stale and taken over.
import { open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readRegularFile } from '../io/guarded-read.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './atomic.js';

// Locks this process holds: a lock file naming our own pid that is not in
// here was left by an earlier process that had the same pid (containers).
const heldHere = new Set<string>();

export class LockBusyError extends Error {
  constructor(readonly path: string, readonly holder: number) {
    super(`state is locked by process ${holder} (${path})`);
    this.name = 'LockBusyError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'wx', PRIVATE_FILE_MODE);
    await fh.chmod(PRIVATE_FILE_MODE); // whatever the umask took away
    await fh.writeFile(String(process.pid));
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

export interface Lock {
  release(): Promise<void>;
}

/**
 * Takes the lock, waiting up to `waitMs` for a live holder to let go.
 * Waiting is a short sleep between tries: the holder's critical sections are
 * brief (one baseline write), so an inotify watch would cost more than it saves.
 */
export async function acquireLock(path: string, opts: { waitMs?: number; retryMs?: number } = {}): Promise<Lock> {
  const waitMs = opts.waitMs ?? 10_000;
  const retryMs = opts.retryMs ?? 50;
  const deadline = Date.now() + waitMs;
  await ensurePrivateDir(dirname(path));
  for (;;) {
    if (await tryCreate(path)) {
      heldHere.add(path);
      return {
        release: async () => {
          heldHere.delete(path);
          await unlink(path).catch(() => {});
        },
      };
    }
    // A pid is a few digits; anything that is not a small regular file reads as torn.
    const text = await readRegularFile(path, { maxBytes: 64 }).then((b) => b.toString('utf8'), () => '');
    const holder = Number.parseInt(text, 10);
    if (!Number.isFinite(holder) || holder <= 0 || (holder === process.pid ? !heldHere.has(path) : !alive(holder))) {
      // Stale (dead holder, or a torn write): remove and retry at once.
      await unlink(path).catch(() => {});
      continue;
    }
    if (Date.now() >= deadline) throw new LockBusyError(path, holder);
    await new Promise((r) => setTimeout(r, retryMs));
  }
}

export async function withLock<T>(path: string, fn: () => Promise<T>, opts?: { waitMs?: number }): Promise<T> {
  const lock = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
