// A seeded generator of hostile flow archives for the differential test:
// the named hazards (each a way two tar readers have been known to part), and
// random archives built from what real writers emit (ustar, old GNU, pax, long
// names, prefixes) then mutated: types, pax records, long-name records, header
// fields rewritten with a valid checksum, framing and gzip damage.
import { gzipSync } from 'node:zlib';
import {
  BLOCK,
  FIELD,
  gnuLongName,
  paxHeader,
  paxRecord,
  rawTar,
  rawTarWithOffsets,
  setChecksum,
  type ChecksumForm,
  type RawEntry,
} from './evil-tar.js';
import { Rand } from './seeded.js';

export interface GeneratedArchive {
  /** How it was made: the case name, or the seed and the mutations applied. */
  name: string;
  gz: Buffer;
}

const ok: RawEntry = { path: 'flow/manifest.json', body: '{"format":"thingsgraph-deployment"}\n' };
const long = `flow/${'d'.repeat(120)}/file.txt`;
const tgz = (entries: RawEntry[], opts: { end?: boolean; tail?: Buffer } = {}): Buffer => {
  const t = rawTar(entries, opts);
  return gzipSync(opts.tail ? Buffer.concat([t, opts.tail]) : t);
};

/** The hazards by name: each one a way readers have been seen to part. */
export function namedCases(): GeneratedArchive[] {
  const cases: [string, RawEntry[], { end?: boolean; tail?: Buffer }?][] = [
    ['clean ustar', [{ path: 'flow/', type: '5' }, ok, { path: 'flow/empty', body: '' }]],
    ['clean pax long name', [paxHeader([['path', long], ['mtime', '1700000000.5']]), { path: long.slice(0, 99), body: 'deep' }]],
    ['clean GNU long name', [gnuLongName(long), { path: long.slice(0, 100), body: 'gnu', magic: 'gnu' }]],
    ['clean prefix', [{ path: 'file.txt', prefix: 'flow/a/b', body: 'p' }]],
    ['clean odd names', [{ path: './', type: '5' }, { path: './flow//a', body: 'a' }, { path: 'flow/./b', body: 'b' }, { path: 'flow\\c', body: 'c' }, { path: 'flow/caf\u00e9 \u2028 "q"', body: 'd' }]],
    ['file named dot', [ok, { path: 'flow/.', body: 'x' }]],
    ['GNU sparse', [ok, { path: 'flow/sparse', type: 'S', body: 'data' }]],
    ['pax GNU sparse', [paxHeader([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'flow/s'], ['GNU.sparse.realsize', '8']]), { path: 'flow/GNUSparseFile.0/s', body: Buffer.from('\x31\x0a\x30\x0a\x34\x0a'.padEnd(512, '\0') + 'data') }]],
    ['global pax path', [paxHeader([['path', 'flow/evil']], 'g'), ok]],
    ['global pax comment', [paxHeader([['comment', 'git archive']], 'g'), ok]],
    ['pax path with newline', [paxHeader([['path', 'flow/a\nflow/b']]), { path: 'flow/a', body: 'x' }]],
    ['pax record length short', [{ ...paxHeader([]), body: '8 path=flow/evil\n' }, ok]],
    ['pax record length long', [{ ...paxHeader([]), body: '30 path=flow/evil\n' }, ok]],
    ['pax record no =', [{ ...paxHeader([]), body: '13 pathflow/e\n' }, ok]],
    ['pax record non-UTF-8', [paxHeader([['path', Buffer.from([0x66, 0x2f, 0xff])]]), ok]],
    ['pax trailing garbage', [{ ...paxHeader([]), body: Buffer.concat([paxRecord('path', 'flow/x'), Buffer.from('zz')]) }, ok]],
    ['pax size mismatch', [paxHeader([['size', '2']]), { path: 'flow/a', body: 'abcdef' }]],
    ['pax duplicate path', [{ ...paxHeader([]), body: Buffer.concat([paxRecord('path', 'flow/a'), paxRecord('path', 'flow/b')]) }, { path: 'flow/c', body: 'c' }]],
    ['two pax headers', [paxHeader([['path', 'flow/a']]), paxHeader([['mtime', '1']]), { path: 'flow/c', body: 'c' }]],
    ['pax and GNU long name', [paxHeader([['path', 'flow/p']]), gnuLongName('flow/l'), { path: 'flow/l', body: 'c', magic: 'gnu' }]],
    ['GNU long name disagrees', [gnuLongName(`${long}.x`), { path: 'flow/innocent', body: 'c', magic: 'gnu' }]],
    ['GNU long name junk after NUL', [{ ...gnuLongName('x'), body: 'flow/a\0flow/b\0' }, { path: 'flow/a', body: 'c', magic: 'gnu' }]],
    ['old GNU long name N', [{ path: '././@LongLink', type: 'N', body: 'flow/renamed\0', magic: 'gnu' }, { path: 'flow/a', body: 'c', magic: 'gnu' }]],
    ['long link on a file', [gnuLongName('flow/target', 'K'), { path: 'flow/a', body: 'c', magic: 'gnu' }]],
    ['prefix under old GNU magic', [{ path: 'a', prefix: 'flow/hidden', body: 'c', magic: 'gnu' }]],
    ['signed checksum', [{ path: 'flow/caf\u00e9', body: 'c', signedChecksum: true }]],
    ['bad checksum', [ok, { path: 'flow/a', body: 'c', badChecksum: true }]],
    ['base-256 size', [{ path: 'flow/a', body: 'abc', patch: [{ offset: FIELD.size, bytes: Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]) }] }]],
    ['leading-NUL size', [{ path: 'flow/a', body: 'abc', patch: [{ offset: FIELD.size, bytes: '\u00000000000003' }] }]],
    ['garbage size', [{ path: 'flow/a', body: 'abc', patch: [{ offset: FIELD.size, bytes: '0000000003x\0' }] }]],
    ['ustar version xx', [{ path: 'flow/a', body: 'abc', patch: [{ offset: FIELD.version, bytes: 'xx' }] }]],
    ['name junk after NUL', [{ path: 'flow/a', body: 'abc', patch: [{ offset: FIELD.name + 50, bytes: 'flow/b' }] }]],
    ['dir with content', [{ path: 'flow/d/', type: '5', size: 1024, body: rawTar([{ path: 'flow/smuggled', body: 's' }], { end: false }) }, ok]],
    ['file with trailing slash', [{ path: 'flow/f/', body: 'abc' }, ok]],
    ['old-style file with trailing slash', [{ path: 'flow/f/', type: '\0', body: 'abc' }, ok]],
    ['control character name', [{ path: 'flow/a\rb', body: 'abc' }]],
    ['non-UTF-8 name', [{ path: '', pathBytes: Buffer.from([0x66, 0x2f, 0xe9]), body: 'abc' }]],
    ['symlink', [ok, { path: 'flow/l', type: '2', linkpath: '/etc/shadow' }]],
    ['hard link', [ok, { path: 'flow/h', type: '1', linkpath: 'flow/manifest.json' }]],
    ['FIFO', [ok, { path: 'flow/p', type: '6' }]],
    ['device', [ok, { path: 'flow/c', type: '3' }]],
    ['lone zero block', [ok], { end: false, tail: Buffer.concat([Buffer.alloc(BLOCK), rawTar([{ path: 'flow/hidden', body: 'h' }])]) }],
    ['data after end', [ok], { tail: rawTar([{ path: 'flow/hidden', body: 'h' }]) }],
    ['no end marker', [ok], { end: false }],
    ['absolute path', [{ path: '/etc/cron.d/x', body: 'x' }]],
    ['dot-dot path', [{ path: 'flow/../../x', body: 'x' }]],
  ];
  // Read alike by GNU tar and by our reader, differently by node-tar: only the cross-check refuses these.
  const smuggled = (value: string) => paxHeader([['comment', value]]);
  cases.push(
    // node-tar reads the checksum as twelve bytes up to a NUL: eight digits run into the typeflag.
    ['checksum of eight digits', [ok, { path: 'flow/a', body: 'abc', checksumForm: 'eight' }]],
    // node-tar reads the POSIX prefix up to a NUL with a pattern that stops at a newline.
    // (Bytes 130 on of the prefix are star's times to some readers, and unchecked by ours.)
    ['prefix tail with a newline', [{ path: 'file.txt', prefix: 'flow/a', body: 'p', patch: [{ offset: FIELD.prefix + 130, bytes: 'y\nz' }] }]],
    // node-tar splits pax records at newlines, not by their lengths: a comment can carry a record.
    ['pax comment smuggles a path', [smuggled('x\n22 path=flow/evil.txt'), { path: 'flow/innocent', body: 'c' }]],
    ['pax comment smuggles a size', [smuggled('x\n10 size=0'), { path: 'flow/innocent', body: 'c' }, ok]],
  );
  for (const flag of ['7', 'D', 'V', 'I', 'A', 'M', 'X', 'Z', '9', 'E', 'g']) {
    cases.push([`type ${flag}`, [ok, { path: `flow/t${flag}`, type: flag, body: 'data' }]]);
  }
  const out = cases.map(([name, entries, opts]) => ({ name, gz: tgz(entries, opts) }));
  out.push({ name: 'GNU long name cut by a gunzip chunk', gz: tgz(longNameAcrossChunk()) });
  const plain = gzipSync(rawTar([ok]));
  out.push({ name: 'gzip trailing zeros', gz: Buffer.concat([plain, Buffer.alloc(100)]) });
  out.push({ name: 'gzip zeros then garbage', gz: Buffer.concat([plain, Buffer.alloc(10), Buffer.from('garbage')]) });
  out.push({ name: 'gzip trailing garbage', gz: Buffer.concat([plain, Buffer.from('garbage')]) });
  out.push({ name: 'gzip two members', gz: Buffer.concat([gzipSync(rawTar([ok], { end: false })), gzipSync(Buffer.alloc(1024))]) });
  return out;
}

