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
import { codesOf, pass, tempCore } from '../lib/core.js';
import { FIELD, gnuLongName, paxHeader, paxRecord, rawTar, ustarHeader, type RawEntry } from '../lib/evil-tar.js';

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
    assert.match(corrupt(r).map((f) => f.message).join('\n'), /header|magic|octal|base-256/);
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
    assert.ok(corrupt(r).some((f) => /truncated inside an entry/.test(f.message)));
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

describe('inspectArchive: what other readers read differently', () => {
  const ok: RawEntry = { path: 'flow/ok.txt', body: 'ok' };
  const long = `flow/${'d'.repeat(120)}/file.txt`;
  /** Inspects entries after a good one; returns the codes and all messages. */
  async function judge(entries: RawEntry[], opts: { end?: boolean; tail?: Buffer } = {}) {
    const t = rawTar([ok, ...entries], opts);
    const r = await inspectBytes(gzipSync(opts.tail ? Buffer.concat([t, opts.tail]) : t));
    return { r, codes: [...new Set(codes(r.findings))], text: r.findings.map((f) => f.message).join('\n') };
  }

  it('accepts regular files and folders, pax records and GNU long names that agree', async () => {
    const { r, codes: c } = await judge([
      { path: 'flow/', type: '5' },
      paxHeader([['path', long], ['mtime', '1796147527.330290228'], ['size', '4']]),
      { path: long.slice(0, 99), body: 'deep' },
      gnuLongName(`${long}.gnu`),
      { path: long.slice(0, 100), body: 'gnu', magic: 'gnu' },
      { path: 'name.txt', prefix: 'flow/with/a/prefix', body: 'p' },
      { path: 'flow/old-style', type: '\0', body: 'o' },
      { path: 'flow/v7.txt', body: 'v', magic: 'v7' },
    ]);
    assert.deepEqual(c, []);
    assert.deepEqual(
      r.entries.map((e) => [e.path, e.type, e.sha256]),
      [
        ['flow/ok.txt', 'file', sha('ok')],
        ['flow/', 'directory', undefined],
        [long, 'file', sha('deep')],
        [`${long}.gnu`, 'file', sha('gnu')],
        ['flow/with/a/prefix/name.txt', 'file', sha('p')],
        ['flow/old-style', 'file', sha('o')],
        ['flow/v7.txt', 'file', sha('v')],
      ],
    );
  });

  const unsafe: [string, RawEntry[], RegExp][] = [
    ['a GNU sparse entry', [{ path: 'flow/sparse', type: 'S', body: 'data' }], /GNU sparse file \(type 'S'\)/],
    ['a pax GNU sparse file', [paxHeader([['GNU.sparse.map', '0,4'], ['GNU.sparse.realsize', '4096']]), { path: 'flow/s', body: 'data' }], /GNU sparse/],
    ['a global pax header', [paxHeader([['path', 'flow/renamed']], 'g'), { path: 'flow/a', body: 'a' }], /global pax header/],
    ['a pax path with a newline', [paxHeader([['path', 'flow/a\nb']]), { path: 'flow/a', body: 'a' }], /control character/],
    ['a name with a control character', [{ path: 'flow/a\u001b[2Jb', body: 'a' }], /control character/],
    ['a name that is not UTF-8', [{ path: '', pathBytes: Buffer.from([0x66, 0x2f, 0xff, 0xfe]), body: 'a' }], /not valid UTF-8/],
    ['a GNU long name that is not UTF-8', [gnuLongName(Buffer.from([0x66, 0x2f, 0xc3])), { path: '', pathBytes: Buffer.from([0x66, 0x2f]), body: 'a', magic: 'gnu' }], /not valid UTF-8/],
    ['a pax key no flow needs', [paxHeader([['SCHILY.xattr.security.capability', 'x']]), { path: 'flow/a', body: 'a' }], /pax key not used/],
    ['a charset switch', [paxHeader([['hdrcharset', 'BINARY']]), { path: 'flow/a', body: 'a' }], /pax key not used/],
    ['a symbolic link named by a GNU long link', [gnuLongName('/etc/shadow', 'K'), { path: 'flow/l', type: '2', linkpath: '/etc/shadow'.slice(0, 5) }], /symbolic link/],
  ];
  for (const flag of ['7', 'D', 'V', 'I', 'A', 'M', 'N', 'X', 'Z', '9', 'E']) {
    unsafe.push([`type '${flag}'`, [{ path: `flow/t${flag}`, type: flag, body: 'data' }], new RegExp(`type '${flag}'`)]);
  }
  for (const [name, entries, re] of unsafe) {
    it(`refuses ${name} (UNSAFE_ARCHIVE_ENTRY)`, async () => {
      const { r, codes: c, text } = await judge(entries);
      assert.ok(c.includes('UNSAFE_ARCHIVE_ENTRY'), `${name}: ${text}`);
      assert.match(text, re);
      assert.equal(r.entries[0]?.sha256, sha('ok'), 'the good entry before it is still read');
    });
  }

  const num = (off: number, bytes: Buffer | string) => ({ offset: off, bytes });
  const corrupt: [string, RawEntry[], RegExp, { end?: boolean; tail?: Buffer }?][] = [
    ['a pax record with a wrong length', [{ ...paxHeader([]), body: '12 path=x\n' }, { path: 'a', body: 'a' }], /runs past/],
    ['a pax record without =', [{ ...paxHeader([]), body: '9 pathxx\n' }, { path: 'a', body: 'a' }], /no key=value/],
    ['a pax record that is not UTF-8', [paxHeader([['path', Buffer.from([0x61, 0xff])]]), { path: 'a', body: 'a' }], /not UTF-8/],
    ['a pax header with trailing garbage', [{ ...paxHeader([]), body: Buffer.concat([paxRecord('path', 'a'), Buffer.from('junk')]) }, { path: 'a', body: 'a' }], /no length/],
    ['a pax key given twice', [{ ...paxHeader([]), body: Buffer.concat([paxRecord('path', 'a'), paxRecord('path', 'b')]) }, { path: 'a', body: 'a' }], /appears twice/],
    ['a malformed pax mtime', [paxHeader([['mtime', 'yesterday']]), { path: 'a', body: 'a' }], /mtime is malformed/],
    ['a pax size that disagrees with the header', [paxHeader([['size', '1']]), { path: 'a', body: 'abc' }], /pax size 1 disagrees/],
    ['two pax headers for one entry', [paxHeader([['path', 'x']]), paxHeader([['path', 'y']]), { path: 'a', body: 'a' }], /two pax headers/],
    ['a pax path and a GNU long name together', [paxHeader([['path', 'flow/p']]), gnuLongName('flow/l'), { path: 'flow/l', body: 'a' }], /both by a pax path and by a GNU long name/],
    ['a GNU long name that disagrees with its header', [gnuLongName(`${long}.a`), { path: 'flow/other', body: 'a', magic: 'gnu' }], /long name disagrees/],
    ['a GNU long name with bytes after its NUL', [{ ...gnuLongName('x'), body: 'flow/x\0hidden' }, { path: 'flow/x', body: 'a', magic: 'gnu' }], /after its terminating NUL/],
    ['two GNU long names', [gnuLongName('flow/x'), gnuLongName('flow/x'), { path: 'flow/x', body: 'a' }], /two GNU long names/],
    ['a long link name on a file', [gnuLongName('target', 'K'), { path: 'flow/x', body: 'a' }], /link name on an entry that is not a link/],
    ['a link name field on a file', [{ path: 'flow/x', body: 'a', linkpath: 'elsewhere' }], /link name on an entry that is not a link/],
    ['a checksum valid only as a signed sum', [{ path: 'flow/caf\u00e9', body: 'a', signedChecksum: true }], /checksum does not match/],
    ['a base-256 size', [{ path: 'a', body: 'abc', patch: [num(FIELD.size, Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]))] }], /base-256/],
    ['a size with a leading NUL', [{ path: 'a', body: 'abc', patch: [num(FIELD.size, '\u00000000000003')] }], /size is not an octal/],
    ['a size with garbage', [{ path: 'a', body: 'abc', patch: [num(FIELD.size, '0000000003x\0')] }], /size is not an octal/],
    ['a uid with garbage', [{ path: 'a', body: 'abc', patch: [num(FIELD.uid, '00000z\0\0')] }], /uid is not an octal/],
    ['an unknown magic', [{ path: 'a', body: 'abc', patch: [num(FIELD.magic, 'ustar\u0000xx')] }], /unknown header magic/],
    ['an old GNU header with a prefix', [{ path: 'b', prefix: 'flow/hidden', body: 'abc', magic: 'gnu' }], /prefix area/],
    ['a name with bytes after its NUL', [{ path: 'a', body: 'abc', patch: [num(FIELD.name + 60, 'hidden')] }], /name field has bytes after/],
    ['a folder with content', [{ path: 'flow/d/', type: '5', size: 512, body: Buffer.alloc(512, 0x41) }], /folder entry with 512 bytes/],
    ['a file named like a folder', [{ path: 'flow/f/', body: 'abc' }], /file entry named like a folder/],
    ['a lone zero block inside the archive', [], /lone zero block/, { end: false, tail: Buffer.concat([Buffer.alloc(512), rawTar([{ path: 'hidden', body: 'h' }])]) }],
    ['data after the end-of-archive marker', [], /data after the end-of-archive marker/, { tail: rawTar([{ path: 'hidden', body: 'h' }]) }],
    ['a pax header with no entry after it', [paxHeader([['path', 'x']])], /no entry|not an entry/],
    ['an oversized pax header', [paxHeader([['comment', randomBytes(35_000).toString('hex')]]), { path: 'a', body: 'a' }], /oversized pax header record/],
    ['an entry without a name', [{ path: '', body: 'a' }], /without a name/],
  ];
  for (const [name, entries, re, opts] of corrupt) {
    it(`refuses ${name} (RESOURCE_CORRUPT)`, async () => {
      const { r, codes: c, text } = await judge(entries, opts);
      assert.ok(c.includes('RESOURCE_CORRUPT'), `${name}: ${text}`);
      assert.match(text, re);
      assert.equal(r.entries[0]?.sha256, sha('ok'), 'the good entry before it is still read');
    });
  }

  it('accepts gzip members one after another and zeros after the last, not data after zeros', async () => {
    const a = gzipSync(rawTar([ok]).subarray(0, 512 + 512));
    const b = gzipSync(Buffer.alloc(1024));
    const multi = await inspectBytes(Buffer.concat([a, b]));
    assert.deepEqual(multi.findings, []);
    assert.equal(multi.entries[0]?.sha256, sha('ok'));
    const zeros = await inspectBytes(Buffer.concat([gzipSync(rawTar([ok])), Buffer.alloc(4096)]));
    assert.deepEqual(zeros.findings, []);
    const hidden = await inspectBytes(Buffer.concat([gzipSync(rawTar([ok])), Buffer.alloc(16), Buffer.from('hidden')]));
    assert.deepEqual(codes(hidden.findings), ['RESOURCE_CORRUPT']);
    assert.match(hidden.findings[0]?.message ?? '', /data after the end of the gzip stream/);
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

  it('calls a folder, a FIFO or a symbolic link in the archive place corrupt, without hanging', async () => {
    const dir = join(tmp, 'dir.tar.gz');
    await mkdir(dir);
    const fifo = join(tmp, 'fifo.tar.gz');
    execFileSync('mkfifo', [fifo]);
    const good = join(tmp, 'good.tar.gz');
    await writeFile(good, gzipSync(rawTar([{ path: 'a', body: 'a' }])));
    const link = join(tmp, 'link.tar.gz');
    await symlink(good, link);
    for (const [file, what] of [
      [dir, 'a folder'],
      [fifo, 'a FIFO'],
      [link, 'a symbolic link'],
    ] as const) {
      const r = await inspectArchive(file, 'x.tar.gz');
      assert.deepEqual(codes(r.findings), ['RESOURCE_CORRUPT'], what);
      assert.equal(r.findings[0]?.message, `archive is ${what}, not a regular file`);
      assert.equal(r.sha256, null);
      assert.deepEqual(r.entries, []);
    }
    assert.deepEqual((await inspectArchive(good, 'good.tar.gz')).findings, [], 'the link target itself is fine');
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

describe('a flow archive that is not a regular file, on a core', () => {
  // No expectation and no earlier baseline: nothing but the archive check stands between this and VERIFIED.
  for (const kind of ['symbolic link', 'FIFO', 'folder'] as const) {
    it(`a ${kind} in the archive's place is RESOURCE_CORRUPT, not skipped`, async () => {
      const core = await tempCore({ unpacked: false });
      try {
        const abs = join(core.root, core.paths.archive);
        const real = join(core.root, 'elsewhere.tar.gz');
        await writeFile(real, await readFile(abs));
        await rm(abs);
        if (kind === 'symbolic link') await symlink(real, abs);
        if (kind === 'FIFO') execFileSync('mkfifo', [abs]);
        if (kind === 'folder') await mkdir(abs);
        const r = await pass(core, null);
        assert.notEqual(r.report.status, 'VERIFIED');
        assert.ok(codesOf(r).includes('RESOURCE_CORRUPT'), codesOf(r).join(','));
        const f = r.verdict.findings.find((x) => x.code === 'RESOURCE_CORRUPT');
        assert.equal(f?.path, core.paths.archive);
        assert.match(f?.message ?? '', new RegExp(`archive is a ${kind}, not a regular file`));
      } finally {
        await core.cleanup();
      }
    });
  }

  it('the same core with the archive itself verifies', async () => {
    const core = await tempCore({ unpacked: false });
    try {
      const r = await pass(core, null);
      assert.equal(r.report.status, 'VERIFIED', JSON.stringify(r.verdict.findings));
    } finally {
      await core.cleanup();
    }
  });
});
