// The Greengrass v2 expectation parser, on CLI output shaped like AWS's
// documented examples (field names from the service model).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, sha256Hex } from '../../src/verify/canonical.js';
import {
  expectationLayout,
  nearKey,
  parseGreengrassV2Expectation,
} from '../../src/verify/greengrass-v2-expectation.js';

// `aws greengrassv2 get-deployment --deployment-id ...` (AWS CLI v2, default ISO timestamps).
const GET_DEPLOYMENT = `{
    "targetArn": "arn:aws:iot:us-west-2:123456789012:thinggroup/MyGreengrassCoreGroup",
    "revisionId": "14",
    "deploymentId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
    "deploymentName": "Deployment for MyGreengrassCoreGroup",
    "deploymentStatus": "ACTIVE",
    "iotJobId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE22222",
    "iotJobArn": "arn:aws:iot:us-west-2:123456789012:job/a1b2c3d4-5678-90ab-cdef-EXAMPLE22222",
    "components": {
        "aws.greengrass.Nucleus": {
            "componentVersion": "2.0.3",
            "configurationUpdate": { "merge": "{\\"jvmOptions\\":\\"-Xmx64m\\"}", "reset": ["/networkProxy"] }
        },
        "com.example.HelloWorld": { "componentVersion": "1.0.0", "runWith": { "posixUser": "ggc_user:ggc_group" } }
    },
    "deploymentPolicies": {
        "failureHandlingPolicy": "ROLLBACK",
        "componentUpdatePolicy": { "timeoutInSeconds": 60, "action": "NOTIFY_COMPONENTS" },
        "configurationValidationPolicy": { "timeoutInSeconds": 60 }
    },
    "iotJobConfiguration": {},
    "creationTimestamp": "2021-01-07T17:21:20.691000-08:00",
    "isLatestForTarget": true,
    "tags": {}
}`;

// `aws greengrassv2 list-effective-deployments --core-device-thing-name MyGreengrassCore`.
const EFFECTIVE = `{
    "effectiveDeployments": [
        {
            "deploymentId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
            "deploymentName": "Deployment for MyGreengrassCore",
            "iotJobId": "a1b2c3d4-5678-90ab-cdef-EXAMPLE33333",
            "targetArn": "arn:aws:iot:us-west-2:123456789012:thing/MyGreengrassCore",
            "coreDeviceExecutionStatus": "COMPLETED",
            "reason": "SUCCESSFUL",
            "creationTimestamp": 1609983880.0,
            "modifiedTimestamp": "2021-01-07T01:43:49.000Z"
        }
    ]
}`;

test('get-deployment output as printed: deployment, target and exact component versions', () => {
  const r = parseGreengrassV2Expectation(GET_DEPLOYMENT);
  assert.ok(r.ok, r.ok ? '' : r.error);
  const e = r.expectation;
  assert.equal(e.kind, 'deployment');
  if (e.kind !== 'deployment') return;
  assert.equal(e.deploymentId, 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111');
  assert.equal(e.target, 'thinggroup/MyGreengrassCoreGroup');
  assert.equal(e.revisionId, '14');
  assert.equal(e.deploymentStatus, 'ACTIVE');
  assert.equal(e.isLatestForTarget, true);
  assert.equal(e.creationTimestamp, '2021-01-08T01:21:20.691Z');
  assert.deepEqual(e.components, [
    { name: 'aws.greengrass.Nucleus', version: '2.0.3' },
    { name: 'com.example.HelloWorld', version: '1.0.0' },
  ]);
  assert.equal(e.sha256, sha256Hex(canonicalJson(JSON.parse(GET_DEPLOYMENT))));
  assert.equal(e.requestId, undefined);
});

test('the envelope adds a request ID and is hashed whole', () => {
  const doc = { expectation: JSON.parse(GET_DEPLOYMENT), requestId: 'req-7' };
  const r = parseGreengrassV2Expectation(JSON.stringify(doc));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.expectation.requestId, 'req-7');
  assert.equal(r.expectation.sha256, sha256Hex(canonicalJson(doc)));
});

test('list-effective-deployments output: what applies to the core and the cloud status of each', () => {
  const r = parseGreengrassV2Expectation(EFFECTIVE);
  assert.ok(r.ok, r.ok ? '' : r.error);
  const e = r.expectation;
  assert.equal(e.kind, 'effective-deployments');
  if (e.kind !== 'effective-deployments') return;
  assert.deepEqual(e.deployments, [{
    deploymentId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
    deploymentName: 'Deployment for MyGreengrassCore',
    iotJobId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE33333',
    targetArn: 'arn:aws:iot:us-west-2:123456789012:thing/MyGreengrassCore',
    target: 'thing/MyGreengrassCore',
    coreDeviceExecutionStatus: 'COMPLETED',
    reason: 'SUCCESSFUL',
    // Epoch seconds (cli_timestamp_format=none) and ISO text both read.
    creationTimestamp: '2021-01-07T01:44:40.000Z',
    modifiedTimestamp: '2021-01-07T01:43:49.000Z',
  }]);
});

function errorOf(doc: unknown): string {
  const r = parseGreengrassV2Expectation(typeof doc === 'string' ? doc : JSON.stringify(doc));
  assert.equal(r.ok, false, 'expected a refusal');
  return r.ok ? '' : r.error;
}

