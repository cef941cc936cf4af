// The core's root folder, checked before anything is observed: a root that
// does not exist or is a file is a mistake in the command or configuration,
// not a core whose deployment failed.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';

const FIX = "set --root (root in the configuration) to the core's file-system root: / on the device";

/** Why `root` cannot be a core's root, or null when it can be read. */
export async function rootProblem(root: string): Promise<string | null> {
  let isDir: boolean;
  try {
    isDir = (await stat(root)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `root ${root} does not exist: ${FIX}`;
    if (code === 'ENOTDIR') return `root ${root} is not a folder (a file is in its path): ${FIX}`;
    if (code === 'EACCES') return `root ${root} cannot be reached by this user (uid ${process.getuid?.() ?? '?'}): run as root`;
    return `root ${root} cannot be read: ${code ?? (err as Error).message}`;
  }
  if (!isDir) return `root ${root} is a file, not a folder: ${FIX}`;
  try {
    await access(root, constants.R_OK | constants.X_OK);
  } catch (err) {
    return `root ${root} is not readable by this user (uid ${process.getuid?.() ?? '?'}): run as root (${(err as NodeJS.ErrnoException).code ?? 'no access'})`;
  }
  return null;
}
