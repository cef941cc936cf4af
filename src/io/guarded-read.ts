// Reading a whole file when the file may be hostile. Two readers, one per kind
// of input:
//
// - readRegularFile, for files on the device (group.json, state files): only a
//   regular file is read. A FIFO, device, socket or folder is refused before
//   it is opened (opening one can block, or act: a tape rewinds, a serial line
//   drops), and again from the open descriptor, in case it was swapped in
//   between. No symbolic link is followed unless asked.
// - readNamedInput, for inputs a person names on the command line (--expect,
//   --config; `-` is standard input): a regular file or a pipe (`<(aws ...)`,
//   a FIFO, `cmd |`), under a deadline, so a FIFO nobody writes to ends in an
//   error instead of a wait without end. Devices are refused.
//
// Both enforce the size cap while reading: no more than the cap plus one
// chunk is ever held, whatever the file claims or turns out to be. Nothing
// here can park a libuv pool thread on a read that never returns (which would
// also hang the process's exit): descriptors are opened O_NONBLOCK, regular
// files are read in bounded chunks, and pipes are read through the event loop
// (a net.Socket over the descriptor, woken by epoll), never the thread pool.
import { close, constants, fstat, open, read, type Stats } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { isatty } from 'node:tty';
import { promisify } from 'node:util';

// Raw descriptors, not FileHandles: one may be handed to a net.Socket, and a
// FileHandle collected later would close the number again, by then maybe
// someone else's.
const openFd = promisify(open);
const fstatFd = promisify(fstat);
const closeFd = promisify(close);
const readFd = (fd: number, buf: Buffer, offset: number, length: number) =>
  new Promise<number>((res, rej) => read(fd, buf, offset, length, null, (err, n) => (err ? rej(err) : res(n))));

/** Bytes asked of the kernel per read: large enough to be cheap, small enough to overshoot the cap by little. */
export const READ_CHUNK = 64 * 1024;

export type RefusedKind =
  /** A FIFO, socket, device or folder where a file was expected. */
  | 'not-regular'
  /** A symbolic link where none was expected. */
  | 'symlink'
  /** More bytes than the cap. */
  | 'too-large'
  /** Did not end within the deadline. */
  | 'timeout'
  /** Not valid UTF-8. */
  | 'encoding';

/**
 * The input was refused for what it is, not for an I/O error (those stay
 * Node's errors, with their `code`). The message is the input's name, then
 * `detail` ("is a FIFO, not a regular file").
 */
