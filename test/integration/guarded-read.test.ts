// The guarded reader on the real file system: FIFOs (with and without a
// writer), devices, links, files larger than the cap, files whose size says
// nothing (/proc), and a process that gives up on a FIFO still exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeUtf8, InputRefusedError, readNamedInput, readRegularFile, readRegularText } from '../../src/io/guarded-read.js';

const MB = 1024 * 1024;

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-guarded-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function mkfifo(path: string): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn('mkfifo', [path], { stdio: 'inherit' });
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`mkfifo exited ${code}`))));
  });
}

/** A shell writing into a FIFO, as `<(cmd)` or `cmd > fifo` would. */
function writer(script: string): { done: Promise<number | null>; kill(): void } {
  const c = spawn('sh', ['-c', script], { stdio: 'ignore' });
  return { done: new Promise((res) => c.on('exit', (code) => res(code))), kill: () => c.kill('SIGKILL') };
}

async function refused(p: Promise<unknown>, kind: string): Promise<InputRefusedError> {
  const err = await p.then(
    () => assert.fail(`expected a refusal (${kind})`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof InputRefusedError, `not a refusal: ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  return err;
}

test('readRegularFile: a regular file whole; over the cap refused; a FIFO, a folder, links and devices refused', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'group.json');
  await writeFile(file, '{"a":1}');
  assert.equal((await readRegularFile(file, { maxBytes: 7 })).toString(), '{"a":1}');
  await refused(readRegularFile(file, { maxBytes: 6 }), 'too-large');

  const fifo = join(dir, 'fifo');
  await mkfifo(fifo);
  // Nobody writes to it: a blocking open would wait for ever.
  const e = await refused(readRegularFile(fifo, { maxBytes: MB }), 'not-regular');
  assert.match(e.message, /is a FIFO, not a regular file/);
  await refused(readRegularFile(dir, { maxBytes: MB }), 'not-regular');

  const link = join(dir, 'link');
  await symlink('/dev/zero', link);
  await refused(readRegularFile(link, { maxBytes: MB }), 'symlink');
  assert.match((await refused(readRegularFile(link, { maxBytes: MB, followLinks: true }), 'not-regular')).message, /character device/);
  await refused(readRegularFile('/dev/urandom', { maxBytes: MB }), 'not-regular');
  await symlink(file, join(dir, 'good-link'));
  assert.equal((await readRegularFile(join(dir, 'good-link'), { maxBytes: MB, followLinks: true })).toString(), '{"a":1}');

  await assert.rejects(readRegularFile(join(dir, 'none'), { maxBytes: MB }), { code: 'ENOENT' });
});

test('readRegularFile: the cap holds while reading, whatever the size the file claims', async (t) => {
  const dir = await tempDir(t);
  // /proc files say size 0 and hold kilobytes: only the read itself can tell.
  await refused(readRegularFile('/proc/self/maps', { maxBytes: 100 }), 'too-large');
  assert.ok((await readRegularFile('/proc/self/maps', { maxBytes: MB })).length > 100);
  // A 300 MB file (sparse: costs no disk) is refused from its size, before a byte is read.
  const big = join(dir, 'big');
  await writeFile(big, '');
  await truncate(big, 300 * MB);
  const before = process.memoryUsage().rss;
  await refused(readRegularFile(big, { maxBytes: MB }), 'too-large');
  assert.ok(process.memoryUsage().rss - before < 64 * MB);
});

test('readRegularFile: an aborted read stops with the signal', async () => {
  const ctl = new AbortController();
  ctl.abort(new Error('stopping'));
  await assert.rejects(readRegularFile('/proc/self/maps', { maxBytes: MB, signal: ctl.signal }), /stopping/);
});

test('readNamedInput: a FIFO nobody writes to ends in a timeout, not a hang', async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, 'expect.json');
  await mkfifo(fifo);
  const t0 = performance.now();
  const e = await refused(readNamedInput(fifo, { maxBytes: MB, timeoutMs: 300 }), 'timeout');
  assert.ok(performance.now() - t0 >= 290);
  assert.match(e.message, /did not end within 0.3 s: nothing arrived/);
});

test('readNamedInput: a FIFO with a writer is read to its end; an endless one stops at the cap', async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, 'expect.json');
  await mkfifo(fifo);
  const w = writer(`printf '{"ok":true}' > '${fifo}'`);
  assert.equal((await readNamedInput(fifo, { maxBytes: MB, timeoutMs: 10_000 })).toString(), '{"ok":true}');
  assert.equal(await w.done, 0);

  const endless = writer(`cat /dev/zero > '${fifo}'`);
  t.after(() => endless.kill());
  const e = await refused(readNamedInput(fifo, { maxBytes: MB, timeoutMs: 10_000 }), 'too-large');
  assert.match(e.message, /larger than 1048576 bytes/);
  // Closing our end stopped the writer (SIGPIPE): nothing was left reading behind.
  assert.notEqual(await endless.done, 0);
});

test('readNamedInput: devices, folders and a 300 MB file are refused at once', async (t) => {
  const dir = await tempDir(t);
  for (const dev of ['/dev/zero', '/dev/urandom', '/dev/null']) {
    assert.match((await refused(readNamedInput(dev, { maxBytes: MB, timeoutMs: 10_000 }), 'not-regular')).message, /character device, not a file or a pipe/);
  }
  await refused(readNamedInput(dir, { maxBytes: MB, timeoutMs: 10_000 }), 'not-regular');
  const link = join(dir, 'zero');
  await symlink('/dev/zero', link);
  await refused(readNamedInput(link, { maxBytes: MB, timeoutMs: 10_000 }), 'not-regular');
  const big = join(dir, 'big.json');
  await writeFile(big, '');
  await truncate(big, 300 * MB);
  await refused(readNamedInput(big, { maxBytes: MB, timeoutMs: 10_000 }), 'too-large');
  const ok = join(dir, 'ok.json');
  await writeFile(ok, '{}');
  assert.equal((await readNamedInput(ok, { maxBytes: MB, timeoutMs: 10_000 })).toString(), '{}');
});

test('a process that gave up on a FIFO exits by itself: no pool thread or handle is left waiting', async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, 'fifo');
  await mkfifo(fifo);
  const mod = pathToFileURL(resolve('dist/src/io/guarded-read.js')).href;
  // No process.exit here: the child ends only when nothing keeps it alive.
  const script = `import(${JSON.stringify(mod)}).then((m) => m.readNamedInput(${JSON.stringify(fifo)}, { maxBytes: 1024, timeoutMs: 200 }))
    .then(() => console.log('read'), (e) => console.log(e.kind));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  clearTimeout(killer);
  assert.equal(code, 0, 'the child had to be killed: something kept it alive');
  assert.equal(out.trim(), 'timeout');
});

test('decodeUtf8: a byte-order mark is dropped; invalid UTF-8 is refused, not patched', () => {
  assert.equal(decodeUtf8(Buffer.from('\uFEFF{"a":1}'), 'x'), '{"a":1}');
  assert.equal(decodeUtf8(Buffer.from('{"a":"é"}'), 'x'), '{"a":"é"}');
  assert.throws(() => decodeUtf8(Buffer.from([0x7b, 0xff, 0x7d]), 'in.json'), (e: unknown) => e instanceof InputRefusedError && e.kind === 'encoding' && /in.json is not valid UTF-8/.test(e.message));
});

test('readRegularText: text through kept buffers; concurrent reads never see each other, large files read whole', async (t) => {
  const dir = await tempDir(t);
  const names = Array.from({ length: 12 }, (_, i) => join(dir, `f${i}.json`));
  // Sizes on both sides of the kept buffers' 64 KiB, multi-byte characters across chunk edges.
  const texts = names.map((_, i) => `${'é'.repeat(i * 9000)}${i}`);
  await Promise.all(names.map((n, i) => writeFile(n, texts[i]!)));
  for (let round = 0; round < 3; round++) {
    const got = await Promise.all(names.map((n) => readRegularText(n, { maxBytes: MB })));
    assert.deepEqual(got, texts);
  }
  await refused(readRegularText(names[11]!, { maxBytes: 1000 }), 'too-large');
  await writeFile(names[0]!, Buffer.from([0x7b, 0xc3]));
  await refused(readRegularText(names[0]!, { maxBytes: MB }), 'encoding');
  const fifo = join(dir, 'fifo');
  await mkfifo(fifo);
  await refused(readRegularText(fifo, { maxBytes: MB }), 'not-regular');
});
