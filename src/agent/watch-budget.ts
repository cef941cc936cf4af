// How many inotify watches watching would take, and how many we may take.
// Every Greengrass component of one user shares the per-user limit, so we
// count before watching instead of finding out through ENOSPC.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Folders at and below `paths` (each costs one watch: files are seen through their folder), counting no further than `limit`. */
export async function countWatches(paths: string[], limit: number): Promise<number> {
  let n = 0;
  const walk = async (dir: string): Promise<void> => {
    if (n > limit) return;
    let ents;
    try {
      ents = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    n += 1;
    for (const e of ents) {
      if (n > limit) return;
      if (e.isDirectory()) await walk(join(dir, e.name));
    }
  };
  for (const p of paths) await walk(p);
  return n;
}

/** The kernel's per-user inotify watch limit, or null where there is none to read. */
export async function maxUserWatches(path = '/proc/sys/fs/inotify/max_user_watches'): Promise<number | null> {
  try {
    const n = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}