export class InputRefusedError extends Error {
  override readonly name = 'InputRefusedError';
  constructor(
    readonly kind: RefusedKind,
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path} ${detail}`);
  }
}

type TypeBits = Pick<Stats, 'isFile' | 'isDirectory' | 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice' | 'isSymbolicLink'>;

/** What a stat says a path is, in words for a message. */
export function describeType(st: TypeBits): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function notRegular(name: string, st: TypeBits, wanted = 'a regular file'): InputRefusedError {
  return new InputRefusedError('not-regular', name, `is ${describeType(st)}, not ${wanted}`);
}

function tooLarge(name: string, maxBytes: number): InputRefusedError {
  return new InputRefusedError('too-large', name, `is larger than ${maxBytes} bytes`);
}

function timedOut(name: string, timeoutMs: number, what: string): InputRefusedError {
  return new InputRefusedError(
    'timeout',
    name,
    `did not end within ${timeoutMs / 1000} s: ${what} (is anything writing to it? to wait longer: --input-timeout SECONDS)`,
  );
}

// O_NONBLOCK: an open never waits (a FIFO with no writer would); O_NOCTTY: a
// terminal opened here never becomes the process's controlling terminal.
const BASE_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * Reads an open regular file from its current offset to EOF, in chunks, checking
 * the signal between them; more than maxBytes is refused as soon as it is seen.
 */
async function readCapped(
  fd: number,
  name: string,
  size: number,
  maxBytes: number,
  signal?: AbortSignal,
  scratch?: Buffer,
): Promise<Buffer> {
  // Sized for what the file says it holds (one byte more sees EOF), never for what it might grow to.
  const want = Math.min(maxBytes + 1, Math.max(size + 1, 1));
  let buf = scratch && scratch.length >= want ? scratch : Buffer.allocUnsafe(want);
  let used = 0;
  for (;;) {
    signal?.throwIfAborted();
    if (used === buf.length) {
      if (used > maxBytes) throw tooLarge(name, maxBytes);
      const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(used * 2, used + READ_CHUNK)));
      buf.copy(grown, 0, 0, used);
      buf = grown;
    }
    const n = await readFd(fd, buf, used, Math.min(READ_CHUNK, buf.length - used));
    if (n === 0) break;
    used += n;
  }
  if (used > maxBytes) throw tooLarge(name, maxBytes);
  return buf.subarray(0, used);
}

export interface RegularFileOptions {
  maxBytes: number;
  /** Follow a symbolic link at the path itself (folders above are always followed). Default false. */
  followLinks?: boolean;
  signal?: AbortSignal;
}

/**
 * Opens a regular file on the device, refusing what is not one (checked before
 * the open and on the descriptor) and what is larger than the cap. The caller
 * closes the descriptor.
 */
async function openRegular(path: string, opts: RegularFileOptions): Promise<{ fd: number; size: number }> {
  opts.signal?.throwIfAborted();
  const pre = await (opts.followLinks ? stat(path) : lstat(path));
  if (pre.isSymbolicLink()) throw new InputRefusedError('symlink', path, 'is a symbolic link, not a regular file');
  if (!pre.isFile()) throw notRegular(path, pre);
  const fd = await openFd(path, BASE_FLAGS | (opts.followLinks ? 0 : constants.O_NOFOLLOW));
  try {
    // What was opened, not what was listed: it may have been swapped since.
    const st = await fstatFd(fd);
    if (!st.isFile()) throw notRegular(path, st);
    if (st.size > opts.maxBytes) throw tooLarge(path, opts.maxBytes);
    return { fd, size: st.size };
  } catch (err) {
    await closeFd(fd);
    throw err;
  }
}

/**
 * The whole content of a regular file on the device. Throws InputRefusedError
 * for what is not one (or too large), and Node's error (ENOENT, EACCES ...) when
 * it cannot be opened or read.
 */
export async function readRegularFile(path: string, opts: RegularFileOptions): Promise<Buffer> {
  const { fd, size } = await openRegular(path, opts);
  try {
    return await readCapped(fd, path, size, opts.maxBytes, opts.signal);
  } finally {
    await closeFd(fd);
  }
}

/**
 * Read buffers kept for readRegularText: a small file read into a fresh Buffer
 * leaves native memory that the garbage collector frees only at its next full
 * collection, which a busy agent may reach only every few minutes.
 */
const SCRATCH_BYTES = 64 * 1024;
const MAX_SPARE = 4;
const spare: Buffer[] = [];

/**
 * readRegularFile decoded as UTF-8 (invalid UTF-8 is refused). A file of up
 * to 64 KiB is read into a kept buffer, so reading it leaves only the string.
 */
export async function readRegularText(path: string, opts: RegularFileOptions): Promise<string> {
  const { fd, size } = await openRegular(path, opts);
  const scratch = spare.pop() ?? Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  try {
    return decodeUtf8(await readCapped(fd, path, size, opts.maxBytes, opts.signal, scratch), path);
  } finally {
    if (spare.length < MAX_SPARE) spare.push(scratch);
    await closeFd(fd);
  }
}

export interface NamedInputOptions {
  maxBytes: number;
  /** The whole read, from open to end of input. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** What to call the input in messages (default: the path, or "standard input"). */
  name?: string;
}

/** The caller's signal and the deadline together. */
function deadline(opts: NamedInputOptions): AbortSignal {
  const t = AbortSignal.timeout(opts.timeoutMs);
  return opts.signal ? AbortSignal.any([opts.signal, t]) : t;
}

/** readCapped under the deadline: a slow disk ends in a timeout error between two chunks. */
async function readFileInput(fd: number, size: number, name: string, opts: NamedInputOptions): Promise<Buffer> {
  if (size > opts.maxBytes) throw tooLarge(name, opts.maxBytes);
  const signal = deadline(opts);
  try {
    return await readCapped(fd, name, size, opts.maxBytes, signal);
  } catch (err) {
    if (signal.aborted && !opts.signal?.aborted) throw timedOut(name, opts.timeoutMs, 'the file was still being read');
    throw err;
  }
}

/**
 * Reads a pipe to its end through the event loop (epoll wakes it; no pool
 * thread waits), with the cap and the deadline. The socket is destroyed at the
 * end, which closes its descriptor.
 */
function readPipe(socket: Socket, name: string, opts: NamedInputOptions): Promise<Buffer> {
  const { maxBytes, timeoutMs, signal } = opts;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeListener('data', onData);
      socket.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onAbort = () => finish(signal!.reason as Error);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return finish(tooLarge(name, maxBytes));
      chunks.push(chunk);
    };
    const timer = setTimeout(
      () => finish(timedOut(name, timeoutMs, size === 0 ? 'nothing arrived' : `${size} bytes arrived, then nothing`)),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('end', () => finish(null));
    socket.once('error', (err) => finish(err));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Standard input, whatever it is: a file, a pipe or socket, a terminal; not some other device. */
async function readStdin(opts: NamedInputOptions): Promise<Buffer> {
  const name = opts.name ?? 'standard input';
  const st = await fstatFd(0);
  // Read from the descriptor itself, from where the shell left it; it stays open.
  if (st.isFile()) return readFileInput(0, st.size, name, opts);
  if (!(st.isFIFO() || st.isSocket() || (st.isCharacterDevice() && isatty(0)))) {
    throw notRegular(name, st, 'a file, a pipe or a terminal');
  }
  // A pipe, socket or terminal: Node's own stdin handle reads it through the event loop.
  return readPipe(process.stdin as unknown as Socket, name, opts);
}

/**
 * An input a person named: a regular file, a pipe (FIFO, `<(cmd)`), or `-` for
 * standard input. Throws InputRefusedError (not-regular, too-large, timeout)
 * or Node's error when it cannot be opened.
 */
export async function readNamedInput(path: string, opts: NamedInputOptions): Promise<Buffer> {
  opts.signal?.throwIfAborted();
  if (path === '-') return readStdin(opts);
  const name = opts.name ?? path;
  // Links are followed: /dev/fd/63 from `<(cmd)` and /dev/stdin are links to the pipe.
  const pre = await stat(path);
  if (!pre.isFile() && !pre.isFIFO()) throw notRegular(name, pre, 'a file or a pipe');
  const fd = await openFd(path, BASE_FLAGS);
  let owned = true;
  try {
    const st = await fstatFd(fd);
    if (st.isFile()) return await readFileInput(fd, st.size, name, opts);
    if (!st.isFIFO()) throw notRegular(name, st, 'a file or a pipe');
    // The socket owns the descriptor from here and closes it when destroyed.
    const socket = new Socket({ fd, readable: true, writable: false });
    owned = false;
    return await readPipe(socket, name, opts);
  } finally {
    if (owned) await closeFd(fd);
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** UTF-8 text, a leading byte-order mark dropped; invalid UTF-8 is refused, never patched with U+FFFD. */
export function decodeUtf8(buf: Uint8Array, name: string): string {
  try {
    return decoder.decode(buf);
  } catch {
    throw new InputRefusedError('encoding', name, 'is not valid UTF-8');
  }
}
