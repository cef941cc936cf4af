import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { createGzip, gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from '../../src/config/layout.js';
import { inspectArchive } from '../../src/observe/archive.js';
import type { ArchiveInspection } from '../../src/model/observation.js';
import { compareFolderToArchive } from '../../src/observe/unpacked.js';
import type { Finding } from '../../src/model/findings.js';
import { rawTar, ustarHeader, type RawEntry } from '../lib/evil-tar.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const codes = (fs: Finding[]): string[] => fs.map((f) => f.code).sort();
const corrupt = (i: ArchiveInspection): Finding[] => i.findings.filter((f) => f.code === 'RESOURCE_CORRUPT');

let tmp: string;
let n = 0;
/** Writes bytes under a fresh name and inspects them. */
async function inspectBytes(bytes: Buffer, limits?: ArchiveLimits): Promise<ArchiveInspection> {
  const rel = `t${n++}/flow-t.tar.gz`;
  await mkdir(join(tmp, `t${n - 1}`));
  await writeFile(join(tmp, rel), bytes);
  const r = await inspectArchive(join(tmp, rel), rel, limits ? { limits } : {});
  assert.equal(r.path, rel);
  return r;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dw-archive-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('inspectArchive: intact archives', () => {
  it('lists a node-tar archive with per-entry and whole-file digests', async () => {
    const src = join(tmp, 'clean-src');
    await mkdir(join(src, 'flow-x', 'sub'), { recursive: true });
    const a = '{"flow":"x","version":1}\n';
    const b = randomBytes(70_000); // spans several tar blocks and zlib chunks
    await writeFile(join(src, 'flow-x', 'a.json'), a);
    await writeFile(join(src, 'flow-x', 'sub', 'b.bin'), b);
    await writeFile(join(src, 'flow-x', 'empty.txt'), '');
    const file = join(tmp, 'flow-x.tar.gz');
    await tar.c({ gzip: true, file, cwd: src, portable: true }, ['flow-x']);

    const r = await inspectArchive(file, 'deployment/flow-x.tar.gz');
    assert.deepEqual(r.findings, []);
    assert.equal(r.path, 'deployment/flow-x.tar.gz');
    const whole = await readFile(file);
    assert.equal(r.size, whole.length);
    assert.equal(r.sha256, sha(whole));
    const got = [...r.entries].sort((x, y) => (x.path < y.path ? -1 : 1));
    assert.deepEqual(
      got.map((e) => [e.path, e.type, e.size, e.sha256]),
      [
        ['flow-x/', 'directory', 0, undefined],
        ['flow-x/a.json', 'file', a.length, sha(a)],
        ['flow-x/empty.txt', 'file', 0, sha('')],
        ['flow-x/sub/', 'directory', 0, undefined],
        ['flow-x/sub/b.bin', 'file', b.length, sha(b)],
      ],
    );
    assert.equal(r.entryCount, 5);
    assert.equal(r.totalBytes, a.length + b.length);
  });

  it('records modes from raw headers and reads pax long paths', async () => {
    const long = `flow-x/${'d'.repeat(120)}/file.txt`;
    const src = join(tmp, 'pax-src');
    await mkdir(join(src, 'flow-x', 'd'.repeat(120)), { recursive: true });
    await writeFile(join(src, long), 'deep');
    const file = join(tmp, 'pax.tar.gz');
    await tar.c({ gzip: true, file, cwd: src, portable: true }, [long]);
    const r = await inspectArchive(file, 'pax.tar.gz');
    assert.deepEqual(r.findings, []);
    assert.deepEqual(
      r.entries.map((e) => [e.path, e.sha256]),
      [[long, sha('deep')]],
    );

    const raw = await inspectBytes(gzipSync(rawTar([{ path: 'run.sh', body: '#!/bin/sh\n', mode: 0o750 }])));
    assert.deepEqual(raw.findings, []);
    assert.equal(raw.entries[0]?.mode, 0o750);
  });

  it('accepts the zero padding tar tools add after the end marker', async () => {
    const t = Buffer.concat([rawTar([{ path: 'a', body: 'x' }]), Buffer.alloc(10_240)]);
    const r = await inspectBytes(gzipSync(t));
    assert.deepEqual(r.findings, []);
    assert.equal(r.entryCount, 1);
  });
});

describe('inspectArchive: unsafe entries', () => {
  const cases: [string, RawEntry, string][] = [
    ['absolute path', { path: '/etc/cron.d/evil', body: 'x' }, 'file'],
    ['drive letter with backslash', { path: 'C:\\Windows\\evil.dll', body: 'x' }, 'file'],
    ['drive letter with slash', { path: 'C:/evil.txt', body: 'x' }, 'file'],
    ['backslash-rooted', { path: '\\evil.txt', body: 'x' }, 'file'],
    ['leading ..', { path: '../escape.txt', body: 'x' }, 'file'],
    ['inner ..', { path: 'flow/../../escape.txt', body: 'x' }, 'file'],
    ['backslash ..', { path: 'flow\\..\\..\\escape.txt', body: 'x' }, 'file'],
    ['symlink', { path: 'flow/link', type: '2', linkpath: '/etc/shadow' }, 'symlink'],
    ['hard link', { path: 'flow/hard', type: '1', linkpath: 'flow/ok.txt' }, 'hardlink'],
    ['char device', { path: 'flow/null', type: '3' }, 'device'],
    ['block device', { path: 'flow/sda', type: '4' }, 'device'],
    ['FIFO', { path: 'flow/pipe', type: '6' }, 'fifo'],
  ];
  for (const [name, bad, type] of cases) {
    it(`flags ${name}`, async () => {
      const r = await inspectBytes(gzipSync(rawTar([{ path: 'flow/ok.txt', body: 'ok' }, bad])));
      assert.deepEqual(codes(r.findings), ['UNSAFE_ARCHIVE_ENTRY']);
      assert.equal(r.findings[0]?.actual, bad.path);
      assert.equal(r.findings[0]?.path, r.path);
      assert.equal(r.entries.find((e) => e.path === bad.path)?.type, type);
      assert.equal(r.entries.find((e) => e.path === 'flow/ok.txt')?.sha256, sha('ok'));
    });
  }

  it('caps unsafe findings at 100 plus a summary', async () => {
    const links = Array.from({ length: 150 }, (_, i) => ({ path: `l${i}`, type: '2', linkpath: 'x' }));
    const r = await inspectBytes(gzipSync(rawTar(links)));
    assert.equal(r.entryCount, 150);
    assert.equal(r.findings.length, 101);
    assert.ok(r.findings.every((f) => f.code === 'UNSAFE_ARCHIVE_ENTRY'));
    assert.equal(r.findings[99]?.actual, 'l99');
    assert.deepEqual(r.findings[100]?.actual, { more: 50 });
  });
});

describe('inspectArchive: damaged archives', () => {
  let good: Buffer;
  before(() => {
    const body = randomBytes(40_000); // incompressible, so the gzip is long enough to cut anywhere
    good = gzipSync(rawTar([{ path: 'flow/a.bin', body }, { path: 'flow/b.txt', body: 'b' }]));
  });

  it('reports a text file named .tar.gz as not gzip, with its digest', async () => {
    const text = Buffer.from('this is not an archive\n');
    const r = await inspectBytes(text);
    assert.deepEqual(codes(r.findings), ['RESOURCE_CORRUPT']);
    assert.match(r.findings[0]?.message ?? '', /not a gzip file/);
    assert.equal(r.sha256, sha(text));
    assert.deepEqual(r.entries, []);
  });

  it('reports an empty file as not gzip', async () => {
    const r = await inspectBytes(Buffer.alloc(0));
    assert.deepEqual(codes(r.findings), ['RESOURCE_CORRUPT']);
    assert.equal(r.size, 0);
  });

  it('detects a gzip stream cut at several offsets', async () => {
    for (const cut of [1, 5, 10, 100, Math.floor(good.length / 2), good.length - 8, good.length - 4, good.length - 1]) {
      const part = good.subarray(0, cut);
      const r = await inspectBytes(part);
      assert.ok(corrupt(r).length > 0, `cut at ${cut} of ${good.length}`);
      assert.equal(r.sha256, sha(part), `cut at ${cut}`);
    }
  });

  it('detects a CRC and a length mismatch in the gzip trailer', async () => {
    for (const at of [good.length - 8, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] = (bad[at] as number) ^ 0xff;
      const r = await inspectBytes(bad);
      assert.equal(corrupt(r).length, 1, `byte ${at}`);
      assert.match(corrupt(r)[0]?.message ?? '', /gzip stream is damaged/);
    }
  });

  it('detects garbage after a gzip magic, and gzip of garbage', async () => {
    const fake = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), randomBytes(2000)]);
    assert.ok(corrupt(await inspectBytes(fake)).length > 0);
    const r = await inspectBytes(gzipSync(randomBytes(5000)));
    assert.ok(corrupt(r).length > 0);
    assert.match(corrupt(r).map((f) => f.message).join('\n'), /TAR_/);
  });

  it('detects a tar without its end-of-archive blocks', async () => {
    const r = await inspectBytes(gzipSync(rawTar([{ path: 'a.txt', body: 'a' }], { end: false })));
    assert.deepEqual(codes(r.findings), ['RESOURCE_CORRUPT']);
    assert.match(r.findings[0]?.message ?? '', /end-of-archive/);
    assert.equal(r.entries[0]?.sha256, sha('a'), 'entries read before the cut still count');
    const one = Buffer.concat([rawTar([{ path: 'a.txt', body: 'a' }], { end: false }), Buffer.alloc(512)]);
    assert.match(corrupt(await inspectBytes(gzipSync(one)))[0]?.message ?? '', /end-of-archive/);
  });

  it('detects a tar cut inside an entry body, and drops that entry digest', async () => {
    const t = rawTar([{ path: 'big.bin', body: randomBytes(5000) }]);
    const r = await inspectBytes(gzipSync(t.subarray(0, 512 + 1000)));
    assert.ok(corrupt(r).some((f) => /Truncated input/.test(f.message)));
    assert.equal(r.entries[0]?.path, 'big.bin');
    assert.equal(r.entries[0]?.sha256, undefined);
  });

  it('detects a bad header checksum', async () => {
    const t = rawTar([
      { path: 'good.txt', body: 'g' },
      { path: 'bad.txt', body: 'b', badChecksum: true },
    ]);
    const r = await inspectBytes(gzipSync(t));
    assert.ok(corrupt(r).some((f) => /checksum/.test(f.message)));
    assert.equal(r.entries[0]?.path, 'good.txt');
  });

  it('refuses a gzip inside a gzip', async () => {
    const r = await inspectBytes(gzipSync(gzipSync(rawTar([{ path: 'a', body: 'a' }]))));
    assert.match(corrupt(r)[0]?.message ?? '', /another gzip/);
    assert.deepEqual(r.entries, []);
  });
});

