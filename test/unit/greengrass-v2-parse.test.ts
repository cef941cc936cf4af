// The readers' pure parts: deployment metadata, recipes, link confinement,
// nucleus log lines, the configuration log replay. Inputs are shaped like what
// the nucleus writes (field names from its source), written out by hand here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkFolder, parseDeploymentMetadata } from '../../src/observe/greengrass-v2/deployments.js';
import { componentStatesFromListComponents, ComponentStateReducer, parseNucleusLogLine } from '../../src/observe/greengrass-v2/nucleus-log.js';
import { parseRecipe, parseRecipeMetadata } from '../../src/observe/greengrass-v2/recipe.js';
import { TlogVersions } from '../../src/observe/greengrass-v2/tlog.js';

// As Jackson writes the Deployment object: getter names, NON_NULL, the document in PascalCase.
const METADATA = JSON.stringify({
  deploymentDocumentObj: {
    DeploymentId: 'd-1',
    ConfigurationArn: 'arn:aws:greengrass:us-east-1:123456789012:configuration:thinggroup/Fleet:4',
    Packages: [
      { Name: 'com.example.B', RootComponent: true, ResolvedVersion: '2.0.0', ConfigurationUpdate: null, RunWith: null },
      { Name: 'com.example.A', RootComponent: true, ResolvedVersion: '1.0.0', ConfigurationUpdate: { MERGE: { x: 1 } } },
    ],
    GroupName: 'thinggroup/Fleet',
    Timestamp: 1709290800000,
    FailureHandlingPolicy: 'ROLLBACK',
  },
  deploymentDocument: '{"huge":"string"}',
  deploymentType: 'IOT_JOBS',
  id: 'job-9',
  cancelled: false,
  deploymentStage: 'DEFAULT',
  errorStack: ['DEPLOYMENT_FAILURE', 'COMPONENT_BROKEN'],
  errorTypes: ['COMPONENT_ERROR'],
  greengrassDeploymentId: 'd-1',
  configurationArn: 'arn:aws:greengrass:us-east-1:123456789012:configuration:thinggroup/Fleet:4',
});

test('deployment metadata: the Greengrass deployment ID, target and root components', () => {
  const m = parseDeploymentMetadata(METADATA);
  assert.equal(m.deploymentId, 'd-1');
  assert.equal(m.id, 'job-9');
  assert.equal(m.deploymentType, 'IOT_JOBS');
  assert.equal(m.groupName, 'thinggroup/Fleet');
  assert.equal(m.timestamp, 1709290800000);
  assert.deepEqual(m.packages, [
    { name: 'com.example.A', resolvedVersion: '1.0.0', rootComponent: true },
    { name: 'com.example.B', resolvedVersion: '2.0.0', rootComponent: true },
  ]);
  assert.deepEqual(m.errorStack, ['DEPLOYMENT_FAILURE', 'COMPONENT_BROKEN']);
});

test('deployment metadata that does not fit the shape is refused with a reason', () => {
  assert.throws(() => parseDeploymentMetadata('{"deploymentDocumentObj": {"Packages": {}}}'), /Packages is not a list/);
  assert.throws(() => parseDeploymentMetadata('{"deploymentDocumentObj": {"Packages": [{"ResolvedVersion": "1"}]}}'), /Name is missing/);
  assert.throws(() => parseDeploymentMetadata('{"deploymentDocumentObj": {"Timestamp": "yesterday"}}'), /Timestamp is not a number/);
  assert.throws(() => parseDeploymentMetadata('{"deploymentDocumentObj": {"DeploymentId": 7}}'), /DeploymentId is not a string/);
  assert.throws(() => parseDeploymentMetadata('{"deploymentDocumentObj": '), /not valid JSON/);
  assert.throws(() => parseDeploymentMetadata('[]'), /not a JSON object/);
  // Without the document, the getters' copies still name the deployment.
  assert.equal(parseDeploymentMetadata('{"greengrassDeploymentId": "d-2"}').deploymentId, 'd-2');
});

test('a deployment link resolves to a folder directly inside deployments/ or to nothing', () => {
  const dirs = ['/greengrass/v2/deployments', '/tmp/root/greengrass/v2/deployments'];
  assert.deepEqual(linkFolder('/greengrass/v2/deployments/d-1', dirs), { folder: 'd-1' });
  assert.deepEqual(linkFolder('/tmp/root/greengrass/v2/deployments/d-1/', dirs), { folder: 'd-1' });
  assert.deepEqual(linkFolder('d-1', dirs), { folder: 'd-1' });
  for (const bad of ['/etc', '/greengrass/v2/work/x', '/greengrass/v2/deployments/../config', '../config', 'a/b', '..', '.', '/greengrass/v2/deployments', '/greengrass/v2/deployments/d\0']) {
    assert.ok('reason' in linkFolder(bad, dirs), bad);
  }
});

