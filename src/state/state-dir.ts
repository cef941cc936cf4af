// The state folder, made ready before anything else runs: every way it can be
// unusable is said at once, in its own words, instead of surfacing later as a
// failed baseline write, a misread lock or an endless retry.
import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ensurePrivateDir } from './atomic.js';

/** What the state folder is called in messages: the flag, and the configuration key. */
const NAME = 'state folder';
const FIX = 'give another folder with --state (stateDir)';

function uid(): string {
  return process.getuid ? `uid ${process.getuid()}` : 'this user';
}

/** The nearest folder or file above `path` (or `path` itself) that exists, and what it is. */
async function nearestExisting(path: string): Promise<{ path: string; isDir: boolean } | null> {
  for (let p = path; ; p = dirname(p)) {
    try {
      const st = await lstat(p);
      return { path: p, isDir: st.isDirectory() };
    } catch {
      if (dirname(p) === p) return null;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

/** A sentence for an error met while making or probing the state folder `dir`. */
async function explain(dir: string, err: NodeJS.ErrnoException): Promise<string> {
  const code = err.code ?? 'error';
  const at = typeof err.path === 'string' ? err.path : dir;
  // A folder that mkdir could not make: the trouble is in the folder above it.
  const made = await exists(at);
  switch (code) {
    case 'EEXIST':
      return at === dir
        ? `${NAME} ${dir} is a file, not a folder: ${FIX}`
        : `${NAME} ${dir} cannot be made: ${at} is a file, not a folder; ${FIX}`;
    case 'ENOTDIR': {
      const above = await nearestExisting(dirname(at));
      const file = above && !above.isDir ? above.path : at;
      return `${NAME} ${dir} cannot be made: ${file} is a file, not a folder; ${FIX}`;
    }
    case 'EACCES':
      return made
        ? `${NAME} ${at === dir ? dir : `${dir}: ${at}`} is not writable by this user (${uid()}): run as the user that owns it, or ${FIX}`
        : `${NAME} ${dir} cannot be made: ${dirname(at)} is not writable by this user (${uid()}); ${FIX}`;
    case 'EROFS':
      return made
        ? `${NAME} ${dir} is on a read-only file system: ${FIX}`
        : `${NAME} ${dir} cannot be made: ${dirname(at)} is on a read-only file system; ${FIX}`;
    case 'ENOENT': {
      // mkdir answered ENOENT although the folder above exists: that file system takes no new folders.
      const above = await nearestExisting(dirname(at));
      return `${NAME} ${dir} cannot be made: ${above?.path ?? dirname(at)} does not take new folders (a virtual file system, like /proc); ${FIX}`;
    }
    case 'EPERM':
      return `${NAME} ${dir} cannot be made: the file system at ${dirname(at)} does not allow it (EPERM); ${FIX}`;
    case 'ENOSPC':
      return `${NAME} ${dir} cannot be made: no space left on the device; free some, or ${FIX}`;
    default:
      return `${NAME} ${dir} cannot be used: ${code}${err.message ? ` (${err.message})` : ''}; ${FIX}`;
  }
}

/**
 * Makes the state folder (0700, with any missing folders above it) and checks
 * that this process can write there. Resolves with null when it is ready, or
 * with a sentence saying what is wrong and what to do.
 */
export async function prepareStateDir(dir: string): Promise<string | null> {
  const target = resolve(dir);
  try {
    await ensurePrivateDir(target);
  } catch (err) {
    return explain(target, err as NodeJS.ErrnoException);
  }
  try {
    // W_OK says EROFS on a read-only mount, even for root.
    await access(target, constants.W_OK | constants.X_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return explain(target, Object.assign(e, { path: target }));
  }
  return null;
}
