// `npm run make-core` as a user runs it: it never writes over a folder that is
// not its own, and --live keeps the simulated flow running until stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../lib/cli-child.js';
import { onLines } from '../lib/lines.js';
import type { Report } from '../../src/verify/report.js';
import type { HealthSection } from '../../src/health/health.js';

const MAKE_CORE = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/make-core.js');
const LOG = 'greengrass/ggc/var/log/user/us-east-1/ThingsGraph/ThingsGraph.log';

function makeCore(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MAKE_CORE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

async function temp(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-make-core-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const executions = async (root: string) => ((await readFile(join(root, LOG), 'utf8')).match(/StartFlowExecution:/g) ?? []).length;

/** Resolves once the log holds more than `than` executions: woken by the file's change events, not by polling. */
async function grows(root: string, than: number, timeoutMs = 15_000): Promise<number> {
  const w = watch(join(root, LOG));
  try {
    return await new Promise<number>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`the flow log did not grow past ${than} executions`)), timeoutMs);
      const check = async () => {
        const n = await executions(root);
        if (n > than) {
          clearTimeout(timer);
          res(n);
        }
      };
      w.on('change', () => void check().catch(rej));
      void check().catch(rej);
    });
  } finally {
    w.close();
  }
}

test('make-core refuses a folder that is not empty and not its own (exit 2), unless --force; it rewrites its own whole', async (t) => {
  const dir = await temp(t);
  // A real core's root, say: something is there, and no marker.
  const real = join(dir, 'real');
  await mkdir(join(real, 'greengrass/ggc/deployment/group'), { recursive: true });
  await writeFile(join(real, 'greengrass/ggc/deployment/group/group.json'), '{"the": "real one"}');
  const refused = await makeCore(['--root', real]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, new RegExp(`make-core: ${real} is not empty and was not made by make-core .*--force`));
  assert.equal(await readFile(join(real, 'greengrass/ggc/deployment/group/group.json'), 'utf8'), '{"the": "real one"}');

  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  const notDir = await makeCore(['--root', file]);
  assert.equal(notDir.code, 2);
  assert.match(notDir.stderr, /is not a folder/);

  const forced = await makeCore(['--root', real, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(await readFile(join(real, 'greengrass/ggc/deployment/group/group.json'), 'utf8'), '{"the": "real one"}');

  // Its own folder: written over, and nothing of the earlier variant stays behind.
  const own = join(dir, 'own');
  assert.equal((await makeCore(['--root', own])).code, 0);
  assert.ok((await readdir(own)).includes('.deploy-witness-simulated-core'));
  const again = await makeCore(['--root', own, '--variant', 'group-missing']);
  assert.equal(again.code, 0, again.stderr);
  const r = await runCli(['verify', '--root', own, '--state', join(dir, 'state'), '--json']);
  assert.deepEqual((JSON.parse(r.stdout) as Report).counts.GROUP_DEFINITION_MISSING, 1);
  // An empty folder is fine too.
  const empty = join(dir, 'empty');
  await mkdir(empty);
  assert.equal((await makeCore(['--root', empty])).code, 0);
});

test('make-core --live appends flow executions at the trigger cadence until stopped; verify sees the flow running now', async (t) => {
  const dir = await temp(t);
  const root = join(dir, 'core');
  const started = Date.now();
  const child = spawn(process.execPath, [MAKE_CORE, '--root', root, '--live', '--cadence', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  t.after(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const out: string[] = [];
  const running = new Promise<void>((res) => onLines(child.stdout, (l) => {
    out.push(l);
    if (l.startsWith('flow running: an execution every 1 s appended to ')) res();
  }));
  await running;
  const log = await readFile(join(root, LOG), 'utf8');
  assert.match(log, /Trigger expression condition: \[every 1 seconds\]/);

  const first = await grows(root, 3); // the three the core was written with, then the live ones
  const second = await grows(root, first);
  assert.ok(second > first);
  const last = [...(await readFile(join(root, LOG), 'utf8')).matchAll(/^\[([^\]]+)\]\[INFO\]-FlowSchedulerClientGreengrassImpl: StartFlowExecution:$/gm)].at(-1)![1]!;
  assert.ok(Date.parse(last) >= started, `the newest execution (${last}) is from the live process`);

  const r = await runCli(['verify', '--root', root, '--state', join(dir, 'state'), '--expect', join(root, 'expectation.json'), '--json']);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.status, 'VERIFIED', JSON.stringify(report.findings));
  const flow = (report.health as HealthSection).flow;
  assert.equal(flow.state, 'running');
  assert.ok(Date.parse(flow.last!) >= started, flow.last);

  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(out.at(-1)!, /^flow stopped after \d+ executions$/);
  const stopped = await executions(root);
  assert.ok(stopped >= second);
  assert.equal(stderr, '');
});
