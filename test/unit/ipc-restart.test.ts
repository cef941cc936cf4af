// When refused IPC handshakes mean a dead token, and when an exit for it is allowed: pure rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_REFUSAL_POLICY, exitAllowedAt, RefusalStreak } from '../../src/report/ipc-restart.js';

test('a dead token needs `limit` refusals in a row, the first at least minSpanMs old', () => {
  const s = new RefusalStreak({ limit: 3, minSpanMs: 30_000 });
  assert.equal(s.record('refused', 0), false);
  assert.equal(s.record('refused', 1_000), false);
  assert.equal(s.record('refused', 2_000), false, 'three, but within two seconds: the daemon may still be flapping');
  assert.equal(s.record('refused', 29_999), false);
  assert.equal(s.record('refused', 30_000), true);
  assert.equal(s.refusals, 5);
  assert.equal(s.since, 0);
});

test('an unreachable socket or an accepted handshake ends the streak', () => {
  const s = new RefusalStreak({ limit: 2, minSpanMs: 0 });
  s.record('refused', 0);
  s.record('unreachable', 10);
  assert.equal(s.refusals, 0);
  assert.equal(s.since, undefined);
  assert.equal(s.record('refused', 20), false);
  s.record('accepted', 30);
  assert.equal(s.record('refused', 40), false);
  assert.equal(s.record('refused', 50), true);
});

test('exits for a dead token: at most maxExits per window, the next waits for the oldest to leave it', () => {
  const p = { maxExits: 1, exitWindowMs: 3_600_000 };
  assert.equal(exitAllowedAt([], 5_000_000, p), 5_000_000);
  assert.equal(exitAllowedAt([1_000_000], 5_000_000, p), 5_000_000, 'more than an hour ago');
  assert.equal(exitAllowedAt([4_000_000], 5_000_000, p), 7_600_000);
  assert.equal(exitAllowedAt([4_000_000, 3_000_000], 5_000_000, { ...p, maxExits: 2 }), 6_600_000);
  assert.equal(exitAllowedAt([9_000_000], 5_000_000, p), 5_000_000, 'a time from the future (clock set back) does not block');
});

test('the defaults fit nucleus lite: three starts per hour, the first included', () => {
  // First start + one exit for a dead token per hour leaves one start for any other failure.
  assert.ok(1 + DEFAULT_REFUSAL_POLICY.maxExits < 3);
  assert.equal(DEFAULT_REFUSAL_POLICY.exitWindowMs, 3_600_000);
  // Longer than the window in which lite's IPC daemon may restart ten times before systemd gives up on it.
  assert.ok(DEFAULT_REFUSAL_POLICY.minSpanMs > 20_000);
});
