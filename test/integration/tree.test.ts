import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { createHasher, type Hasher } from '../../src/observe/hash.js';
import { hashTree } from '../../src/observe/tree.js';
import type { FileDigest, TreeObservation } from '../../src/model/observation.js';
import { FINDING_CODES } from '../../src/model/findings.js';

const SHA_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const SHA_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EMPTY_UNIT = 'da3871fdb5e9a04928ed80e9c33c7d05a6fedc4578fd4d9d6d0a5d7b79e91b5d';
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const isRoot = process.getuid?.() === 0;

let root: string;
let hasher: Hasher;
const hashers: Hasher[] = [];

function put(rel: string, content: string | Buffer, mode = 0o644): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

function mkfifo(rel: string): void {
  assert.equal(spawnSync('mkfifo', [join(root, rel)]).status, 0, 'mkfifo');
}

function previousOf(tree: TreeObservation): Map<string, FileDigest> {
  const m = new Map<string, FileDigest>();
  for (const u of tree.units) for (const [k, v] of Object.entries(u.files)) m.set(k === '' ? u.path : `${u.path}/${k}`, v);
  return m;
}

/** Descriptors this process holds open on files under the test root. */
function openUnderRoot(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'dw-tree-'));
  hasher = createHasher({ concurrency: 2 });
  hashers.push(hasher);
});

afterEach(async () => {
  await hasher.close();
  rmSync(root, { recursive: true, force: true });
});

after(async () => {
  await Promise.all(hashers.map((h) => h.close()));
});

