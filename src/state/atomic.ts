// Crash-safe file writes: a reader sees the old file or the new one, never a
// torn one, even after a power cut (write temp, fsync, rename, fsync folder).
// The state tree is private (folders 0700, files 0600) whatever the umask:
// baseline names carry group and version IDs, and reports say what is wrong.
import { chmod, open, rename, mkdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates a folder of the state tree, and the missing folders above it, as
 * 0700. A folder that already exists is left as it is: the state folder may
 * be one the user chose, and its parent is not ours.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  const target = resolve(dir);
  const first = await makeDirs(target);
  if (first === undefined) return;
  // mkdir's mode passes through the umask, which may take bits away (or add
  // none back): chmod says it exactly, on every folder mkdir made.
  for (let d = target; ; d = dirname(d)) {
    await chmod(d, PRIVATE_DIR_MODE);
    if (d === first || dirname(d) === d) break;
  }
}

/**
 * mkdir -p, one level at a time, each level tried at most twice; returns the
 * topmost folder it made. Node's own recursive mkdir retries without end
 * where a folder exists but refuses children with ENOENT (/proc, /sys): it
 * takes the ENOENT for a missing parent, finds the parent there, and tries
 * again. Here that second ENOENT is the answer, thrown as it is.
 */
async function makeDirs(target: string): Promise<string | undefined> {
  try {
    await mkdir(target, { mode: PRIVATE_DIR_MODE });
    return target;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await stat(target)).isDirectory()) return undefined;
      throw Object.assign(new Error(`EEXIST: ${target} exists and is not a folder`), { code: 'EEXIST', path: target });
    }
    const parent = dirname(target);
    if (code !== 'ENOENT' || parent === target) throw err;
    const first = await makeDirs(parent);
    try {
      await mkdir(target, { mode: PRIVATE_DIR_MODE });
    } catch (again) {
      // Made meanwhile by another process: fine, as a folder.
      if ((again as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(target)).isDirectory()) return first;
      throw again;
    }
    return first ?? target;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes all of data. A string is encoded by the write call itself, into
 * memory freed as the write completes: Buffer.from (what writeFile does) makes
 * a copy the garbage collector owns, and a running agent writes one per
 * report, which pile up in native memory between full collections.
 */
async function writeAll(fh: FileHandle, data: string | Uint8Array): Promise<void> {
  let bytes: Uint8Array;
  if (typeof data === 'string') {
    const { bytesWritten } = await fh.write(data, null, 'utf8');
    if (bytesWritten === Buffer.byteLength(data)) return;
    bytes = Buffer.from(data).subarray(bytesWritten); // a short write: the rest the plain way
  } else {
    bytes = data;
  }
  for (let off = 0; off < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off, null);
    if (bytesWritten === 0) throw new Error('write made no progress');
    off += bytesWritten;
  }
}

/**
 * Writes data to path atomically. `beforeRename` is a fault-injection point
 * for tests (called after the temp file is durable, before it is renamed).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { mode?: number; beforeRename?: () => void | Promise<void> } = {},
): Promise<void> {
  const dir = dirname(path);
  await ensurePrivateDir(dir);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const mode = opts.mode ?? PRIVATE_FILE_MODE;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.chmod(mode); // the umask applied to open's mode
    await writeAll(fh, data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  if (opts.beforeRename) await opts.beforeRename();
  await rename(tmp, path);
  await fsyncDir(dir);
}

/** True for the temp files writeFileAtomic leaves behind when killed mid-write. */
export function isAtomicTemp(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}
