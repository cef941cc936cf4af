// The zip entry reader against real archives on a real file system: ones
// Info-ZIP makes, and hostile ones built byte by byte. Nothing is extracted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from '../../src/config/layout.js';
import type { ZipInspection } from '../../src/model/greengrass-v2.js';
import { inspectZip } from '../../src/observe/greengrass-v2/zip.js';
import { buildZip, type ZipEntrySpec } from '../../scripts/zip-writer.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-zip-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function inspect(bytes: Buffer, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<ZipInspection> {
  return withDir(async (dir) => {
    const p = join(dir, 'a.zip');
    await writeFile(p, bytes);
    return inspectZip(p, 'pk/a.zip', { limits });
  });
}

function codes(z: ZipInspection): string[] {
  return z.findings.map((f) => f.code).sort();
}

function messages(z: ZipInspection): string {
  return z.findings.map((f) => f.message).join('\n');
}

test('a healthy archive: every entry, its type, mode and content digest', async () => {
  const style = Buffer.alloc(100_000, 'body { color: red }\n');
  const z = await inspect(buildZip([
    { name: 'index.js', data: 'console.log(1)\n', method: 'store' },
    { name: 'lib/', data: '' },
    { name: 'lib/util.js', data: 'module.exports = 1\n' },
    { name: 'public/style.css', data: style },
    { name: 'bin/start.sh', data: '#!/bin/sh\n', mode: 0o100755 },
  ]));
  assert.deepEqual(z.findings, []);
  assert.equal(z.complete, true);
  assert.equal(z.entryCount, 5);
  assert.equal(z.totalBytes, 15 + 19 + 100_000 + 10);
  assert.deepEqual(z.entries.map((e) => [e.path, e.type, e.sha256 ?? null, e.mode]), [
    ['index.js', 'file', sha('console.log(1)\n'), 0o100644],
    ['lib/', 'directory', null, 0o040755],
    ['lib/util.js', 'file', sha('module.exports = 1\n'), 0o100644],
    ['public/style.css', 'file', sha(style), 0o100644],
    ['bin/start.sh', 'file', sha('#!/bin/sh\n'), 0o100755],
  ]);
  assert.deepEqual(z.entries.map((e) => e.method), [0, 0, 8, 8, 8]);
});

