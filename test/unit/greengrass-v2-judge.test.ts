// The pure v2 judge on hand-built observations: rules that are easier to pin
// down on plain data than on a file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unitDigest } from '../../src/model/digest.js';
import type {
  ComponentVersionObservation,
  DeploymentMetadata,
  DeploymentRecord,
  GreengrassV2Observation,
  RecipeArtifact,
} from '../../src/model/greengrass-v2.js';
import type { FileDigest } from '../../src/model/observation.js';
import { deploymentState, judgeGreengrassV2, selectManifest } from '../../src/verify/greengrass-v2.js';
import type { GreengrassV2Expectation } from '../../src/verify/greengrass-v2-expectation.js';
import { buildGreengrassV2Observed, greengrassV2ShadowFields } from '../../src/verify/greengrass-v2-report.js';

const H = (c: string) => c.repeat(64);
const file = (sha256: string, mode = 0o100644): FileDigest => ({ sha256, size: 1, mode, mtimeMs: 0, ctimeMs: 0, ino: 1 });

function meta(over: Partial<DeploymentMetadata> = {}): DeploymentMetadata {
  return {
    id: 'job', deploymentType: 'IOT_JOBS', deploymentStage: 'DEFAULT', stageDetails: null, deploymentId: 'd-1',
    configurationArn: 'arn:aws:greengrass:us-east-1:1:configuration:thinggroup/G:1', groupName: 'thinggroup/G', timestamp: 1000,
    packages: [{ name: 'a', resolvedVersion: '1.0.0', rootComponent: true }], errorStack: [], errorTypes: [], ...over,
  };
}

function record(link: DeploymentRecord['link'], m: DeploymentMetadata): DeploymentRecord {
  return { state: 'ok', link, target: `/greengrass/v2/deployments/${m.deploymentId}`, folder: `greengrass/v2/deployments/${m.deploymentId}`, metadata: m };
}

function artifact(fileName: string, sha: string | null, manifest = 0): RecipeArtifact {
  return {
    uri: `s3://b/${fileName}`, fileName, manifest, unarchive: 'NONE',
    digest: sha ? { algorithm: 'SHA-256', raw: Buffer.from(sha, 'hex').toString('base64'), encoding: 'base64', sha256: sha } : { algorithm: null, raw: null, encoding: 'none', sha256: null },
  };
}

function component(name: string, version: string, artifacts: RecipeArtifact[], platforms: Record<string, string>[] = [{ os: 'linux' }]): ComponentVersionObservation {
  return {
    name, version, nameHash: null, componentVersionArn: null, archives: [],
    artifactsDir: `greengrass/v2/packages/artifacts/${name}/${version}`,
    unarchivedDir: `greengrass/v2/packages/artifacts-unarchived/${name}/${version}`,
    recipe: {
      state: 'ok', path: `greengrass/v2/packages/recipes/${name}@${version}.recipe.yaml`, format: 'yaml', name, version, uriKeys: ['Uri'], artifacts,
      manifests: platforms.map((platform, i) => ({ platform, artifactCount: artifacts.filter((a) => a.manifest === i).length })),
    },
  };
}

function observation(over: Partial<GreengrassV2Observation> & { files?: Record<string, Record<string, FileDigest>> } = {}): GreengrassV2Observation {
  const { files = {}, ...rest } = over;
  const units = Object.entries(files).map(([path, f]) => ({ path, digest: unitDigest(f), files: f }));
  return {
    layout: 'greengrass-v2', nucleus: 'java', root: '/r', v2Root: 'greengrass/v2', observedAt: '2024-01-01T00:00:00.000Z',
    platform: { os: 'linux', architecture: 'aarch64' },
    deployments: { path: 'greengrass/v2/deployments', state: 'ok', records: [record('previous-success', meta())] },
    recipeStore: 'ok', components: [], orphanFolders: [], strayEntries: [],
    runningVersions: { state: 'ok', path: 'greengrass/v2/config/config.tlog', versions: { a: '1.0.0' } },
    componentStates: { source: 'log', files: ['greengrass/v2/logs/greengrass.log'], startedAt: null, states: [] },
    tree: { units, treeDigest: H('0'), filesHashed: 0, bytesHashed: 0 },
    findings: [],
    ...rest,
  };
}

