import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { openSpool, chooseDrops, type SpoolEntry } from '../../src/report/spool.js';
import type { MessageKind, OutboundMessage } from '../../src/report/transport.js';

const T0 = new Date('2024-05-06T07:08:09.000Z');
const clock = () => T0;

function msg(kind: MessageKind, payload: string): OutboundMessage {
  return { topic: `dw/test/${kind}`, payload, qos: 1, kind };
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-spool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A real winston logger whose JSON lines land in an array. */
function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines };
}

const seqs = (es: SpoolEntry[]) => es.map((e) => e.spoolSeq);
const entryFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();

test('entries keep their order and survive a reopen', async (t) => {
  const dir = await tempDir(t);
  const msgs = [msg('report', 'r1'), msg('heartbeat', 'h1'), msg('part', 'p1'), msg('shadow', 's1'), msg('report', 'r2')];
  const s = await openSpool(dir, { now: clock });
  for (const m of msgs) await s.append(m);
  assert.deepEqual(
    s.entries().map((e) => [e.spoolSeq, e.kind]),
    [[1, 'report'], [2, 'heartbeat'], [3, 'part'], [4, 'shadow'], [5, 'report']],
  );
  assert.deepEqual(await entryFiles(dir), [
    '000000000001.report.json',
    '000000000002.heartbeat.json',
    '000000000003.part.json',
    '000000000004.shadow.json',
    '000000000005.report.json',
  ]);
  assert.deepEqual(JSON.parse(await readFile(join(dir, '000000000003.part.json'), 'utf8')), {
    spoolSeq: 3,
    enqueuedAt: '2024-05-06T07:08:09.000Z',
    message: { topic: 'dw/test/part', payload: 'p1', qos: 1, kind: 'part' },
  });

  const s2 = await openSpool(dir);
  assert.deepEqual(s2.entries(), s.entries());
  assert.equal(s2.peek()?.spoolSeq, 1);
  assert.deepEqual(await s2.read(4), { spoolSeq: 4, enqueuedAt: '2024-05-06T07:08:09.000Z', message: msgs[3] });
  await s2.remove(1);
  await s2.remove(1); // unknown now: a no-op
  assert.equal(s2.peek()?.spoolSeq, 2);

  const s3 = await openSpool(dir);
  assert.deepEqual(seqs(s3.entries()), [2, 3, 4, 5]);
  let onDisk = 0;
  for (const f of await entryFiles(dir)) onDisk += (await stat(join(dir, f))).size;
  assert.deepEqual(s3.size, { entries: 4, bytes: onDisk });
});

