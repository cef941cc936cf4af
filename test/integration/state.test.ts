// The state folder: atomic writes, the shared lock, baselines, sequence numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, isAtomicTemp } from '../../src/state/atomic.js';
import { acquireLock, LockBusyError, withLock } from '../../src/state/lock.js';
import type { Baseline } from '../../src/model/baseline.js';
import { loadBaseline, loadOrCreateBaseline } from '../../src/state/baseline.js';
import { SequenceCounter } from '../../src/state/sequence.js';

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'dw-state-'));
}

const baseline = (over: Partial<Baseline> = {}): Baseline => ({
  schemaVersion: 1, groupId: 'g-1', groupVersionId: 'v-1', createdAt: '2026-01-01T00:00:00.000Z', treeDigest: 'a'.repeat(64), units: [], ...over,
});

test('an atomic write killed before its rename leaves the old file whole', async () => {
  const dir = await tmp();
  try {
    const p = join(dir, 'f.json');
    await writeFileAtomic(p, 'old');
    await assert.rejects(writeFileAtomic(p, 'new', { beforeRename: () => { throw new Error('killed'); } }), /killed/);
    assert.equal(await readFile(p, 'utf8'), 'old');
    // The temp file is left behind (as after a real kill), recognisable for cleanup.
    const temps = (await readdir(dir)).filter(isAtomicTemp);
    assert.equal(temps.length, 1);
    await writeFileAtomic(p, 'new');
    assert.equal(await readFile(p, 'utf8'), 'new');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the lock: one holder at a time, a busy lock times out with the holder named', async () => {
  const dir = await tmp();
  try {
    const p = join(dir, 'state.lock');
    const held = await acquireLock(p);
    await assert.rejects(acquireLock(p, { waitMs: 100 }), (err: unknown) => err instanceof LockBusyError && err.holder === process.pid);
    await held.release();
    const order: string[] = [];
    await Promise.all([
      withLock(p, async () => { order.push('a+'); await new Promise((r) => setTimeout(r, 50)); order.push('a-'); }),
      withLock(p, async () => { order.push('b+'); order.push('b-'); }),
    ]);
    assert.ok(order.join() === 'a+,a-,b+,b-' || order.join() === 'b+,b-,a+,a-', order.join());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a lock left by a killed process is taken over', async () => {
  const dir = await tmp();
  try {
    const p = join(dir, 'state.lock');
    // A real process that dies: its pid in the lock file names nobody alive.
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((r) => child.on('exit', r));
    await writeFile(p, String(pid));
    const l = await acquireLock(p, { waitMs: 0 });
    assert.equal(await readFile(p, 'utf8'), String(process.pid));
    await l.release();
    // A torn lock file (empty) is stale too.
    await writeFile(p, '');
    await (await acquireLock(p, { waitMs: 0 })).release();
    // A lock naming our own pid that we do not hold (an earlier process with the same pid, in a container).
    await writeFile(p, String(process.pid));
    await (await acquireLock(p, { waitMs: 0 })).release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('baselines: created once per group version, then loaded; unsafe IDs refused', async () => {
  const dir = await tmp();
  try {
    const a = await loadOrCreateBaseline(dir, baseline());
    assert.equal(a.created, true);
    const b = await loadOrCreateBaseline(dir, baseline({ treeDigest: 'b'.repeat(64) }));
    assert.equal(b.created, false);
    assert.equal(b.baseline.treeDigest, 'a'.repeat(64), 'the first baseline stands');
    const other = await loadOrCreateBaseline(dir, baseline({ groupVersionId: 'v-2', treeDigest: 'c'.repeat(64) }));
    assert.equal(other.created, true);
    assert.equal((await loadBaseline(dir, 'g-1', 'v-2')).state, 'found');
    await assert.rejects(loadOrCreateBaseline(dir, baseline({ groupId: '../../etc' })), /unsafe for a file name/);
    assert.deepEqual(await loadBaseline(dir, 'g-1', 'v-3'), { state: 'absent' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sequence numbers survive a restart and never go back', async () => {
  const dir = await tmp();
  try {
    const s = await SequenceCounter.open(dir);
    assert.equal(await s.next(), 1);
    assert.equal(await s.next(), 2);
    const again = await SequenceCounter.open(dir);
    assert.equal(again.current, 2);
    assert.equal(await again.next(), 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a torn or corrupt sequence file never restarts the count: the other file holds the mark', async () => {
  for (const garbage of ['', '4', '\0\0\0', '57abc\n', '-3\n', '{"sequence":57}']) {
    const dir = await tmp();
    try {
      const s = await SequenceCounter.open(dir);
      for (let i = 0; i < 57; i++) await s.next();
      await s.close();
      let used = 57;
      // Either file torn (a disk that lied) or edited: the other still holds the mark.
      for (const torn of ['sequence', 'sequence.copy']) {
        await writeFile(join(dir, torn), garbage);
        const again = await SequenceCounter.open(dir);
        const n = await again.next();
        // The copy alone may be one behind what went out: counting resumes one further, a gap and never a reuse.
        assert.ok(n > used && n <= used + 2, `${torn} = ${JSON.stringify(garbage)}: ${n} after ${used}`);
        await again.close();
        used = n;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('killed right after a number went out, the copy one behind: a torn first file still never reuses it', async () => {
  const dir = await tmp();
  try {
    const s = await SequenceCounter.open(dir);
    for (let i = 0; i < 3; i++) await s.next();
    // As if killed before the copy of 3 was written.
    await s.close();
    await writeFile(join(dir, 'sequence.copy'), '2\n');
    await writeFile(join(dir, 'sequence'), 'torn');
    assert.equal(await (await SequenceCounter.open(dir)).next(), 4);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('both copies unreadable: refused with an error naming the files, never a count from 1', async () => {
  const dir = await tmp();
  try {
    const s = await SequenceCounter.open(dir);
    for (let i = 0; i < 3; i++) await s.next();
    await s.close();
    await writeFile(join(dir, 'sequence'), 'garbage');
    await rm(join(dir, 'sequence.copy'));
    await mkdir(join(dir, 'sequence.copy')); // unreadable, even for root
    await assert.rejects(SequenceCounter.open(dir), (err: Error) => {
      assert.equal(err.name, 'SequenceUnreadableError');
      assert.match(err.message, /sequence: not a sequence number/);
      assert.match(err.message, /sequence\.copy: is a folder, not a regular file/);
      assert.match(err.message, /look like resends/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the first start, and a state folder from before the copy existed', async () => {
  const dir = await tmp();
  try {
    const first = await SequenceCounter.open(dir);
    assert.equal(await first.next(), 1, 'nothing there: the first start');
    await first.close();
    await rm(join(dir, 'sequence.copy'));
    await writeFile(join(dir, 'sequence'), '41\n'); // as an earlier version left it
    const s = await SequenceCounter.open(dir);
    assert.equal(await s.next(), 42);
    await s.close();
    assert.equal(await readFile(join(dir, 'sequence.copy'), 'utf8'), '42\n', 'the copy is written from then on');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
