// writeFileAtomic writes exactly what it is given, strings (encoded by the
// write itself) and bytes alike, small and large, and leaves no temp file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/state/atomic.js';

test('writeFileAtomic: strings and bytes, small and large, arrive byte for byte', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cases: (string | Uint8Array)[] = [
    '',
    '{"a":1}',
    `${'ü€𝄞'.repeat(50_000)}end`, // multi-byte, some 450 KB
    Buffer.alloc(300_000, 7),
    new Uint8Array([0, 255, 10]),
  ];
  for (const [i, data] of cases.entries()) {
    const p = join(dir, 'sub', `f${i}`);
    await writeFileAtomic(p, data);
    const want = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    assert.ok((await readFile(p)).equals(want), `case ${i}`);
  }
  await writeFileAtomic(join(dir, 'sub', 'f1'), 'shorter');
  assert.equal(await readFile(join(dir, 'sub', 'f1'), 'utf8'), 'shorter');
  assert.deepEqual((await readdir(join(dir, 'sub'))).filter((n) => n.endsWith('.tmp')), []);
});