describe('inspectArchive: limits', () => {
  it('stops a gzip bomb on the ratio, before reading the whole file', async () => {
    const size = 200 * 1024 * 1024;
    const zeros = Buffer.alloc(1024 * 1024);
    async function* bomb(): AsyncGenerator<Buffer> {
      yield ustarHeader({ path: 'zeros.bin', size });
      for (let i = 0; i < size / zeros.length; i++) yield zeros;
      yield Buffer.alloc(1024);
    }
    const rel = 'bomb/flow-bomb.tar.gz';
    await mkdir(join(tmp, 'bomb'));
    await pipeline(Readable.from(bomb()), createGzip({ level: 9 }), createWriteStream(join(tmp, rel)));

    const r = await inspectArchive(join(tmp, rel), rel);
    assert.ok(r.size < size / 200, `bomb is ${r.size} bytes`);
    assert.deepEqual(codes(r.findings), ['RESOURCE_CORRUPT']);
    assert.match(r.findings[0]?.message ?? '', /decompression ratio above 200/);
    assert.equal(r.sha256, null, 'reading stopped early');
    assert.equal(r.entries[0]?.sha256, undefined, 'the entry was not read to its end');
  });

  it('stops after maxEntries and keeps at most that many entries', async () => {
    const files = Array.from({ length: 30 }, (_, i) => ({ path: `f${i}`, body: `${i}` }));
    const limits = { ...DEFAULT_ARCHIVE_LIMITS, maxEntries: 10 };
    const r = await inspectBytes(gzipSync(rawTar(files)), limits);
    assert.deepEqual(codes(r.findings), ['RESOURCE_CORRUPT']);
    assert.match(r.findings[0]?.message ?? '', /more than 10 entries/);
    assert.equal(r.entries.length, 10);
    assert.equal(r.entryCount, 11);
    assert.equal(r.sha256, null);
  });

  it('stops on an entry deeper than maxPathDepth', async () => {
    const deep = `${'a/'.repeat(39)}f`;
    const r = await inspectBytes(gzipSync(rawTar([{ path: 'ok', body: 'ok' }, { path: deep, body: 'x' }])));
    assert.deepEqual(codes(r.findings), ['RESOURCE_CORRUPT']);
    assert.match(r.findings[0]?.message ?? '', /40 levels deep \(limit 32\)/);
    assert.equal(r.findings[0]?.actual, deep);
    assert.deepEqual(
      r.entries.map((e) => e.path),
      ['ok'],
    );
  });

  it('stops when entry sizes pass maxTotalBytes, on the header', async () => {
    const limits = { ...DEFAULT_ARCHIVE_LIMITS, maxTotalBytes: 1000 };
    const t = rawTar([
      { path: 'a', body: 'a'.repeat(600) },
      { path: 'b', body: 'b'.repeat(600) },
    ]);
    const r = await inspectBytes(gzipSync(t), limits);
    assert.deepEqual(codes(r.findings), ['RESOURCE_CORRUPT']);
    assert.match(r.findings[0]?.message ?? '', /more than 1000 bytes/);
    assert.equal(r.totalBytes, 1200);
  });
});

