// What a command needs from the process, passed in so tests can run commands in-process.
export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

/** The command itself cannot run (bad flags or input): exit 2 with the message. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Resolves once everything written to the stream so far has reached the
 * kernel, or once the stream cannot take more (its reader went away: EPIPE).
 * A pipe's writes are asynchronous when the reader is slower than we are
 * (`| jq`, `| less`): exiting before this cuts the output short.
 */
export function flushed(stream: NodeJS.WritableStream): Promise<void> {
  const s = stream as NodeJS.WritableStream & { destroyed?: boolean; writableLength?: number };
  if (s.destroyed || !s.writable) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      s.off('error', done);
      s.off('close', done);
      resolve();
    };
    s.once('error', done);
    s.once('close', done);
    // Writes complete in order: the callback of an empty one runs after all before it.
    s.write('', () => done());
  });
}

/**
 * Keeps a failed write on a standard stream from crashing the process, and
 * remembers it. A reader that leaves early (`| head -1`) makes the next write
 * fail with EPIPE: that is the reader's choice, and nothing is wrong. Any other
 * failure (ENOSPC on a redirected file) means the output is incomplete.
 */
export function watchOutput(stream: NodeJS.WritableStream): { failure(): NodeJS.ErrnoException | null } {
  let failed: NodeJS.ErrnoException | null = null;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') failed ??= err;
  });
  return { failure: () => failed };
}

/**
 * Calls `onDead` once when nothing more written to `stream` can arrive: its
 * reader left (EPIPE), its terminal hung up (EIO), a write failed otherwise,
 * or it was closed. Listening also keeps such an error from ever being
 * uncaught. Returns a function that stops watching.
 */
export function whenDead(stream: NodeJS.WritableStream, onDead: (err: NodeJS.ErrnoException | null) => void): () => void {
  let told = false;
  const tell = (err: NodeJS.ErrnoException | null) => {
    if (told) return;
    told = true;
    onDead(err);
  };
  const onError = (err: NodeJS.ErrnoException) => tell(err);
  const onClose = () => tell(null);
  stream.on('error', onError);
  stream.on('close', onClose);
  return () => {
    stream.off('error', onError);
    stream.off('close', onClose);
  };
}
