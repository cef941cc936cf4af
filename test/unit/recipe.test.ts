// The recipe is configuration too: its defaults must be a configuration the
// agent accepts, and it must stay within what nucleus lite supports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { applyConfig, defaultConfig } from '../../src/config/config.js';
import { topicsFor } from '../../src/report/protocol.js';

const recipe = async () => parse(await readFile(join(process.cwd(), 'recipe.yaml'), 'utf8'));

test('DefaultConfiguration is a valid agent configuration, also as nucleus-lite strings', async () => {
  const r = await recipe();
  const dc = r.ComponentConfiguration.DefaultConfiguration;
  const c = applyConfig(defaultConfig({}), dc, 'recipe');
  assert.equal(c.topicPrefix, 'deploy-witness');
  assert.equal(c.hashRateLimitMBps, 50);
  // Nucleus lite hands back scalars as strings.
  const asStrings = Object.fromEntries(Object.entries(dc).map(([k, v]) => [k, typeof v === 'object' ? v : String(v)]));
  const c2 = applyConfig(defaultConfig({}), asStrings, 'recipe as strings');
  assert.equal(c2.hashRateLimitMBps, 50);
  assert.equal(c2.erroredWhenUnverified, false);
});

test('accessControl allows every topic the agent publishes and subscribes', async () => {
  const r = await recipe();
  const name = r.ComponentName;
  const acl = r.ComponentConfiguration.DefaultConfiguration.accessControl['aws.greengrass.ipc.mqttproxy'][`${name}:mqttproxy:1`];
  assert.deepEqual(acl.operations.sort(), ['aws.greengrass#PublishToIoTCore', 'aws.greengrass#SubscribeToIoTCore']);
  const globs: RegExp[] = acl.resources.map((g: string) => new RegExp(`^${g.replace(/[.$]/g, '\\$&').replace(/\*/g, '.*')}$`));
  for (const t of Object.values(topicsFor('deploy-witness', 'MyCore'))) {
    assert.ok(globs.some((g) => g.test(t)), `no accessControl resource covers ${t}`);
  }
});

test('one manifest for both nuclei, no steps nucleus lite lacks', async () => {
  const r = await recipe();
  assert.equal(r.RecipeFormatVersion, '2020-01-25');
  assert.equal(r.Manifests.length, 1);
  const m = r.Manifests[0];
  assert.equal(m.Platform.runtime, '*');
  const steps = Object.keys(m.Lifecycle);
  for (const s of ['Shutdown', 'Recover']) assert.ok(!steps.includes(s), s);
  assert.doesNotMatch(JSON.stringify(m.Lifecycle), /Skipif/);
  assert.match(m.Lifecycle.Run.Script, /run --state \{work:path\}\/state/);
  // Only the recipe variables nucleus lite knows.
  const vars = JSON.stringify(r).match(/\{[a-z]+:[^}]+\}/g) ?? [];
  for (const v of vars) assert.match(v, /^\{(artifacts:path|artifacts:decompressedPath|kernel:rootPath|iot:thingName|work:path)\}$/);
  assert.equal(m.Artifacts[0].Unarchive, 'ZIP');
});
