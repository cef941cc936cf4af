import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ArchiveLimits } from '../../src/config/layout.js';
import {
  entryKey,
  entryLimitBreach,
  FindingCap,
  hasTopFolder,
  mapEntryType,
  pathDepth,
  typeflagName,
  streamLimitBreach,
  stripTopFolder,
  unsafeEntryReason,
  unsafePathReason,
} from '../../src/observe/archive-safety.js';

const limits: ArchiveLimits = { maxEntries: 10, maxTotalBytes: 1000, maxPathDepth: 3, maxRatio: 50 };

describe('mapEntryType and typeflagName', () => {
  it('maps every tar typeflag we name, and unknown ones to other', () => {
    const cases: [string, string][] = [
      ['0', 'file'],
      ['\0', 'file'],
      ['5', 'directory'],
      ['2', 'symlink'],
      ['1', 'hardlink'],
      ['3', 'device'],
      ['4', 'device'],
      ['6', 'fifo'],
      ['7', 'other'],
      ['S', 'other'],
      ['D', 'other'],
      ['N', 'other'],
      ['Z', 'other'],
      ['9', 'other'],
    ];
    for (const [flag, ours] of cases) assert.equal(mapEntryType(flag), ours, JSON.stringify(flag));
  });
  it('names each refused type, printable or not', () => {
    assert.equal(typeflagName('S'), "GNU sparse file (type 'S')");
    assert.equal(typeflagName('7'), "contiguous file (type '7')");
    assert.equal(typeflagName('Z'), "unknown entry type 'Z'");
    assert.equal(typeflagName('\u00ff'), 'unknown entry type 0xff');
  });
});

describe('unsafePathReason', () => {
  it('accepts ordinary relative paths', () => {
    for (const p of ['a.json', './a.json', 'flow-x/sub/b.txt', 'a..b', '..a/b', 'a/b..', '.hidden', 'a/./b']) {
      assert.equal(unsafePathReason(p), null, p);
    }
  });
  it('names absolute, drive-letter and backslash-rooted paths', () => {
    assert.equal(unsafePathReason('/etc/passwd'), 'absolute path');
    assert.equal(unsafePathReason('//server/share'), 'absolute path');
    assert.equal(unsafePathReason('\\evil'), 'backslash-rooted path');
    assert.equal(unsafePathReason('\\\\server\\share'), 'backslash-rooted path');
    assert.equal(unsafePathReason('C:\\Windows\\x'), 'drive-letter path');
    assert.equal(unsafePathReason('c:/x'), 'drive-letter path');
    assert.equal(unsafePathReason('C:x'), 'drive-letter path');
  });
  it('names control characters, a newline above all', () => {
    for (const p of ['a\nb', 'flow/x\r', '\u0001', 'a\u007fb', 'a\u0085b', 'tab\there']) {
      assert.equal(unsafePathReason(p), 'control character in the name', JSON.stringify(p));
    }
    assert.equal(unsafePathReason('caf\u00e9/\u00fc.json'), null, 'other non-ASCII characters are fine');
  });
  it('finds .. segments with either separator', () => {
    for (const p of ['..', '../x', 'a/../../x', 'a/..', 'a\\..\\x', '..\\x', 'a/b\\..\\..\\c']) {
      assert.equal(unsafePathReason(p), "'..' segment", p);
    }
  });
});

describe('unsafeEntryReason', () => {
  it('flags links, devices and FIFOs whatever their path', () => {
    assert.equal(unsafeEntryReason('ok', 'symlink'), 'symbolic link');
    assert.equal(unsafeEntryReason('ok', 'hardlink'), 'hard link');
    assert.equal(unsafeEntryReason('ok', 'device'), 'device node');
    assert.equal(unsafeEntryReason('ok', 'fifo'), 'FIFO');
  });
  it('lets files and folders with safe paths pass', () => {
    assert.equal(unsafeEntryReason('a/b', 'file'), null);
    assert.equal(unsafeEntryReason('a/', 'directory'), null);
  });
  it('refuses every other type, by name when the typeflag is known', () => {
    assert.equal(unsafeEntryReason('a', 'other'), 'entry type not used in flow archives');
    assert.equal(unsafeEntryReason('a', 'other', 'S'), "GNU sparse file (type 'S')");
  });
  it('names the path problem first', () => {
    assert.equal(unsafeEntryReason('/x', 'symlink'), 'absolute path');
  });
});

