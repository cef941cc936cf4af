import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  headerSum,
  octalField,
  paxRecordVerdict,
  parseLongName,
  parsePax,
  readHeader,
  textField,
} from '../../src/observe/tar-header.js';
import { FIELD, paxRecord, setChecksum, ustarHeader } from '../lib/evil-tar.js';

/** A header with one field overwritten, checksum recomputed. */
function patched(offset: number, bytes: Buffer | string, opts: { signed?: boolean } = {}): Buffer {
  const h = ustarHeader({ path: 'a.txt', body: 'abc' });
  h.fill(0, offset, offset + Buffer.from(bytes).length);
  Buffer.from(bytes).copy(h, offset);
  setChecksum(h, opts);
  return h;
}

const problem = (h: Buffer): string => {
  const r = readHeader(h);
  assert.equal(r.ok, false, 'expected the header to be refused');
  return r.ok ? '' : r.problem;
};

describe('octalField', () => {
  const field = (s: string | Buffer, blank = false) => {
    const b = Buffer.alloc(12);
    Buffer.from(s).copy(b);
    return octalField(b, 0, 12, 'size', blank);
  };
  it('reads what tar writers write', () => {
    for (const [s, v] of [
      ['00000000005\0', 5],
      ['0000005 \0', 5],
      ['      17    ', 15],
      ['777777777777', 0o777777777777],
    ] as const) {
      assert.deepEqual(field(s), { ok: true, value: v }, JSON.stringify(s));
    }
  });
  it('refuses what readers read in different ways', () => {
    for (const s of [
      Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]), // base-256
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb]), // base-256, negative
      '\u000000000000005', // GNU skips one leading NUL, others read an empty field
      '0000000005x\0',
      '00000005\0xy\0',
      '5 5\0',
      '-5\0',
      '+5\0',
      '0o5\0',
    ]) {
      assert.equal(field(s).ok, false, JSON.stringify(s.toString()));
    }
  });
  it('takes a blank field as 0 only where asked', () => {
    assert.equal(field(Buffer.alloc(12)).ok, false);
    assert.deepEqual(field(Buffer.alloc(12), true), { ok: true, value: 0 });
    assert.deepEqual(field('        ', true), { ok: true, value: 0 });
  });
});

describe('textField', () => {
  it('stops at the NUL and refuses bytes after it', () => {
    const b = Buffer.alloc(10);
    b.write('abc');
    assert.deepEqual(textField(b, 0, 10, 'name'), { ok: true, value: Buffer.from('abc') });
    b.write('z', 6);
    assert.equal(textField(b, 0, 10, 'name').ok, false);
    assert.equal(textField(b, 0, 10, 'name', 5).ok, true, 'only the checked part must be clean');
    assert.deepEqual(textField(Buffer.from('abcdefghij'), 0, 10, 'name'), { ok: true, value: Buffer.from('abcdefghij') });
  });
});

describe('readHeader', () => {
  it('reads a POSIX, an old GNU and a v7 header', () => {
    for (const magic of ['posix', 'gnu', 'v7'] as const) {
      const r = readHeader(ustarHeader({ path: 'dir/a.txt', body: 'abc', mode: 0o100640, magic }));
      assert.ok(r.ok, magic);
      if (!r.ok) continue;
      assert.equal(r.value.format, magic);
      assert.equal(r.value.name.toString(), 'dir/a.txt');
      assert.equal(r.value.size, 3);
      assert.equal(r.value.mode, 0o640, 'file-type bits some writers put in mode are dropped');
      assert.equal(r.value.typeflag, '0');
    }
  });
  it('joins the prefix under POSIX magic only, and refuses it elsewhere', () => {
    const r = readHeader(ustarHeader({ path: 'b.txt', prefix: 'long/dir', body: 'x' }));
    assert.ok(r.ok && r.value.prefix.toString() === 'long/dir');
    assert.match(problem(ustarHeader({ path: 'b.txt', prefix: 'long/dir', body: 'x', magic: 'gnu' })), /prefix area/);
    assert.match(problem(ustarHeader({ path: 'b.txt', prefix: 'long/dir', body: 'x', magic: 'v7' })), /prefix area/);
    // star and node-tar keep times past byte 130 of the prefix field
    const star = patched(FIELD.prefix + 131, '14567012345\0');
    assert.ok(readHeader(star).ok);
    assert.match(problem(patched(FIELD.prefix + 20, 'junk')), /prefix field has bytes after/);
  });
  it('checks the unsigned sum only', () => {
    const h = ustarHeader({ path: 'caf\u00e9.txt', body: 'x' });
    assert.ok(readHeader(h).ok);
    const signed = ustarHeader({ path: 'caf\u00e9.txt', body: 'x', signedChecksum: true });
    assert.notEqual(headerSum(signed), headerSum(h) - 2 * 0x100, 'sanity: the header has bytes above 0x7f');
    assert.match(problem(signed), /checksum does not match/);
    assert.match(problem(ustarHeader({ path: 'a', body: 'x', badChecksum: true })), /checksum does not match/);
  });
  it('refuses unknown magic and version fields', () => {
    assert.match(problem(patched(FIELD.magic, 'ustar\u0000xx')), /unknown header magic/);
    assert.match(problem(patched(FIELD.magic, 'USTAR\u000000')), /unknown header magic/);
    assert.match(problem(patched(FIELD.version, ' \u0000')), /unknown header magic/);
  });
  it('refuses bad numbers in every numeric field it reads', () => {
    assert.match(problem(patched(FIELD.size, Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]))), /size is a base-256/);
    assert.match(problem(patched(FIELD.mode, '0644x\0')), /mode is not an octal/);
    assert.match(problem(patched(FIELD.uid, '12a\0')), /uid is not an octal/);
    assert.match(problem(patched(FIELD.mtime, '\u00001234567\0')), /mtime is not an octal/);
    assert.match(problem(patched(FIELD.size, Buffer.alloc(12))), /size is blank/);
    assert.ok(readHeader(patched(FIELD.uid, Buffer.alloc(8))).ok, 'node-tar leaves uid blank in portable archives');
  });
  it('refuses bytes after the NUL of the name and link name', () => {
    assert.match(problem(patched(FIELD.name + 50, 'hidden')), /name field has bytes after/);
    assert.match(problem(patched(FIELD.linkname + 10, 'x')), /link name field has bytes after/);
  });
});