const RECIPE_AS_STORED = `---
RecipeFormatVersion: "2020-01-25"
ComponentName: "com.example.WebApp"
ComponentVersion: "2.0.1"
ComponentType: "aws.greengrass.generic"
Manifests:
- Platform:
    os: "linux"
    architecture: "aarch64"
  Lifecycle: {}
  Artifacts:
  - Uri: "greengrass:webapp.zip"
    Digest: "${'A'.repeat(43)}="
    Algorithm: "SHA-256"
    Unarchive: "ZIP"
    Permission:
      Read: "OWNER"
      Execute: "NONE"
  - Uri: "docker:public.ecr.aws/x/y:1"
- Platform:
    os: "windows"
  Artifacts:
  - URI: "s3://bucket/k/app.exe"
    digest: "${'ab'.repeat(32)}"
    unarchive: none
`;

test('a recipe as the Java nucleus stores it: PascalCase keys, Uri, normalised digests', () => {
  const r = parseRecipe(RECIPE_AS_STORED);
  assert.equal(r.name, 'com.example.WebApp');
  assert.equal(r.version, '2.0.1');
  assert.deepEqual(r.manifests, [
    { platform: { os: 'linux', architecture: 'aarch64' }, artifactCount: 2 },
    { platform: { os: 'windows' }, artifactCount: 1 },
  ]);
  assert.deepEqual(r.artifacts.map((a) => [a.fileName, a.unarchive, a.digest.encoding, a.manifest]), [
    ['webapp.zip', 'ZIP', 'base64', 0],
    [null, 'NONE', 'none', 0],
    ['app.exe', 'NONE', 'hex', 1],
  ]);
  assert.equal(r.artifacts[0]!.digest.sha256, '00'.repeat(32));
  // Keys are matched regardless of case, like the Java reader; both spellings are reported.
  assert.deepEqual(r.uriKeys, ['URI', 'Uri']);
});

