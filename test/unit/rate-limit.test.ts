import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { createRateLimiter, type Clock } from '../../src/observe/rate-limit.js';

/** A clock whose time moves only when the test says so. */
function fakeClock() {
  let now = 0;
  const sleeping: { at: number; resolve: () => void }[] = [];
  const asked: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep(ms, signal) {
      asked.push(ms);
      return new Promise((resolve, reject) => {
        const s = { at: now + ms, resolve };
        sleeping.push(s);
        signal?.addEventListener(
          'abort',
          () => {
            sleeping.splice(sleeping.indexOf(s), 1);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    },
  };
  return {
    clock,
    asked,
    get now() {
      return now;
    },
    pending: () => sleeping.length,
    /** Lets promise chains run, then jumps to the next wake-up; false when nothing sleeps. */
    async step(): Promise<boolean> {
      await tick();
      if (sleeping.length === 0) return false;
      now = Math.max(now, Math.min(...sleeping.map((s) => s.at)));
      for (const s of sleeping.filter((x) => x.at <= now)) {
        sleeping.splice(sleeping.indexOf(s), 1);
        s.resolve();
      }
      await tick();
      return true;
    },
  };
}

describe('createRateLimiter', () => {
  it('with 0 lets everything through at once, without sleeping', async () => {
    const f = fakeClock();
    const l = createRateLimiter(0, f.clock);
    await l.take(10 * 1024 ** 3);
    assert.deepEqual(f.asked, []);
  });

  it('lets a burst through, then sleeps off the debt', async () => {
    const f = fakeClock();
    const l = createRateLimiter(1000, f.clock, { burstBytes: 100 });
    await l.take(100);
    assert.deepEqual(f.asked, []);
    let done = false;
    const p = l.take(500).then(() => (done = true));
    await tick();
    assert.deepEqual(f.asked, [500]); // 500 bytes at 1000 B/s
    assert.equal(done, false);
    await f.step();
    await p;
    assert.equal(f.now, 500);
  });

  it('refills with time but never beyond the burst', async () => {
    const f = fakeClock();
    const l = createRateLimiter(1000, f.clock, { burstBytes: 100 });
    await l.take(100);
    f.clock.sleep(10_000).catch(() => {}); // move time 10 s on
    await f.step();
    f.asked.length = 0;
    await l.take(100);
    assert.deepEqual(f.asked, []);
    const p = l.take(100);
    await tick();
    assert.deepEqual(f.asked, [100]);
    await f.step();
    await p;
  });

  it('the default burst is 1/20 s worth', async () => {
    const f = fakeClock();
    const rate = 50 * 1024 * 1024;
    const l = createRateLimiter(rate, f.clock);
    await l.take(rate / 20);
    assert.deepEqual(f.asked, []);
    const p = l.take(rate);
    await tick();
    assert.deepEqual(f.asked, [1000]);
    await f.step();
    await p;
  });

  it('holds the rate across concurrent takers, in arrival order', async () => {
    const f = fakeClock();
    const rate = 10_000;
    const burst = 1000;
    const chunk = 256;
    const l = createRateLimiter(rate, f.clock, { burstBytes: burst });
    const grants: { t: number; bytes: number; who: number }[] = [];
    // Four "workers", each paying for 40 chunks one after the other.
    const workers = [0, 1, 2, 3].map(async (who) => {
      for (let k = 0; k < 40; k++) {
        await l.take(chunk);
        grants.push({ t: f.now, bytes: chunk, who });
      }
    });
    const all = Promise.all(workers);
    let steps = 0;
    while (await f.step()) steps++;
    await all;
    const total = 4 * 40 * chunk;
    assert.equal(grants.length, 160);
    assert.ok(steps > 10, `paced in many small sleeps, not one (${steps})`);
    // Never more than the burst plus what the rate allows by then.
    let sum = 0;
    for (const g of grants) {
      sum += g.bytes;
      assert.ok(sum <= burst + (rate * g.t) / 1000 + 1e-6, `${sum} bytes granted by ${g.t} ms`);
    }
    // And no slower than that either: the last grant lands when the debt is paid.
    const last = grants[grants.length - 1]!.t;
    assert.ok(Math.abs(last - ((total - burst) * 1000) / rate) < 1e-6, `last grant at ${last} ms`);
    // Every worker got its turns interleaved, none starved until the end.
    const firstHalf = new Set(grants.slice(0, 80).map((g) => g.who));
    assert.equal(firstHalf.size, 4);
  });

  it('an aborted take rejects and gives its bytes back', async () => {
    const f = fakeClock();
    const l = createRateLimiter(1000, f.clock, { burstBytes: 0 });
    const ac = new AbortController();
    const p = l.take(1000, ac.signal);
    await tick();
    assert.deepEqual(f.asked, [1000]);
    ac.abort(new Error('stop'));
    await assert.rejects(p, /stop/);
    assert.equal(f.pending(), 0);
    const q = l.take(500);
    await tick();
    assert.deepEqual(f.asked, [1000, 500]); // not 1500: the aborted 1000 were returned
    await f.step();
    await q;
    await assert.rejects(l.take(1, AbortSignal.abort(new Error('already'))), /already/);
  });

  it('rejects nonsense', () => {
    assert.throws(() => createRateLimiter(-1), RangeError);
    assert.throws(() => createRateLimiter(Number.NaN), RangeError);
    assert.throws(() => createRateLimiter(Infinity), RangeError);
    const l = createRateLimiter(1000);
    return assert.rejects(l.take(-5), RangeError);
  });
});
