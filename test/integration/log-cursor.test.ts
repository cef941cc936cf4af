// Real files: discovery and reading of a core's logs, and the incremental cursor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LAYOUT, DEFAULT_LOG_PATTERNS } from '../../src/config/layout.js';
import { compilePatterns } from '../../src/observe/log-lines.js';
import { discoverRuntimeLogs } from '../../src/observe/log-discovery.js';
import { readLogLines } from '../../src/observe/log-tail.js';
import { readRuntimeLog, readThingsGraphLog } from '../lib/logs.js';
import { LogCursor } from '../../src/observe/log-cursor.js';
import type { Finding } from '../../src/model/findings.js';

const golden = fileURLToPath(new URL('../../../test/golden/', import.meta.url));
const p = compilePatterns(DEFAULT_LOG_PATTERNS);
const URN = 'urn:tdm:us-east-1/123456789012/default:Deployment:MyExample01_V001';
const TG_DIR = 'greengrass/ggc/var/log/user/us-east-1/ThingsGraph';
const SYS_DIR = 'greengrass/ggc/var/log/system';

async function tempRoot(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dw-logs-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return root;
}

async function put(root: string, rel: string, text: string | Buffer, mtimeSec?: number): Promise<string> {
  const full = join(root, rel);
  await mkdir(join(full, '..'), { recursive: true });
  await writeFile(full, text);
  if (mtimeSec !== undefined) await utimes(full, mtimeSec, mtimeSec);
  return full;
}

// ---- discovery ----

test('log discovery: oldest first by mtime, numbered siblings by number, current last', async (t) => {
  const root = await tempRoot(t);
  const dir = join(root, 'logs');
  await put(root, 'logs/ThingsGraph.log', 'current\n', 1_000); // oldest mtime, still last
  await put(root, 'logs/ThingsGraph.log.1', '', 3_000);
  await put(root, 'logs/ThingsGraph.log.2', '', 3_000); // same mtime: .2 is older than .1
  await put(root, 'logs/ThingsGraph.log.10', '', 3_000);
  await put(root, 'logs/ThingsGraph.log.2024-01-05', '', 2_000);
  await put(root, 'logs/other.log', '', 500);
  await mkdir(join(dir, 'ThingsGraph.log.dir'));
  await symlink('/etc/passwd', join(dir, 'ThingsGraph.log.3'));
  // The same rules hold for every log folder: here runtime.log's, named like ThingsGraph.log.
  const layout = { ...DEFAULT_LAYOUT, systemLogDir: 'logs', runtimeLogPattern: DEFAULT_LAYOUT.thingsGraphLogPattern };
  const got = await discoverRuntimeLogs(root, layout);
  assert.equal(got.dir, dir);
  assert.deepEqual(
    got.files.map((f) => f.path.slice(dir.length + 1)),
    // The link is listed (its reader calls it unreadable), by its own mtime: the newest rotated name.
    ['ThingsGraph.log.2024-01-05', 'ThingsGraph.log.10', 'ThingsGraph.log.2', 'ThingsGraph.log.1', 'ThingsGraph.log.3', 'ThingsGraph.log'],
  );
  assert.deepEqual(got.findings, []);
  const none = await discoverRuntimeLogs(root, { ...layout, systemLogDir: 'nope', runtimeLogPattern: 'x' });
  assert.deepEqual([none.files, none.findings], [[], []]);
});

// ---- reading a core ----

test('readThingsGraphLog: the AWS sample at its place on a core', async (t) => {
  const root = await tempRoot(t);
  const text = await readFile(join(golden, 'thingsgraph.log'));
  await put(root, `${TG_DIR}/ThingsGraph.log`, text, 1_700_000_000);
  const r = await readThingsGraphLog(root, DEFAULT_LAYOUT, p);
  assert.deepEqual(r, {
    files: [`${TG_DIR}/ThingsGraph.log`],
    bootstrapped: true,
    initialized: true,
    runtimeVersion: '1.2.3',
    registered: [URN],
    lastBootstrapAt: '2023-11-14T22:13:20.000Z', // the mtime: no timestamps in the lines
    activity: { executions: 0, transitionsSucceeded: 0, transitionsFailed: 0, errors: 0, warnings: 0, lastErrors: [] },
  });
});