const codes = (o: GreengrassV2Observation, exp: GreengrassV2Expectation | null = null) =>
  judgeGreengrassV2({ observation: o, baseline: null, expectation: exp }).findings.map((f) => f.code).sort();

test('the manifest is the first the device matches, else the one most present on disk', () => {
  const c = component('a', '1.0.0', [artifact('win.exe', H('1'), 0), artifact('arm.bin', H('2'), 1), artifact('x86.bin', H('3'), 2)], [
    { os: 'windows' }, { os: 'linux', architecture: 'aarch64' }, { os: 'linux', architecture: 'amd64' },
  ]);
  assert.equal(selectManifest(observation(), c, () => false), 1);
  assert.equal(selectManifest(observation({ platform: { os: 'linux', architecture: 'amd64' } }), c, () => false), 2);
  // An unknown platform: the manifest whose files are there.
  assert.equal(selectManifest(observation({ platform: { os: 'qnx', architecture: 'sh4' } }), c, (n) => n === 'x86.bin'), 2);
  assert.equal(selectManifest(observation(), component('b', '1', []), () => true), 0);
});

test('only the selected manifest\'s artifacts must be present; any manifest\'s digest may match', () => {
  const dir = 'greengrass/v2/packages/artifacts/a/1.0.0';
  const c = component('a', '1.0.0', [artifact('app.bin', H('a'), 0), artifact('app.bin', H('b'), 1), artifact('win.dll', H('c'), 1)], [
    { os: 'linux' }, { os: 'windows' },
  ]);
  assert.deepEqual(codes(observation({ components: [c], files: { [dir]: { 'app.bin': file(H('b')) } } })), []);
  assert.deepEqual(codes(observation({ components: [c], files: { [dir]: { 'app.bin': file(H('d')) } } })), ['ARTIFACT_DIGEST_MISMATCH']);
  assert.deepEqual(codes(observation({ components: [c], files: { [dir]: {} } })), ['ARTIFACT_MISSING']);
  assert.deepEqual(codes(observation({ components: [c], files: { [dir]: { 'app.bin': file(H('a')), 'sub/x': file(H('a')) } } })), ['ARTIFACT_ADDED']);
  // Missing, but unreadable to the agent: FILE_UNREADABLE says so, not ARTIFACT_MISSING.
  const unread = observation({
    components: [c], files: { [dir]: {} },
    findings: [{ code: 'FILE_UNREADABLE', severity: 'error', message: 'x', path: `${dir}/app.bin` }],
  });
  assert.deepEqual(codes(unread), ['FILE_UNREADABLE']);
});

test('a digest in another algorithm is a warning that it was not checked', () => {
  const dir = 'greengrass/v2/packages/artifacts/a/1.0.0';
  const a = artifact('app.bin', H('a'));
  a.digest = { algorithm: 'SHA-512', raw: a.digest.raw, encoding: 'base64', sha256: null };
  const v = judgeGreengrassV2({ observation: observation({ components: [component('a', '1.0.0', [a])], files: { [dir]: { 'app.bin': file(H('f')) } } }), baseline: null, expectation: null });
  assert.deepEqual(v.findings.map((f) => [f.code, f.severity]), [['ARTIFACT_UNVERIFIABLE', 'warning']]);
  assert.equal(v.status, 'VERIFIED');
});

