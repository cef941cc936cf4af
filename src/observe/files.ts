// Two small rules every reader of a core follows the same way: which errors
// mean "not there" (as opposed to "there, but unreadable"), and how a path on
// disk becomes the root-relative POSIX path that findings and reports carry.
import { relative, sep } from 'node:path';
import { InputRefusedError, readRegularText } from '../io/guarded-read.js';

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

/** A small file of the core read whole, or why not: for readers that turn each case into a record or a finding. */
export type DeviceText =
  | { state: 'ok'; text: string }
  | { state: 'missing' }
  | { state: 'unreadable'; code: string; reason: string }
  | { state: 'invalid'; reason: string };

/**
 * Reads a regular file of the core as UTF-8 through the guarded reader: a
 * link, FIFO, device or folder in its place, more than `maxBytes` or bytes that
 * are not UTF-8 are `invalid` (what the file is), an I/O error `unreadable`.
 */
export async function readDeviceText(abs: string, maxBytes: number): Promise<DeviceText> {
  try {
    return { state: 'ok', text: await readRegularText(abs, { maxBytes }) };
  } catch (err) {
    if (err instanceof InputRefusedError) return { state: 'invalid', reason: err.detail };
    if (isMissing(err)) return { state: 'missing' };
    const code = (err as NodeJS.ErrnoException | null)?.code;
    return { state: 'unreadable', code: typeof code === 'string' ? code : 'EIO', reason: (err as Error).message };
  }
}
