import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHUNK_SIZE, createHasher, HashError, HasherError, hashFile, type Hasher } from '../../src/observe/hash.js';
import type { RateLimiter } from '../../src/observe/rate-limit.js';

const SHA_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const SHA_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const isRoot = process.getuid?.() === 0;

let dir: string;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const openFds = () => readdirSync('/proc/self/fd').length;

/** Files of awkward sizes around the chunk size, with their expected digests (one-shot hashing). */
const sizes = [0, 1, 3, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17, 5000];
const expected = new Map<string, { sha256: string; size: number }>();

/** A limiter that lets nothing through until aborted: holds jobs mid-file. */
function stuckLimiter(): RateLimiter & { calls: number; waitCalls(n: number): Promise<void> } {
  const waiters: { n: number; resolve: () => void }[] = [];
  const l = {
    bytesPerSecond: 1,
    calls: 0,
    take(_bytes: number, signal?: AbortSignal) {
      l.calls++;
      for (const w of waiters.filter((x) => x.n <= l.calls)) w.resolve();
      return new Promise<void>((_resolve, reject) => {
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason ?? new Error('aborted')), { once: true });
      });
    },
    /** Resolves once n jobs have read a chunk and wait here. */
    waitCalls(n: number): Promise<void> {
      return l.calls >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
  return l;
}

