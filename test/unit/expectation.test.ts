import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isOlder, normalizeUrn, parseExpectation } from '../../src/verify/expectation.js';
import { canonicalJson } from '../../src/verify/canonical.js';

// Shaped exactly like `aws iotthingsgraph deploy-system-instance` output (seed document).
const CLI_OUTPUT = `{
    "summary": {
        "id": "urn:tdm:us-east-1/123456789012/default:deployment:Door_V001",
        "arn": "arn:aws:iotthingsgraph:us-east-1:123456789012:Deployment/default/Door_V001",
        "status": "DEPLOYED_IN_TARGET",
        "target": "GREENGRASS",
        "greengrassGroupName": "DoorGroup",
        "createdAt": 1574171690.0,
        "updatedAt": "2019-11-19T13:54:50.000Z",
        "greengrassGroupId": "g-111",
        "greengrassGroupVersionId": "v-222"
    },
    "greengrassDeploymentId": "d-333"
}`;

test('takes the CLI output as is', () => {
  const r = parseExpectation(CLI_OUTPUT);
  assert.equal(r.ok, true);
  if (!r.ok) return;
  assert.equal(r.expectation.systemInstanceId, 'urn:tdm:us-east-1/123456789012/default:deployment:Door_V001');
  assert.equal(r.expectation.greengrassGroupId, 'g-111');
  assert.equal(r.expectation.greengrassGroupVersionId, 'v-222');
  assert.equal(r.expectation.greengrassDeploymentId, 'd-333');
  assert.equal(r.expectation.cloudStatus, 'DEPLOYED_IN_TARGET');
  assert.deepEqual(r.expectation.resources, []);
  assert.equal(r.expectation.requestId, undefined);
});

test('the expectation digest is SHA-256 of canonical JSON, independent of white space and key order', () => {
  const a = parseExpectation(CLI_OUTPUT);
  const b = parseExpectation(JSON.stringify(JSON.parse(CLI_OUTPUT)));
  assert.ok(a.ok && b.ok);
  if (!a.ok || !b.ok) return;
  assert.equal(a.expectation.sha256, b.expectation.sha256);
  // Hand-written canonical form of a small document.
  assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 2 } }), '{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}');
  const expected = createHash('sha256').update(canonicalJson(JSON.parse(CLI_OUTPUT))).digest('hex');
  assert.equal(a.expectation.sha256, expected);
});

test('takes the envelope with resources and a request ID', () => {
  const sha = 'ab'.repeat(32);
  const r = parseExpectation(JSON.stringify({
    expectation: JSON.parse(CLI_OUTPUT), requestId: 'req-9', resources: [{ name: 'flow-Door.tar.gz', sha256: sha.toUpperCase() }],
  }));
  assert.equal(r.ok, true);
  if (!r.ok) return;
  assert.equal(r.expectation.requestId, 'req-9');
  assert.deepEqual(r.expectation.resources, [{ name: 'flow-Door.tar.gz', sha256: sha }]);
});

test('URNs spelled with Deployment or deployment are one', () => {
  const r = parseExpectation(CLI_OUTPUT.replace(':deployment:', ':Deployment:'));
  assert.equal(r.ok, true);
  assert.equal(normalizeUrn('urn:tdm:us-east-1/1/default:Deployment:X'), normalizeUrn('urn:tdm:us-east-1/1/default:deployment:X'));
});

test('bad input gives a clear reason', () => {
  const cases: [string, RegExp][] = [
    [CLI_OUTPUT.slice(0, 100), /not valid JSON/],
    ['"just a string"', /must be a JSON object/],
    ['{}', /no "summary"/],
    [JSON.stringify({ summary: { greengrassGroupId: 'g' } }), /summary.id is missing/],
    [JSON.stringify({ summary: { id: 'arn:nope', greengrassGroupId: 'g' } }), /not a system instance URN/],
    [JSON.stringify({ summary: { id: 'urn:tdm:r/1/default:deployment:X' } }), /greengrassGroupId is missing/],
    [CLI_OUTPUT.replace('"GREENGRASS"', '"CLOUD"'), /only GREENGRASS/],
    [JSON.stringify({ expectation: JSON.parse(CLI_OUTPUT), resources: [{ name: 'f', sha256: 'xyz' }] }), /64 hex digits/],
    [JSON.stringify({ expectation: JSON.parse(CLI_OUTPUT), resources: {} }), /must be an array/],
    [JSON.stringify({ summary: { id: 5, greengrassGroupId: 'g' } }), /summary.id must be a string/],
  ];
  for (const [text, re] of cases) {
    const r = parseExpectation(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.error, re);
  }
});

