// Every finding code of the verification engine, each built as a real fault on
// a real file system, checked against hand-written expectations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { codesOf, expectationOf, pass, tempCore } from '../lib/core.js';
import { DEFAULT_IDS } from '../../scripts/simulated-core.js';

const LAMBDA = 'greengrass/ggc/deployment/lambda/arn:aws:lambda:us-east-1:123456789012:function:ThingsGraphConnector:3';
const ARCHIVE = 'greengrass/ggc/deployment/mlmodel/3c0f1e2d-4b5a-4978-8e6d-5c4b3a291807/flow-MyExample01.tar.gz';

test('a healthy core is VERIFIED and the report carries what was observed', async () => {
  const core = await tempCore();
  try {
    const r = await pass(core);
    assert.deepEqual(r.verdict.findings, []);
    assert.equal(r.report.status, 'VERIFIED');
    const o = r.report.observed;
    assert.equal(o.groupId, '4f5d2d2c-7c2f-4c8e-9d1a-1b2c3d4e5f60');
    assert.equal(o.groupVersionId, '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d');
    assert.equal(o.coreThing, 'MyGreengrassCore');
    assert.equal(o.deploymentId, 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d');
    assert.deepEqual(o.systemInstances, ['urn:tdm:us-east-1/123456789012/default:deployment:MyExample01_V001']);
    assert.equal(o.runtimeInitialized, true);
    assert.equal(o.runtimeVersion, '1.2.3');
    // The archive digest in the report is the file's SHA-256, computed here independently.
    const sha = createHash('sha256').update(await readFile(join(core.root, ARCHIVE))).digest('hex');
    assert.deepEqual(o.archives.map((a) => [a.path, a.sha256, a.entryCount]), [[ARCHIVE, sha, 5]]);
    assert.deepEqual(o.units.map((u) => u.path), [
      'greengrass/ggc/deployment/group',
      LAMBDA,
      'greengrass/ggc/deployment/mlmodel/3c0f1e2d-4b5a-4978-8e6d-5c4b3a291807',
      'thingsgraph/engine',
    ]);
    assert.equal(o.baseline.state, 'created');
    assert.match(o.treeDigest, /^[0-9a-f]{64}$/);
    // A second pass compares against the baseline it laid down, and agrees.
    const again = await pass(core);
    assert.equal(again.report.observed.baseline.state, 'compared');
    assert.equal(again.report.observed.treeDigest, o.treeDigest);
    assert.equal(again.report.status, 'VERIFIED');
  } finally {
    await core.cleanup();
  }
});

const VARIANT_CODES = [
  ['group-missing', ['GROUP_DEFINITION_MISSING']],
  ['group-invalid', ['GROUP_DEFINITION_INVALID']],
  ['deployment-failed', ['DEPLOYMENT_FAILED']],
  ['not-registered', ['SYSTEM_INSTANCE_NOT_REGISTERED']],
  ['resource-missing', ['RESOURCE_MISSING']],
  ['resource-corrupt', ['RESOURCE_CORRUPT', 'RESOURCE_DIGEST_MISMATCH']],
  ['unsafe-archive', ['UNSAFE_ARCHIVE_ENTRY']],
  ['runtime-missing', ['RUNTIME_FILES_MISSING']],
] as const;

for (const [variant, codes] of VARIANT_CODES) {
  test(`variant ${variant} gives ${codes.join(' + ')}`, async () => {
    const core = await tempCore({ variant });
    try {
      const r = await pass(core);
      assert.deepEqual(codesOf(r), [...codes].sort());
      assert.notEqual(r.report.status, 'VERIFIED');
    } finally {
      await core.cleanup();
    }
  });
}

test('group, version and deployment ID mismatches against the expectation', async () => {
  const core = await tempCore();
  try {
    const exp = structuredClone(core.expectation) as { summary: Record<string, string>; greengrassDeploymentId: string };
    exp.summary.greengrassGroupId = 'other-group';
    exp.summary.greengrassGroupVersionId = 'other-version';
    exp.greengrassDeploymentId = 'other-deployment';
    const r = await pass(core, expectationOf(exp));
    assert.deepEqual(codesOf(r), ['DEPLOYMENT_ID_MISMATCH', 'GROUP_ID_MISMATCH', 'GROUP_VERSION_MISMATCH']);
    assert.equal(r.report.status, 'MISMATCH');
    const dep = r.verdict.findings.find((f) => f.code === 'DEPLOYMENT_ID_MISMATCH')!;
    assert.equal(dep.expected, 'other-deployment');
    assert.equal(dep.actual, DEFAULT_IDS.deploymentId);
  } finally {
    await core.cleanup();
  }
});

test('an unobserved deployment ID is not a mismatch', async () => {
  const core = await tempCore();
  try {
    await writeFile(join(core.root, core.paths.runtimeLog), '[INFO]-Greengrass daemon started.\n');
    const exp = structuredClone(core.envelope) as { expectation: { greengrassDeploymentId: string } };
    exp.expectation.greengrassDeploymentId = 'never-seen';
    const r = await pass(core, expectationOf(exp));
    assert.equal(r.report.status, 'VERIFIED');
    assert.equal(r.report.observed.deploymentId, null);
  } finally {
    await core.cleanup();
  }
});

test('an archive that differs from the envelope digest is RESOURCE_DIGEST_MISMATCH', async () => {
  const core = await tempCore();
  try {
    const env = structuredClone(core.envelope) as { resources: { name: string; sha256: string }[] };
    env.resources[0]!.sha256 = '0'.repeat(64);
    const r = await pass(core, expectationOf(env));
    assert.deepEqual(codesOf(r), ['RESOURCE_DIGEST_MISMATCH']);
    const f = r.verdict.findings[0]!;
    assert.equal(f.path, ARCHIVE);
    assert.equal(f.expected, '0'.repeat(64));
  } finally {
    await core.cleanup();
  }
});

test('drift: modified, missing and added files against the baseline; restoring returns to VERIFIED', async () => {
  const core = await tempCore();
  try {
    await pass(core); // lays down the baseline
    const config = join(core.root, LAMBDA, 'config.json');
    const jar = join(core.root, LAMBDA, 'lib/dep-0000.jar');
    const original = await readFile(config);
    const jarBytes = await readFile(jar);
    await appendFile(config, '// tampered\n');
    await rm(jar);
    await writeFile(join(core.root, 'thingsgraph/engine/extra.bin'), 'x');
    const r = await pass(core);
    assert.equal(r.report.status, 'TAMPERED');
    const byCode = (c: string) => r.verdict.findings.filter((f) => f.code === c).map((f) => f.path);
    assert.deepEqual(byCode('ARTIFACT_MODIFIED'), [`${LAMBDA}/config.json`]);
    assert.deepEqual(byCode('ARTIFACT_MISSING'), [`${LAMBDA}/lib/dep-0000.jar`]);
    assert.deepEqual(byCode('ARTIFACT_ADDED'), ['thingsgraph/engine/extra.bin']);

    await writeFile(config, original);
    await writeFile(jar, jarBytes, { mode: 0o644 });
    await chmod(jar, 0o644);
    await rm(join(core.root, 'thingsgraph/engine/extra.bin'));
    const back = await pass(core);
    assert.deepEqual(back.verdict.findings, []);
    assert.equal(back.report.status, 'VERIFIED');
  } finally {
    await core.cleanup();
  }
});

test('a mode change is drift too', async () => {
  const core = await tempCore();
  try {
    await pass(core);
    await chmod(join(core.root, LAMBDA, 'config.json'), 0o777);
    const r = await pass(core);
    assert.deepEqual(codesOf(r), ['ARTIFACT_MODIFIED']);
  } finally {
    await core.cleanup();
  }
});

test('a new group version gets a new baseline, never a false alarm', async () => {
  const core = await tempCore();
  try {
    await pass(core);
    // The next deployment: a new version ID, and a changed Lambda.
    const gj = join(core.root, core.paths.groupJson);
    await writeFile(gj, (await readFile(gj, 'utf8')).replaceAll(DEFAULT_IDS.groupVersionId, 'new-version-2'));
    await appendFile(join(core.root, LAMBDA, 'config.json'), '\n');
    const r = await pass(core, null);
    assert.equal(r.report.observed.groupVersionId, 'new-version-2');
    assert.equal(r.report.observed.baseline.state, 'created');
    assert.deepEqual(r.verdict.findings, []);
  } finally {
    await core.cleanup();
  }
});

test('the unpacked flow folder is checked against the archive', async () => {
  const core = await tempCore();
  try {
    await writeFile(join(core.root, core.paths.flowFolder, 'flows/MyExample01.json'), '{"evil":true}\n');
    const r = await pass(core);
    const f = r.verdict.findings.filter((x) => x.code === 'ARTIFACT_MODIFIED');
    assert.equal(f.length, 1);
    assert.match(f[0]!.path ?? f[0]!.message, /flows\/MyExample01\.json/);
  } finally {
    await core.cleanup();
  }
});

test('a corrupt baseline is laid down again and said so', async () => {
  const core = await tempCore();
  try {
    await pass(core);
    const p = join(core.stateDir, 'baselines', DEFAULT_IDS.groupId, `${DEFAULT_IDS.groupVersionId}.json`);
    await writeFile(p, '{"schemaVersion":1,"groupId":');
    const r = await pass(core);
    assert.deepEqual(codesOf(r), ['BASELINE_REPLACED']);
    assert.equal(r.report.status, 'VERIFIED'); // a warning
  } finally {
    await core.cleanup();
  }
});

test('files that vanish or turn into something else during observation give findings, not crashes', async () => {
  const core = await tempCore();
  try {
    await pass(core);
    // A file replaced by a folder, a log replaced by a FIFO-like folder, group.json by a folder.
    const jar = join(core.root, LAMBDA, 'ThingsGraphConnector.jar');
    await rm(jar);
    await mkdir(jar);
    await writeFile(join(jar, 'inner'), 'x');
    await rm(join(core.root, core.paths.thingsGraphLog));
    await mkdir(join(core.root, core.paths.thingsGraphLog));
    const r = await pass(core);
    assert.notEqual(r.report.status, 'VERIFIED');
    const codes = codesOf(r);
    assert.ok(codes.includes('ARTIFACT_MISSING') || codes.includes('ARTIFACT_MODIFIED'), codes.join());
    assert.ok(codes.includes('SYSTEM_INSTANCE_NOT_REGISTERED'), codes.join());
    // Renaming the whole Lambda folder away mid-life: missing files, no crash.
    await rename(join(core.root, LAMBDA), join(core.root, `${LAMBDA}.gone`));
    const r2 = await pass(core);
    assert.ok(codesOf(r2).includes('ARTIFACT_MISSING'));
  } finally {
    await core.cleanup();
  }
});

test('the {Type, Data} resource shape and untimestamped logs verify the same', async () => {
  const core = await tempCore({ resourceShape: 'typeData', timestamps: false });
  try {
    const r = await pass(core);
    assert.equal(r.report.status, 'VERIFIED');
    assert.deepEqual(r.report.observed.systemInstances, [DEFAULT_IDS.systemInstanceId]);
  } finally {
    await core.cleanup();
  }
});

test('URNs spelled with Deployment in the log match an expectation spelled deployment', async () => {
  const core = await tempCore({ ids: { systemInstanceId: 'urn:tdm:us-east-1/123456789012/default:Deployment:MyExample01_V001' } });
  try {
    const env = structuredClone(core.envelope) as { expectation: { summary: { id: string } } };
    env.expectation.summary.id = 'urn:tdm:us-east-1/123456789012/default:deployment:MyExample01_V001';
    const r = await pass(core, expectationOf(env));
    assert.equal(r.report.status, 'VERIFIED');
  } finally {
    await core.cleanup();
  }
});