test('archives Info-ZIP writes, zip64 included, read the same as the files they hold', async () => {
  await withDir(async (dir) => {
    const src = join(dir, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    await writeFile(join(src, 'a.txt'), 'hello\n');
    await writeFile(join(src, 'sub', 'b.bin'), big);
    await symlink('a.txt', join(src, 'link'));
    execFileSync('zip', ['-q', '-r', '-y', '-X', join(dir, 'plain.zip'), '.'], { cwd: src });
    execFileSync('zip', ['-q', '-r', '-y', '-X', '-fz', join(dir, 'z64.zip'), '.'], { cwd: src });
    for (const name of ['plain.zip', 'z64.zip']) {
      const z = await inspectZip(join(dir, name), name, { limits: DEFAULT_ARCHIVE_LIMITS });
      const byPath = new Map(z.entries.map((e) => [e.path, e]));
      assert.equal(byPath.get('a.txt')?.sha256, sha('hello\n'), name);
      assert.equal(byPath.get('sub/b.bin')?.sha256, sha(big), name);
      assert.equal(byPath.get('sub/')?.type, 'directory', name);
      // zip -y stores the link itself: a hazard to extract, named and never followed.
      assert.equal(byPath.get('link')?.type, 'symlink', name);
      assert.equal(byPath.get('link')?.unsafe, 'symbolic link', name);
      assert.deepEqual(codes(z), ['UNSAFE_ARCHIVE_ENTRY'], `${name}: ${messages(z)}`);
      assert.equal(z.complete, true, name);
    }
  });
});

test('paths that leave the folder are unsafe entries, never read', async () => {
  const z = await inspect(buildZip([
    { name: 'ok.txt', data: 'fine' },
    { name: '../evil.sh', data: 'x' },
    { name: '/etc/cron.d/evil', data: 'x' },
    { name: 'C:evil', data: 'x' },
    { name: 'a\\..\\..\\evil', data: 'x' },
    { name: 'deep/../../evil', data: 'x' },
  ]));
  assert.deepEqual(codes(z), Array(5).fill('UNSAFE_ARCHIVE_ENTRY'));
  assert.deepEqual(z.entries.map((e) => [e.path, e.unsafe ?? null, e.sha256 !== undefined]), [
    ['ok.txt', null, true],
    ['../evil.sh', "'..' segment", false],
    ['/etc/cron.d/evil', 'absolute path', false],
    ['C:evil', 'drive-letter path', false],
    ['a\\..\\..\\evil', "'..' segment", false],
    ['deep/../../evil', "'..' segment", false],
  ]);
  assert.equal(z.complete, true);
});

test('links, devices, FIFOs, encrypted and duplicate entries are named', async () => {
  const z = await inspect(buildZip([
    { name: 'link', data: '/etc/shadow', mode: 0o120777 },
    { name: 'dev', data: '', mode: 0o020644 },
    { name: 'fifo', data: '', mode: 0o010644 },
    { name: 'secret.txt', data: 'x', flags: 1 },
    { name: 'twice.txt', data: 'one' },
    { name: './twice.txt', data: 'two' },
    { name: 'bad', nameBytes: Buffer.from([0x66, 0xff, 0xfe]), data: 'x' },
  ]));
  assert.deepEqual(z.entries.map((e) => e.unsafe ?? null), [
    'symbolic link', 'device node', 'FIFO', 'encrypted entry', null, 'duplicate entry name', 'name is not valid UTF-8',
  ]);
  assert.equal(codes(z).filter((c) => c === 'UNSAFE_ARCHIVE_ENTRY').length, 6);
});

test('a central directory that disagrees with a local header is corrupt', async () => {
  const z = await inspect(buildZip([
    { name: 'readme.txt', data: 'hello' },
    { name: 'innocent.txt', localName: '../../../../etc/passwd', data: 'x' },
  ]));
  assert.deepEqual(codes(z), ['RESOURCE_CORRUPT']);
  assert.match(messages(z), /local header disagrees with the central directory: names/);
  assert.equal(z.complete, false);
});

test('lying CRCs and sizes are caught while inflating, within the declared size', async () => {
  const crc = await inspect(buildZip([{ name: 'a', data: 'hello world', crc32: 0x12345678 }]));
  assert.match(messages(crc), /CRC-32 does not match/);
  assert.equal(crc.entries[0]!.sha256, undefined);

  const small = await inspect(buildZip([{ name: 'a', data: Buffer.alloc(50_000, 1), size: 10 }]));
  assert.match(messages(small), /inflates past its declared size of 10 bytes/);

  const big = await inspect(buildZip([{ name: 'a', data: 'short', size: 1000 }]));
  assert.match(messages(big), /holds 5 bytes, not the 1000/);

  const stored = await inspect(buildZip([{ name: 'a', data: 'short', size: 1000, method: 'store' }]));
  assert.match(messages(stored), /stored entry has different sizes/);
  for (const z of [crc, small, big, stored]) assert.equal(z.complete, false);
});

test('a truncated archive and bytes hidden before the end record are corrupt', async () => {
  const good = buildZip([{ name: 'a.txt', data: Buffer.alloc(20_000, 'a') }, { name: 'b.txt', data: 'b' }]);
  for (const cut of [good.length - 1, Math.floor(good.length / 2), 10, 0]) {
    const z = await inspect(good.subarray(0, cut));
    assert.deepEqual(codes(z), ['RESOURCE_CORRUPT'], `cut at ${cut}`);
    assert.match(messages(z), /no end of central directory record|too short/, `cut at ${cut}`);
  }
  // A second archive's worth of bytes between the directory and the end record.
  const eocd = good.length - 22;
  const hidden = Buffer.concat([good.subarray(0, eocd), Buffer.from('PK hidden payload'), good.subarray(eocd)]);
  assert.match(messages(await inspect(hidden)), /central directory is not where the end record says/);
  // Data after the end record: the comment length no longer reaches the end.
  assert.match(messages(await inspect(Buffer.concat([good, Buffer.from('trailer')]))), /no end of central directory record/);
  // A comment is fine.
  assert.deepEqual((await inspect(buildZip([{ name: 'a', data: 'x' }], { comment: 'PK\u0005\u0006 looks like a signature' }))).findings, []);
});

test('a zip bomb stops at the ratio limit before anything is inflated', async () => {
  const zeros = Buffer.alloc(64 * 1024 * 1024);
  const bytes = buildZip([{ name: 'bomb.bin', data: zeros }]);
  assert.ok(bytes.length < 200_000, `the bomb is ${bytes.length} bytes`);
  const t0 = performance.now();
  const z = await inspect(bytes);
  assert.match(messages(z), /decompression ratio above 200/);
  assert.equal(z.entries[0]!.sha256, undefined);
  assert.ok(performance.now() - t0 < 5_000);
  // The same content under a generous ratio is read in full.
  const ok = await inspect(bytes, { ...DEFAULT_ARCHIVE_LIMITS, maxRatio: 10_000 });
  assert.deepEqual(ok.findings, []);
  assert.equal(ok.entries[0]!.sha256, sha(zeros));
});

test('entries sharing data (the overlapping-file bomb) are corrupt', async () => {
  const z = await inspect(buildZip([
    { name: 'a.bin', data: Buffer.alloc(10_000, 7) },
    { name: 'b.bin', shareDataOf: 0 },
    { name: 'c.bin', shareDataOf: 0 },
  ]));
  assert.match(messages(z), /entries overlap/);
  assert.equal(z.complete, false);
});

test('entry count, path depth and unsupported methods are limits, not work', async () => {
  const many = buildZip(Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, data: 'x' })));
  assert.match(messages(await inspect(many, { ...DEFAULT_ARCHIVE_LIMITS, maxEntries: 20 })), /more than 20 entries/);
  const deep = buildZip([{ name: `${'d/'.repeat(40)}f`, data: 'x' }]);
  assert.match(messages(await inspect(deep)), /levels deep/);
  const bzip2 = await inspect(buildZip([{ name: 'a.bz2', data: 'BZh9', rawMethod: 12 }]));
  assert.match(messages(bzip2), /compression method 12, which is not supported/);
});