/**
 * An archive GNU tar reads fine, whose GNU long-name record (multi-byte
 * characters) straddles stream offset 16 KiB, where gunzip ends its first
 * output chunk, with the boundary inside a character: node-tar decodes each
 * piece of a record on its own, and reads another name.
 */
function longNameAcrossChunk(): RawEntry[] {
  const name = Buffer.from(`flow/${'\u00e9'.repeat(300)}.json`);
  // Header 0, 29 blocks of body, the L header at 15360, its record from 15872: byte 512 of the
  // record (offset 16384) is the second byte of an e-acute.
  return [
    { path: 'flow/pad.bin', body: Buffer.alloc(29 * BLOCK, 0x61) },
    gnuLongName(name),
    { path: '', pathBytes: name.subarray(0, 100), body: 'long', magic: 'gnu' },
  ];
}

// Building blocks of a random archive: what real writers put in flow archives.
function baseEntries(r: Rand): RawEntry[] {
  const out: RawEntry[] = [];
  const n = r.int(1, 6);
  for (let i = 0; i < n; i++) {
    const body = r.bytes(r.pick([0, 1, 100, 511, 512, 513, 2000]));
    switch (r.int(0, 7)) {
      case 0:
        out.push({ path: `flow/d${i}/`, type: '5' });
        break;
      case 1: {
        const p = `flow/${r.word(r.int(100, 180))}`;
        out.push(paxHeader([['path', p], ['mtime', `${r.int(0, 2e9)}.${r.int(0, 999)}`]]), { path: p.slice(0, 99), body });
        break;
      }
      case 2: {
        const p = `flow/${r.word(r.int(100, 180))}`;
        out.push(gnuLongName(p), { path: p.slice(0, r.pick([99, 100])), body, magic: 'gnu' });
        break;
      }
      case 3:
        out.push({ path: r.word(r.int(1, 90)), prefix: `flow/${r.word(r.int(1, 120))}`, body });
        break;
      case 4:
        out.push({ path: `flow/v7-${i}`, body, magic: 'v7' });
        break;
      case 5:
        out.push({ path: `flow/old-${i}`, type: '\0', body });
        break;
      case 6:
        out.push(paxHeader([['uid', String(r.int(0, 70000))], ['uname', r.word(5)], ['SCHILY.ino', String(r.int(1, 1e6))]]), {
          path: `flow/pax-${i}`,
          body,
        });
        break;
      default:
        out.push({ path: `flow/f${i}.json`, body, magic: r.pick(['posix', 'gnu'] as const) });
    }
  }
  return out;
}