describe('parsePax', () => {
  const body = (...records: (string | Buffer)[]) => Buffer.concat(records.map((r) => Buffer.from(r)));
  it('reads records by their length, newlines in values included', () => {
    const r = parsePax(body(paxRecord('path', 'a\nb'), paxRecord('mtime', '1.5')));
    assert.ok(r.ok);
    if (r.ok) assert.deepEqual([...r.value], [['path', 'a\nb'], ['mtime', '1.5']]);
    assert.deepEqual(parsePax(Buffer.alloc(0)), { ok: true, value: new Map() });
    assert.equal(paxRecord('path', 'x').toString(), '9 path=x\n');
    assert.equal(paxRecord('path', 'x'.repeat(91)).toString().slice(0, 4), '101 ', 'the length counts its own digits');
  });
  it('refuses every record that does not parse', () => {
    const cases: [Buffer, RegExp][] = [
      [body('12 path=x\n'), /runs past/],
      [body('8 path=xy\n'), /does not end where its length says/],
      [body('9 pathx\n\n'), /no key=value/],
      [body('9 =pathx\n'), /no key=value/],
      [body('09 path=x\n'), /leading zero/],
      [body('9path=x\n'), /no space/],
      [body(' 9 path=x\n'), /no length/],
      [body(paxRecord('path', 'x'), 'garbage'), /no length/],
      [body(paxRecord('path', 'x'), '\0\0\0'), /no length/],
      [body(paxRecord('path', Buffer.from([0x66, 0xff]))), /not UTF-8/],
      [body(paxRecord('pa\u0000th', 'x')), /NUL/],
      [body(paxRecord('path', 'x'), paxRecord('path', 'y')), /appears twice/],
      [body('999999999 path=x\n'), /too many digits|runs past/],
    ];
    for (const [b, re] of cases) {
      const r = parsePax(b);
      assert.equal(r.ok, false, JSON.stringify(b.toString()));
      if (!r.ok) assert.match(r.problem, re, JSON.stringify(b.toString()));
    }
  });
});

describe('paxRecordVerdict', () => {
  it('accepts what tar writers put in flow archives', () => {
    for (const [k, v] of [
      ['path', 'flow/x'],
      ['size', '12'],
      ['mtime', '1796147527.330290228'],
      ['atime', '-5'],
      ['uid', '1000'],
      ['uname', 'builder'],
      ['comment', 'anything'],
      ['SCHILY.ino', '123456'],
      ['LIBARCHIVE.creationtime', '1700000000'],
    ]) {
      assert.equal(paxRecordVerdict(k as string, v as string), null, k);
    }
  });
  it('refuses sparse records, unknown keys and malformed values', () => {
    assert.equal(paxRecordVerdict('GNU.sparse.map', '0,10')?.kind, 'unsafe');
    for (const k of ['hdrcharset', 'SCHILY.xattr.security.capability', 'LIBARCHIVE.xattr.x', 'charset', '__proto__', 'constructor']) {
      assert.equal(paxRecordVerdict(k, 'x')?.kind, 'unsafe', k);
    }
    for (const [k, v] of [
      ['size', '-1'],
      ['size', '012'],
      ['size', '1e3'],
      ['mtime', '99999999999999999999'],
      ['mtime', 'now'],
      ['uid', '4294967296'],
      ['path', ''],
    ]) {
      assert.equal(paxRecordVerdict(k as string, v as string)?.kind, 'corrupt', `${k}=${v}`);
    }
  });
});

describe('parseLongName', () => {
  it('takes a name followed only by NULs', () => {
    assert.deepEqual(parseLongName(Buffer.from('a/b\0'), 'L'), { ok: true, value: Buffer.from('a/b') });
    assert.deepEqual(parseLongName(Buffer.from('a/b\0\0\0'), 'L'), { ok: true, value: Buffer.from('a/b') });
    assert.equal(parseLongName(Buffer.from('a/b'), 'L').ok, false);
    assert.equal(parseLongName(Buffer.from('a/b\0c'), 'L').ok, false);
    assert.equal(parseLongName(Buffer.from('\0'), 'L').ok, false);
  });
});
