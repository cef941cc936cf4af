// The built recipe read with nucleus lite's rules (case-exact keys, the lifecycle steps and
// recipe variables it supports, the manifest it selects for aarch64 and amd64, its artifact
// schema and accessControl validation; see test/lib/nucleus-rules.ts for the source of each),
// and the Java nucleus' manifest choice beside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { buildRecipe, TARGETS, zipName, type BuiltZip } from '../../scripts/package.js';
import { javaBefore26ResourceProblems, javaSelectManifest, liteProblems, LITE_RECIPE_FILE_MAX } from '../lib/nucleus-rules.js';

const digest = (s: string) => createHash('sha256').update(s).digest('base64');
const zips: BuiltZip[] = (Object.keys(TARGETS) as (keyof typeof TARGETS)[]).map((arch) => ({
  arch, file: `${zipName(arch)}.zip`, bytes: 1, unpackedBytes: 1, entries: 1, sha256: digest(arch),
}));

async function built(): Promise<{ text: string; recipe: Record<string, any> }> {
  const template = await readFile(join(process.cwd(), 'recipe.yaml'), 'utf8');
  const version = (JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }).version;
  const { text } = buildRecipe(template, version, 'my-bucket', zips);
  return { text, recipe: parse(text) as Record<string, any> };
}

test('nucleus lite takes the built recipe: no problem for aarch64 or amd64 cores, and it fits its buffer', async () => {
  const { text, recipe } = await built();
  const r = liteProblems(recipe, ['aarch64', 'amd64'], Buffer.byteLength(text));
  assert.deepEqual(r.problems, []);
  assert.ok(Buffer.byteLength(text) < LITE_RECIPE_FILE_MAX / 1.5, `${Buffer.byteLength(text)} bytes: keep a margin`);
  const m = recipe.Manifests;
  assert.equal(m[r.selected.aarch64!].Platform.architecture, 'aarch64');
  assert.match(m[r.selected.aarch64!].Artifacts[0].Uri, /deploy-witness-linux-arm64\.zip$/);
  assert.equal(m[r.selected.amd64!].Platform.architecture, 'amd64');
  assert.match(m[r.selected.amd64!].Artifacts[0].Uri, /deploy-witness-linux-x64\.zip$/);
});

test('the Java nucleus picks the same manifest for each architecture', async () => {
  const { recipe } = await built();
  const lite = liteProblems(recipe, ['aarch64', 'amd64']);
  assert.equal(javaSelectManifest(recipe, 'aarch64'), lite.selected.aarch64);
  assert.equal(javaSelectManifest(recipe, 'amd64'), lite.selected.amd64);
  for (const r of Object.values(recipe.ComponentConfiguration.DefaultConfiguration.accessControl['aws.greengrass.ipc.mqttproxy']).flatMap((p: any) => p.resources as string[])) {
    assert.deepEqual(javaBefore26ResourceProblems(r), [], 'works on Java nucleus releases before 2.6 too');
  }
});

test('each artifact carries its URI, the standard base64 SHA-256 and the algorithm, one per architecture', async () => {
  const { recipe } = await built();
  const artifacts = recipe.Manifests.flatMap((m: any) => m.Artifacts);
  assert.equal(artifacts.length, 2);
  for (const z of zips) {
    const a = artifacts.find((x: any) => x.Uri.endsWith(`/${zipName(z.arch)}.zip`));
    assert.ok(a, z.arch);
    assert.equal(a.Digest, z.sha256);
    assert.equal(a.Algorithm, 'SHA-256');
    assert.equal(a.Unarchive, 'ZIP');
    assert.equal(a.Uri, `s3://my-bucket/${recipe.ComponentName}/${recipe.ComponentVersion}/${zipName(z.arch)}.zip`);
  }
});

test('the previous recipe (Lifecycle: Run:, artifact URI) is refused by these rules, as nucleus lite refused it', async () => {
  // The recipe shipped before this one, in the part that matters.
  const previous = {
    RecipeFormatVersion: '2020-01-25', ComponentName: 'com.deploywitness.Agent', ComponentVersion: '0.1.0',
    Manifests: [{
      Platform: { os: 'linux', runtime: '*' },
      Lifecycle: { Run: { RequiresPrivilege: true, Script: 'node {artifacts:decompressedPath}/deploy-witness/dist/src/cli/bin.js run --state {work:path}/state' } },
      Artifacts: [{ URI: 's3://BUCKET/com.deploywitness.Agent/0.1.0/deploy-witness.zip', Unarchive: 'ZIP' }],
    }],
  };
  const r = liteProblems(previous, ['aarch64']);
  assert.ok(r.problems.some((p) => /step Run \(nucleus lite reads run\)/.test(p)), r.problems.join('\n'));
  assert.ok(r.problems.some((p) => /No startup or run phase found/.test(p)));
  assert.ok(r.problems.some((p) => /key URI \(nucleus lite reads Uri\)/.test(p)));
  assert.ok(r.problems.some((p) => /no Uri/.test(p)));
});

