// Every Greengrass v2 finding, each built as a real fault on a real file
// system (real zips, real symbolic links), observed and judged end to end,
// checked against hand-written expectations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { digestsByPath } from '../../src/model/digest.js';
import type { GreengrassV2Expectation } from '../../src/verify/greengrass-v2-expectation.js';
import { parseGreengrassV2Expectation } from '../../src/verify/greengrass-v2-expectation.js';
import { makeV2Core, V2_VARIANTS, type MadeV2Core, type V2Variant } from '../../scripts/simulated-v2-root.js';
import { verifyV2, type VerifyV2Options } from '../../scripts/verify-v2.js';

const LINUX = { os: 'linux', architecture: 'aarch64' };
const SENSOR = ['com.example.Sensor', '1.2.0'] as const;
const WEBAPP = ['com.example.WebApp', '2.0.1'] as const;

async function tempRoot(variant: V2Variant = 'healthy'): Promise<MadeV2Core & { cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-v2-'));
  const core = await makeV2Core({ root: join(dir, 'root'), variant });
  return { ...core, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

function expectation(doc: unknown): GreengrassV2Expectation {
  const r = parseGreengrassV2Expectation(JSON.stringify(doc));
  if (!r.ok) throw new Error(r.error);
  return r.expectation;
}

function run(core: MadeV2Core, extra: Partial<VerifyV2Options> = {}) {
  return verifyV2({ root: core.root, platform: LINUX, expectation: expectation(core.envelope), ...extra });
}

const codesOf = (fs: { code: string }[]): string[] => fs.map((f) => f.code).sort();

test('a healthy root is VERIFIED, and the report carries what was observed', async () => {
  const core = await tempRoot();
  try {
    const r = await run(core);
    assert.deepEqual(r.verdict.findings, []);
    assert.equal(r.verdict.status, 'VERIFIED');
    const o = r.observed;
    assert.equal(o.nucleus, 'java');
    assert.equal(o.v2Root, 'greengrass/v2');
    assert.equal(o.deployment?.deploymentId, '7c9e6679-7425-40de-944b-e07fc1f90ae7');
    assert.equal(o.deployment?.link, 'previous-success');
    assert.equal(o.deployment?.configurationArn, 'arn:aws:greengrass:us-east-1:123456789012:configuration:thinggroup/MyV2Fleet:3');
    assert.deepEqual(o.deployment?.rootComponents, [
      { name: 'com.example.Sensor', version: '1.2.0' },
      { name: 'com.example.WebApp', version: '2.0.1' },
    ]);
    assert.equal(o.ongoing, null);
    assert.deepEqual(o.components.map((c) => [c.name, c.version, c.running, c.state, c.recipe, c.artifacts, c.archives]), [
      ['aws.greengrass.Nucleus', '2.12.0', '2.12.0', 'RUNNING', 'ok', 0, 0],
      // Artifacts of every manifest: two for Linux and the first again for Windows.
      ['com.example.Sensor', '1.2.0', '1.2.0', 'RUNNING', 'ok', 3, 0],
      ['com.example.WebApp', '2.0.1', '2.0.1', 'RUNNING', 'ok', 3, 1],
    ]);
    assert.deepEqual(o.units.map((u) => [u.path, u.files]), [
      ['greengrass/v2/packages/artifacts-unarchived/aws.greengrass.Nucleus/2.12.0', 0],
      ['greengrass/v2/packages/artifacts-unarchived/com.example.Sensor/1.2.0', 0],
      ['greengrass/v2/packages/artifacts-unarchived/com.example.WebApp/2.0.1', 4],
      ['greengrass/v2/packages/artifacts/aws.greengrass.Nucleus/2.12.0', 0],
      ['greengrass/v2/packages/artifacts/com.example.Sensor/1.2.0', 2],
      ['greengrass/v2/packages/artifacts/com.example.WebApp/2.0.1', 2],
    ]);
    // The artifact digests are the files' SHA-256, computed here independently.
    const sensor = await readFile(join(core.root, core.paths.artifacts(...SENSOR), 'sensor.py'));
    const unit = r.observation.tree.units.find((u) => u.path === core.paths.artifacts(...SENSOR))!;
    assert.equal(unit.files['sensor.py']!.sha256, createHash('sha256').update(sensor).digest('hex'));
    assert.equal(r.newBaseline?.deploymentId, core.ids.deploymentId);
    assert.equal(o.baseline.state, 'created');
    // A second pass against the baseline agrees.
    const again = await run(core, { baseline: r.newBaseline });
    assert.equal(again.verdict.status, 'VERIFIED');
    assert.equal(again.observed.baseline.state, 'compared');
    assert.equal(again.observed.treeDigest, o.treeDigest);
  } finally {
    await core.cleanup();
  }
});

test('list-effective-deployments output verifies the same healthy root', async () => {
  const core = await tempRoot();
  try {
    const r = await run(core, { expectation: expectation(core.effectiveDeployments) });
    assert.deepEqual(r.verdict.findings, []);
    // A deployment the cloud does not list for this core is not the one it runs.
    const other = structuredClone(core.effectiveDeployments) as { effectiveDeployments: { deploymentId: string }[] };
    other.effectiveDeployments[0]!.deploymentId = 'someone-elses';
    const m = await run(core, { expectation: expectation(other) });
    assert.deepEqual(codesOf(m.verdict.findings), ['DEPLOYMENT_ID_MISMATCH']);
    assert.deepEqual(m.verdict.findings[0]!.expected, ['someone-elses']);
  } finally {
    await core.cleanup();
  }
});

const VARIANT_CODES: [V2Variant, string[], string][] = [
  ['lite', [], 'VERIFIED'],
  ['hex-digest', [], 'VERIFIED'],
  ['deployment-ongoing', ['DEPLOYMENT_IN_PROGRESS'], 'INCOMPLETE'],
  ['deployment-failed', ['DEPLOYMENT_FAILED'], 'FAILED'],
  ['local-override', ['COMPONENT_VERSION_MISMATCH'], 'MISMATCH'],
  ['artifact-tampered', ['ARTIFACT_DIGEST_MISMATCH'], 'TAMPERED'],
  ['artifact-missing', ['ARTIFACT_MISSING'], 'TAMPERED'],
  ['artifact-added', ['ARTIFACT_ADDED'], 'TAMPERED'],
  ['unarchived-modified', ['ARTIFACT_MODIFIED'], 'TAMPERED'],
  ['unarchived-missing', ['ARTIFACT_MISSING'], 'TAMPERED'],
  ['unarchived-added', ['ARTIFACT_ADDED'], 'TAMPERED'],
  ['component-broken', ['COMPONENT_BROKEN'], 'FAILED'],
  ['component-errored', ['COMPONENT_ERRORED'], 'VERIFIED'],
  ['recipe-invalid', ['RECIPE_INVALID'], 'TAMPERED'],
  ['unsafe-zip', ['UNSAFE_ARCHIVE_ENTRY'], 'TAMPERED'],
  ['record-escape', ['DEPLOYMENT_RECORD_INVALID'], 'TAMPERED'],
];

test('every variant of the simulated root has a test here', () => {
  const tested = new Set(['healthy', ...VARIANT_CODES.map(([v]) => v)]);
  assert.deepEqual(Object.keys(V2_VARIANTS).filter((v) => !tested.has(v)), []);
});

for (const [variant, codes, status] of VARIANT_CODES) {
  test(`variant ${variant}: ${codes.join(', ') || 'no finding'} (${status})`, async () => {
    const core = await tempRoot(variant);
    try {
      const r = await run(core);
      assert.deepEqual(codesOf(r.verdict.findings), codes, JSON.stringify(r.verdict.findings, null, 2));
      assert.equal(r.verdict.status, status);
    } finally {
      await core.cleanup();
    }
  });
}

test('each finding names the file, and what was expected and found', async () => {
  const core = await tempRoot('artifact-tampered');
  try {
    const [f] = (await run(core)).verdict.findings;
    const path = posix.join(core.paths.artifacts(...SENSOR), 'sensor.py');
    assert.equal(f!.path, path);
    const now = await readFile(join(core.root, path));
    const was = core.components[0]!.files[0]!.data;
    assert.deepEqual(f!.expected, { sha256: createHash('sha256').update(was).digest('hex'), recipe: createHash('sha256').update(was).digest('base64') });
    assert.equal((f!.actual as { sha256: string }).sha256, createHash('sha256').update(now).digest('hex'));
  } finally {
    await core.cleanup();
  }

  const un = await tempRoot('unarchived-modified');
  try {
    const [f] = (await run(un)).verdict.findings;
    assert.equal(f!.path, posix.join(un.paths.unarchived(...WEBAPP), 'webapp', 'lib', 'util.js'));
    assert.equal(f!.expected, createHash('sha256').update('module.exports = { double: (x) => 2 * x };\n').digest('hex'));
  } finally {
    await un.cleanup();
  }
});

test('the lite layout is found under var/lib/greengrass and read with its own names', async () => {
  const core = await tempRoot('lite');
  try {
    const r = await run(core);
    assert.equal(r.observation.nucleus, 'lite');
    assert.equal(r.observation.v2Root, 'var/lib/greengrass');
    assert.equal(r.observation.deployments.state, 'unsupported');
    assert.equal(r.observation.runningVersions.state, 'unsupported');
    assert.equal(r.observation.componentStates.source, 'none');
    assert.deepEqual(r.observation.components.map((c) => c.recipe?.state === 'ok' ? c.recipe.format : null), ['json', 'json', 'json']);
    // Without deployment records, the store is the witness: a missing version is a mismatch.
    const exp = structuredClone(core.getDeployment) as { components: Record<string, { componentVersion: string }> };
    exp.components['com.example.Sensor']!.componentVersion = '9.9.9';
    exp.components['com.example.Gone'] = { componentVersion: '1.0.0' };
    const m = await run(core, { expectation: expectation(exp) });
    assert.deepEqual(codesOf(m.verdict.findings), ['COMPONENT_MISSING', 'COMPONENT_VERSION_MISMATCH']);
    assert.equal(m.verdict.status, 'MISMATCH');
  } finally {
    await core.cleanup();
  }
});

test('the expectation must match the deployment on the device, version for version', async () => {
  const core = await tempRoot();
  try {
    const exp = structuredClone(core.getDeployment) as Record<string, unknown> & { components: Record<string, unknown> };
    exp.components['com.example.WebApp'] = { componentVersion: '2.1.0' };
    const r = await run(core, { expectation: expectation(exp) });
    // The record lists 2.0.1, and the nucleus runs 2.0.1.
    assert.deepEqual(codesOf(r.verdict.findings), ['COMPONENT_VERSION_MISMATCH', 'COMPONENT_VERSION_MISMATCH']);
    // Another deployment for the same target landed since.
    const newer = { ...core.getDeployment, deploymentId: 'newer-revision' };
    assert.deepEqual(codesOf((await run(core, { expectation: expectation(newer) })).verdict.findings), ['DEPLOYMENT_ID_MISMATCH']);
    // Another target's deployment: the record says nothing about ours; the versions still agree.
    const elsewhere = { ...core.getDeployment, deploymentId: 'other-group', targetArn: 'arn:aws:iot:us-east-1:123456789012:thinggroup/Other' };
    assert.deepEqual((await run(core, { expectation: expectation(elsewhere) })).verdict.findings, []);
  } finally {
    await core.cleanup();
  }
});

test('while a deployment is ongoing, versions being installed are not judged', async () => {
  const core = await tempRoot('deployment-ongoing');
  try {
    // The new WebApp version is half downloaded: its zip is cut short.
    const zip = join(core.root, core.paths.artifacts(...WEBAPP), 'webapp.zip');
    const bytes = await readFile(zip);
    await writeFile(zip, bytes.subarray(0, 100));
    const tlog = join(core.root, core.paths.tlog);
    await writeFile(tlog, (await readFile(tlog, 'utf8')).replace('"V":"2.0.1"', '"V":"2.0.0"'));
    const r = await run(core);
    assert.deepEqual(codesOf(r.verdict.findings), ['DEPLOYMENT_IN_PROGRESS']);
    assert.equal(r.newBaseline, null, 'no baseline is laid down mid-deployment');
  } finally {
    await core.cleanup();
  }
});

test('drift from the baseline: a mode change and a changed file with no recipe digest', async () => {
  const core = await tempRoot();
  try {
    const first = await run(core);
    const baseline = first.newBaseline!;
    await chmod(join(core.root, core.paths.artifacts(...SENSOR), 'sensor.py'), 0o777);
    const r = await run(core, { baseline });
    assert.deepEqual(codesOf(r.verdict.findings), ['ARTIFACT_MODIFIED']);
    assert.deepEqual((r.verdict.findings[0]!.actual as { mode: number }).mode & 0o777, 0o777);
    // A baseline for another deployment is not compared.
    const stale = { ...baseline, deploymentId: 'older' };
    assert.deepEqual((await run(core, { baseline: stale })).verdict.findings, []);
  } finally {
    await core.cleanup();
  }
  // A hand-written recipe without digests (a local deployment): only the baseline can tell.
  const local = await tempRoot();
  try {
    const recipe = join(local.root, local.paths.recipe(...SENSOR));
    await writeFile(recipe, (await readFile(recipe, 'utf8')).replace(/^\s*(Digest|Algorithm): .*$/gm, ''));
    const first = await run(local);
    assert.deepEqual(first.verdict.findings, []);
    await writeFile(join(local.root, local.paths.artifacts(...SENSOR), 'calibration.json'), '{"offset": 9}\n');
    const unseen = await run(local);
    assert.deepEqual(unseen.verdict.findings, [], 'no digest, no baseline: nothing to compare with');
    const r = await run(local, { baseline: first.newBaseline });
    assert.deepEqual(r.verdict.findings.map((f) => [f.code, f.path]), [['ARTIFACT_MODIFIED', posix.join(local.paths.artifacts(...SENSOR), 'calibration.json')]]);
  } finally {
    await local.cleanup();
  }
});

test('a tampered file is named once, not again by the drift check', async () => {
  const core = await tempRoot();
  try {
    const baseline = (await run(core)).newBaseline!;
    await writeFile(join(core.root, core.paths.unarchived(...WEBAPP), 'webapp', 'index.js'), 'evil()\n');
    const r = await run(core, { baseline });
    assert.deepEqual(codesOf(r.verdict.findings), ['ARTIFACT_MODIFIED']);
  } finally {
    await core.cleanup();
  }
});

test('a FIFO or a link where an artifact belongs is unreadable or modified, never read through', async () => {
  const core = await tempRoot();
  try {
    const dir = join(core.root, core.paths.artifacts(...SENSOR));
    await unlink(join(dir, 'calibration.json'));
    assert.equal(spawnSync('mkfifo', [join(dir, 'calibration.json')]).status, 0);
    await unlink(join(dir, 'sensor.py'));
    await symlink('/etc/passwd', join(dir, 'sensor.py'));
    const r = await run(core);
    assert.deepEqual(codesOf(r.verdict.findings), ['ARTIFACT_MODIFIED', 'FILE_UNREADABLE']);
    assert.equal(r.verdict.status, 'TAMPERED');
  } finally {
    await core.cleanup();
  }
});

test('a rescan trusts unchanged files and reuses archive inspections', async () => {
  const core = await tempRoot();
  try {
    const first = await run(core);
    const previous = digestsByPath(first.observation.tree.units);
    const previousArchives = new Map(first.observation.components.flatMap((c) => c.archives).map((z) => [z.path, z]));
    const again = await run(core, { previous, previousArchives, trustUnchangedStat: true });
    assert.equal(again.observation.tree.filesHashed, 0);
    assert.equal(again.observation.components.find((c) => c.name === WEBAPP[0])!.archives[0], previousArchives.values().next().value);
    assert.deepEqual(again.verdict.findings, []);
  } finally {
    await core.cleanup();
  }
});

test('the recipe store names its files: a file name that lies about its recipe is invalid', async () => {
  const core = await tempRoot();
  try {
    const from = join(core.root, core.paths.recipe(...SENSOR));
    const text = await readFile(from, 'utf8');
    await writeFile(from, text.replace('ComponentVersion: 1.2.0', 'ComponentVersion: 1.3.0'));
    const r = await run(core, { expectation: null });
    assert.deepEqual(codesOf(r.verdict.findings), ['RECIPE_INVALID']);
    assert.match(r.verdict.findings[0]!.message, /file name does not match/);
    // Its folders are still the component's, not orphans.
    assert.deepEqual(r.observation.orphanFolders, []);
  } finally {
    await core.cleanup();
  }
});

test('folders without a recipe and files where only folders belong are named', async () => {
  const core = await tempRoot();
  try {
    const art = posix.dirname(posix.dirname(core.paths.artifacts(...SENSOR)));
    await writeFile(join(core.root, art, 'loose.bin'), 'x');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(core.root, art, 'com.example.Ghost', '0.0.1'), { recursive: true });
    await writeFile(join(core.root, art, 'com.example.Ghost', '0.0.1', 'payload'), 'x');
    const r = await run(core);
    assert.deepEqual(r.verdict.findings.map((f) => [f.code, f.path]), [
      ['ARTIFACT_ADDED', `${art}/com.example.Ghost/0.0.1`],
      ['ARTIFACT_ADDED', `${art}/loose.bin`],
    ]);
  } finally {
    await core.cleanup();
  }
});

const NOBODY = 65534;
/** Root can run the CLI as nobody only if nobody can read this checkout. */
const nobodyCanRun =
  process.getuid?.() === 0 &&
  spawnSync(process.execPath, ['-e', "require('fs').accessSync('dist/src/cli/bin.js', require('fs').constants.R_OK)"], { uid: NOBODY, gid: NOBODY }).status === 0;

test('a zip artifact cut short is corrupt and differs from its recipe; its folder is not judged by it', async () => {
  const core = await tempRoot();
  try {
    const zip = join(core.root, core.paths.artifacts(...WEBAPP), 'webapp.zip');
    const bytes = await readFile(zip);
    await writeFile(zip, bytes.subarray(0, bytes.length - 30));
    const r = await run(core);
    assert.deepEqual(codesOf(r.verdict.findings), ['ARTIFACT_DIGEST_MISMATCH', 'RESOURCE_CORRUPT']);
    assert.equal(r.verdict.status, 'TAMPERED');
  } finally {
    await core.cleanup();
  }
});

test('verify on a v2 root through the real CLI: exit 0 when VERIFIED, 1 otherwise, 2 naming a bad --expect', async () => {
  const core = await tempRoot('component-broken');
  const state = await mkdtemp(join(tmpdir(), 'dw-v2-state-'));
  try {
    const cli = (root: string, args: string[]) =>
      spawnSync(process.execPath, ['dist/src/cli/bin.js', 'verify', '--root', root, '--state', state, '--hash-rate', '0', ...args], { encoding: 'utf8' });
    const env = join(core.root, 'envelope.json');
    await writeFile(env, JSON.stringify(core.envelope));
    const broken = cli(core.root, ['--expect', env]);
    assert.equal(broken.status, 1, broken.stderr);
    assert.match(broken.stdout, /^deploy-witness: FAILED \(Greengrass v2\)\n/);
    assert.match(broken.stdout, /ERROR +COMPONENT_BROKEN/);
    const bad = join(core.root, 'bad.json');
    await writeFile(bad, '{"deploymentId": "a", "deploymentId": "b", "components": {}}');
    const r = cli(core.root, ['--expect', bad]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--expect .*bad\.json: .*duplicate key "deploymentId" in \$ at line 1 column \d+/);
    assert.equal(cli(core.root, ['--layout', 'other']).status, 2);
    const fine = await tempRoot();
    try {
      const ok = cli(fine.root, ['--layout', 'greengrass-v2']);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    } finally {
      await fine.cleanup();
    }
  } finally {
    await core.cleanup();
    await rm(state, { recursive: true, force: true });
  }
});

test('a link where a component folder belongs is named and never walked into', async () => {
  const core = await tempRoot();
  try {
    const { mkdir, rename } = await import('node:fs/promises');
    const parent = posix.dirname(core.paths.artifacts(...SENSOR));
    const outside = join(core.root, '..', 'outside');
    await mkdir(outside, { recursive: true });
    await rename(join(core.root, parent), join(outside, 'com.example.Sensor'));
    await symlink(join(outside, 'com.example.Sensor'), join(core.root, parent));
    const r = await run(core);
    assert.deepEqual(r.verdict.findings.map((f) => [f.code, f.path]), [
      ['ARTIFACT_ADDED', parent],
      ['ARTIFACT_MISSING', `${core.paths.artifacts(...SENSOR)}/sensor.py`],
      ['ARTIFACT_MISSING', `${core.paths.artifacts(...SENSOR)}/calibration.json`],
    ]);
    assert.equal(r.observation.tree.units.some((u) => u.path.startsWith(parent)), false);
  } finally {
    await core.cleanup();
  }
});

test('an agent without privilege reports what it cannot read, never a tampering', { skip: process.getuid?.() === 0 && !nobodyCanRun && 'nobody cannot read this checkout' }, async () => {
  const core = await tempRoot();
  try {
    if (nobodyCanRun) {
      // Run the real CLI as nobody over the root as the nucleus leaves it (owner-only folders and files).
      await chmod(join(core.root, '..'), 0o755);
      for (const d of ['deployments', 'config', 'logs', 'packages/recipes']) await chmod(join(core.root, core.v2Root, d), 0o700);
      const state = join(core.root, '..', 'state');
      await mkdir(state);
      await chown(state, NOBODY, NOBODY);
      const res = spawnSync(process.execPath, ['dist/src/cli/bin.js', 'verify', '--root', core.root, '--state', state, '--layout', 'greengrass-v2', '--json'], { uid: NOBODY, gid: NOBODY, encoding: 'utf8' });
      assert.equal(res.status, 1, res.stderr);
      const out = JSON.parse(res.stdout) as { status: string; findings: { code: string; path?: string }[] };
      assert.equal(out.status, 'INCOMPLETE');
      assert.deepEqual([...new Set(out.findings.map((f) => f.code))], ['FILE_UNREADABLE']);
      const paths = out.findings.map((f) => f.path);
      for (const p of ['greengrass/v2/deployments', 'greengrass/v2/packages/recipes', 'greengrass/v2/config', 'greengrass/v2/logs']) {
        assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
      }
    } else {
      await chmod(join(core.root, core.v2Root, 'deployments'), 0o000);
      try {
        const r = await run(core, { expectation: null });
        assert.deepEqual(codesOf(r.verdict.findings), ['FILE_UNREADABLE']);
        assert.equal(r.verdict.status, 'INCOMPLETE');
      } finally {
        await chmod(join(core.root, core.v2Root, 'deployments'), 0o700);
      }
    }
  } finally {
    await core.cleanup();
  }
});

/** setpriv (util-linux) can drop root to a user that keeps one capability. */
const setprivWorks = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;

test('the least privilege the recipe offers: a user holding only CAP_DAC_READ_SEARCH verifies the owner-only root; the same user without it reads FILE_UNREADABLE', { skip: !setprivWorks && 'needs root and setpriv' }, async () => {
  const core = await tempRoot();
  try {
    // As the Java nucleus leaves it: root-owned, owner-only folders, artifacts readable by their owner only.
    await chmod(join(core.root, '..'), 0o755);
    for (const d of ['deployments', 'config', 'logs', 'packages/recipes']) await chmod(join(core.root, core.v2Root, d), 0o700);
    const artifact = join(core.root, core.v2Root, 'packages/artifacts', ...SENSOR, 'sensor.py');
    assert.equal((await stat(artifact)).mode & 0o777, 0o600);
    const state = join(core.root, '..', 'state');
    await mkdir(state);
    await chown(state, NOBODY, NOBODY);
    const expect = join(core.root, '..', 'get-deployment.json');
    await writeFile(expect, JSON.stringify(core.getDeployment));
    await chmod(expect, 0o644);
    const verifyAs = (caps: string[]) => spawnSync('setpriv', [
      '--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', ...caps,
      process.execPath, 'dist/src/cli/bin.js', 'verify', '--root', core.root, '--state', state, '--expect', expect, '--hash-rate', '0', '--json',
    ], { encoding: 'utf8' });
    // The run line README gives for the recipe: the same setpriv, with the component's own user.
    const granted = verifyAs(['--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search']);
    assert.equal(granted.status, 0, granted.stderr);
    const ok = JSON.parse(granted.stdout) as { status: string; findings: unknown[] };
    assert.equal(ok.status, 'VERIFIED', JSON.stringify(ok.findings));
    const bare = verifyAs([]);
    const no = JSON.parse(bare.stdout) as { status: string; findings: { code: string }[] };
    assert.equal(no.status, 'INCOMPLETE', bare.stderr);
    assert.deepEqual([...new Set(no.findings.map((f) => f.code))], ['FILE_UNREADABLE']);
    assert.ok(!no.findings.some((f) => ['ARTIFACT_DIGEST_MISMATCH', 'ARTIFACT_MODIFIED', 'ARTIFACT_MISSING', 'ARTIFACT_ADDED', 'RECIPE_INVALID'].includes(f.code)), 'nothing unreadable is called tampered');
  } finally {
    await core.cleanup();
  }
});
