// Two small rules every reader of a core follows the same way: which errors
// mean "not there" (as opposed to "there, but unreadable"), and how a path on
// disk becomes the root-relative POSIX path that findings and reports carry.
import { relative, sep } from 'node:path';

/** ENOENT or ENOTDIR: the file, or a folder on its way, is not there. Anything else is a problem to report. */
export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * The error's code (EACCES, EIO ...), else its message: what a FILE_UNREADABLE
 * finding carries as `actual`, so that a reader can tell "could not be read"
 * (a code) from "is not what it should be" (a finding without one).
 */
export function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : String((err as Error | null)?.message ?? err);
}

/** `abs` relative to `root`, with `/` separators whatever the platform. */
export function rootRelative(root: string, abs: string): string {
  return relative(root, abs).split(sep).join('/');
}

/** The root-relative path of `abs`, or null when it is the root itself or lies outside it. */
export function insideRoot(root: string, abs: string): string | null {
  const r = rootRelative(root, abs);
  return r === '' || r === '..' || r.startsWith('../') ? null : r;
}