/** Unlimited, but records every byte it is asked for. */
function recordingLimiter(): RateLimiter & { bytes: number; calls: number; largest: number } {
  const l = {
    bytesPerSecond: 1e12,
    bytes: 0,
    calls: 0,
    largest: 0,
    async take(bytes: number) {
      l.bytes += bytes;
      l.calls++;
      l.largest = Math.max(l.largest, bytes);
    },
  };
  return l;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dw-hash-'));
  for (const n of sizes) {
    const b = randomBytes(n);
    const p = join(dir, `f${n}.bin`);
    writeFileSync(p, b);
    expected.set(p, { sha256: sha(b), size: n });
  }
  writeFileSync(join(dir, 'abc.txt'), 'abc');
  writeFileSync(join(dir, 'empty'), '');
  mkdirSync(join(dir, 'a-dir'));
  symlinkSync(join(dir, 'abc.txt'), join(dir, 'link-to-abc'));
  const r = spawnSync('mkfifo', [join(dir, 'fifo')]);
  assert.equal(r.status, 0, 'mkfifo');
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('hashFile', () => {
  it('hashes known contents', async () => {
    const abc = await hashFile(join(dir, 'abc.txt'));
    assert.equal(abc.sha256, SHA_ABC);
    assert.equal(abc.size, 3);
    const empty = await hashFile(join(dir, 'empty'));
    assert.equal(empty.sha256, SHA_EMPTY);
    assert.equal(empty.size, 0);
  });

  it('streams files of every size around the chunk size, and reports their stat', async () => {
    for (const [p, want] of expected) {
      const got = await hashFile(p);
      assert.equal(got.sha256, want.sha256, p);
      assert.equal(got.size, want.size, p);
      const st = statSync(p);
      assert.equal(got.mode, st.mode);
      assert.equal(got.ino, st.ino);
      assert.equal(got.mtimeMs, st.mtimeMs);
      assert.equal(got.ctimeMs, st.ctimeMs);
    }
  });

  it('rejects with a typed error for what it cannot or must not read', async () => {
    const cases: [string, string, boolean][] = [
      ['missing', 'ENOENT', true],
      ['abc.txt/below-a-file', 'ENOTDIR', true],
      ['a-dir', 'EISDIR', false],
      ['link-to-abc', 'ELOOP', false], // a symlink is never followed
      ['fifo', 'ENOTREG', false], // and a FIFO never blocks the hasher
    ];
    for (const [name, code, vanished] of cases) {
      await assert.rejects(hashFile(join(dir, name)), (err: unknown) => {
        assert.ok(err instanceof HashError, `${name}: ${String(err)}`);
        assert.equal(err.code, code, name);
        assert.equal(err.vanished, vanished, name);
        assert.equal(err.path, join(dir, name));
        return true;
      });
    }
  });

  it('rejects EACCES for a file it may not read', { skip: isRoot && 'root reads any file' }, async () => {
    const p = join(dir, 'secret');
    writeFileSync(p, 'x');
    chmodSync(p, 0o000);
    await assert.rejects(hashFile(p), (err: unknown) => err instanceof HashError && err.code === 'EACCES' && !err.vanished);
  });

  it('pays the limiter for every byte it reads', async () => {
    const l = recordingLimiter();
    const p = join(dir, `f${3 * CHUNK_SIZE + 17}.bin`);
    await hashFile(p, { limiter: l });
    assert.equal(l.bytes, 3 * CHUNK_SIZE + 17);
    assert.ok(l.largest <= CHUNK_SIZE);
  });
});

for (const threads of [true, false]) {
  describe(`createHasher (${threads ? 'worker threads' : 'main thread'})`, () => {
    it('gives the same digests as hashFile, many files at once', async () => {
      const h = createHasher({ concurrency: 3, threads });
      try {
        const paths = [...expected.keys()];
        const many = Array.from({ length: 20 }, () => paths).flat();
        const got = await Promise.all(many.map((p) => h.hash(p)));
        got.forEach((g, i) => {
          assert.equal(g.sha256, expected.get(many[i]!)!.sha256);
          assert.equal(g.size, expected.get(many[i]!)!.size);
        });
      } finally {
        await h.close();
      }
    });

    it('rejects with HashError for files that are gone, folders, symlinks and FIFOs', async () => {
      const h = createHasher({ concurrency: 2, threads });
      try {
        const codes = await Promise.all(
          ['missing', 'a-dir', 'link-to-abc', 'fifo'].map((n) =>
            h.hash(join(dir, n)).then(
              () => 'resolved',
              (e: unknown) => (e instanceof HashError ? `${e.code}:${e.path === join(dir, n)}` : String(e)),
            ),
          ),
        );
        assert.deepEqual(codes, ['ENOENT:true', 'EISDIR:true', 'ELOOP:true', 'ENOTREG:true']);
        // The hasher still works after failures.
        assert.equal((await h.hash(join(dir, 'abc.txt'))).sha256, SHA_ABC);
      } finally {
        await h.close();
      }
    });

    it('takes raw-byte paths that are not valid UTF-8', async () => {
      const p = Buffer.concat([Buffer.from(join(dir, 'name-')), Buffer.from([0xff, 0xfe])]);
      writeFileSync(p, 'abc');
      const h = createHasher({ threads });
      try {
        assert.equal((await h.hash(p)).sha256, SHA_ABC);
      } finally {
        await h.close();
      }
    });

    it('sends every byte of every concurrent job through the one shared limiter', async () => {
      const l = recordingLimiter();
      const h = createHasher({ concurrency: 3, threads, limiter: l });
      try {
        const paths = [...expected.keys()];
        const got = await Promise.all([...paths, ...paths, ...paths].map((p) => h.hash(p)));
        const total = got.reduce((a, g) => a + g.size, 0);
        assert.equal(total, 3 * sizes.reduce((a, b) => a + b, 0));
        assert.equal(l.bytes, total);
        assert.ok(l.largest <= CHUNK_SIZE);
      } finally {
        await h.close();
      }
    });

    it('stops a job mid-file on abort and closes the file', async () => {
      const fds = openFds();
      const l = stuckLimiter();
      const h = createHasher({ concurrency: 1, threads, limiter: l });
      const ac = new AbortController();
      const p = h.hash(join(dir, `f${3 * CHUNK_SIZE + 17}.bin`), { signal: ac.signal });
      await l.waitCalls(1); // it has read a chunk and waits
      ac.abort(new Error('user abort'));
      await assert.rejects(p, /user abort/);
      await h.close();
      assert.equal(openFds(), fds);
    });

    it('close rejects queued and running jobs, then refuses new ones', async () => {
      const fds = openFds();
      const l = stuckLimiter();
      const h = createHasher({ concurrency: 2, threads, limiter: l });
      const jobs = Array.from({ length: 6 }, () => h.hash(join(dir, `f${CHUNK_SIZE + 1}.bin`)).catch((e: unknown) => e));
      await l.waitCalls(2);
      await h.close();
      for (const e of await Promise.all(jobs)) assert.ok(e instanceof HasherError && e.reason === 'closed', String(e));
      await assert.rejects(h.hash(join(dir, 'abc.txt')), (e: unknown) => e instanceof HasherError && e.reason === 'closed');
      assert.equal(openFds(), fds);
    });

    it('refuses work beyond its queue bound', async () => {
      const l = stuckLimiter();
      const h = createHasher({ concurrency: 1, threads, limiter: l, maxQueued: 2 });
      // The worker pool hands jobs to workers ahead of time; fill past that too.
      const jobs = Array.from({ length: 40 }, () => h.hash(join(dir, `f${CHUNK_SIZE + 1}.bin`)).catch((e: unknown) => e));
      // Refused at once, while the accepted ones still wait.
      const first = await Promise.race([jobs[39]!, jobs[0]!.then(() => 'accepted job settled first')]);
      assert.ok(first instanceof HasherError && first.reason === 'busy', String(first));
      await h.close();
      const settled = await Promise.all(jobs);
      assert.ok(settled.every((e) => e instanceof HasherError));
    });
  });
}