describe('hashTree', () => {
  it('digests folders, lone files and missing units as documented', async () => {
    put('lambda/x/a.txt', 'abc', 0o644);
    put('lambda/x/bin/run.sh', '', 0o755);
    put('flow-a.tar.gz', 'abc', 0o644);
    const { tree, findings } = await hashTree(root, ['lambda/x/', './flow-a.tar.gz', 'missing/unit'], { hasher });
    assert.deepEqual(findings, []);
    assert.deepEqual(
      tree.units.map((u) => u.path),
      ['flow-a.tar.gz', 'lambda/x', 'missing/unit'],
    );
    const [lone, folder, missing] = tree.units;
    // Hand-built from the format in src/verify/digest.ts.
    const folderDigest = sha(`dw-unit-v1\na.txt\0${SHA_ABC}\x003\x00100644\nbin/run.sh\0${SHA_EMPTY}\x000\x00100755\n`);
    assert.equal(folder!.digest, folderDigest);
    assert.equal(folder!.digest, 'c44964e2ba5226ad298022ac80ad28b4f281e6ff32e8fdd773a1e8ec532d4d7c');
    const loneDigest = sha(`dw-unit-v1\n\0${SHA_ABC}\x003\x00100644\n`);
    assert.equal(lone!.digest, loneDigest);
    assert.deepEqual(Object.keys(lone!.files), ['']);
    assert.equal(missing!.digest, EMPTY_UNIT);
    assert.deepEqual(missing!.files, {});
    assert.equal(
      tree.treeDigest,
      sha(`dw-tree-v1\nflow-a.tar.gz\0${loneDigest}\nlambda/x\0${folderDigest}\nmissing/unit\0${EMPTY_UNIT}\n`),
    );
    assert.equal(tree.filesHashed, 3);
    assert.equal(tree.bytesHashed, 6);
    const st = statSync(join(root, 'lambda/x/bin/run.sh'));
    assert.deepEqual(folder!.files['bin/run.sh'], {
      sha256: SHA_EMPTY,
      size: 0,
      mode: 0o100755,
      mtimeMs: st.mtimeMs,
      ctimeMs: st.ctimeMs,
      ino: st.ino,
    });
  });

  it('leaves out a file deleted between listing and hashing, without a finding', async () => {
    for (const trust of [false, true]) {
      put('u/a', 'a');
      put('u/b', 'b');
      put('u/c', 'c');
      const first = await hashTree(root, ['u'], { hasher });
      const { tree, findings } = await hashTree(root, ['u'], {
        hasher,
        previous: previousOf(first.tree),
        trustUnchangedStat: trust,
        // Listed already; gone before it is hashed.
        exclude: (rel) => {
          if (rel === 'u/a') rmSync(join(root, 'u/b'));
          return false;
        },
      });
      assert.deepEqual(findings, [], `trust=${trust}`);
      assert.deepEqual(Object.keys(tree.units[0]!.files).sort(), ['a', 'c'], `trust=${trust}`);
    }
  });

  it('reports a folder swapped in for a file as unreadable and leaves it out', async () => {
    put('u/a', 'a');
    put('u/b', 'b');
    const { tree, findings } = await hashTree(root, ['u'], {
      hasher,
      exclude: (rel) => {
        if (rel === 'u/a') {
          rmSync(join(root, 'u/b'));
          mkdirSync(join(root, 'u/b'));
        }
        return false;
      },
    });
    assert.equal(findings.length, 1);
    assert.equal(findings[0]!.code, 'FILE_UNREADABLE');
    assert.equal(findings[0]!.severity, FINDING_CODES.FILE_UNREADABLE.severity);
    assert.equal(findings[0]!.path, 'u/b');
    assert.match(findings[0]!.message, /EISDIR/);
    assert.deepEqual(Object.keys(tree.units[0]!.files), ['a']);
  });

  it('skips FIFOs with a finding, and never blocks on one swapped in for a file', async () => {
    put('u/a', 'a');
    put('u/c', 'c');
    mkfifo('u/pipe');
    const { tree, findings } = await hashTree(root, ['u'], {
      hasher,
      exclude: (rel) => {
        if (rel === 'u/a') {
          rmSync(join(root, 'u/c'));
          mkfifo('u/c');
        }
        return false;
      },
    });
    const got = findings.map((f) => `${f.code} ${f.path} ${f.message}`).sort();
    assert.equal(got.length, 2);
    assert.match(got[0]!, /^FILE_UNREADABLE u\/c .*ENOTREG/); // swapped in after listing
    assert.match(got[1]!, /^FILE_UNREADABLE u\/pipe .*fifo/); // a FIFO when listed
    assert.deepEqual(Object.keys(tree.units[0]!.files), ['a']);
  });

  it('records symlinks by their target and never follows them', async () => {
    put('secret.txt', 'top secret');
    put('u/real', 'abc');
    symlinkSync('../secret.txt', join(root, 'u/to-secret'));
    symlinkSync('/etc', join(root, 'u/to-etc'));
    symlinkSync('nowhere', join(root, 'u/dangling'));
    symlinkSync('u', join(root, 'unit-link'));
    const { tree, findings } = await hashTree(root, ['u', 'unit-link'], { hasher });
    assert.deepEqual(findings, []);
    const u = tree.units.find((x) => x.path === 'u')!;
    assert.deepEqual(Object.keys(u.files).sort(), ['dangling', 'real', 'to-etc', 'to-secret']);
    assert.equal(u.files['to-secret']!.sha256, sha('symlink\0../secret.txt'));
    assert.equal(u.files['to-etc']!.sha256, sha('symlink\0/etc'));
    assert.equal(u.files['dangling']!.sha256, sha('symlink\0nowhere'));
    assert.equal(u.files['to-secret']!.mode, lstatSync(join(root, 'u/to-secret')).mode);
    assert.equal(u.files['to-secret']!.mode & 0o170000, 0o120000);
    const link = tree.units.find((x) => x.path === 'unit-link')!;
    assert.deepEqual(Object.keys(link.files), ['']);
    assert.equal(link.files['']!.sha256, sha('symlink\0u'));
    assert.equal(tree.filesHashed, 1); // only u/real was read
  });

  it('trusts unchanged stat on a rescan, yet catches same-size edits with mtime restored', async () => {
    const p = put('u/app.js', 'version-1');
    put('u/lib.js', 'library');
    const fixed = new Date('2020-01-01T00:00:00Z'); // a whole second, so utimes restores it exactly
    utimesSync(p, fixed, fixed);
    const first = await hashTree(root, ['u'], { hasher });
    assert.equal(first.tree.bytesHashed, 'version-1'.length + 'library'.length);
    const previous = previousOf(first.tree);

    const second = await hashTree(root, ['u'], { hasher, previous, trustUnchangedStat: true });
    assert.equal(second.tree.bytesHashed, 0);
    assert.equal(second.tree.filesHashed, 0);
    assert.equal(second.tree.treeDigest, first.tree.treeDigest);

    const untrusted = await hashTree(root, ['u'], { hasher, previous });
    assert.equal(untrusted.tree.filesHashed, 2, 'previous alone does not skip reading');

    // In place: same size, same inode, mtime put back. Only ctime tells.
    const before = previous.get('u/app.js')!;
    for (let i = 0; i < 100; i++) {
      writeFileSync(p, 'version-2');
      utimesSync(p, fixed, fixed);
      if (lstatSync(p).ctimeMs !== before.ctimeMs) break;
      await sleep(20); // the kernel clock is coarse: wait for it to tick
    }
    const st = lstatSync(p);
    assert.equal(st.size, before.size);
    assert.equal(st.mtimeMs, before.mtimeMs);
    assert.equal(st.ino, before.ino);
    assert.notEqual(st.ctimeMs, before.ctimeMs);
    const third = await hashTree(root, ['u'], { hasher, previous, trustUnchangedStat: true });
    assert.equal(third.tree.filesHashed, 1);
    assert.equal(third.tree.bytesHashed, 'version-2'.length);
    assert.equal(third.tree.units[0]!.files['app.js']!.sha256, sha('version-2'));
    assert.notEqual(third.tree.treeDigest, first.tree.treeDigest);

    // Replaced by rename: a new inode with the old size and mtime.
    const prev3 = previousOf(third.tree);
    const tmp = put('u-tmp', 'version-3');
    utimesSync(tmp, fixed, fixed);
    renameSync(tmp, p);
    assert.notEqual(lstatSync(p).ino, prev3.get('u/app.js')!.ino);
    const fourth = await hashTree(root, ['u'], { hasher, previous: prev3, trustUnchangedStat: true });
    assert.equal(fourth.tree.units[0]!.files['app.js']!.sha256, sha('version-3'));
    assert.equal(fourth.tree.filesHashed, 1);
  });

  it('keeps hostile names as plain keys, raw bytes included', async () => {
    put('u/__proto__', 'abc');
    put('u/constructor', 'abc');
    put('u/new\nline', 'abc');
    const ff = Buffer.concat([Buffer.from(join(root, 'u')), Buffer.from('/bad-\xff', 'latin1')]);
    const fe = Buffer.concat([Buffer.from(join(root, 'u')), Buffer.from('/bad-\xfe', 'latin1')]);
    writeFileSync(ff, 'abc');
    writeFileSync(fe, 'abc');
    const { tree, findings } = await hashTree(root, ['u'], { hasher });
    const files = tree.units[0]!.files;
    assert.deepEqual(Object.keys(files).sort(), ['__proto__', 'bad-\uFFFD', 'constructor', 'new\nline'].sort());
    assert.equal(Object.getPrototypeOf(files), Object.prototype, 'a plain object: "__proto__" did not become its prototype');
    assert.ok(Object.hasOwn(files, '__proto__'));
    assert.equal(JSON.parse(JSON.stringify(files))['__proto__'].sha256, SHA_ABC);
    for (const k of Object.keys(files)) assert.equal(files[k]!.sha256, SHA_ABC, k);
    // 0xfe and 0xff both decode to U+FFFD: the second is named, not silently merged.
    assert.deepEqual(findings.map((f) => [f.code, f.path]), [['FILE_UNREADABLE', 'u/bad-\uFFFD']]);
    assert.equal(tree.filesHashed, 5, 'both raw names were read');
  });

  it('refuses unit paths that leave the root', async () => {
    put('u/a', 'a');
    const { tree, findings } = await hashTree(root, ['u', '../etc', 'u/../../x'], { hasher });
    assert.deepEqual(tree.units.map((u) => u.path), ['u']);
    assert.deepEqual(findings.map((f) => f.path), ['../etc', 'u/../../x']);
  });

  it('reports an unreadable folder', { skip: isRoot && 'root reads any folder' }, async () => {
    put('u/a', 'a');
    put('u/locked/b', 'b');
    chmodSync(join(root, 'u/locked'), 0o000);
    try {
      const { tree, findings } = await hashTree(root, ['u'], { hasher });
      assert.deepEqual(findings.map((f) => [f.code, f.path]), [['FILE_UNREADABLE', 'u/locked']]);
      assert.deepEqual(Object.keys(tree.units[0]!.files), ['a']);
    } finally {
      chmodSync(join(root, 'u/locked'), 0o755);
    }
  });

  it('holds no more files open than the hasher hashes at once', async () => {
    for (let i = 0; i < 300; i++) put(`u/d${i % 7}/f${i}`, Buffer.alloc(300_000 + i, i));
    // Sampled where a file is certainly open: a worker asks the limiter for every chunk it read
    // and holds its file open until granted. (Sampling while the tree is listed alone can miss
    // every open: under load the listing is done before the workers have started.)
    let most = 0;
    let whileHashing = 0;
    const sample = () => (most = Math.max(most, openUnderRoot()));
    const sampling = createHasher({
      concurrency: 2,
      limiter: {
        bytesPerSecond: 1e12,
        take: async () => {
          whileHashing = Math.max(whileHashing, openUnderRoot());
          sample();
        },
      },
    });
    hashers.push(sampling);
    const { tree } = await hashTree(root, ['u'], {
      hasher: sampling,
      exclude: () => {
        sample();
        return false;
      },
    });
    assert.equal(tree.filesHashed, 300);
    assert.ok(whileHashing >= 1, 'sampled while hashing');
    assert.ok(most <= sampling.concurrency, `${most} files open at once`);
  });

  it('counts only bytes read, reports progress, and paces through the limiter', async () => {
    for (let i = 0; i < 600; i++) put(`u/f${i}`, `content ${i}`);
    let paid = 0;
    const limited = createHasher({
      concurrency: 2,
      limiter: {
        bytesPerSecond: 1e12,
        take: async (n) => {
          paid += n;
        },
      },
    });
    hashers.push(limited);
    const seen: { files: number; bytes: number; totalFiles?: number }[] = [];
    const { tree } = await hashTree(root, ['u'], { hasher: limited, onProgress: (p) => seen.push(p) });
    assert.equal(paid, tree.bytesHashed);
    assert.ok(seen.length >= 2, 'progress on the way, not only at the end');
    assert.deepEqual(seen[seen.length - 1], { files: 600, bytes: tree.bytesHashed, totalFiles: 600 });
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.files >= seen[i - 1]!.files);
  });

  it('stops on abort, closing every file', async () => {
    for (let i = 0; i < 200; i++) put(`u/f${i}`, Buffer.alloc(200_000, i));
    const ac = new AbortController();
    let calls = 0;
    await assert.rejects(
      hashTree(root, ['u'], {
        hasher,
        signal: ac.signal,
        exclude: () => {
          if (++calls === 50) ac.abort(new Error('shutting down'));
          return false;
        },
      }),
      /shutting down/,
    );
    await hasher.close();
    assert.equal(openUnderRoot(), 0);
  });
});