describe('inspectArchive: unreadable archives', () => {
  it('reports a vanished file without throwing', async () => {
    const r = await inspectArchive(join(tmp, 'nope', 'flow-gone.tar.gz'), 'nope/flow-gone.tar.gz');
    assert.deepEqual(codes(r.findings), ['FILE_UNREADABLE']);
    assert.equal(r.findings[0]?.actual, 'ENOENT');
    assert.equal(r.sha256, null);
  });

  it('reports a file it may not read (or skips where root reads anything)', async (t) => {
    const file = join(tmp, 'locked.tar.gz');
    await writeFile(file, gzipSync(rawTar([{ path: 'a', body: 'a' }])));
    await chmod(file, 0o000);
    if (process.getuid?.() === 0) {
      t.skip('running as root: chmod 000 does not stop reads (the vanished-file test covers this path)');
      return;
    }
    const r = await inspectArchive(file, 'locked.tar.gz');
    assert.deepEqual(codes(r.findings), ['FILE_UNREADABLE']);
    assert.equal(r.sha256, null);
  });

  it('reports a folder or a FIFO in the archive place without hanging', async () => {
    const dir = join(tmp, 'dir.tar.gz');
    await mkdir(dir);
    const r = await inspectArchive(dir, 'dir.tar.gz');
    assert.deepEqual(codes(r.findings), ['FILE_UNREADABLE']);
    const fifo = join(tmp, 'fifo.tar.gz');
    execFileSync('mkfifo', [fifo]);
    const f = await inspectArchive(fifo, 'fifo.tar.gz');
    assert.deepEqual(codes(f.findings), ['FILE_UNREADABLE']);
    assert.match(f.findings[0]?.message ?? '', /not a regular file/);
  });
});

