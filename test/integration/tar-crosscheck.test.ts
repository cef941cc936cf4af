// node-tar as the second reader of every flow archive (src/observe/tar-crosscheck.ts):
// what it reads differently from our reader is RESOURCE_CORRUPT, naming the
// entry and what differed; what both read alike passes; node-tar cannot throw
// or hang the inspection, whatever the bytes and however they are cut.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { inspectArchive } from '../../src/observe/archive.js';
import { NodeTarCrossCheck } from '../../src/observe/tar-crosscheck.js';
import { TarReader, type TarEntryInfo, type TarSink } from '../../src/observe/tar-reader.js';
import { splitSensitiveRecord } from '../../src/observe/tar-header.js';
import { gnuLongName, paxHeader, rawTar, type RawEntry } from '../lib/evil-tar.js';
import { namedCases, randomCase } from '../lib/evil-tar-gen.js';
import { Rand } from '../lib/seeded.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dw-crosscheck-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function inspect(gz: Buffer, opts: { nodeTarDigests?: boolean } = {}) {
  const file = join(tmp, 'flow-x.tar.gz');
  await writeFile(file, gz);
  return inspectArchive(file, 'flow-x.tar.gz', opts);
}

const byNodeTar = (msg: string) => msg.startsWith('node-tar reads the archive differently');

/** Our reader and the cross-check fed one tar stream in the pieces given, as inspectArchive feeds them. */
function readBoth(tar: Buffer, cuts: number[], digests = false): { entries: string[]; corrupt: string[]; disagreement: string | null } {
  const cross = new NodeTarCrossCheck({ maxMetaBytes: 64 * 1024, digests });
  const entries: string[] = [];
  const corrupt: string[] = [];
  let hash: import('node:crypto').Hash | null = null;
  let current: { sha256?: string } | null = null;
  const sink: TarSink = {
    entry(info: TarEntryInfo) {
      entries.push(info.path);
      const rec: { sha256?: string } = {};
      cross.ours({ path: info.path, typeflag: info.typeflag, size: info.size, get sha256() { return rec.sha256; } });
      if (info.type !== 'file') return false;
      current = rec;
      hash = createHashSync();
      return true;
    },
    data(c) {
      hash?.update(c);
    },
    entryEnd() {
      if (current && hash) current.sha256 = hash.digest('hex');
      current = null;
      hash = null;
    },
    unsafe() {},
    corrupt(m) {
      corrupt.push(m);
      cross.stop();
    },
  };
  const reader = new TarReader(sink, { maxMetaBytes: 64 * 1024 });
  let at = 0;
  for (const cut of [...cuts, tar.length]) {
    const piece = tar.subarray(at, cut);
    reader.write(piece);
    cross.write(piece);
    at = cut;
  }
  reader.end();
  cross.end();
  const d = cross.disagreement;
  return { entries, corrupt, disagreement: d ? `${d.entry}: ${d.what}` : null };
}

import { createHash } from 'node:crypto';
const createHashSync = () => createHash('sha256');

const ok: RawEntry = { path: 'flow/manifest.json', body: '{"format":"thingsgraph-deployment"}\n' };

