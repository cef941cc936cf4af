// The command's output reaches a slow reader whole: a large `verify --json`
// (1,500 modified files, some 850 KB) through a pipe whose reader pauses, 20
// times, every one parses. A reader that leaves early is not a crash; a disk
// that is full is exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { appendFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempCore } from '../lib/core.js';
import { BIN, runCli, SHELL_CMD } from '../lib/cli-child.js';

const FILES = 1500;

/** Runs the command with a reader that stops reading for pauseMs after the first chunk, as `| jq` does while it parses. */
function runSlowReader(args: string[], pauseMs: number): Promise<{ code: number | null; stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let paused = false;
    child.stdout.on('data', (c: Buffer) => {
      chunks.push(c);
      if (paused) return;
      paused = true;
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), pauseMs);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks) }));
  });
}

test('verify --json: a large report through a slow pipe arrives whole, 20 times out of 20', async () => {
  const core = await tempCore({ lambdaFiles: FILES });
  try {
    const args = ['verify', '--root', core.root, '--state', core.stateDir, '--hash-rate', '0', '--json'];
    const first = await runCli(args.slice(0, -1));
    assert.ok(first.code === 0 || first.code === 1, first.stderr);
    const lib = join(core.root, core.paths.lambdaDir, 'lib');
    for (const name of await readdir(lib)) await appendFile(join(lib, name), 'tampered');
    let size = 0;
    for (let i = 0; i < 20; i++) {
      const r = await runSlowReader(args, 100);
      assert.equal(r.code, 1);
      size = r.stdout.length;
      const report = JSON.parse(r.stdout.toString('utf8')) as { status: string; findings: { code: string }[] };
      assert.equal(report.findings.filter((f) => f.code === 'ARTIFACT_MODIFIED').length, FILES, `run ${i + 1}`);
      assert.notEqual(report.status, 'VERIFIED');
    }
    // Far more than a pipe holds (64 KB): most of it waited in the writer for the reader.
    assert.ok(size > 512 * 1024, `report of ${size} bytes`);

    // Through a shell pipe too, as a person runs it.
    const viaCat = await runCli([], { shell: `${SHELL_CMD} ${args.join(' ')} | cat` });
    assert.equal(JSON.parse(viaCat.stdout).findings.length >= FILES, true);

    // A reader that leaves early: our exit code, no stack trace.
    const head = await runCli([], { shell: `${SHELL_CMD} ${args.join(' ')} | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`, interpreter: 'bash' });
    assert.equal(head.stdout.trim(), '1', head.stderr);
    assert.equal(head.stderr.includes('EPIPE'), false, head.stderr);
    assert.equal(head.stderr.includes('    at '), false, head.stderr);

    // Output that cannot be written: exit 2 and a message.
    const fd = openSync('/dev/full', 'w');
    try {
      const full = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', fd, 'pipe'] });
        let stderr = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(full.code, 2);
      assert.match(full.stderr, /cannot write the output: ENOSPC/);
    } finally {
      closeSync(fd);
    }
  } finally {
    await core.cleanup();
  }
});