test('readThingsGraphLog: rotated file then restart in the current one', async (t) => {
  const root = await tempRoot(t);
  await put(root, `${TG_DIR}/ThingsGraph.log.1`, await readFile(join(golden, 'thingsgraph-timestamped.log')), 1_600_000_000);
  await put(
    root,
    `${TG_DIR}/ThingsGraph.log`,
    '[2019-03-04T08:00:00.000Z][INFO]-bootstrapping DB\r\n' +
      '[2019-03-04T08:00:01.000Z][INFO]-FlowsBootstrap: registered SDC: urn:tdm:us-east-1/123456789012/default:deployment:Next_V002\r\n' +
      `[2019-03-04T08:00:02.000Z][INFO]-${'z'.repeat(300_000)}\r\n` +
      '[2019-03-04T08:00:03.000Z][INFO]-Initialized ThingsGraph Runtime v1.2.4\r\n' +
      '[2019-03-04T08:00:04.000Z][INFO]-FlowsBootstrap: registered SDC: urn:tdm:us-east-1/123456789012/default:Deployment:Half',
    1_600_000_100,
  );
  await put(root, `${TG_DIR}/ThingsGraph.log.2.gz`, Buffer.from([0x1f, 0x8b, 0x08, 0x00]), 1_500_000_000);
  const r = await readThingsGraphLog(root, DEFAULT_LAYOUT, p);
  assert.deepEqual(r.files, [`${TG_DIR}/ThingsGraph.log.1`, `${TG_DIR}/ThingsGraph.log`]);
  assert.deepEqual(r.registered, ['urn:tdm:us-east-1/123456789012/default:deployment:Next_V002']);
  assert.equal(r.initialized, true);
  assert.equal(r.runtimeVersion, '1.2.4');
  assert.equal(r.lastBootstrapAt, '2019-03-04T08:00:00.000Z');
  assert.equal(r.activity.executions, 0); // the flows ran before the restart
});

test('readThingsGraphLog: several regions, the newest wins', async (t) => {
  const root = await tempRoot(t);
  const other = 'urn:tdm:eu-west-1/123456789012/default:deployment:Eu_V001';
  await put(root, `${TG_DIR}/ThingsGraph.log`, `[INFO]-bootstrapping DB\n[INFO]-registered SDC: ${URN}\n`, 2_000);
  await put(root, 'greengrass/ggc/var/log/user/eu-west-1/ThingsGraph/ThingsGraph.log', `[INFO]-bootstrapping DB\n[INFO]-registered SDC: ${other}\n`, 1_000);
  const r = await readThingsGraphLog(root, DEFAULT_LAYOUT, p);
  // The region written last is the current one; the stale region is not read at all.
  assert.deepEqual(r.files, [`${TG_DIR}/ThingsGraph.log`]);
  assert.deepEqual(r.registered, [URN]);
});