type EntryMutation = (es: RawEntry[], r: Rand) => string;

const TYPEFLAGS = ['0', '\0', '1', '2', '3', '4', '5', '6', '7', 'S', 'D', 'V', 'I', 'A', 'M', 'N', 'X', 'Z', '9', 'g', 'x', 'L', 'K'];

const entryMutations: EntryMutation[] = [
  (es, r) => {
    const e = r.pick(es);
    e.type = r.chance(0.9) ? r.pick(TYPEFLAGS) : String.fromCharCode(r.int(0, 255));
    return `type ${JSON.stringify(e.type)}`;
  },
  (es, r) => {
    const i = r.int(0, es.length);
    const recs: [string, string | Buffer][] = [];
    const p = r.pick(['path', 'size', 'mtime', 'linkpath', 'GNU.sparse.map', 'hdrcharset', 'comment', 'uid', 'SCHILY.xattr.user.x']);
    const v = r.pick(['flow/renamed', '0', '7', '-1', 'flow/a\nb', 'x', '1.5', '']);
    recs.push([p, v]);
    es.splice(i, 0, paxHeader(recs, r.chance(0.2) ? 'g' : 'x'));
    return `pax ${p}=${JSON.stringify(v)}`;
  },
  (es, r) => {
    const i = r.int(0, es.length);
    const rec = paxRecord('path', 'flow/renamed');
    const text = r.pick([
      Buffer.from(`${rec.length + r.pick([-2, -1, 1, 2])}${rec.subarray(rec.indexOf(0x20))}`),
      Buffer.concat([rec, r.bytes(r.int(1, 4))]),
      Buffer.concat([rec, rec]),
      Buffer.from(rec.toString().replace('=', ':')),
      Buffer.concat([Buffer.from('0'), rec]),
    ]);
    es.splice(i, 0, { ...paxHeader([]), body: text });
    return 'pax record damaged';
  },
  (es, r) => {
    const i = r.int(0, es.length);
    const name = r.pick(['flow/a', long, `flow/${r.word(20)}`]);
    es.splice(i, 0, gnuLongName(name, r.chance(0.8) ? 'L' : 'K'));
    return `long name ${name.length}`;
  },
  (es, r) => {
    const e = r.pick(es);
    e.linkpath = r.pick(['flow/a', '/etc/passwd']);
    return 'link name';
  },
  (es, r) => {
    const e = r.pick(es);
    const extra = r.pick(['\n', '\r', '\u001b', '/', '/../', '\u0085', '\u00ff']);
    e.pathBytes = Buffer.from(`${e.path}${extra}`).subarray(0, 100);
    return `name + ${JSON.stringify(extra)}`;
  },
  (es, r) => {
    const e = r.pick(es);
    e.pathBytes = Buffer.concat([Buffer.from('flow/'), r.bytes(r.int(1, 8))]).subarray(0, 100);
    return 'raw name bytes';
  },
  (es, r) => {
    const e = r.pick(es);
    e.size = Math.max(0, Buffer.byteLength(e.body ?? '') + r.pick([-513, -1, 1, 511, 512, 4096]));
    return `size ${e.size}`;
  },
  (es, r) => {
    const e = r.pick(es);
    e.magic = r.pick(['posix', 'gnu', 'v7'] as const);
    if (r.chance(0.5)) e.prefix = `flow/${r.word(10)}`;
    return `magic ${e.magic}${e.prefix ? ' with prefix' : ''}`;
  },
];