test('concurrent appends are indexed in sequence order', async (t) => {
  const dir = await tempDir(t);
  const s = await openSpool(dir);
  const got = await Promise.all(Array.from({ length: 20 }, (_, i) => s.append(msg('report', `r${i}`))));
  assert.deepEqual(seqs(got), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(seqs(s.entries()), seqs(got));
  for (const e of s.entries()) assert.equal((await s.read(e.spoolSeq))?.message.payload, `r${e.spoolSeq - 1}`);
});

test('count bound: heartbeats go first, then shadow, then reports; the newest report and the new entry stay', async (t) => {
  const dir = await tempDir(t);
  const { logger, lines } = captureLogger();
  const s = await openSpool(dir, { maxEntries: 4, logger });
  const add = async (kind: MessageKind, p: string) => (await s.append(msg(kind, p))).spoolSeq;
  await add('report', 'r1'); // 1
  await add('heartbeat', 'h1'); // 2
  await add('report', 'r2'); // 3
  await add('heartbeat', 'h2'); // 4
  await add('shadow', 's1'); // 5: h1 goes
  assert.deepEqual(seqs(s.entries()), [1, 3, 4, 5]);
  await add('heartbeat', 'h3'); // 6: h2 goes (h3 is the new entry)
  assert.deepEqual(seqs(s.entries()), [1, 3, 5, 6]);
  await add('report', 'r3'); // 7: h3 goes
  assert.deepEqual(seqs(s.entries()), [1, 3, 5, 7]);
  await add('report', 'r4'); // 8: no heartbeat left, s1 goes
  assert.deepEqual(seqs(s.entries()), [1, 3, 7, 8]);
  await add('report', 'r5'); // 9: oldest report r1 goes
  assert.deepEqual(seqs(s.entries()), [3, 7, 8, 9]);
  await add('heartbeat', 'h4'); // 10: the new heartbeat stays, r2 goes
  assert.deepEqual(seqs(s.entries()), [7, 8, 9, 10]);
  assert.equal(s.dropped, 6);
  assert.deepEqual(await entryFiles(dir), [
    '000000000007.report.json',
    '000000000008.report.json',
    '000000000009.report.json',
    '000000000010.heartbeat.json',
  ]);
  await new Promise((r) => setImmediate(r));
  const warns = lines.filter((l) => l.level === 'warn' && l.message === 'spool full: dropped entries');
  assert.equal(warns.length, 6);
  assert.deepEqual(
    warns.map((w) => w.dropped),
    [1, 1, 1, 1, 1, 1],
  );
  assert.equal(warns[3]!.shadow, 1);
});

test('count bound: the newest report stays even when it is the oldest entry', async (t) => {
  const dir = await tempDir(t);
  const s = await openSpool(dir, { maxEntries: 2 });
  await s.append(msg('report', 'r1')); // 1
  await s.append(msg('heartbeat', 'h1')); // 2
  await s.append(msg('heartbeat', 'h2')); // 3: h1 goes
  assert.deepEqual(seqs(s.entries()), [1, 3]);
  await s.append(msg('part', 'p1')); // 4: h2 goes
  assert.deepEqual(seqs(s.entries()), [1, 4]);
  await s.append(msg('part', 'p2')); // 5: p1 goes, r1 is the newest report
  assert.deepEqual(seqs(s.entries()), [1, 5]);

  // Nothing may go: the bound is exceeded by the one protected entry.
  const dir1 = await tempDir(t);
  const one = await openSpool(dir1, { maxEntries: 1 });
  await one.append(msg('report', 'r1'));
  await one.append(msg('heartbeat', 'h1'));
  assert.deepEqual(seqs(one.entries()), [1, 2]);
  assert.equal(one.dropped, 0);
});

test('byte bound, also applied on open; an entry larger than the bound is refused', async (t) => {
  const dir = await tempDir(t);
  const s = await openSpool(dir, { now: clock });
  // Same-length kinds and payloads: every entry file has the same size.
  const a = await s.append(msg('report', 'aaaa'));
  await s.append(msg('shadow', 'bbbb'));
  await s.append(msg('shadow', 'cccc'));
  const d = await s.append(msg('report', 'dddd'));
  assert.equal(a.bytes, d.bytes);
  const E = a.bytes;
  assert.equal(s.size.bytes, 4 * E);

  const s2 = await openSpool(dir, { now: clock, maxBytes: 2 * E + 10 });
  assert.deepEqual(seqs(s2.entries()), [1, 4]);
  assert.equal(s2.dropped, 2);
  // Over 3E > bound: r1 goes (r4 is the newest report). After the reopen the
  // sequence jumps to the reserved block, so the new entry is a little longer.
  const e = await s2.append(msg('shadow', 'eeee'));
  assert.deepEqual(seqs(s2.entries()), [4, e.spoolSeq]);
  assert.equal(s2.size.bytes, E + e.bytes);
  assert.ok(s2.size.bytes <= 2 * E + 10);

  await assert.rejects(s2.append(msg('report', 'x'.repeat(2 * E))), RangeError);
  assert.deepEqual(seqs(s2.entries()), [4, e.spoolSeq]);
  assert.deepEqual(await entryFiles(dir), [
    '000000000004.report.json',
    `${String(e.spoolSeq).padStart(12, '0')}.shadow.json`,
  ]);
});

test('a temp file left by a write that died before rename is removed on open', async (t) => {
  const dir = await tempDir(t);
  let writes = 0;
  const s = await openSpool(dir, {
    faults: {
      beforeRename: () => {
        if (++writes === 3) throw new Error('injected: died before rename');
      },
    },
  });
  await s.append(msg('report', 'r1'));
  await s.append(msg('report', 'r2'));
  await assert.rejects(s.append(msg('report', 'r3')), /injected/);
  assert.deepEqual(seqs(s.entries()), [1, 2]);
  const temps = (await readdir(dir)).filter((n) => n.endsWith('.tmp'));
  assert.equal(temps.length, 1);
  assert.match(temps[0]!, /^\.000000000003\.report\.json\./);

  const s2 = await openSpool(dir);
  assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.tmp')), []);
  assert.deepEqual(seqs(s2.entries()), [1, 2]);
  const next = await s2.append(msg('report', 'r4'));
  assert.ok(next.spoolSeq > 3, `sequence 3 was handed out once; got ${next.spoolSeq}`);
});

test('the sequence never goes backwards across reopen, even with an emptied spool', async (t) => {
  const dir = await tempDir(t);
  const all: number[] = [];
  for (let round = 0; round < 5; round++) {
    const s = await openSpool(dir);
    for (let i = 0; i < 3; i++) all.push((await s.append(msg('heartbeat', `h${round}.${i}`))).spoolSeq);
    for (const e of s.entries()) await s.remove(e.spoolSeq);
    assert.deepEqual(await entryFiles(dir), []);
    if (round === 2) await openSpool(dir); // an open with no append in between
  }
  for (let i = 1; i < all.length; i++) assert.ok(all[i]! > all[i - 1]!, `sequence went ${all[i - 1]} -> ${all[i]}`);
  assert.deepEqual(all.slice(0, 3), [1, 2, 3]);
});

test('the sequence follows the entries when the counter file is lost or garbage', async (t) => {
  const dir = await tempDir(t);
  const s = await openSpool(dir);
  for (let i = 0; i < 3; i++) await s.append(msg('report', `r${i}`));
  await unlink(join(dir, 'next-seq'));
  assert.equal((await (await openSpool(dir)).append(msg('report', 'x'))).spoolSeq, 4);

  await writeFile(join(dir, 'next-seq'), 'not a number');
  const { logger, lines } = captureLogger();
  const s3 = await openSpool(dir, { logger });
  assert.equal((await s3.append(msg('report', 'y'))).spoolSeq, 5);
  await new Promise((r) => setImmediate(r));
  assert.ok(lines.some((l) => l.level === 'warn' && String(l.message).includes('counter')));
});

test('entry files that do not parse are skipped, deleted and logged', async (t) => {
  const dir = await tempDir(t);
  const good = { spoolSeq: 5, enqueuedAt: '2024-01-01T00:00:00.000Z', message: msg('report', 'ok') };
  await writeFile(join(dir, '000000000005.report.json'), JSON.stringify(good));
  await writeFile(join(dir, '000000000009.report.json'), '{"spoolSeq":9,"enqueuedAt":"2024-'); // truncated
  await writeFile(join(dir, '000000000010.heartbeat.json'), '{"hello":"world"}'); // wrong shape
  await writeFile(
    join(dir, '000000000011.shadow.json'),
    JSON.stringify({ ...good, spoolSeq: 11, message: msg('report', 'kind differs from name') }),
  );
  await writeFile(join(dir, '000000000012.report.json'), JSON.stringify({ ...good, spoolSeq: 99 })); // seq differs
  await writeFile(join(dir, '000000000013.report.json'), JSON.stringify({ ...good, spoolSeq: 13, message: { ...good.message, qos: 2 } }));
  await writeFile(join(dir, 'README'), 'not ours');
  const { logger, lines } = captureLogger();
  const s = await openSpool(dir, { logger });
  assert.deepEqual(s.entries(), [{ spoolSeq: 5, kind: 'report', bytes: Buffer.byteLength(JSON.stringify(good)) }]);
  assert.deepEqual(await s.read(5), good);
  assert.deepEqual((await readdir(dir)).sort(), ['000000000005.report.json', 'README']);
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.filter((l) => l.level === 'warn' && l.message === 'spool entry unreadable, deleted').length, 5);
  // Garbage sequences were handed out once too.
  assert.equal((await s.append(msg('report', 'next'))).spoolSeq, 14);
});