test('the newest finished record decides; a failure newer than a success is the one that counts', () => {
  const o = observation({ deployments: { path: 'd', state: 'ok', records: [
    record('previous-success', meta({ deploymentId: 'old', timestamp: 1 })),
    record('previous-failure', meta({ deploymentId: 'new', timestamp: 2, errorStack: ['A', 'B'] })),
  ] } });
  assert.equal(deploymentState(o).finished?.metadata.deploymentId, 'new');
  const v = judgeGreengrassV2({ observation: o, baseline: null, expectation: null });
  assert.deepEqual(v.findings.map((f) => f.code), ['DEPLOYMENT_FAILED']);
  assert.match(v.findings[0]!.message, /A > B/);
});

const EFFECTIVE = (status: string, id = 'd-1'): GreengrassV2Expectation => ({
  layout: 'greengrass-v2', kind: 'effective-deployments', sha256: H('e'),
  deployments: [{ deploymentId: id, targetArn: 'arn:aws:iot:us-east-1:1:thinggroup/G', target: 'thinggroup/G', coreDeviceExecutionStatus: status }],
});

test('effective deployments: the cloud saying SUCCEEDED does not outvote the device\'s own failure record', () => {
  const failed = observation({ deployments: { path: 'd', state: 'ok', records: [record('previous-failure', meta())] } });
  assert.deepEqual(codes(failed, EFFECTIVE('SUCCEEDED')), ['DEPLOYMENT_FAILED', 'DEPLOYMENT_FAILED']);
  assert.deepEqual(codes(observation(), EFFECTIVE('SUCCEEDED')), []);
  assert.deepEqual(codes(observation(), EFFECTIVE('IN_PROGRESS')), []);
  assert.deepEqual(codes(observation(), EFFECTIVE('SUCCEEDED', 'd-9')), ['DEPLOYMENT_ID_MISMATCH']);
  // A local deployment is not the cloud's to list.
  const local = observation({ deployments: { path: 'd', state: 'ok', records: [record('previous-success', meta({ deploymentType: 'LOCAL', deploymentId: 'l-1' }))] } });
  assert.deepEqual(codes(local, EFFECTIVE('SUCCEEDED')), []);
});

test('a component the store no longer names, or a recipe list nobody could read', () => {
  const exp: GreengrassV2Expectation = {
    layout: 'greengrass-v2', kind: 'deployment', sha256: H('e'), deploymentId: 'd-1', target: 'thinggroup/G', components: [{ name: 'a', version: '1.0.0' }],
  };
  // The nucleus runs it (tlog), the record lists it, but the recipe is gone.
  assert.deepEqual(codes(observation(), exp), ['COMPONENT_MISSING']);
  const unreadable = observation({ recipeStore: 'unreadable', runningVersions: { state: 'unreadable', path: 't', reason: 'EACCES' } });
  assert.deepEqual(codes(unreadable, exp), []);
  const withRecipe = observation({ components: [component('a', '1.0.0', [])] });
  assert.deepEqual(codes(withRecipe, exp), []);
});

test('the report part names the deployment, the components and the units, and the shadow keeps little', () => {
  const o = observation({ components: [component('a', '1.0.0', [])], componentStates: { source: 'log', files: [], startedAt: null, states: [{ name: 'a', state: 'RUNNING', at: null }] } });
  const r = buildGreengrassV2Observed(o, { baseline: { state: 'none', createdAt: null, treeDigest: null, deploymentId: null } });
  assert.equal(r.deployment?.deploymentId, 'd-1');
  assert.equal(r.deployment?.createdAt, '1970-01-01T00:00:01.000Z');
  assert.deepEqual(r.components, [{ name: 'a', version: '1.0.0', running: '1.0.0', state: 'RUNNING', recipe: 'ok', artifacts: 0, archives: 0 }]);
  const s = greengrassV2ShadowFields(r);
  assert.deepEqual(s, { layout: 'greengrass-v2', deploymentId: 'd-1', deploymentTarget: 'thinggroup/G', deploymentLink: 'previous-success', ongoingDeploymentId: null, components: 1, treeDigest: H('0') });
});