test('the envelope is read on the same strict rules: duplicate keys, near misses, empty strings, a missing group version, CLOUD', () => {
  const cli = JSON.parse(CLI_OUTPUT) as { summary: Record<string, unknown>; greengrassDeploymentId: string };
  const env = (over: Record<string, unknown>) => JSON.stringify({ expectation: cli, requestId: 'r-1', ...over });
  const cases: [string, RegExp][] = [
    ['{"expectation": {}, "expectation": {}}', /duplicate key "expectation" in \$ at line 1/],
    [env({ requestID: 'x' }), /envelope has the key "requestID".*did you mean "requestId"/],
    [env({ resource: [] }), /did you mean "resources"/],
    [env({ requestId: '' }), /envelope.requestId is empty/],
    [env({ requestId: 'x'.repeat(300) }), /longer than 256/],
    [env({ expectation: { ...cli, summary: { ...cli.summary, greengrassGroupVersionId: undefined } } }), /envelope.expectation.summary.greengrassGroupVersionId is missing/],
    [env({ expectation: { ...cli, summary: { ...cli.summary, target: 'CLOUD' } } }), /cannot be checked on a core: target CLOUD/],
    [env({ expectation: { ...cli, greengrassDeploymentID: 'd' } }), /did you mean "greengrassDeploymentId"/],
    [env({ expectation: { greengrassDeploymentId: 'd' } }), /envelope.expectation has no "summary"/],
    [env({ resources: [{ name: 'flow-A.tar.gz', sha256: 'a'.repeat(64) }, { name: 'flow-A.tar.gz', sha256: 'b'.repeat(64) }] }), /listed twice/],
    [env({ resources: [{ name: '../flow-A.tar.gz', sha256: 'a'.repeat(64) }] }), /a file name, not a path/],
    [env({ resources: [{ name: `flow-${'é'.repeat(123)}.tar.gz`, sha256: 'a'.repeat(64) }] }), /name is 258 bytes long; a file name has at most 255/],
    [env({ resources: [{ name: 'flow-A.tar.gz', SHA256: 'a'.repeat(64) }] }), /"SHA256".*did you mean "sha256"/],
    [JSON.stringify([cli, { ...cli, summary: { ...cli.summary, greengrassGroupId: 'g-2' } }]), /names 2 Greengrass system instances \(groups g-111, g-2\); give the one for this core/],
  ];
  for (const [text, re] of cases) {
    const r = parseExpectation(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.error, re, text);
  }
});

test('a deployment ID or archive digests where they are not read are refused, not dropped', () => {
  const cli = JSON.parse(CLI_OUTPUT) as { summary: Record<string, unknown>; greengrassDeploymentId: string };
  const { greengrassDeploymentId: dep, ...noDep } = cli;
  const res = [{ name: 'flow-A.tar.gz', sha256: 'a'.repeat(64) }];
  const cases: [unknown, RegExp][] = [
    [{ expectation: noDep, greengrassDeploymentId: dep }, /^envelope has the key "greengrassDeploymentId", but "greengrassDeploymentId" is read only next to "summary"/],
    [{ ...noDep, summary: { ...cli.summary, greengrassDeploymentId: dep } }, /^summary has the key "greengrassDeploymentId".*here it would be ignored/],
    [{ expectation: { ...noDep, summary: { ...cli.summary, greengrass_deployment_id: dep } } }, /envelope.expectation.summary has the key "greengrass_deployment_id"/],
    [{ ...cli, resources: res }, /^the response has the key "resources", but "resources" is read only at the top of an envelope/],
    [{ expectation: { ...cli, resources: res } }, /^envelope.expectation has the key "resources"/],
    [{ summaries: [cli.summary], greengrassDeploymentId: dep }, /^the response has the key "greengrassDeploymentId"/],
    // Inside what the reader skips: an unknown key's value, a description's definition.
    [{ ...noDep, note: { greengrassDeploymentId: dep } }, /^note has the key "greengrassDeploymentId"/],
    [{ description: { summary: cli.summary, definition: { language: 'GRAPHQL', text: '{}', greengrassDeploymentId: dep } } }, /^description.definition has the key "greengrassDeploymentId"/],
    [{ expectation: cli, extra: [{ Resources: res }] }, /^envelope.extra\[0\] has the key "Resources", but "resources"/],
  ];
  for (const [doc, re] of cases) {
    const r = parseExpectation(JSON.stringify(doc));
    assert.equal(r.ok, false, JSON.stringify(doc));
    if (!r.ok) assert.match(r.error, re, JSON.stringify(doc));
  }
  // Where they are read, they are read.
  const env = parseExpectation(JSON.stringify({ expectation: cli, resources: res }));
  assert.ok(env.ok);
  if (env.ok) assert.deepEqual([env.expectation.greengrassDeploymentId, env.expectation.resources], [dep, res]);
});

test('a BOM is accepted, and get-system-instance or a one-entry listing are an expectation with no deployment ID', () => {
  const cli = JSON.parse(CLI_OUTPUT) as { summary: Record<string, unknown> };
  const bom = parseExpectation(`\uFEFF${CLI_OUTPUT}`);
  assert.ok(bom.ok);
  for (const text of [JSON.stringify({ description: { summary: cli.summary, definition: { language: 'GRAPHQL', text: '{}' } } }), JSON.stringify({ summaries: [cli.summary] })]) {
    const r = parseExpectation(text);
    assert.ok(r.ok, text);
    if (!r.ok) continue;
    assert.equal(r.expectation.greengrassGroupVersionId, 'v-222');
    assert.equal(r.expectation.greengrassDeploymentId, undefined);
  }
});

test('isOlder compares summary.updatedAt, whatever form it had; neither is older when one does not say', () => {
  const at = (updatedAt: unknown) => {
    const cli = JSON.parse(CLI_OUTPUT) as { summary: Record<string, unknown> };
    const r = parseExpectation(JSON.stringify({ ...cli, summary: { ...cli.summary, updatedAt } }));
    if (!r.ok) throw new Error(r.error);
    return r.expectation;
  };
  assert.equal(isOlder(at(1574171690), at('2019-11-19T13:54:51Z')), true);
  assert.equal(isOlder(at('2019-11-19T13:54:51Z'), at(1574171690)), false);
  assert.equal(isOlder(at(1574171690), at('2019-11-19T13:54:50.000Z')), false, 'equal is not older');
  const none = parseExpectation(JSON.stringify({ summary: { ...(JSON.parse(CLI_OUTPUT) as { summary: Record<string, unknown> }).summary, updatedAt: undefined } }));
  assert.ok(none.ok);
  if (none.ok) assert.equal(isOlder(none.expectation, at(1574171690)), false);
});