describe('compareFolderToArchive', () => {
  /** A root with deploy/flow-x/ and an archive of it made the given way. */
  async function setup(
    name: string,
    how: 'top' | 'dot' | 'plain',
  ): Promise<{ root: string; folder: string; archive: ArchiveInspection }> {
    const root = join(tmp, `cmp-${name}`);
    const dir = join(root, 'deploy', 'flow-x');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'a.json'), '{"a":1}');
    await writeFile(join(dir, 'sub', 'b.txt'), 'bee');
    const file = join(root, 'deploy', 'flow-x.tar.gz');
    if (how === 'top') await tar.c({ gzip: true, file, cwd: join(root, 'deploy'), portable: true }, ['flow-x']);
    if (how === 'dot') await tar.c({ gzip: true, file, cwd: dir, portable: true }, ['.']);
    if (how === 'plain') await tar.c({ gzip: true, file, cwd: dir, portable: true }, ['a.json', 'sub']);
    const archive = await inspectArchive(file, 'deploy/flow-x.tar.gz');
    assert.deepEqual(archive.findings, []);
    return { root, folder: 'deploy/flow-x', archive };
  }

  it('finds nothing when the folder matches, however the archive was made', async () => {
    for (const how of ['top', 'dot', 'plain'] as const) {
      const { root, folder, archive } = await setup(`same-${how}`, how);
      assert.deepEqual(await compareFolderToArchive(root, folder, archive), [], how);
    }
  });

  it('reports modified, missing and added files', async () => {
    const { root, folder, archive } = await setup('diff', 'top');
    const dir = join(root, folder);
    await writeFile(join(dir, 'a.json'), '{"a":2}');
    await unlink(join(dir, 'sub', 'b.txt'));
    await mkdir(join(dir, 'new'));
    await writeFile(join(dir, 'new', 'c.txt'), 'sea');
    const got = await compareFolderToArchive(root, folder, archive);
    assert.deepEqual(
      got.map((f) => [f.code, f.path]),
      [
        ['ARTIFACT_MODIFIED', 'deploy/flow-x/a.json'],
        ['ARTIFACT_MISSING', 'deploy/flow-x/sub/b.txt'],
        ['ARTIFACT_ADDED', 'deploy/flow-x/new/c.txt'],
      ],
    );
    assert.equal(got[0]?.expected, sha('{"a":1}'));
    assert.equal(got[0]?.actual, sha('{"a":2}'));
  });

  it('reports a symlink put where the archive has a file', async () => {
    const { root, folder, archive } = await setup('link', 'plain');
    await rm(join(root, folder, 'a.json'));
    await symlink('/etc/hostname', join(root, folder, 'a.json'));
    const got = await compareFolderToArchive(root, folder, archive);
    assert.deepEqual(
      got.map((f) => [f.code, f.path]),
      [['ARTIFACT_MODIFIED', 'deploy/flow-x/a.json']],
    );
  });

  it('skips unsafe entries and does not call their folder items added', async () => {
    const root = join(tmp, 'cmp-unsafe');
    const dir = join(root, 'flow-u');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'ok.txt'), 'ok');
    await symlink('ok.txt', join(dir, 'link'));
    const file = join(root, 'flow-u.tar.gz');
    await writeFile(
      file,
      gzipSync(
        rawTar([
          { path: 'flow-u/', type: '5' },
          { path: 'flow-u/ok.txt', body: 'ok' },
          { path: 'flow-u/link', type: '2', linkpath: 'ok.txt' },
          { path: '../evil.txt', body: 'evil' },
        ]),
      ),
    );
    const archive = await inspectArchive(file, 'flow-u.tar.gz');
    assert.deepEqual(codes(archive.findings), ['UNSAFE_ARCHIVE_ENTRY', 'UNSAFE_ARCHIVE_ENTRY']);
    assert.deepEqual(await compareFolderToArchive(root, 'flow-u', archive), []);
  });

  it('reports no added files against an archive it could not read whole', async () => {
    const root = join(tmp, 'cmp-cut');
    const dir = join(root, 'flow-c');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'a.txt'), 'changed');
    await writeFile(join(dir, 'extra.txt'), 'extra');
    const t = rawTar([{ path: 'a.txt', body: 'a' }], { end: false });
    await writeFile(join(root, 'flow-c.tar.gz'), gzipSync(t));
    const archive = await inspectArchive(join(root, 'flow-c.tar.gz'), 'flow-c.tar.gz');
    assert.deepEqual(codes(archive.findings), ['RESOURCE_CORRUPT']);
    const got = await compareFolderToArchive(root, 'flow-c', archive);
    assert.deepEqual(
      got.map((f) => [f.code, f.path]),
      [['ARTIFACT_MODIFIED', 'flow-c/a.txt']],
    );
  });

  it('reports a vanished folder once', async () => {
    const { root, folder, archive } = await setup('gone', 'top');
    await rm(join(root, folder), { recursive: true });
    const got = await compareFolderToArchive(root, folder, archive);
    assert.deepEqual(codes(got), ['FILE_UNREADABLE']);
    assert.equal(got[0]?.path, folder);
  });
});