test('damaged deflate data is corrupt; an empty archive is complete', async () => {
  const good = buildZip([{ name: 'a', data: Buffer.alloc(5000, 'z') }]);
  const bad = Buffer.from(good);
  bad[30 + 1 + 2] ^= 0xff; // inside the deflate stream, after the local header and the name
  bad[30 + 1 + 3] ^= 0xff;
  const z = await inspect(bad);
  assert.deepEqual(codes(z), ['RESOURCE_CORRUPT']);
  const empty = await inspect(buildZip([]));
  assert.deepEqual(empty.findings, []);
  assert.equal(empty.complete, true);
  assert.equal(empty.entryCount, 0);
});

test('what is not a regular file is unreadable, and a FIFO does not hang the reader', async () => {
  await withDir(async (dir) => {
    const fifo = join(dir, 'fifo.zip');
    execFileSync('mkfifo', [fifo]);
    const z = await inspectZip(fifo, 'fifo.zip', { limits: DEFAULT_ARCHIVE_LIMITS });
    assert.deepEqual(codes(z), ['FILE_UNREADABLE']);
    await writeFile(join(dir, 'real.zip'), buildZip([{ name: 'a', data: 'x' }]));
    await symlink(join(dir, 'real.zip'), join(dir, 'link.zip'));
    const l = await inspectZip(join(dir, 'link.zip'), 'link.zip', { limits: DEFAULT_ARCHIVE_LIMITS });
    assert.deepEqual(codes(l), ['FILE_UNREADABLE'], 'a symlink swapped in is not followed');
    const missing = await inspectZip(join(dir, 'nope.zip'), 'nope.zip', { limits: DEFAULT_ARCHIVE_LIMITS });
    assert.deepEqual(codes(missing), ['FILE_UNREADABLE']);
    assert.equal((await readFile(join(dir, 'real.zip'))).length > 0, true);
  });
});

test('reading honours an abort signal', async () => {
  await withDir(async (dir) => {
    const p = join(dir, 'a.zip');
    await writeFile(p, buildZip([{ name: 'a', data: Buffer.alloc(1000, 1) } satisfies ZipEntrySpec]));
    const ctl = new AbortController();
    ctl.abort(new Error('stop'));
    await assert.rejects(inspectZip(p, 'a.zip', { limits: DEFAULT_ARCHIVE_LIMITS, signal: ctl.signal }), /stop/);
  });
});
