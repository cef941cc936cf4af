// A token bucket that paces byte counts (hashing reads) to a rate.
// Takers go into debt and sleep it off: no queue is kept, every caller
// waits on its own timer, and the waits add up in arrival order, so many
// concurrent takers together never exceed the rate (plus one small burst).
import { setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolves after ms; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : {}),
};

export interface RateLimiter {
  /** 0 means unlimited. */
  readonly bytesPerSecond: number;
  /** Resolves once `bytes` may pass. */
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

export interface RateLimiterOptions {
  /** Bytes that may pass at once after an idle spell; default 1/20 s worth (at least 64 KiB). */
  burstBytes?: number;
}

export function createRateLimiter(bytesPerSecond: number, clock: Clock = systemClock, opts: RateLimiterOptions = {}): RateLimiter {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) {
    throw new RangeError(`bytesPerSecond must be a finite number >= 0, got ${bytesPerSecond}`);
  }
  const rate = bytesPerSecond;
  const burst = opts.burstBytes ?? Math.max(64 * 1024, rate / 20);
  let tokens = burst;
  let last = clock.now();

  return {
    bytesPerSecond: rate,
    async take(bytes: number, signal?: AbortSignal): Promise<void> {
      if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`bytes must be >= 0, got ${bytes}`);
      signal?.throwIfAborted();
      if (rate === 0 || bytes === 0) return;
      const t = clock.now();
      tokens = Math.min(burst, tokens + ((t - last) * rate) / 1000);
      last = t;
      tokens -= bytes;
      if (tokens >= 0) return;
      try {
        await clock.sleep((-tokens * 1000) / rate, signal);
      } catch (err) {
        tokens += bytes; // not used: give it back
        throw err;
      }
    },
  };
}
