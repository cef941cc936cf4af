import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { FileDigest, UnitDigest } from '../../src/model/observation.js';
import { byUtf8, compareUnits, filePath, treeDigest, unitDigest, type FileFacts } from '../../src/model/digest.js';

const SHA_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'; // sha256("abc")
const SHA_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'; // sha256("")
const SHA_X = 'a'.repeat(64);

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

function fd(sha256: string, size: number, mode: number): FileDigest {
  return { sha256, size, mode, mtimeMs: 1, ctimeMs: 2, ino: 3 };
}

describe('unitDigest', () => {
  const twoFiles: Record<string, FileFacts> = {
    'bin/run.sh': { sha256: SHA_EMPTY, size: 0, mode: 0o100755 },
    'a.txt': { sha256: SHA_ABC, size: 3, mode: 0o100644 },
  };

  it('is SHA-256 over the documented serialization, sorted by path', () => {
    const byHand =
      'dw-unit-v1\n' +
      `a.txt\0${SHA_ABC}\0${3}\0${'100644'}\n` +
      `bin/run.sh\0${SHA_EMPTY}\0${0}\0${'100755'}\n`;
    assert.equal(unitDigest(twoFiles), sha(byHand));
    // The same bytes through printf | sha256sum, so the test does not only agree with itself.
    assert.equal(unitDigest(twoFiles), 'c44964e2ba5226ad298022ac80ad28b4f281e6ff32e8fdd773a1e8ec532d4d7c');
  });

  it('ignores the order files were listed in', () => {
    const reversed = Object.fromEntries(Object.entries(twoFiles).reverse());
    assert.equal(unitDigest(reversed), unitDigest(twoFiles));
  });

  it('of an empty unit is the digest of the header alone', () => {
    assert.equal(unitDigest({}), 'da3871fdb5e9a04928ed80e9c33c7d05a6fedc4578fd4d9d6d0a5d7b79e91b5d');
  });

  it('sorts by UTF-8 bytes, not by UTF-16 code units', () => {
    // UTF-16 puts U+1F600 (a surrogate pair) before U+FF5A; UTF-8 puts EF.. before F0..
    const names = ['\u{1F600}', '\uFF5A', 'a', 'B', '\u00E9'];
    const files = Object.fromEntries(names.map((n) => [n, { sha256: SHA_ABC, size: 3, mode: 0o100644 }]));
    const order = ['B', 'a', '\u00E9', '\uFF5A', '\u{1F600}'];
    const byHand = 'dw-unit-v1\n' + order.map((n) => `${n}\0${SHA_ABC}\x003\x00100644\n`).join('');
    assert.equal(unitDigest(files), sha(byHand));
  });

  it('keeps names with newlines unambiguous and refuses NUL', () => {
    const withNewline = { 'a\nb': { sha256: SHA_ABC, size: 3, mode: 0o100644 } };
    assert.equal(unitDigest(withNewline), sha(`dw-unit-v1\na\nb\0${SHA_ABC}\x003\x00100644\n`));
    // Spelling out a second record inside one name needs a NUL, which is refused.
    const forged = { [`a\0${SHA_ABC}\x003\x00100644\nb`]: { sha256: SHA_ABC, size: 3, mode: 0o100644 } };
    assert.throws(() => unitDigest(forged), /NUL/);
  });

  it('changes with content, size and mode', () => {
    const base = unitDigest(twoFiles);
    const variants: Record<string, FileFacts>[] = [
      { ...twoFiles, 'a.txt': { sha256: SHA_X, size: 3, mode: 0o100644 } },
      { ...twoFiles, 'a.txt': { sha256: SHA_ABC, size: 4, mode: 0o100644 } },
      { ...twoFiles, 'a.txt': { sha256: SHA_ABC, size: 3, mode: 0o100600 } },
      { ...twoFiles, 'a.txt': { sha256: SHA_ABC, size: 3, mode: 0o120644 } },
    ];
    const digests = new Set(variants.map(unitDigest));
    assert.equal(digests.size, variants.length);
    assert.ok(!digests.has(base));
  });

  it('rejects malformed facts instead of hashing them', () => {
    assert.throws(() => unitDigest({ a: { sha256: 'ABC', size: 3, mode: 0o100644 } }), /sha256/);
    assert.throws(() => unitDigest({ a: { sha256: SHA_ABC, size: -1, mode: 0o100644 } }), /size/);
    assert.throws(() => unitDigest({ a: { sha256: SHA_ABC, size: 1.5, mode: 0o100644 } }), /size/);
  });
});

describe('treeDigest', () => {
  it('is SHA-256 over sorted (unit path, unit digest) records', () => {
    const unit = 'c44964e2ba5226ad298022ac80ad28b4f281e6ff32e8fdd773a1e8ec532d4d7c';
    const units = [
      { path: 'z.tar.gz', digest: SHA_ABC },
      { path: 'lambda/x', digest: unit },
    ];
    assert.equal(treeDigest(units), sha(`dw-tree-v1\nlambda/x\0${unit}\nz.tar.gz\0${SHA_ABC}\n`));
    // printf 'dw-tree-v1\nlambda/x\0<unit>\nz.tar.gz\0<abc>\n' | sha256sum
    assert.equal(treeDigest(units), '2e797fa2878cf6fd2ad65d337eabcc5001cb56e06723cfbb0c9aeaa79172d775');
    assert.equal(treeDigest([...units].reverse()), treeDigest(units));
  });

  it('separates a unit path from its digest', () => {
    assert.notEqual(treeDigest([{ path: 'a', digest: SHA_ABC }]), treeDigest([{ path: 'a ', digest: SHA_ABC }]));
    assert.throws(() => treeDigest([{ path: 'a', digest: 'nope' }]), /digest/);
  });
});

