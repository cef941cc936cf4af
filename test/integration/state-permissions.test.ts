// The state tree is private whatever the umask: baseline names carry the
// group and version IDs. A child with umask 000 writes every kind of state;
// every folder it made is 0700 and every file 0600. A state folder the user
// made beforehand keeps its own mode; what goes inside it is private.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tempCore } from '../lib/core.js';

const CHILD = resolve('dist/test/lib/umask-child.js');

function runChild(root: string, stateDir: string): Promise<{ code: number; lockMode: number }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [CHILD, root, stateDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', rej);
    child.on('exit', (code) => {
      if (code !== 0) return rej(new Error(`child exited ${code}: ${out}`));
      res(JSON.parse(out.trim().split('\n').pop()!) as { code: number; lockMode: number });
    });
  });
}

/** Every entry under dir (not dir itself) with its permission bits. */
async function tree(dir: string, out: { path: string; dir: boolean; mode: number }[] = []) {
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    const st = await lstat(p);
    out.push({ path: p, dir: st.isDirectory(), mode: st.mode & 0o777 });
    if (st.isDirectory()) await tree(p, out);
  }
  return out;
}

const octal = (m: number) => m.toString(8).padStart(4, '0');

test('state tree under umask 000: folders 0700, files 0600, the lock file too', async () => {
  const core = await tempCore();
  try {
    // Folders above the state folder that do not exist yet are made private too.
    const stateDir = join(core.stateDir, 'deep', 'state');
    const r = await runChild(core.root, stateDir);
    assert.ok(r.code === 0 || r.code === 1, `verify exit ${r.code}`);
    assert.equal(octal(r.lockMode), '0600');
    const entries = await tree(core.stateDir);
    const kinds = new Set(entries.map((e) => e.path.slice(stateDir.length + 1).split('/')[0]));
    for (const k of ['baselines', 'spool', 'sequence', 'expectation.json', 'watch-canary']) assert.ok(kinds.has(k), `${k} missing: ${[...kinds]}`);
    const wrong = entries.filter((e) => e.mode !== (e.dir ? 0o700 : 0o600)).map((e) => `${octal(e.mode)} ${e.path}`);
    assert.deepEqual(wrong, []);
    assert.equal(octal((await lstat(core.stateDir)).mode & 0o777), '0700');
  } finally {
    await core.cleanup();
  }
});

test('a state folder that already exists keeps its mode; what is made inside it is private', async () => {
  const core = await tempCore();
  try {
    await mkdir(core.stateDir);
    await chmod(core.stateDir, 0o755);
    await runChild(core.root, core.stateDir);
    assert.equal(octal((await lstat(core.stateDir)).mode & 0o777), '0755');
    const wrong = (await tree(core.stateDir)).filter((e) => e.mode !== (e.dir ? 0o700 : 0o600)).map((e) => `${octal(e.mode)} ${e.path}`);
    assert.deepEqual(wrong, []);
  } finally {
    await core.cleanup();
  }
});
