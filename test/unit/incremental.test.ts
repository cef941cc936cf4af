// planChanges: which parts of an observation a batch of changed paths touches. Pure.
// The plans must be complete: applied, they leave the observation equal to a
// fresh full one (test/integration/core-state-property.test.ts checks that).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planChanges, type ChangePlan } from '../../src/core-state/incremental.js';
import { DEFAULT_LAYOUT, type LayoutConfig } from '../../src/config/layout.js';

const DEP = 'greengrass/ggc/deployment';
const LAMBDA = `${DEP}/lambda/arn:aws:lambda:us-east-1:123456789012:function:ThingsGraphConnector:3`;
const ML = `${DEP}/mlmodel/3c0f1e2d-4b5a-4978-8e6d-5c4b3a291807`;
const UNITS = [`${DEP}/group`, LAMBDA, ML, 'thingsgraph/engine'];
const FLOW_FOLDER = `${ML}/flow-MyExample01`;

const nothing: ChangePlan = { group: false, runtimeFiles: false, flows: false, relist: false, files: [] };
const plan = (paths: string[], opts: { layout?: LayoutConfig; units?: string[]; flows?: string[] } = {}) =>
  planChanges(paths, opts.layout ?? DEFAULT_LAYOUT, opts.units ?? UNITS, opts.flows ?? [FLOW_FOLDER]);

test('no paths: nothing to do', () => {
  assert.deepEqual(plan([]), nothing);
});

test('a file inside a deployed unit: rehash that file, nothing else', () => {
  assert.deepEqual(plan([`${LAMBDA}/lib/dep-0001.jar`]), { ...nothing, files: [`${LAMBDA}/lib/dep-0001.jar`] });
});

test('the unit folder itself (replaced or deleted): the whole unit is rehashed, and the units listed again (it may be gone)', () => {
  assert.deepEqual(plan([LAMBDA]), { ...nothing, relist: true, files: [LAMBDA] });
  // Replaced by a folder: it may hold a flow archive now.
  assert.deepEqual(planChanges([LAMBDA], DEFAULT_LAYOUT, UNITS, [FLOW_FOLDER], (p) => p === LAMBDA), { ...nothing, flows: true, relist: true, files: [LAMBDA] });
});

test('group.json: re-read the group, and rehash it as part of the group unit', () => {
  assert.deepEqual(plan([`${DEP}/group/group.json`]), { ...nothing, group: true, files: [`${DEP}/group/group.json`] });
});

test('a new folder under the deployment folder, or a file in it: the unit list changes', () => {
  const fresh = `${DEP}/lambda/arn:aws:lambda:us-east-1:123456789012:function:Other:1`;
  assert.deepEqual(plan([fresh]), { ...nothing, relist: true });
  assert.deepEqual(plan([`${fresh}/index.py`]), { ...nothing, relist: true });
  // A folder above units (renamed, replaced): every unit below it is read again, and what sits below it.
  assert.deepEqual(plan([DEP]), { ...nothing, group: true, flows: true, relist: true, files: [`${DEP}/group`, LAMBDA, ML] });
  assert.deepEqual(plan([`${DEP}/lambda`]), { ...nothing, relist: true, files: [LAMBDA] });
});

test('a unit name that is a prefix of another is not the other (":3" is not ":30")', () => {
  const p = `${LAMBDA}0/handler.py`;
  assert.deepEqual(plan([p]), { ...nothing, relist: true });
});

test('Things Graph runtime files: checked for presence, the database never rehashed', () => {
  assert.deepEqual(plan(['thingsgraph/ThingsGraph.db']), { ...nothing, runtimeFiles: true });
  assert.deepEqual(plan(['thingsgraph/ThingsGraph.db-journal']), { ...nothing, runtimeFiles: true });
  assert.deepEqual(plan(['thingsgraph']), { ...nothing, runtimeFiles: true, files: ['thingsgraph/engine'] });
  assert.deepEqual(plan(['thingsgraph/engine']), { ...nothing, runtimeFiles: true, files: ['thingsgraph/engine'] });
  assert.deepEqual(plan(['thingsgraph/engine/models/m.json']), { ...nothing, files: ['thingsgraph/engine/models/m.json'] });
});

