// The report sequence number: grows with every report and survives restarts,
// so a receiver tells a resend (a number it has seen) from news (a higher one).
//
// The high-water mark is kept twice, `sequence` and `sequence.copy`, each
// written atomically, one after the other, before a number is handed out. A
// file torn or corrupted (a disk that lied, an edit) leaves the other, which
// holds the same number or the one before it: either way no number at or
// below one already used comes out again. Both unreadable is refused with an
// error: counting afresh would make new reports look like resends. Both absent
// is the first start.
//
// Numbers only grow; they need not be consecutive. A number taken by an agent
// killed before its report was spooled is never used: receivers go by order.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';

const FILES = ['sequence', 'sequence.copy'] as const;

/** Neither copy of the sequence can be read: the agent must not start numbering again. */
export class SequenceUnreadableError extends Error {
  override readonly name = 'SequenceUnreadableError';
}

type Read = { state: 'absent' } | { state: 'ok'; value: number } | { state: 'unreadable'; reason: string };

async function readOne(path: string): Promise<Read> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    return { state: 'unreadable', reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
  const m = /^(\d{1,15})\n?$/.exec(text);
  const value = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(value)) return { state: 'unreadable', reason: `not a sequence number: ${JSON.stringify(text.slice(0, 40))}` };
  return { state: 'ok', value };
}

export class SequenceCounter {
  private constructor(
    private readonly paths: readonly string[],
    private last: number,
  ) {}

  /** Throws SequenceUnreadableError when neither copy can be read. */
  static async open(stateDir: string): Promise<SequenceCounter> {
    const paths = FILES.map((f) => join(stateDir, f));
    const reads = await Promise.all(paths.map(readOne));
    const values = reads.flatMap((r) => (r.state === 'ok' ? [r.value] : []));
    if (values.length === 0 && reads.some((r) => r.state === 'unreadable')) {
      const why = reads.map((r, i) => `${paths[i]}: ${r.state === 'unreadable' ? r.reason : 'absent'}`).join('; ');
      throw new SequenceUnreadableError(
        `the report sequence cannot be read (${why}); numbering from 1 again would make new reports look like resends. ` +
          'Put back a copy of either file, or write into one a number above every sequence a receiver has seen',
      );
    }
    return new SequenceCounter(paths, values.length > 0 ? Math.max(...values) : 0);
  }

  get current(): number {
    return this.last;
  }

  /** Takes the next number, durably: both copies hold it before anyone sees it. */
  async next(): Promise<number> {
    const n = this.last + 1;
    for (const p of this.paths) await writeFileAtomic(p, `${n}\n`);
    this.last = n;
    return n;
  }
}
