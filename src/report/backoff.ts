// Reconnect/retry delays. Jitter spreads a fleet of devices that lost the
// same broker at the same moment, so they do not all come back in step.

export interface BackoffOptions {
  /** Floor: no delay is shorter (a broker refusing at once must not be hammered). */
  minMs: number;
  /** Cap: no delay is longer. */
  maxMs: number;
  /** Uniform in [0, 1), e.g. Math.random; passed in so tests are deterministic. */
  random: () => number;
}

/**
 * Delay before retry number `attempt` (0 for the first retry): uniform in
 * [minMs, min(maxMs, minMs * 2^(attempt + 1))], whole milliseconds.
 * The window doubles with each attempt ("full jitter" above the floor).
 */
export function nextDelay(attempt: number, opts: BackoffOptions): number {
  const minMs = Math.max(0, opts.minMs);
  const maxMs = Math.max(minMs, opts.maxMs);
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2 ** n is Infinity for huge n; Math.min then gives the cap.
  const ceiling = Math.min(maxMs, minMs * 2 ** (n + 1));
  let r = opts.random();
  if (!(r >= 0)) r = 0; // NaN or negative
  if (r > 1) r = 1;
  return Math.floor(minMs + r * (ceiling - minMs));
}