/** Interesting values for numeric fields: what parsers read in different ways. */
function numericValue(r: Rand, len: number): Buffer {
  const b = Buffer.alloc(len);
  switch (r.int(0, 7)) {
    case 0:
      b[0] = r.pick([0x80, 0xff]);
      b[len - 1] = r.int(0, 255);
      break;
    case 1:
      Buffer.from(`\0${'0'.repeat(len - 3)}7`).copy(b);
      break;
    case 2:
      Buffer.from(`${' '.repeat(r.int(1, 4))}7${' '.repeat(2)}`.slice(0, len)).copy(b);
      break;
    case 3:
      Buffer.from(`${'0'.repeat(len - 3)}7${String.fromCharCode(r.int(0x21, 0x7e))}`).copy(b);
      break;
    case 4:
      break; // blank
    case 5:
      Buffer.from('7'.repeat(len)).copy(b);
      break;
    case 6:
      Buffer.from(`00000\0${r.word(2)}`.slice(0, len)).copy(b);
      break;
    default:
      r.bytes(len).copy(b);
  }
  return b;
}

const FIELDS: [number, number][] = [
  [FIELD.mode, 8],
  [FIELD.uid, 8],
  [FIELD.gid, 8],
  [FIELD.size, 12],
  [FIELD.mtime, 12],
  [FIELD.chksum, 8],
  [FIELD.devmajor, 8],
];