test('engine/ before it is a unit: its files make the unit list change', () => {
  assert.deepEqual(plan(['thingsgraph/engine/engine.properties'], { units: [] }), { ...nothing, relist: true });
});

test('a flow archive inside a unit: re-inspect flows and rehash the file', () => {
  const a = `${ML}/flow-MyExample01.tar.gz`;
  assert.deepEqual(plan([a]), { ...nothing, flows: true, files: [a] });
});

test('a flow archive outside every unit: re-inspect flows and list units again (it becomes one)', () => {
  const a = 'thingsgraph/flow-Other.tar.gz';
  assert.deepEqual(plan([a]), { ...nothing, runtimeFiles: true, flows: true, relist: true });
});

test('a file in a known unpacked flow folder: flows are compared again', () => {
  const f = `${FLOW_FOLDER}/flows/MyExample01.json`;
  assert.deepEqual(plan([f]), { ...nothing, flows: true, files: [f] });
});

test('an unpacked flow folder appearing where none was known: flows are looked for again', () => {
  const f = `${ML}/flow-Second/manifest.json`;
  assert.deepEqual(plan([f], { flows: [] }), { ...nothing, flows: true, files: [f] });
  const outside = 'thingsgraph/flow-Second/manifest.json';
  assert.deepEqual(plan([outside], { flows: [] }), { ...nothing, flows: true });
});

test('a folder named like a flow outside the flow search paths is not a flow', () => {
  assert.deepEqual(plan(['opt/flow-Elsewhere/x.json'], { flows: [] }), nothing);
});

test('logs and other places outside the observed ones: nothing', () => {
  assert.deepEqual(plan(['greengrass/ggc/var/log/system/runtime.log', 'etc/passwd', 'greengrass/ggc/deployment-old/x']), nothing);
});

test('a batch touches several parts at once; file order is kept', () => {
  const paths = [`${LAMBDA}/config.json`, `${DEP}/group/group.json`, 'thingsgraph/ThingsGraph.db', `${ML}/flow-MyExample01.tar.gz`];
  assert.deepEqual(plan(paths), {
    group: true,
    runtimeFiles: true,
    flows: true,
    relist: false,
    files: [`${LAMBDA}/config.json`, `${DEP}/group/group.json`, `${ML}/flow-MyExample01.tar.gz`],
  });
});

test('a configured layout is followed, not the default one', () => {
  const layout: LayoutConfig = {
    ...DEFAULT_LAYOUT,
    groupJson: 'gg/dep/group/group.json',
    deploymentDir: 'gg/dep',
    flowSearchPaths: ['gg/dep', 'opt/tg'],
    flowArchivePattern: '^bundle-.+\\.tar\\.gz$',
    thingsGraphDir: 'opt/tg',
  };
  const units = ['gg/dep/group', 'gg/dep/lambda/fn:1', 'opt/tg/engine'];
  const p = (paths: string[]) => planChanges(paths, layout, units, []);
  assert.deepEqual(p(['gg/dep/group/group.json']), { ...nothing, group: true, files: ['gg/dep/group/group.json'] });
  assert.deepEqual(p([`${DEP}/group/group.json`]), nothing, 'the default place means nothing here');
  assert.deepEqual(p(['opt/tg/ThingsGraph.db']), { ...nothing, runtimeFiles: true });
  assert.deepEqual(p(['gg/dep/lambda/fn:1/bundle-A.tar.gz']), { ...nothing, flows: true, files: ['gg/dep/lambda/fn:1/bundle-A.tar.gz'] });
  assert.deepEqual(p(['gg/dep/lambda/fn:1/flow-A.tar.gz']), { ...nothing, files: ['gg/dep/lambda/fn:1/flow-A.tar.gz'] });
  assert.deepEqual(p(['gg/dep/new']), { ...nothing, relist: true });
});
