// `verify` run by a user who may not read what root owns on a core: every
// place it cannot read is FILE_UNREADABLE and the verdict INCOMPLETE, never a
// sign that the deployment failed, changed or went missing; the summary says
// once to run as root and names the places. Through the real command line, as
// an unprivileged user (see test/lib/unprivileged.ts: as nobody when the tests
// run as root, with chmod otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempCore, type TempCore } from '../lib/core.js';
import { unprivileged, type Unprivileged } from '../lib/unprivileged.js';
import type { Report } from '../../src/verify/report.js';

/** Codes that conclude something about the deployment: none may come from a place that could not be read. */
const CONCLUSIONS = [
  'GROUP_DEFINITION_MISSING', 'GROUP_DEFINITION_INVALID', 'RUNTIME_FILES_MISSING', 'SYSTEM_INSTANCE_NOT_REGISTERED',
  'RUNTIME_NOT_INITIALIZED', 'FLOW_NOT_RUNNING', 'RESOURCE_MISSING', 'RESOURCE_DIGEST_MISMATCH', 'DEPLOYMENT_FAILED',
  'ARTIFACT_MODIFIED', 'ARTIFACT_MISSING', 'ARTIFACT_ADDED',
];

interface Setup {
  core: TempCore;
  user: Unprivileged;
  expect: string;
  /** verify --json as the user, parsed. */
  json(state?: string): Promise<{ code: number | null; report: Report; stderr: string }>;
  summary(state?: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<Setup> {
  const core = await tempCore();
  const user = unprivileged();
  t.after(async () => {
    await user.restore();
    await core.cleanup();
  });
  const top = dirname(core.root);
  const expect = join(top, 'envelope.json');
  await writeFile(expect, JSON.stringify(core.envelope));
  await user.reach(top, core.root);
  const state = async (dir: string) => {
    await mkdir(dir, { recursive: true });
    await user.own(dir);
    return dir;
  };
  const args = async (dir: string | undefined) => ['verify', '--root', core.root, '--expect', expect, '--state', await state(dir ?? core.stateDir)];
  return {
    core,
    user,
    expect,
    async json(dir) {
      const r = await user.run([...(await args(dir)), '--json']);
      assert.equal(r.hung, false);
      let report: Report;
      try {
        report = JSON.parse(r.stdout) as Report;
      } catch {
        throw new Error(`not a report (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
      }
      return { code: r.code, report, stderr: r.stderr };
    },
    async summary(dir) {
      const r = await user.run(await args(dir));
      assert.equal(r.hung, false);
      return r;
    },
  };
}

const codes = (r: Report) => [...new Set(r.findings.map((f) => f.code))].sort();
const at = (s: Setup, rel: string) => join(s.core.root, rel);

test('a core whose root-owned places cannot be read: INCOMPLETE with FILE_UNREADABLE (EACCES) for each, nothing concluded, one "run as root" line naming them', async (t) => {
  const s = await setup(t);
  t.diagnostic(`unprivileged mode: ${s.user.mode}`);
  // As on a real core: /thingsgraph is ggc_user's (700), the logs root's, group.json root's.
  const denied = ['thingsgraph', 'greengrass/ggc/var/log/system', 'greengrass/ggc/var/log/user', s.core.paths.groupJson];
  for (const p of denied) await s.user.deny(at(s, p));

  const { code, report } = await s.json();
  assert.equal(code, 1);
  assert.equal(report.status, 'INCOMPLETE', JSON.stringify(report.findings, null, 1));
  assert.deepEqual(codes(report), ['FILE_UNREADABLE']);
  for (const c of CONCLUSIONS) assert.equal(report.counts[c as keyof Report['counts']], undefined, c);
  const unreadable = report.findings.filter((f) => f.code === 'FILE_UNREADABLE');
  for (const f of unreadable) assert.equal(f.actual, 'EACCES', JSON.stringify(f));
  const places = unreadable.map((f) => f.path);
  for (const p of denied) assert.ok(places.includes(p), `${p} is named: ${places.join(', ')}`);
  // The flow's state is not known, and not said to be stopped.
  assert.equal((report.health as { flow: { state: string } }).flow.state, 'unreadable');

  const text = await s.summary();
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^deploy-witness: INCOMPLETE\n/);
  const hints = text.stdout.match(/run as root \(or grant read access to ([^\n]*)\)/g) ?? [];
  assert.equal(hints.length, 1, text.stdout);
  for (const p of denied) assert.ok(hints[0]!.includes(at(s, p)), `${p} in ${hints[0]}`);
  assert.match(text.stdout, /flow +not known: ThingsGraph\.log could not be read/);
  assert.doesNotMatch(text.stdout, /FAILED|MISSING|NOT_REGISTERED/);
});

test('a deployed folder that cannot be read is not "missing" against the baseline, and no baseline is laid down from a partial view', async (t) => {
  const s = await setup(t);
  const lambda = at(s, s.core.paths.lambdaDir);

  // Everything readable: the baseline is laid down, VERIFIED.
  const first = await s.json();
  assert.equal(first.report.status, 'VERIFIED', JSON.stringify(first.report.findings));
  assert.equal(first.report.observed.baseline.state, 'created');

  // The connector's Lambda folder unreadable: its files are not seen, so not gone.
  await s.user.deny(lambda);
  const blind = await s.json();
  assert.equal(blind.report.status, 'INCOMPLETE', JSON.stringify(blind.report.findings, null, 1));
  assert.deepEqual(codes(blind.report), ['FILE_UNREADABLE']);
  assert.equal(blind.report.observed.baseline.state, 'compared');
  assert.deepEqual(blind.report.findings.map((f) => [f.path, f.actual]), [[s.core.paths.lambdaDir, 'EACCES']]);

  // A fresh state folder: no baseline from what could be read, said so.
  const fresh = join(dirname(s.core.root), 'fresh-state');
  const none = await s.json(fresh);
  assert.equal(none.report.status, 'INCOMPLETE');
  assert.equal(none.report.observed.baseline.state, 'none');
  assert.match((await s.summary(fresh)).stdout, /baseline +none: not laid down while parts of the core cannot be read/);

  // Readable again: that state folder lays its baseline down now, and nothing was "added".
  await s.user.restore();
  const back = await s.json(fresh);
  assert.equal(back.report.status, 'VERIFIED', JSON.stringify(back.report.findings));
  assert.equal(back.report.observed.baseline.state, 'created');
});

test('an unreadable flow archive, unpacked folder or searched folder: not a digest mismatch, not missing, not modified', async (t) => {
  const s = await setup(t);
  const mlmodel = dirname(s.core.paths.archive);

  await s.user.deny(at(s, s.core.paths.archive));
  await s.user.deny(at(s, s.core.paths.flowFolder));
  const files = await s.json();
  assert.equal(files.report.status, 'INCOMPLETE', JSON.stringify(files.report.findings, null, 1));
  assert.deepEqual(codes(files.report), ['FILE_UNREADABLE']);
  const paths = files.report.findings.map((f) => f.path);
  assert.ok(paths.includes(s.core.paths.archive), paths.join());
  assert.ok(paths.includes(s.core.paths.flowFolder), paths.join());

  // The folder holding both cannot be listed: the resource is not known to be missing.
  await s.user.restore();
  await s.user.deny(at(s, mlmodel));
  const folder = await s.json();
  assert.equal(folder.report.status, 'INCOMPLETE', JSON.stringify(folder.report.findings, null, 1));
  assert.deepEqual(codes(folder.report), ['FILE_UNREADABLE']);
  assert.ok(folder.report.findings.every((f) => f.actual === 'EACCES' && f.path === mlmodel), JSON.stringify(folder.report.findings));
});