/** Rewrites bytes of one header, then (mostly) gives it a valid checksum again. */
function mutateHeader(tar: Buffer, at: number, r: Rand): string {
  const h = tar.subarray(at, at + BLOCK);
  let what: string;
  switch (r.int(0, 7)) {
    case 0: {
      const off = r.int(0, BLOCK - 1);
      h[off] = r.int(0, 255);
      what = `byte ${off}`;
      break;
    }
    case 1: {
      const [off, len] = r.pick(FIELDS);
      numericValue(r, len).copy(h, off);
      what = `numeric field ${off}`;
      break;
    }
    case 2: {
      const m = r.pick(['ustar\u000000', 'ustar  \u0000', 'ustar\u0000  ', 'ustar \u000000', '\0\0\0\0\0\0\0\0', 'ustar\u0000\u0000\u0000']);
      Buffer.from(m, 'latin1').copy(h, FIELD.magic);
      what = `magic ${JSON.stringify(m)}`;
      break;
    }
    case 3: {
      const p = Buffer.from(`flow/${r.word(r.int(1, 150))}`).subarray(0, 155);
      h.fill(0, FIELD.prefix, FIELD.prefix + 155);
      p.copy(h, FIELD.prefix);
      what = 'prefix';
      break;
    }
    case 4: {
      const off = r.pick([FIELD.name, FIELD.linkname, FIELD.prefix]) + r.int(20, 99);
      r.bytes(r.int(1, 3)).copy(h, off);
      what = `junk at ${off}`;
      break;
    }
    case 5:
      h[FIELD.typeflag] = r.pick(TYPEFLAGS).charCodeAt(0);
      what = `typeflag ${JSON.stringify(String.fromCharCode(h[FIELD.typeflag] as number))}`;
      break;
    case 6: {
      const off = r.int(FIELD.prefix + 100, BLOCK - 1);
      h[off] = r.int(1, 255);
      what = `tail byte ${off}`;
      break;
    }
    default: {
      // A newline after a NUL: readers that cut a field at its NUL with a pattern stop at newlines.
      const [field, lo, hi] = r.pick([[FIELD.name, 60, 98], [FIELD.linkname, 60, 98], [FIELD.prefix, 131, 153]] as const);
      const off = field + r.int(lo, hi);
      h[off - 1] = 0;
      h[off] = 0x0a;
      h[off + 1] = r.int(0x61, 0x7a);
      what = `NUL newline at ${off}`;
    }
  }
  const c = r.next();
  const form = r.pick<ChecksumForm>(['gnu', 'gnu', 'seven-nul', 'seven-space', 'leading-space', 'eight']);
  if (c < 0.85) setChecksum(h, { form });
  else if (c < 0.95) setChecksum(h, { signed: true });
  return what + (c < 0.85 ? (form === 'gnu' ? '' : ` (checksum ${form})`) : c < 0.95 ? ' (signed sum)' : ' (old sum)');
}

/** A random archive: real-writer building blocks, then up to four mutations of any kind. */
export function randomCase(seed: number): GeneratedArchive {
  const r = new Rand(seed);
  const entries = baseEntries(r);
  const notes: string[] = [];
  const rounds = r.pick([0, 0, 0, 1, 1, 2, 3]);
  for (let i = 0; i < rounds; i++) notes.push((r.pick(entryMutations))(entries, r));
  let { tar, headers } = rawTarWithOffsets(entries, { end: !r.chance(0.05) });
  tar = Buffer.from(tar);
  const hm = r.pick([0, 0, 0, 1, 1, 2]);
  for (let i = 0; i < hm && headers.length > 0; i++) notes.push(mutateHeader(tar, r.pick(headers), r));
  // Bytes inside a record or body, not a header: pax lengths, long names, data.
  if (r.chance(0.1) && headers.length > 0) {
    const at = r.pick(headers) + BLOCK + r.int(0, 40);
    if (at < tar.length) {
      tar[at] = r.int(0, 255);
      notes.push(`record byte ${at}`);
    }
  }
  if (r.chance(0.05)) {
    const cut = r.int(0, tar.length);
    tar = tar.subarray(0, cut);
    notes.push(`cut at ${cut}`);
  }
  if (r.chance(0.05)) {
    tar = Buffer.concat([tar, rawTar([{ path: 'flow/after-end', body: 'x' }])]);
    notes.push('entries after the end');
  }
  let gz = gzipSync(tar);
  const g = r.next();
  if (g < 0.03) {
    gz = Buffer.concat([gz, Buffer.alloc(r.int(1, 600))]);
    notes.push('gzip + zeros');
  } else if (g < 0.05) {
    gz = Buffer.concat([gz, Buffer.alloc(r.int(0, 20)), r.bytes(r.int(1, 20))]);
    notes.push('gzip + garbage');
  } else if (g < 0.08 && tar.length > BLOCK) {
    const mid = BLOCK * r.int(0, Math.floor(tar.length / BLOCK));
    gz = Buffer.concat([gzipSync(tar.subarray(0, mid)), gzipSync(tar.subarray(mid))]);
    notes.push('two gzip members');
  }
  return { name: `seed ${seed}: ${notes.join(', ') || 'unmutated'}`, gz };
}