test('every rule can fail: a mutated built recipe is refused for the reason given', async () => {
  const cases: [string, (r: any) => void, RegExp][] = [
    ['manifest without runtime', (r) => delete r.Manifests[0].Platform.runtime, /aarch64: no manifest for aarch64/],
    ['architecture named arm for aarch64', (r) => (r.Manifests[0].Platform.architecture = 'arm64'), /no manifest for aarch64/],
    ['Script spelled script', (r) => { r.Manifests[1].Lifecycle.run.script = r.Manifests[1].Lifecycle.run.Script; delete r.Manifests[1].Lifecycle.run.Script; }, /step key script \(nucleus lite reads Script\)/],
    ['a shutdown step', (r) => (r.Manifests[0].Lifecycle.shutdown = 'true'), /shutdown is not supported/],
    ['Skipif', (r) => (r.Manifests[0].Lifecycle.run.Skipif = 'onpath node'), /Skipif is not supported/],
    ['an unknown variable', (r) => (r.Manifests[0].Lifecycle.run.Script += ' {iot:thingNameX}'), /\{iot:thingNameX\} is not a variable/],
    ['a shell ${VAR}', (r) => (r.Manifests[1].Lifecycle.run.Script += ' ${HOME}'), /\{HOME\} is not a variable/],
    ['a dependency-prefixed variable', (r) => (r.Manifests[0].Lifecycle.run.Script += ' {other:artifacts:path}'), /is not a variable/],
    ['digest in hex', (r) => (r.Manifests[0].Artifacts[0].Digest = 'ab'.repeat(32)), /Digest is not the standard base64/],
    ['another algorithm', (r) => (r.Manifests[1].Artifacts[0].Algorithm = 'SHA-512'), /Unsupported digest algorithm/],
    ['Unarchive lower case', (r) => (r.Manifests[0].Artifacts[0].Unarchive = 'zip'), /Unknown archive type/],
    ['file:// URI', (r) => (r.Manifests[0].Artifacts[0].Uri = 'file:///x.zip'), /Unknown artifact URI scheme/],
    ['no Artifacts list', (r) => delete r.Manifests[0].Artifacts, /Missing required 'Artifacts'/],
    ['run script one folder short', (r) => (r.Manifests[0].Lifecycle.run.Script = r.Manifests[0].Lifecycle.run.Script.replace('deploy-witness-linux-arm64/', '')), /no ZIP artifact of this manifest unpacks there/],
    ['an AWS IoT policy variable in accessControl', (r) => r.ComponentConfiguration.DefaultConfiguration.accessControl['aws.greengrass.ipc.mqttproxy']['com.deploywitness.Agent:mqttproxy:publish'].resources.push('deploy-witness/${iot:thingName}/report'), /is not one of/],
    ['a recipe variable in accessControl', (r) => r.ComponentConfiguration.DefaultConfiguration.accessControl['aws.greengrass.ipc.mqttproxy']['com.deploywitness.Agent:mqttproxy:publish'].resources.push('deploy-witness/{iot:thingName}/report'), /not interpolated by nucleus lite releases/],
    ['a bare ?', (r) => r.ComponentConfiguration.DefaultConfiguration.accessControl['aws.greengrass.ipc.mqttproxy']['com.deploywitness.Agent:mqttproxy:subscribe'].resources.push('a?b'), /bare "\?"/],
    ['manifests spelled lower case', (r) => { r.manifests = r.Manifests; delete r.Manifests; }, /recipe key manifests \(nucleus lite reads Manifests\)/],
  ];
  for (const [what, mutate, expected] of cases) {
    const { recipe } = await built();
    mutate(recipe);
    const r = liteProblems(recipe, ['aarch64', 'amd64']);
    assert.ok(r.problems.some((p) => expected.test(p)), `${what}: expected ${expected}, got:\n${r.problems.join('\n')}`);
  }
  const { text } = await built();
  const padded = liteProblems(parse(text), ['amd64'], Buffer.byteLength(text + '#'.repeat(LITE_RECIPE_FILE_MAX)));
  assert.ok(padded.problems.some((p) => /nucleus lite reads at most 8196/.test(p)));
  // And the rules do not object to what they should not: the built recipe round-trips.
  assert.deepEqual(liteProblems(parse(stringify(parse(text))), ['aarch64', 'amd64']).problems, []);
});