describe('node-tar cross-check in inspectArchive', () => {
  it('refuses, naming node-tar, the entry and what differed, what only node-tar reads otherwise', async () => {
    const cases = new Map(namedCases().map((c) => [c.name, c.gz]));
    const want: [string, RegExp][] = [
      ['checksum of eight digits', /at entry 2 \("flow\/a"\): node-tar warns TAR_ENTRY_INVALID: checksum failure/],
      ['prefix tail with a newline', /at entry 1 \("flow\/a\/file.txt"\): node-tar reads path "flow\/a\\nz/],
      ['pax comment smuggles a path', /at entry 1 \("flow\/innocent"\): node-tar reads path "flow\/evil.txt" where deploy-witness reads File "flow\/innocent"/],
      ['pax comment smuggles a size', /at entry 1 \("flow\/innocent"\): node-tar reads size 0 where deploy-witness reads File "flow\/innocent" \(1 bytes\)/],
    ];
    for (const [name, re] of want) {
      const i = await inspect(cases.get(name)!);
      assert.equal(i.findings.length, 1, `${name}: ${JSON.stringify(i.findings)}`);
      const f = i.findings[0]!;
      assert.equal(f.code, 'RESOURCE_CORRUPT', name);
      assert.match(f.message, re, name);
      assert.equal((f.actual as { reader?: string }).reader, 'node-tar', name);
    }
  });

  it('adds its finding next to ours where node-tar reads an unsafe entry otherwise (an old GNU long name, a vendor extended header)', async () => {
    const cases = new Map(namedCases().map((c) => [c.name, c.gz]));
    for (const name of ['old GNU long name N', 'type X']) {
      const i = await inspect(cases.get(name)!);
      const codes = i.findings.map((f) => f.code).sort();
      assert.deepEqual(codes, ['RESOURCE_CORRUPT', 'UNSAFE_ARCHIVE_ENTRY'], name);
      assert.ok(i.findings.some((f) => byNodeTar(f.message)), name);
    }
  });

  it('stays silent once our reader refused the archive: one reason, not a cascade', async () => {
    const cases = new Map(namedCases().map((c) => [c.name, c.gz]));
    for (const name of ['bad checksum', 'pax size mismatch', 'lone zero block', 'no end marker', 'GNU long name disagrees']) {
      const i = await inspect(cases.get(name)!);
      assert.ok(i.findings.length > 0, name);
      assert.ok(!i.findings.some((f) => byNodeTar(f.message)), `${name}: ${JSON.stringify(i.findings)}`);
    }
  });

  it('compares content too when asked: a clean archive passes either way, with the same entries', async () => {
    const gz = gzipSync(rawTar([{ path: 'flow/', type: '5' }, ok, paxHeader([['path', `flow/${'p'.repeat(150)}`]]), { path: 'flow/x', body: new Rand(5).bytes(70_000) }]));
    const plain = await inspect(gz);
    const hashed = await inspect(gz, { nodeTarDigests: true });
    assert.deepEqual(plain.findings, []);
    assert.deepEqual(hashed, plain);
  });
});

describe('node-tar cross-check, fed by hand', () => {
  const clean = rawTar([
    { path: 'flow/', type: '5' },
    ok,
    paxHeader([['path', `flow/${'\u00e9'.repeat(120)}.json`], ['mtime', '1700000000.25']]),
    { path: 'flow/pax', body: 'pax body' },
    gnuLongName(`flow/${'d'.repeat(200)}/${'\u00fc'.repeat(100)}`),
    { path: 'flow/', pathBytes: Buffer.from(`flow/${'d'.repeat(200)}`).subarray(0, 100), body: Buffer.alloc(1500, 1), magic: 'gnu' },
    { path: 'file.txt', prefix: 'flow/a/b', body: 'p' },
  ]);

  it('agrees with our reader on a clean stream however it is cut (every cut in the first 3 KiB, digests on)', () => {
    for (let cut = 1; cut < Math.min(clean.length, 3072); cut += 7) {
      const r = readBoth(clean, [cut, Math.min(clean.length, cut + 513)], true);
      assert.deepEqual(r.corrupt, [], `cut ${cut}`);
      assert.equal(r.disagreement, null, `cut ${cut}`);
      assert.equal(r.entries.length, 5);
    }
  });

  it('a record node-tar would decode by pieces is refused by our reader, whatever the cut', () => {
    const name = Buffer.from(`flow/${'\u00e9'.repeat(300)}.json`);
    assert.match(splitSensitiveRecord(Buffer.concat([name, Buffer.alloc(1)])) ?? '', /multi-byte character at byte 512/);
    assert.equal(splitSensitiveRecord(Buffer.from(`flow/${'\u00e9'.repeat(250)}\0`)), null, 'within one block: read whole');
    assert.equal(splitSensitiveRecord(Buffer.from(`flow/${'a'.repeat(2000)}\0`)), null, 'ASCII: any cut reads alike');
    const tar = rawTar([gnuLongName(name), { path: '', pathBytes: name.subarray(0, 100), body: 'x', magic: 'gnu' }]);
    for (const cut of [512, 1024, 1025, 1536]) {
      const r = readBoth(tar, [cut]);
      assert.match(r.corrupt.join(), /node-tar's reading of it depends on how the stream is cut/, `cut ${cut}`);
    }
  });

  it('what it is given never throws nor hangs: random archives and bytes, random cuts', () => {
    const r = new Rand(4242);
    let compared = 0;
    for (let i = 0; i < 300; i++) {
      const tar = i % 3 === 0 ? r.bytes(r.int(0, 4096)) : gunzipOrNot(randomCase(90_000 + i).gz);
      const cuts = Array.from({ length: r.int(0, 5) }, () => r.int(0, tar.length)).sort((a, b) => a - b);
      // Alongside our reader (as inspectArchive runs it), and alone (node-tar reads on until it disagrees).
      const both = readBoth(tar, cuts, r.chance(0.5));
      if (both.corrupt.length === 0 && both.disagreement === null) compared++;
      const cross = new NodeTarCrossCheck({ maxMetaBytes: 64 * 1024, digests: false });
      let at = 0;
      for (const cut of [...cuts, tar.length]) {
        cross.write(tar.subarray(at, cut));
        at = cut;
      }
      // Synchronous to the end: the answer is there once end() returns.
      cross.end();
    }
    assert.ok(compared > 20, `${compared} streams read whole by both`);
  });

  it('a stream that starts like gzip is a disagreement at once, even with its magic cut in two', () => {
    const gz = gzipSync(rawTar([ok]));
    for (const cuts of [[], [1], [1, 2]]) {
      const cross = new NodeTarCrossCheck({ maxMetaBytes: 64 * 1024, digests: false });
      let at = 0;
      for (const cut of [...cuts, gz.length]) {
        cross.write(gz.subarray(at, cut));
        at = cut;
      }
      cross.end();
      assert.match(cross.disagreement?.what ?? '', /decompress the tar stream again/, `cuts ${cuts.join(',')}`);
    }
  });
});

function gunzipOrNot(gz: Buffer): Buffer {
  try {
    return gunzipSync(gz);
  } catch {
    return gz;
  }
}
