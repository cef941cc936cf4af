// What `verify` says reads right, through the real command line: expected and
// found the right way round, one ID said once, a "what to do" line per error
// code, paths whole (in --json too), no disk space for folders not there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { tempCore } from '../lib/core.js';
import { runCli } from '../lib/cli-child.js';
import { makeCore } from '../../scripts/simulated-core.js';
import type { Report } from '../../src/verify/report.js';
import type { HealthSection } from '../../src/health/health.js';

const findingLines = (stdout: string, code: string): string[] => {
  const lines = stdout.split('\n');
  const i = lines.findIndex((l) => l.includes(` ${code} `));
  assert.ok(i >= 0, `${code} in\n${stdout}`);
  const out = [lines[i]!];
  for (let j = i + 1; j < lines.length && /^ {42}\S/.test(lines[j]!); j++) out.push(lines[j]!);
  return out;
};

test('RUNTIME_FILES_MISSING: expected the runtime files, found which are missing', async (t) => {
  const core = await tempCore({ variant: 'runtime-missing' });
  t.after(() => core.cleanup());
  const expect = join(dirname(core.root), 'e.json');
  await writeFile(expect, JSON.stringify(core.expectation));
  const args = ['verify', '--root', core.root, '--state', core.stateDir, '--expect', expect];
  const json = JSON.parse((await runCli([...args, '--json'])).stdout) as Report;
  const f = json.findings.find((x) => x.code === 'RUNTIME_FILES_MISSING')!;
  assert.deepEqual(f.expected, { present: ['thingsgraph/', 'thingsgraph/ThingsGraph.db', 'thingsgraph/engine/'] });
  assert.deepEqual(f.actual, { missing: ['thingsgraph/', 'thingsgraph/ThingsGraph.db', 'thingsgraph/engine/'] });
  const text = await runCli(args);
  assert.equal(text.code, 1);
  const lines = findingLines(text.stdout, 'RUNTIME_FILES_MISSING').join('\n');
  assert.match(lines, /expected \{"present":\["thingsgraph\/",.*\]\}, found \{"missing":\["thingsgraph\/",/);
  assert.doesNotMatch(lines, /expected null/);
});

test('DEPLOYMENT_FAILED: the failed deployment named once when it is the expected one, both named when not', async (t) => {
  const core = await tempCore({ variant: 'deployment-failed' });
  t.after(() => core.cleanup());
  const id = core.ids.deploymentId;
  const dir = dirname(core.root);
  const same = join(dir, 'same.json');
  await writeFile(same, JSON.stringify(core.expectation));
  const args = (e: string) => ['verify', '--root', core.root, '--state', core.stateDir, '--expect', e];

  const text = await runCli(args(same));
  assert.equal(text.code, 1);
  const lines = findingLines(text.stdout, 'DEPLOYMENT_FAILED').join('\n');
  assert.equal(lines.split(id).length - 1, 1, `the ID once:\n${lines}`);
  assert.match(lines, new RegExp(`reports that the expected deployment failed: Deployment failed\\. \\{"deploymentId": "${id}", "errorString": "process start failed`));
  const json = JSON.parse((await runCli([...args(same), '--json'])).stdout) as Report;
  const f = json.findings.find((x) => x.code === 'DEPLOYMENT_FAILED')!;
  assert.deepEqual(f.expected, { deploymentId: id });
  assert.deepEqual(f.actual, { failedDeploymentId: id });

  const other = join(dir, 'other.json');
  const want = 'ffffffff-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
  await writeFile(other, JSON.stringify({ ...core.expectation, greengrassDeploymentId: want }));
  const diff = findingLines((await runCli(args(other))).stdout, 'DEPLOYMENT_FAILED').join('\n');
  assert.match(diff, new RegExp(`deployment ${id} \\(not the one expected, ${want}\\) failed`));
});

test('the summary says what to do once per error code, the drift hint naming the baseline file', async (t) => {
  const core = await tempCore();
  t.after(() => core.cleanup());
  const args = ['verify', '--root', core.root, '--state', core.stateDir];
  assert.equal((await runCli(args)).code, 0);
  for (const name of ['config.json', 'ThingsGraphConnector.jar']) await appendFile(join(core.root, core.paths.lambdaDir, name), 'x');
  const r = await runCli(args);
  assert.equal(r.code, 1);
  assert.equal(r.stdout.split('\n').filter((l) => / ARTIFACT_MODIFIED /.test(l)).length, 2, r.stdout);
  const todo = r.stdout.slice(r.stdout.indexOf('\nWhat to do:\n'));
  assert.ok(todo.length > 15, r.stdout);
  const hints = todo.split('\n').filter((l) => l.startsWith('  ARTIFACT_MODIFIED: '));
  assert.equal(hints.length, 1, todo);
  const file = join(core.stateDir, 'baselines', core.ids.groupId, `${core.ids.groupVersionId}.json`);
  assert.ok(hints[0]!.includes(`delete ${file} and run verify again`), hints[0]);
  // A VERIFIED core has nothing to do.
  await rm(join(core.stateDir, 'baselines'), { recursive: true });
  assert.doesNotMatch((await runCli(args)).stdout, /What to do/);
});

test('paths are never shortened: a deep root in --json and in the summary', async (t) => {
  const top = await mkdtemp(join(tmpdir(), 'dw-deep-'));
  t.after(() => rm(top, { recursive: true, force: true }));
  const root = join(top, 'a-folder-name-long-enough', 'to-be-cut-by-any-forty-character-limit', 'core');
  await makeCore({ root });
  const args = ['verify', '--root', root, '--state', join(top, 'state')];
  const report = JSON.parse((await runCli([...args, '--json'])).stdout) as Report;
  const disks = (report.health as HealthSection).disks;
  assert.equal(disks.length, 1, JSON.stringify(disks));
  assert.equal(disks[0]!.path, join(root, 'greengrass/ggc/deployment'));
  assert.ok(!JSON.stringify(report).includes('\u2026'), 'no path cut with an ellipsis');
  const text = await runCli(args);
  assert.ok(text.stdout.includes(`  disk              ${join(root, 'greengrass/ggc/deployment')}: `), text.stdout);
});

test('a machine that is not a core: no disk space for folders that are not there', async (t) => {
  const top = await mkdtemp(join(tmpdir(), 'dw-notacore-'));
  t.after(() => rm(top, { recursive: true, force: true }));
  const root = join(top, 'root');
  await mkdir(root);
  const args = ['verify', '--root', root, '--state', join(top, 'state')];
  const report = JSON.parse((await runCli([...args, '--json'])).stdout) as Report;
  assert.deepEqual((report.health as HealthSection).disks, []);
  const text = await runCli(args);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /\n {2}disk {14}not present \(no folder of the core's layout under the root\)\n/);
  assert.ok(!text.stdout.includes(`${root}/greengrass`), text.stdout);
  assert.match(text.stdout, /GROUP_DEFINITION_MISSING: no Greengrass group is deployed under this root: check --root/);
});

test('verify hashes uncapped with one worker per core (at most 4) by default; --hash-rate and --config still cap it; both defaults in --help', async (t) => {
  const core = await tempCore();
  t.after(() => core.cleanup());
  // 8 MiB to hash: at 4 MiB/s that takes at least (8 MiB - the limiter's small burst) / 4 MiB/s, about 2 s.
  await writeFile(join(core.root, core.paths.lambdaDir, 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 7));
  const workers = Math.min(availableParallelism(), 4);
  const args = ['verify', '--root', core.root, '--state', core.stateDir];
  const plural = (n: number) => `${n} worker${n === 1 ? '' : 's'}`;

  const fast = await runCli(args);
  assert.equal(fast.code, 0, fast.stdout + fast.stderr);
  assert.match(fast.stdout, new RegExp(`deployed files .*\\(hashed uncapped, ${plural(workers)}\\)\\n`));

  const capped = await runCli([...args, '--hash-rate', '4'], { deadlineMs: 60_000 });
  assert.equal(capped.code, 0, capped.stdout + capped.stderr);
  assert.match(capped.stdout, new RegExp(`\\(hashed at most 4 MB/s, ${plural(workers)}\\)\\n`));
  assert.ok(capped.ms >= 1800, `capped at 4 MiB/s, 8 MiB took ${capped.ms.toFixed(0)} ms`);

  const cfg = join(dirname(core.root), 'c.yaml');
  await writeFile(cfg, 'hashConcurrency: 1\nhashRateLimitMBps: 50\n');
  assert.match((await runCli([...args, '--config', cfg])).stdout, /\(hashed at most 50 MB\/s, 1 worker\)\n/);

  const verifyHelp = (await runCli(['verify', '--help'])).stdout;
  assert.match(verifyHelp, /Hashing runs at full speed, one worker per core \(at most 4\)/);
  assert.match(verifyHelp, /The agent \(run\) keeps its background\s+defaults: 50 MB\/s, 1 worker/);
  const runHelp = (await runCli(['run', '--help'])).stdout;
  assert.match(runHelp, /Hashing is capped for the background: 50 MB\/s and 1 worker by default/);
  assert.match(runHelp, /verify,\s+a one-shot command, runs uncapped/);
});
