// The report sequence number: grows by one per report and survives restarts,
// so a receiver tells a resend (same number) from news (a higher one).
import { join } from 'node:path';
import { readRegularFile } from '../io/guarded-read.js';
import { writeFileAtomic } from './atomic.js';

export class SequenceCounter {
  private constructor(private readonly path: string, private last: number) {}

  static async open(stateDir: string): Promise<SequenceCounter> {
    const path = join(stateDir, 'sequence');
    let last = 0;
    try {
      const n = Number.parseInt((await readRegularFile(path, { maxBytes: 64 })).toString('utf8').trim(), 10);
      if (Number.isSafeInteger(n) && n >= 0) last = n;
    } catch {
      /* first start */
    }
    return new SequenceCounter(path, last);
  }

  get current(): number {
    return this.last;
  }

  /** Takes the next number, durably: it is on disk before anyone sees it. */
  async next(): Promise<number> {
    const n = this.last + 1;
    await writeFileAtomic(this.path, `${n}\n`);
    this.last = n;
    return n;
  }
}