describe('compareUnits', () => {
  const unit = (path: string, files: Record<string, FileDigest>): UnitDigest => ({ path, digest: unitDigest(files), files });

  it('names modified, missing and added files with root-relative paths and what changed', () => {
    const baseline = [
      unit('lambda/x', {
        'a.txt': fd(SHA_ABC, 3, 0o100644),
        'bin/run.sh': fd(SHA_EMPTY, 0, 0o100755),
        'lib/gone.js': fd(SHA_X, 10, 0o100644),
        'same.txt': fd(SHA_X, 7, 0o100644),
      }),
      unit('flow-a.tar.gz', { '': fd(SHA_ABC, 3, 0o100644) }),
      unit('lambda/removed', { 'f.js': fd(SHA_X, 1, 0o100644) }),
    ];
    const current = [
      unit('lambda/x', {
        'a.txt': { ...fd(SHA_X, 3, 0o100644), mtimeMs: 99 },
        'bin/run.sh': fd(SHA_EMPTY, 0, 0o100644),
        'same.txt': { ...fd(SHA_X, 7, 0o100644), ino: 42 },
        'new.js': fd(SHA_EMPTY, 0, 0o100644),
      }),
      unit('flow-a.tar.gz', { '': fd(SHA_X, 4, 0o100644) }),
      unit('lambda/removed', {}),
      unit('lambda/new', { 'index.js': fd(SHA_ABC, 3, 0o100644) }),
    ];
    const d = compareUnits(baseline, current);
    assert.deepEqual(d.modified, [
      {
        path: 'flow-a.tar.gz',
        expected: { sha256: SHA_ABC, size: 3, mode: 0o100644 },
        actual: { sha256: SHA_X, size: 4, mode: 0o100644 },
        changed: ['sha256', 'size'],
      },
      {
        path: 'lambda/x/a.txt',
        expected: { sha256: SHA_ABC, size: 3, mode: 0o100644 },
        actual: { sha256: SHA_X, size: 3, mode: 0o100644 },
        changed: ['sha256'],
      },
      {
        path: 'lambda/x/bin/run.sh',
        expected: { sha256: SHA_EMPTY, size: 0, mode: 0o100755 },
        actual: { sha256: SHA_EMPTY, size: 0, mode: 0o100644 },
        changed: ['mode'],
      },
    ]);
    assert.deepEqual(d.missing, [
      { path: 'lambda/removed/f.js', expected: { sha256: SHA_X, size: 1, mode: 0o100644 } },
      { path: 'lambda/x/lib/gone.js', expected: { sha256: SHA_X, size: 10, mode: 0o100644 } },
    ]);
    assert.deepEqual(d.added, [
      { path: 'lambda/new/index.js', actual: { sha256: SHA_ABC, size: 3, mode: 0o100644 } },
      { path: 'lambda/x/new.js', actual: { sha256: SHA_EMPTY, size: 0, mode: 0o100644 } },
    ]);
  });

  it('finds nothing between equal digests, whatever the stat fields say', () => {
    const a = [unit('u', { f: fd(SHA_ABC, 3, 0o100644) })];
    const b = [unit('u', { f: { ...fd(SHA_ABC, 3, 0o100644), mtimeMs: 5, ctimeMs: 6, ino: 7 } })];
    assert.deepEqual(compareUnits(a, b), { modified: [], missing: [], added: [] });
  });

  it('treats "__proto__" and "constructor" as plain file names', () => {
    // As a baseline read back from disk would have them: own properties made by JSON.parse.
    const files = JSON.parse(`{"__proto__": ${JSON.stringify(fd(SHA_ABC, 3, 0o100644))}}`) as Record<string, FileDigest>;
    const baseline = [{ path: 'u', digest: unitDigest(files), files }];
    const current = [unit('u', { constructor: fd(SHA_ABC, 3, 0o100644) })];
    const d = compareUnits(baseline, current);
    assert.deepEqual(d.missing.map((m) => m.path), ['u/__proto__']);
    assert.deepEqual(d.added.map((m) => m.path), ['u/constructor']);
    assert.deepEqual(d.modified, []);
  });

  it('joins paths for root and lone-file units', () => {
    assert.equal(filePath('', 'a/b'), 'a/b');
    assert.equal(filePath('x.tar.gz', ''), 'x.tar.gz');
    assert.equal(filePath('lambda/x', 'a'), 'lambda/x/a');
  });
});

it('byUtf8 orders as the UTF-8 bytes do, astral characters and surrogates included (seeded)', () => {
  let seed = 20261201;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  // Code points around the places UTF-16 and UTF-8 orders part: ASCII, the BMP edge, U+E000-U+FFFF, astral.
  const points = [0x41, 0x7a, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff];
  const word = () => String.fromCodePoint(...Array.from({ length: 1 + rand(4) }, () => points[rand(points.length)]!));
  for (let i = 0; i < 5000; i++) {
    const a = word();
    const b = rand(5) === 0 ? a + word() : word();
    const want = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    assert.equal(Math.sign(byUtf8(a, b)), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
});