test('readThingsGraphLog: a stale region counts for nothing, not even when the current one never says it restarted', async (t) => {
  const root = await tempRoot(t);
  const old = 'urn:tdm:eu-west-1/123456789012/default:deployment:Old_V001';
  // The group moved from eu-west-1: its folder stays behind with the old registration.
  await put(root, 'greengrass/ggc/var/log/user/eu-west-1/ThingsGraph/ThingsGraph.log', `[INFO]-bootstrapping DB\n[INFO]-registered SDC: ${old}\n`, 1_000);
  // The current region's bootstrap rotated away (compressed): no bootstrap line left to reset the old run.
  await put(root, `${TG_DIR}/ThingsGraph.log.1.gz`, Buffer.from([0x1f, 0x8b, 0x08, 0x00]), 1_500);
  await put(root, `${TG_DIR}/ThingsGraph.log`, `[INFO]-registered SDC: ${URN}\n`, 2_000);
  const r = await readThingsGraphLog(root, DEFAULT_LAYOUT, p);
  assert.deepEqual(r.registered, [URN]);
  assert.deepEqual(r.files, [`${TG_DIR}/ThingsGraph.log`]);
  // Written to again, the old region is the current one.
  await utimes(join(root, 'greengrass/ggc/var/log/user/eu-west-1/ThingsGraph/ThingsGraph.log'), 3_000, 3_000);
  assert.deepEqual((await readThingsGraphLog(root, DEFAULT_LAYOUT, p)).registered, [old]);
});

test('missing folders: empty observations, no error', async (t) => {
  const root = await tempRoot(t);
  assert.deepEqual(await readThingsGraphLog(root, DEFAULT_LAYOUT, p), {
    files: [],
    bootstrapped: false,
    initialized: false,
    registered: [],
    activity: { executions: 0, transitionsSucceeded: 0, transitionsFailed: 0, errors: 0, warnings: 0, lastErrors: [] },
  });
  assert.deepEqual(await readRuntimeLog(root, DEFAULT_LAYOUT, p), { files: [] });
  // A region folder without ThingsGraph/ inside is no different.
  await mkdir(join(root, 'greengrass/ggc/var/log/user/us-west-2'), { recursive: true });
  assert.deepEqual((await readThingsGraphLog(root, DEFAULT_LAYOUT, p)).files, []);
});

test('readRuntimeLog: newest deployment across rotated files', async (t) => {
  const root = await tempRoot(t);
  await put(root, `${SYS_DIR}/runtime.log.1`, await readFile(join(golden, 'runtime-timestamped.log')), 1_000);
  await put(root, `${SYS_DIR}/runtime.log`, '[2019-03-05T00:00:00.000Z][INFO]-Deployment succeeded. {"deploymentId": "c0ffee00-1"}\n', 2_000);
  const r = await readRuntimeLog(root, DEFAULT_LAYOUT, p);
  assert.deepEqual(r, { files: [`${SYS_DIR}/runtime.log.1`, `${SYS_DIR}/runtime.log`], deploymentId: 'c0ffee00-1' });

  await put(root, `${SYS_DIR}/runtime.log`, '[INFO]-nothing about deployments\n', 2_000);
  const r2 = await readRuntimeLog(root, DEFAULT_LAYOUT, p);
  assert.equal(r2.deploymentId, 'a41b9e27-6c0d-4f3a-8b15-92e7d6c5b4a3');
  assert.equal(r2.deploymentFailed?.at, '2019-03-03T20:33:08.771Z');
});

test('unlistable log folders become FILE_UNREADABLE findings, the rest is still read', async (t) => {
  const root = await tempRoot(t);
  await put(root, `${SYS_DIR}/runtime.log`, '[INFO]-x {"deploymentId": "d-9"}\n');
  // A symlink loop fails to list even for root (ELOOP), unlike a missing folder.
  await mkdir(join(root, 'greengrass/ggc/var/log'), { recursive: true });
  await symlink('user', join(root, 'greengrass/ggc/var/log/user'));
  const findings: Finding[] = [];
  assert.equal((await readRuntimeLog(root, DEFAULT_LAYOUT, p, { findings })).deploymentId, 'd-9');
  assert.deepEqual((await readThingsGraphLog(root, DEFAULT_LAYOUT, p, { findings })).files, []);
  assert.equal(findings.length, 1);
  assert.equal(findings[0]?.code, 'FILE_UNREADABLE');
  assert.equal(findings[0]?.path, 'greengrass/ggc/var/log/user');
});