test('duplicate keys are refused, wherever they are', () => {
  assert.match(errorOf('{"deploymentId": "a", "deploymentId": "b", "components": {}}'), /duplicate key "deploymentId" in \$ at line 1/);
  assert.match(
    errorOf('{"deploymentId": "a", "components": {"x.y": {"componentVersion": "1.0.0", "componentVersion": "2.0.0"}}}'),
    /duplicate key "componentVersion" in \$\.components\["x\.y"\]|duplicate key "componentVersion" in \$\.components\.x\.y/,
  );
  assert.match(errorOf('{"expectation": {"deploymentId": "a", "components": {}}, "requestId": "1", "requestId": "2"}'), /duplicate key "requestId"/);
  // The same key in sibling objects is fine; so is a key that only looks like one inside a string.
  const siblings = parseGreengrassV2Expectation('{"deploymentId": "a", "components": {"x": {"componentVersion": "1.0.0"}, "y": {"componentVersion": "1.0.0"}}, "tags": {"k": "\\"deploymentId\\": 1"}}');
  assert.ok(siblings.ok, siblings.ok ? '' : siblings.error);
});

test('an unknown key near a known one is refused and the known one named', () => {
  const doc = JSON.parse(GET_DEPLOYMENT);
  assert.match(errorOf({ ...doc, deploymentID: 'x' }), /unknown key "deploymentID"; did you mean "deploymentId"\?/);
  assert.match(errorOf({ ...doc, targetArm: doc.targetArn }), /did you mean "targetArn"/);
  const comps = { 'com.example.HelloWorld': { componentVersoin: '1.0.0' } };
  assert.match(errorOf({ ...doc, components: comps }), /componentVersoin.*did you mean "componentVersion"/);
  // A field AWS may add later, far from any known name, is left alone.
  const r = parseGreengrassV2Expectation(JSON.stringify({ ...doc, rolloutWaveStatistics: {} }));
  assert.ok(r.ok);
  assert.equal(nearKey('id', ['iotJobId']), undefined);
});

test('the envelope is ours: unknown keys and Things Graph resources are refused there', () => {
  const inner = JSON.parse(GET_DEPLOYMENT);
  assert.match(errorOf({ expectation: inner, requestID: 'x' }), /did you mean "requestId"/);
  assert.match(errorOf({ expectation: inner, extra: 1 }), /unknown key "extra"/);
  assert.match(errorOf({ expectation: inner, resources: [{ name: 'flow-x.tar.gz', sha256: 'a'.repeat(64) }] }), /digests from the recipes/);
  assert.ok(parseGreengrassV2Expectation(JSON.stringify({ expectation: inner, resources: [] })).ok);
});

test('values that are not what the service returns are refused with a reason', () => {
  const doc = JSON.parse(GET_DEPLOYMENT);
  const cases: [unknown, RegExp][] = [
    [{ ...doc, deploymentId: '' }, /deploymentId is missing/],
    [{ ...doc, components: [] }, /components must be an object/],
    [{ ...doc, components: { 'bad name!': { componentVersion: '1.0.0' } } }, /not a component name/],
    [{ ...doc, components: { 'a.b': {} } }, /componentVersion is missing/],
    [{ ...doc, components: { 'a.b': { componentVersion: '../x' } } }, /not a version/],
    [{ ...doc, components: { 'a.b': { componentVersion: '1.0.0', runWith: 'root' } } }, /runWith must be an object/],
    [{ ...doc, targetArn: 'arn:aws:iot:us-west-2:123456789012:job/x' }, /not an IoT thing or thing group ARN/],
    [{ ...doc, deploymentStatus: 'DONE' }, /deploymentStatus is "DONE"; one of ACTIVE/],
    [{ ...doc, creationTimestamp: 'yesterday' }, /not a timestamp/],
    [{ ...doc, isLatestForTarget: 'yes' }, /true or false/],
    [{ ...doc, effectiveDeployments: [] }, /both deploymentId and effectiveDeployments/],
    [{ summary: { id: 'urn:tdm:x' } }, /Things Graph output/],
    [{ hello: 1 }, /neither deploymentId/],
    [[1], /must be a JSON object/],
    ['{"deploymentId": ', /not valid JSON/],
  ];
  for (const [d, re] of cases) assert.match(errorOf(d), re);
  const eff = JSON.parse(EFFECTIVE);
  assert.match(errorOf({ ...eff, nextToken: 'abc' }), /one page of several/);
  assert.match(errorOf({ effectiveDeployments: [{ ...eff.effectiveDeployments[0], coreDeviceExecutionStatus: 'OK' }] }), /one of IN_PROGRESS/);
  assert.match(errorOf({ effectiveDeployments: [{ deploymentId: 'x', coreDeviceExecutionStatus: 'QUEUED' }] }), /targetArn is missing/);
  assert.match(errorOf('x'.repeat(300 * 1024)), /larger than/);
});

test('the shape of a document tells its layout', () => {
  assert.equal(expectationLayout(JSON.parse(GET_DEPLOYMENT)), 'greengrass-v2');
  assert.equal(expectationLayout({ expectation: JSON.parse(EFFECTIVE) }), 'greengrass-v2');
  assert.equal(expectationLayout({ summary: { id: 'x' }, greengrassDeploymentId: 'y' }), 'thingsgraph-v1');
  assert.equal(expectationLayout({ expectation: { summary: {} } }), 'thingsgraph-v1');
  assert.equal(expectationLayout({ nothing: true }), null);
  assert.equal(expectationLayout(null), null);
});

test('a byte order mark is fine; an expectation over the size cap is refused', () => {
  assert.ok(parseGreengrassV2Expectation(`\uFEFF${GET_DEPLOYMENT}`).ok);
  const r = parseGreengrassV2Expectation(GET_DEPLOYMENT, { maxBytes: 100 });
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.error, /larger than 100 bytes/);
});
