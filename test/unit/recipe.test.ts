// The recipe is configuration too: its defaults must be the agent's own defaults (also as the
// strings nucleus lite hands back), and its accessControl must allow exactly the agent's topics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { applyConfig, defaultConfig } from '../../src/config/config.js';
import { topicsFor } from '../../src/report/protocol.js';
import { globMatches, topicMatches } from '../lib/ipc-server.js';
import { JAVA_INTERPOLATION } from '../lib/nucleus-rules.js';

const recipe = async () => parse(await readFile(join(process.cwd(), 'recipe.yaml'), 'utf8'));

/** Nucleus lite hands back every scalar of the configuration as a string. */
function asStrings(v: unknown): unknown {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(asStrings);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asStrings(x)]));
  return v;
}

test('DefaultConfiguration holds every setting with the agent\'s own default, also as nucleus-lite strings', async () => {
  const dc = (await recipe()).ComponentConfiguration.DefaultConfiguration;
  const defaults = defaultConfig({});
  // The run line sets the state folder; the thing comes from the nucleus; mqtt is for direct mode.
  const expected = { ...defaults } as Record<string, unknown>;
  for (const k of ['stateDir', 'thingName', 'mqtt']) delete expected[k];
  const { accessControl: _, ...settings } = dc;
  assert.deepEqual(Object.keys(settings).sort(), Object.keys(expected).sort());
  const base = { ...defaults, root: '/elsewhere', topicPrefix: 'x', hashRateLimitMBps: 7, watchBudget: 1, layout: { ...defaults.layout, groupJson: 'x/group.json' } };
  for (const raw of [dc, asStrings(dc)]) {
    const c = applyConfig(base, raw, 'recipe');
    assert.deepEqual({ ...c, stateDir: defaults.stateDir }, defaults);
  }
});

test('no configuration value is changed by the Java nucleus\' interpolation (interpolateComponentConfiguration)', async () => {
  const walk = (v: unknown, at: string): void => {
    if (typeof v === 'string') assert.doesNotMatch(v, JAVA_INTERPOLATION, at);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
  };
  walk((await recipe()).ComponentConfiguration.DefaultConfiguration, 'DefaultConfiguration');
});

test('accessControl: every topic the agent uses, each in its own direction, nothing else', async () => {
  const r = await recipe();
  const policies = Object.values(r.ComponentConfiguration.DefaultConfiguration.accessControl['aws.greengrass.ipc.mqttproxy']) as { operations: string[]; resources: string[] }[];
  const allowed = (op: string, topic: string) =>
    policies.some((p) => p.operations.includes(`aws.greengrass#${op}`) && p.resources.some((res) => topicMatches(res, topic) || globMatches(res, topic)));
  for (const thing of ['MyCore', 'core-2_b']) {
    const t = topicsFor('deploy-witness', thing);
    for (const topic of [t.report, t.reportPart, t.heartbeat, t.shadowUpdate]) {
      assert.ok(allowed('PublishToIoTCore', topic), `publish ${topic}`);
      assert.ok(!allowed('SubscribeToIoTCore', topic), `not subscribe ${topic}`);
    }
    // The group topics `deploy-witness check` publishes to: <prefix>/groups/<groupId>/expected (v1)
    // and <prefix>/thinggroups/<name>/expected (v2).
    for (const topic of [t.expected, t.reportGet, 'deploy-witness/groups/4f5d2d2c-7c2f-4c8e-9d1a-1b2c3d4e5f60/expected', 'deploy-witness/thinggroups/My_Fleet-1:a/expected']) {
      assert.ok(allowed('SubscribeToIoTCore', topic), `subscribe ${topic}`);
      assert.ok(!allowed('PublishToIoTCore', topic), `not publish ${topic}`);
    }
  }
  for (const foreign of [
    'other/MyCore/report', 'deploy-witness/MyCore/other', 'deploy-witness/MyCore/report/part/x', 'deploy-witness/MyCore',
    '$aws/things/MyCore/shadow/update', '$aws/things/MyCore/shadow/name/other/update', '$aws/things/MyCore/shadow/name/deploy-witness/get',
    'deploy-witness/groups/g/report', 'deploy-witness/thinggroups/g/report', '#', 'deploy-witness/#', 'deploy-witness/+/report/#',
  ]) {
    assert.ok(!allowed('PublishToIoTCore', foreign) && !allowed('SubscribeToIoTCore', foreign), `${foreign} must not be allowed`);
  }
  assert.ok(policies.every((p) => p.operations.length === 1), 'one operation per policy: publish and subscribe rights apart');
});

test('the template: version in step with package.json, the run line the agent understands', async () => {
  const r = await recipe();
  const pkg = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
  assert.equal(r.ComponentVersion, pkg.version);
  assert.equal(r.RecipeFormatVersion, '2020-01-25');
  const runs = r.Manifests.filter((m: any) => m.Artifacts.length > 0);
  assert.equal(runs.length, 2);
  for (const m of runs) {
    assert.match(m.Lifecycle.run.Script, /^exec sh "\{artifacts:decompressedPath\}\/deploy-witness-linux-(arm64|x64)\/bin\/deploy-witness" run --state "\{work:path\}\/state"$/);
    assert.equal(m.Lifecycle.run.RequiresPrivilege, true);
  }
  const arm = r.Manifests.find((m: any) => m.Platform.architecture === 'arm');
  assert.match(arm.Lifecycle.run.Script, /64-bit/);
  assert.match(arm.Lifecycle.run.Script, /exit 1$/, 'a 32-bit core fails visibly, not FINISHED');
});