test('recipes that cannot be what a nucleus wrote are refused with a reason', () => {
  const cases: [string, RegExp][] = [
    ['ComponentName: a\nComponentVersion: "1.0.0"\nManifests: [{Artifacts: [{Uri: "s3://b/k", URI: "s3://b/j"}]}]', /spells Uri more than one way/],
    ['ComponentName: a\nComponentName: b\nComponentVersion: "1.0.0"', /not valid YAML/],
    ['ComponentName: "../x"\nComponentVersion: "1.0.0"', /not a component name/],
    ['ComponentName: a\nComponentVersion: 1.0', /ComponentVersion is missing \(or not a string\)|must be a string/],
    ['ComponentName: a\nComponentVersion: "../1"', /not a version/],
    ['ComponentName: a\nComponentVersion: "1.0.0"\nManifests: [{Artifacts: [{Uri: "s3://b/k", Unarchive: TAR}]}]', /only NONE and ZIP/],
    ['ComponentName: a\nComponentVersion: "1.0.0"\nManifests: [{Artifacts: [{Digest: "x"}]}]', /has no URI/],
    ['- just a list', /not a mapping/],
    ['a: &a [*a, *a]\nb: ' + '*a, '.repeat(200), /not valid YAML/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseRecipe(text), re, text);
});

test('alias bombs are refused, not expanded', () => {
  let y = 'l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 12; i++) y += `l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]\n`;
  y += 'ComponentName: a\nComponentVersion: "1.0.0"\n';
  assert.throws(() => parseRecipe(y), /not valid YAML/);
});

test('recipe metadata names the component version ARN, or nothing', () => {
  assert.equal(parseRecipeMetadata('{"componentVersionArn":"arn:aws:greengrass:us-east-1:1:components:a:versions:1.0.0"}'), 'arn:aws:greengrass:us-east-1:1:components:a:versions:1.0.0');
  assert.equal(parseRecipeMetadata('not json'), null);
  assert.equal(parseRecipeMetadata('{"componentVersionArn": 3}'), null);
});

// GreengrassLogMessage.getTextMessage: "<instant> [<LEVEL>] (<thread>) <logger>: <eventType>. {<contexts>}"
const SET_STATE = '2024-03-01T11:01:00.250Z [INFO] (com.example.A-lifecycle) com.aws.greengrass.lifecyclemanager.GenericExternalService: service-set-state. {serviceName=com.example.A, currentState=STARTING, newState=RUNNING}';

test('nucleus log lines: state transitions and starts, in both log formats', () => {
  assert.deepEqual(parseNucleusLogLine(SET_STATE), { kind: 'state', at: '2024-03-01T11:01:00.250Z', service: 'com.example.A', state: 'RUNNING' });
  assert.deepEqual(
    parseNucleusLogLine('2024-03-01T11:00:00.000Z [INFO] (main) com.aws.greengrass.lifecyclemanager.KernelLifecycle: system-start. {main=main}'),
    { kind: 'start', at: '2024-03-01T11:00:00.000Z' },
  );
  const json = JSON.stringify({
    thread: 'x', level: 'INFO', eventType: 'service-set-state', message: '', loggerName: 'GenericExternalService',
    contexts: { currentState: 'ERRORED', newState: 'BROKEN', serviceName: 'com.example.B' }, timestamp: Date.parse('2024-03-01T11:02:00.000Z'), cause: null,
  });
  assert.deepEqual(parseNucleusLogLine(json), { kind: 'state', at: '2024-03-01T11:02:00.000Z', service: 'com.example.B', state: 'BROKEN' });
});

test('text that only mentions a transition is not one', () => {
  const fakes = [
    // The event type must be the message's first word.
    '2024-03-01T11:01:00.250Z [INFO] (t) com.x.Y: shell-runner-stdout. {stdout=service-set-state. {serviceName=com.example.A, newState=BROKEN}}',
    '2024-03-01T11:01:00.250Z [INFO] (t) com.x.Y: service-set-state. {serviceName=com.example.A, newState=WEIRD}',
    'service-set-state. {serviceName=com.example.A, newState=BROKEN}',
    '{"eventType":"service-set-state","contexts":{"serviceName":"a","newState":"NOPE"}}',
    '{"eventType":"deployment","contexts":{"serviceName":"a","newState":"BROKEN"}}',
    '{broken json',
  ];
  for (const f of fakes) assert.equal(parseNucleusLogLine(f), null, f);
});

test('states count since the newest nucleus start; the newest state per component wins', () => {
  const r = new ComponentStateReducer();
  r.add({ kind: 'state', at: 't1', service: 'a', state: 'BROKEN' });
  r.add({ kind: 'start', at: 't2' });
  r.add({ kind: 'state', at: 't3', service: 'b', state: 'ERRORED' });
  r.add({ kind: 'state', at: 't4', service: 'b', state: 'RUNNING' });
  r.add({ kind: 'state', at: 't5', service: 'c', state: 'BROKEN' });
  assert.equal(r.startedAt, 't2');
  assert.deepEqual(r.result(), [
    { name: 'b', state: 'RUNNING', at: 't4' },
    { name: 'c', state: 'BROKEN', at: 't5' },
  ]);
});

test('an IPC ListComponents answer becomes the same states', () => {
  const s = componentStatesFromListComponents({ components: [
    { componentName: 'b', version: '1.0.0', state: 'BROKEN', configuration: {} },
    { componentName: 'a', version: '1.0.0', state: 'RUNNING' },
    { componentName: 'c', state: 'NONSENSE' },
  ] });
  assert.equal(s.source, 'ipc');
  assert.deepEqual(s.states.map((x) => [x.name, x.state]), [['a', 'RUNNING'], ['b', 'BROKEN']]);
  assert.deepEqual(componentStatesFromListComponents(null).states, []);
});

test('the configuration log replays to the versions the nucleus runs', () => {
  const t = new TlogVersions();
  const lines = [
    { TS: 10, TP: ['services', 'a', 'version'], W: 'changed', V: '1.0.0' },
    { TS: 20, TP: ['services', 'a', 'version'], W: 'changed', V: '1.1.0' },
    // Older than what is set: Topic.withNewerValue keeps the newer.
    { TS: 15, TP: ['services', 'a', 'version'], W: 'changed', V: '0.9.0' },
    { TS: 30, TP: ['services', 'b', 'version'], W: 'changed', V: '2.0.0' },
    { TS: 31, TP: ['services', 'b'], W: 'removed' },
    { TS: 40, TP: ['services', 'c', 'configuration', 'version'], W: 'changed', V: 'not-a-version-key' },
    { TS: 41, TP: ['system', 'rootpath'], W: 'changed', V: '/greengrass/v2' },
    { TS: 42, TP: ['services', 'd', 'version'], W: 'changed', V: 3 },
  ].map((l) => JSON.stringify(l));
  for (const l of [...lines, '{"TP": ["services", half a line']) t.line(l);
  assert.deepEqual(t.result(), { a: '1.1.0' });
  assert.equal(t.skipped, 1);
});