describe('pathDepth', () => {
  it('counts named segments only', () => {
    assert.equal(pathDepth('a'), 1);
    assert.equal(pathDepth('./a/b/'), 2);
    assert.equal(pathDepth('a//b/./c'), 3);
    assert.equal(pathDepth('a\\b\\c\\d'), 4);
    assert.equal(pathDepth('./'), 0);
  });
});

describe('entryLimitBreach', () => {
  it('passes an entry within every limit, at the limits themselves', () => {
    assert.equal(entryLimitBreach('a/b/c', 10, 1000, limits), null);
  });
  it('trips on count, total, depth and path length', () => {
    assert.match(entryLimitBreach('a', 11, 0, limits) ?? '', /more than 10 entries/);
    assert.match(entryLimitBreach('a', 1, 1001, limits) ?? '', /more than 1000 bytes/);
    assert.match(entryLimitBreach('a/b/c/d', 1, 0, limits) ?? '', /4 levels deep \(limit 3\)/);
    assert.match(entryLimitBreach('x'.repeat(4097), 1, 0, limits) ?? '', /longer than 4096/);
  });
});

describe('streamLimitBreach', () => {
  it('trips on the ratio only above it', () => {
    assert.equal(streamLimitBreach(5000, 100, limits), null);
    assert.match(streamLimitBreach(5001, 100, limits) ?? '', /ratio above 50/);
  });
  it('trips when the stream exceeds total bytes plus framing', () => {
    const big: ArchiveLimits = { ...limits, maxRatio: 1e9 };
    const cap = 1000 + 10 * 16 * 1024 + 64 * 1024;
    assert.equal(streamLimitBreach(cap, 100, big), null);
    assert.match(streamLimitBreach(cap + 1, 100, big) ?? '', /larger than 1000 bytes/);
  });
});

describe('entryKey and the top-level folder rule', () => {
  it('normalises ./, doubled and trailing slashes', () => {
    assert.equal(entryKey('./a/b.txt'), 'a/b.txt');
    assert.equal(entryKey('././a//b/'), 'a/b');
    assert.equal(entryKey('./'), '');
    assert.equal(entryKey('.'), '');
  });
  it('strips the folder name only when every entry is under it', () => {
    assert.equal(hasTopFolder(['flow-x', 'flow-x/a', 'flow-x/sub/b'], 'flow-x'), true);
    assert.equal(hasTopFolder(['', 'flow-x/a'], 'flow-x'), true);
    assert.equal(hasTopFolder(['flow-x/a', 'other'], 'flow-x'), false);
    assert.equal(hasTopFolder(['flow-xy/a'], 'flow-x'), false);
    assert.equal(hasTopFolder(['flow-x'], 'flow-x'), false, 'a lone entry named like the folder is not a top folder');
    assert.equal(hasTopFolder([], 'flow-x'), false);
    assert.equal(stripTopFolder('flow-x/sub/b', 'flow-x'), 'sub/b');
    assert.equal(stripTopFolder('flow-x', 'flow-x'), '');
  });
});

describe('FindingCap', () => {
  it('keeps the first findings and summarises the rest', () => {
    const cap = new FindingCap('UNSAFE_ARCHIVE_ENTRY', 'd/flow-x.tar.gz', 'unsafe entries', 3);
    for (let i = 0; i < 7; i++) cap.add(`bad ${i}`, { actual: `e${i}` });
    const f = cap.findings();
    assert.equal(cap.count, 7);
    assert.equal(f.length, 4);
    assert.deepEqual(
      f.slice(0, 3).map((x) => x.actual),
      ['e0', 'e1', 'e2'],
    );
    assert.equal(f[3]?.message, '4 more unsafe entries not listed');
    assert.deepEqual(f[3]?.actual, { more: 4 });
    for (const x of f) {
      assert.equal(x.code, 'UNSAFE_ARCHIVE_ENTRY');
      assert.equal(x.severity, 'error');
      assert.equal(x.path, 'd/flow-x.tar.gz');
    }
  });
  it('adds no summary when nothing was dropped', () => {
    const cap = new FindingCap('RESOURCE_CORRUPT', 'p', 'errors', 3);
    cap.add('one');
    assert.equal(cap.findings().length, 1);
  });
});