test('readLogLines: a vanished file is skipped, a non-file is unreadable, the unfinished last line is left out', async (t) => {
  const root = await tempRoot(t);
  assert.deepEqual(await readLogLines(join(root, 'gone.log'), () => assert.fail('no lines')), { state: 'vanished' });
  await mkdir(join(root, 'dir.log'));
  assert.equal((await readLogLines(join(root, 'dir.log'), () => {})).state, 'unreadable');
  const f = await put(root, 'a.log', 'one\ntwo\nthr', 1_000);
  const lines: string[] = [];
  assert.deepEqual(await readLogLines(f, (l) => lines.push(l)), { state: 'read', mtimeMs: 1_000_000 });
  assert.deepEqual(lines, ['one', 'two']);
});

// ---- the cursor ----

const line = (i: number): string => `[2019-03-03T20:33:09.339Z][INFO]-line ${String(i).padStart(8, '0')} ${'x'.repeat(40)}\n`;

async function drain(c: LogCursor): Promise<string[]> {
  const all: string[] = [];
  do all.push(...(await c.readNew()));
  while (c.hasMore);
  return all;
}

test('cursor: a 5 MB file is read once; an unchanged file costs 0 bytes; an append costs about its size', async (t) => {
  const root = await tempRoot(t);
  const count = Math.ceil((5 * 1024 * 1024) / line(0).length);
  const f = await put(root, 'ThingsGraph.log', Array.from({ length: count }, (_, i) => line(i)).join(''));
  const c = new LogCursor(f);
  const first = await drain(c);
  assert.equal(first.length, count);
  assert.equal(first[count - 1], line(count - 1).trimEnd());
  assert.ok(c.bytesRead >= 5 * 1024 * 1024);

  const before = c.bytesRead;
  assert.deepEqual(await c.readNew(), []);
  assert.equal(c.bytesRead - before, 0);

  const appended = line(count) + line(count + 1);
  await appendFile(f, appended);
  const b2 = c.bytesRead;
  assert.deepEqual(await c.readNew(), [line(count).trimEnd(), line(count + 1).trimEnd()]);
  const cost = c.bytesRead - b2;
  assert.ok(cost >= appended.length && cost <= appended.length + 64, `append of ${appended.length} read ${cost}`);
});

test('cursor: a partial trailing line waits for its end; CRLF is stripped', async (t) => {
  const root = await tempRoot(t);
  const f = await put(root, 'x.log', 'a\r\nb');
  const c = new LogCursor(f);
  assert.deepEqual(await c.readNew(), ['a']);
  assert.deepEqual(await c.readNew(), []);
  await appendFile(f, 'c\r\nd');
  assert.deepEqual(await c.readNew(), ['bc']);
  assert.equal(c.snapshot()?.offset, 7); // the start of "d"
});

test('cursor: rename rotation finishes the old file, then reads the new one from 0', async (t) => {
  const root = await tempRoot(t);
  const f = await put(root, 'ThingsGraph.log', 'old 1\n');
  const c = new LogCursor(f);
  assert.deepEqual(await c.readNew(), ['old 1']);
  await appendFile(f, 'old 2\nold 3 unfinished');
  await rename(f, `${f}.1`);
  await writeFile(f, 'new 1\nnew 2\n');
  assert.deepEqual(await c.readNew(), ['old 2', 'old 3 unfinished', 'new 1', 'new 2']);
  assert.equal(c.rotations, 1);
  assert.equal(c.rotationsMissed, 0);
  await appendFile(f, 'new 3\n');
  assert.deepEqual(await c.readNew(), ['new 3']);
  const first = c.readNew();
  await assert.rejects(c.readNew(), /already running/);
  await first;
});

test('cursor: rotated file already deleted: counted as missed, the new file is read from 0', async (t) => {
  const root = await tempRoot(t);
  const f = await put(root, 'runtime.log', 'a\n');
  const c = new LogCursor(f);
  await c.readNew();
  await appendFile(f, 'lost\n');
  await unlink(f);
  assert.deepEqual(await c.readNew(), []); // gone, not yet recreated
  assert.equal(c.rotationsMissed, 1);
  await writeFile(f, 'b\n');
  assert.deepEqual(await c.readNew(), ['b']);
});

