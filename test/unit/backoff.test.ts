import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextDelay } from '../../src/report/backoff.js';

const fixed = (r: number) => () => r;

test('the window doubles per attempt, starting at [min, 2*min]', () => {
  const o = { minMs: 1000, maxMs: 60_000 };
  // random 1 - tiny gives (almost) the ceiling of each window
  const top = (a: number) => nextDelay(a, { ...o, random: fixed(0.999999) });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(top), [1999, 3999, 7999, 15999, 31999, 59999]);
  const mid = (a: number) => nextDelay(a, { ...o, random: fixed(0.5) });
  assert.deepEqual([0, 1, 2].map(mid), [1500, 2500, 4500]);
});

test('never below the floor, never above the cap', () => {
  const o = { minMs: 200, maxMs: 5000 };
  const attempts = [0, 1, 3, 4, 7, 30, 1000, 1e9];
  assert.deepEqual(
    attempts.map((a) => nextDelay(a, { ...o, random: fixed(0) })),
    [200, 200, 200, 200, 200, 200, 200, 200],
  );
  assert.deepEqual(
    attempts.map((a) => nextDelay(a, { ...o, random: fixed(1) })),
    [400, 800, 3200, 5000, 5000, 5000, 5000, 5000],
  );
  assert.equal(nextDelay(10_000, { ...o, random: fixed(0.5) }), 2600);
});

test('jitter spreads delays across the window', () => {
  let seed = 1;
  // a small deterministic LCG so the test is repeatable
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const d = nextDelay(3, { minMs: 100, maxMs: 10_000, random });
    assert.ok(d >= 100 && d <= 1600, `${d} in [100, 1600]`);
    seen.add(Math.floor(d / 100));
  }
  assert.ok(seen.size >= 12, `spread over the window, saw ${seen.size} buckets of 16`);
});

test('bad inputs do not give NaN or negative delays', () => {
  const o = { minMs: 100, maxMs: 1000 };
  assert.equal(nextDelay(-3, { ...o, random: fixed(0) }), 100);
  assert.equal(nextDelay(Number.NaN, { ...o, random: fixed(0.5) }), 150);
  assert.equal(nextDelay(2, { ...o, random: fixed(Number.NaN) }), 100);
  assert.equal(nextDelay(2, { ...o, random: fixed(7) }), 800);
  // a cap below the floor: the floor wins
  assert.equal(nextDelay(5, { minMs: 500, maxMs: 10, random: fixed(0.9) }), 500);
});
