// The report sequence number: grows with every report and survives restarts,
// so a receiver tells a resend (a number it has seen) from news (a higher one).
//
// The high-water mark is kept twice, each file written atomically. `sequence`
// holds every number handed out: it is written before the number is. Its copy,
// `sequence.copy`, follows right after, off the report's path, and is at most
// one behind: the next number waits for it. So one file torn or corrupted (a
// disk that lied, an edit) is survived: the first alone is the mark; the copy
// alone is the mark but for the one number that may have gone out after it,
// so counting resumes one further (a gap, never a reuse). Both unreadable is
// refused with an error, since counting afresh would make new reports look
// like resends; both absent is the first start.
//
// Numbers only grow; they need not be consecutive. A number taken by an agent
// killed before its report was spooled is never used: receivers go by order.
import { join } from 'node:path';
import { InputRefusedError, readRegularFile } from '../io/guarded-read.js';
import { writeFileAtomic } from './atomic.js';

/** Neither copy of the sequence can be read: the agent must not start numbering again. */
export class SequenceUnreadableError extends Error {
  override readonly name = 'SequenceUnreadableError';
}

type Read = { state: 'absent' } | { state: 'ok'; value: number } | { state: 'unreadable'; reason: string };

async function readOne(path: string): Promise<Read> {
  let text: string;
  try {
    // A FIFO or device in its place must neither hang nor flood us: regular files only, capped.
    text = (await readRegularFile(path, { maxBytes: 64 })).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    if (err instanceof InputRefusedError) return { state: 'unreadable', reason: err.detail };
    return { state: 'unreadable', reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
  const m = /^(\d{1,15})\n?$/.exec(text);
  const value = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(value)) return { state: 'unreadable', reason: `not a sequence number: ${JSON.stringify(text.slice(0, 40))}` };
  return { state: 'ok', value };
}

export class SequenceCounter {
  /** The copy's write in flight, if any: the next number waits for it. */
  private copying: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly copyPath: string,
    private last: number,
  ) {}

  /** Throws SequenceUnreadableError when neither file can be read. */
  static async open(stateDir: string): Promise<SequenceCounter> {
    const path = join(stateDir, 'sequence');
    const copyPath = join(stateDir, 'sequence.copy');
    const [first, copy] = await Promise.all([readOne(path), readOne(copyPath)]);
    let last: number;
    if (first.state === 'ok') last = Math.max(first.value, copy.state === 'ok' ? copy.value : 0);
    else if (copy.state === 'ok') last = copy.value + 1;
    else if (first.state === 'absent' && copy.state === 'absent') last = 0;
    else {
      const why = (r: Read) => (r.state === 'unreadable' ? r.reason : 'absent');
      throw new SequenceUnreadableError(
        `the report sequence cannot be read (${path}: ${why(first)}; ${copyPath}: ${why(copy)}); ` +
          'numbering from 1 again would make new reports look like resends. ' +
          'Put back a copy of either file, or write into one a number above every sequence a receiver has seen',
      );
    }
    return new SequenceCounter(path, copyPath, last);
  }

  get current(): number {
    return this.last;
  }

  /** Takes the next number, durably: `sequence` holds it before anyone sees it. One call at a time. */
  async next(): Promise<number> {
    await this.copying; // a failed copy fails this number too: nothing is handed out past a mark not kept twice
    const n = this.last + 1;
    await writeFileAtomic(this.path, `${n}\n`);
    this.last = n;
    this.copying = writeFileAtomic(this.copyPath, `${n}\n`);
    this.copying.catch(() => {}); // surfaced by the next call
    return n;
  }

  /** Waits for the copy to be written (before another counter opens the folder). */
  async close(): Promise<void> {
    await this.copying;
  }
}
