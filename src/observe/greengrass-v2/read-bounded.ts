// Reads a small file the nucleus wrote (a recipe, deployment metadata) whole,
// refusing anything that is not a regular file or is larger than it should
// be. Never follows a final symlink and never blocks on a FIFO swapped in.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export type BoundedRead =
  | { state: 'ok'; text: string; size: number }
  | { state: 'missing' }
  | { state: 'unreadable'; code: string; reason: string }
  | { state: 'invalid'; reason: string };

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function codeOf(err: unknown): string {
  const c = (err as NodeJS.ErrnoException | null)?.code;
  return typeof c === 'string' ? c : 'EIO';
}

export async function readBounded(abs: string, maxBytes: number): Promise<BoundedRead> {
  let fh;
  try {
    fh = await open(abs, FLAGS);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    if (code === 'ELOOP') return { state: 'invalid', reason: 'is a symbolic link' };
    return { state: 'unreadable', code, reason: (err as Error).message };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { state: 'invalid', reason: 'not a regular file' };
    if (st.size > maxBytes) return { state: 'invalid', reason: `larger than ${maxBytes} bytes (${st.size})` };
    // One byte more than allowed tells a file that grew since the stat.
    const buf = Buffer.allocUnsafe(Math.min(maxBytes, st.size) + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    if (got > maxBytes) return { state: 'invalid', reason: `larger than ${maxBytes} bytes (grew while read)` };
    const bytes = buf.subarray(0, got);
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    return { state: 'ok', text, size: got };
  } catch (err) {
    const code = codeOf(err);
    return { state: 'unreadable', code, reason: (err as Error).message };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