test('cursor: copytruncate, shorter new content: the copy is finished, the new content read from 0', async (t) => {
  const root = await tempRoot(t);
  const f = await put(root, 'ThingsGraph.log', line(1) + line(2));
  const c = new LogCursor(f);
  assert.equal((await c.readNew()).length, 2);
  await appendFile(f, line(3));
  await copyFile(f, `${f}.1`);
  await truncate(f, 0);
  await appendFile(f, 'short\n');
  assert.deepEqual(await c.readNew(), [line(3).trimEnd(), 'short']);
  assert.equal(c.rotations, 1);
});

test('cursor: copytruncate regrown past the old offset is still noticed', async (t) => {
  const root = await tempRoot(t);
  const f = await put(root, 'ThingsGraph.log', 'first run a\nfirst run b\n');
  const c = new LogCursor(f);
  assert.deepEqual(await c.readNew(), ['first run a', 'first run b']);
  await copyFile(f, `${f}.1`);
  await truncate(f, 0);
  await appendFile(f, 'second run, a much longer line than before\nand more\n');
  assert.deepEqual(await c.readNew(), ['second run, a much longer line than before', 'and more']);
  assert.equal(c.rotations, 1);
});

test('cursor: from end skips what is there, including the rest of an unfinished line', async (t) => {
  const root = await tempRoot(t);
  const f = await put(root, 'x.log', 'history\nhalf');
  const c = new LogCursor(f, { from: 'end' });
  assert.deepEqual(await c.readNew(), []);
  await appendFile(f, ' line\nfresh\n');
  assert.deepEqual(await c.readNew(), ['fresh']);
  // A file that did not exist at the first read is read whole once it appears.
  const g = join(root, 'later.log');
  const c2 = new LogCursor(g, { from: 'end' });
  assert.deepEqual(await c2.readNew(), []);
  await writeFile(g, 'early\n');
  assert.deepEqual(await c2.readNew(), ['early']);
});

test('cursor: a snapshot resumes without rereading; after a rotation it finishes the old file first', async (t) => {
  const root = await tempRoot(t);
  const f = await put(root, 'x.log', 'a\nb\npart');
  const c = new LogCursor(f);
  assert.deepEqual(await c.readNew(), ['a', 'b']);
  const state = c.snapshot()!;
  assert.equal(state.offset, 4);

  await appendFile(f, 'ial\nc\n');
  const resumed = new LogCursor(f, { state });
  assert.deepEqual(await resumed.readNew(), ['partial', 'c']);

  const again = new LogCursor(f, { state: resumed.snapshot()! });
  await appendFile(f, 'd\n');
  await rename(f, `${f}.1`);
  await writeFile(f, 'e\n');
  assert.deepEqual(await again.readNew(), ['d', 'e']);

  // A state whose head no longer matches (file replaced in place) starts over.
  await writeFile(f, 'Z completely different\n');
  const stale = new LogCursor(f, { state: { ...again.snapshot()!, headHash: '0'.repeat(64), headLen: 2 } });
  assert.deepEqual(await stale.readNew(), ['Z completely different']);
});

test('cursor: overlong lines are cut; a byte budget splits the work across calls', async (t) => {
  const root = await tempRoot(t);
  const f = await put(root, 'x.log', `${'q'.repeat(100_000)}\nafter\n`);
  const c = new LogCursor(f, { maxLineBytes: 1000, maxBytesPerRead: 30_000 });
  const first = await c.readNew();
  assert.deepEqual(first, []);
  assert.equal(c.hasMore, true);
  const rest = await drain(c);
  assert.deepEqual(rest, ['q'.repeat(1000), 'after']);
  assert.equal(c.hasMore, false);
});