test('an entry that vanishes or rots after open is forgotten on read', async (t) => {
  const dir = await tempDir(t);
  const s = await openSpool(dir);
  await s.append(msg('report', 'r1'));
  await s.append(msg('report', 'r2'));
  await s.append(msg('report', 'r3'));
  await unlink(join(dir, '000000000001.report.json'));
  assert.equal(await s.read(1), undefined);
  assert.equal(s.peek()?.spoolSeq, 2);
  await writeFile(join(dir, '000000000002.report.json'), '\0\0\0\0');
  assert.equal(await s.read(2), undefined);
  assert.deepEqual(seqs(s.entries()), [3]);
  assert.deepEqual(await entryFiles(dir), ['000000000003.report.json']);
  assert.equal(s.size.entries, 1);
});

test('chooseDrops (pure): order of victims and protection', () => {
  const e = (spoolSeq: number, kind: MessageKind, bytes = 10): SpoolEntry => ({ spoolSeq, kind, bytes });
  const index = [e(1, 'report'), e(2, 'shadow'), e(3, 'heartbeat'), e(4, 'part'), e(5, 'heartbeat'), e(6, 'shadow')];
  assert.deepEqual(chooseDrops(index, { maxEntries: 6, maxBytes: 60 }), []);
  assert.deepEqual(chooseDrops(index, { maxEntries: 4, maxBytes: 1000 }), [3, 5]);
  assert.deepEqual(chooseDrops(index, { maxEntries: 3, maxBytes: 1000 }, 5), [3, 2, 6]);
  assert.deepEqual(chooseDrops(index, { maxEntries: 1, maxBytes: 1000 }, 6), [3, 5, 2, 4]);
  assert.deepEqual(chooseDrops(index, { maxEntries: 100, maxBytes: 35 }), [3, 5, 2]);
});
