// Seeded randomness for generated test inputs: the same seed gives the same
// input on every machine, so a failing case can be named and replayed.

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rand {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
  word(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += 'abcdefghijklmnopqrstuvwxyz0123456789'[this.int(0, 35)];
    return s;
  }
}

/** Runs seeds [first, first+n) once each on `workers` parallel workers, and closes every worker. */
export async function overSeeds<W extends { close(): Promise<void> }>(
  opts: { first: number; n: number; workers: number },
  create: () => Promise<W>,
  each: (w: W, seed: number) => Promise<void>,
): Promise<void> {
  const workers = await Promise.all(Array.from({ length: opts.workers }, create));
  let next = 0;
  try {
    await Promise.all(
      workers.map(async (w) => {
        while (next < opts.n) await each(w, opts.first + next++);
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}
