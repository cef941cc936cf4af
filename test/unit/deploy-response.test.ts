// The one reader of the AWS CLI's Things Graph outputs: every shape, strictly.
// Fixtures are written by hand from the API's response shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  editDistance, nearMiss, parseDeployResponses, selectForGroup, ResponseError,
} from '../../src/verify/deploy-response.js';
import { parseStrictJson, parseStrictJsonSequence } from '../../src/model/strict-json.js';

const summary = (n: number, extra: Record<string, unknown> = {}) => ({
  id: `urn:tdm:us-east-1/123456789012/default:deployment:Flow${n}_V001`,
  arn: `arn:aws:iotthingsgraph:us-east-1:123456789012:Deployment/default/Flow${n}_V001`,
  status: 'DEPLOYED_IN_TARGET',
  target: 'GREENGRASS',
  greengrassGroupName: `Group${n}`,
  createdAt: 1574171690.0,
  updatedAt: '2019-11-19T13:54:50.000Z',
  greengrassGroupId: `g-${n}`,
  greengrassGroupVersionId: `v-${n}`,
  ...extra,
});
const deployOut = (n: number, extra: Record<string, unknown> = {}) => ({ summary: summary(n, extra), greengrassDeploymentId: `d-${n}` });
const pretty = (v: unknown) => JSON.stringify(v, null, 4);

test('deploy-system-instance output as the CLI prints it', () => {
  const r = parseDeployResponses(pretty(deployOut(1)));
  assert.equal(r.deployments.length, 1);
  const d = r.deployments[0]!;
  assert.equal(d.shape, 'deploy-system-instance');
  assert.equal(d.summary.greengrassGroupId, 'g-1');
  assert.equal(d.summary.greengrassGroupVersionId, 'v-1');
  assert.equal(d.greengrassDeploymentId, 'd-1');
  // Epoch seconds and ISO strings both become ISO strings.
  assert.equal(d.summary.createdAt, '2019-11-19T13:54:50.000Z');
  assert.equal(d.summary.updatedAt, '2019-11-19T13:54:50.000Z');
  assert.deepEqual(r.skipped, []);
});

test('search-system-instances: a fleet in one listing, CLOUD targets skipped, no deployment ID', () => {
  const r = parseDeployResponses(pretty({
    summaries: [summary(1), summary(2, { target: 'CLOUD', greengrassGroupId: undefined, greengrassGroupVersionId: undefined }), summary(3, { status: 'FAILED' })],
  }));
  assert.deepEqual(r.deployments.map((d) => [d.summary.greengrassGroupId, d.summary.status, d.greengrassDeploymentId]), [
    ['g-1', 'DEPLOYED_IN_TARGET', undefined], ['g-3', 'FAILED', undefined],
  ]);
  assert.equal(r.skipped.length, 1);
  assert.match(r.skipped[0]!.reason, /CLOUD: not a device deployment/);
  assert.equal(r.skipped[0]!.where, 'summaries[1]');
});

test('a NOT_DEPLOYED summary without a group is skipped, with one it is still asked', () => {
  const r = parseDeployResponses(JSON.stringify({
    summaries: [summary(1, { status: 'NOT_DEPLOYED', greengrassGroupVersionId: undefined }), summary(2, { status: 'NOT_DEPLOYED' })],
  }));
  assert.deepEqual(r.deployments.map((d) => d.summary.greengrassGroupId), ['g-2']);
  assert.match(r.skipped[0]!.reason, /NOT_DEPLOYED and names no group/);
});

test('get-system-instance: the summary inside the description, a near-1 MB definition is fine', () => {
  const text = pretty({
    description: {
      summary: summary(4),
      definition: { language: 'GRAPHQL', text: 'x'.repeat(900_000) },
      s3BucketName: 'bucket',
      metricsConfiguration: { cloudMetricEnabled: false },
      validatedNamespaceVersion: 1,
      validatedDependencyRevisions: [{ id: 'urn:tdm:aws/examples:deviceModel:Camera', revisionNumber: 1 }],
    },
  });
  const r = parseDeployResponses(text);
  assert.equal(r.deployments[0]!.shape, 'get-system-instance');
  assert.equal(r.deployments[0]!.summary.greengrassGroupId, 'g-4');
  assert.equal(r.deployments[0]!.greengrassDeploymentId, undefined);
});

test('several responses: a JSON array, JSON lines, pretty outputs one after another, with a BOM', () => {
  const three = [deployOut(1), deployOut(2), { summaries: [summary(3)] }];
  for (const text of [
    JSON.stringify(three),
    three.map((v) => JSON.stringify(v)).join('\n') + '\n',
    three.map(pretty).join('\n'),
    '\uFEFF' + three.map(pretty).join(''),
  ]) {
    const r = parseDeployResponses(text);
    assert.deepEqual(r.deployments.map((d) => d.summary.greengrassGroupId), ['g-1', 'g-2', 'g-3'], text.slice(0, 40));
  }
});

test('two deployments for one group: the newer stands, the other is listed as superseded', () => {
  const older = deployOut(1, { updatedAt: '2019-11-19T13:00:00Z', greengrassGroupVersionId: 'v-old' });
  const newer = deployOut(1, { updatedAt: '2019-11-20T13:00:00Z' });
  const r = parseDeployResponses([older, newer].map((v) => JSON.stringify(v)).join('\n'));
  assert.deepEqual(r.deployments.map((d) => d.summary.greengrassGroupVersionId), ['v-1']);
  assert.match(r.skipped[0]!.reason, /superseded by a newer system instance for group g-1 \(document 2 \(line 2\)\)/);
  // The same instance in a deploy output and a listing: one deployment, the deployment ID kept.
  const both = parseDeployResponses(JSON.stringify([deployOut(5), { summaries: [summary(5)] }]));
  assert.equal(both.deployments.length, 1);
  assert.equal(both.deployments[0]!.greengrassDeploymentId, 'd-5');
});

test('a paginated listing says the other pages are not checked', () => {
  const r = parseDeployResponses(JSON.stringify({ summaries: [summary(1)], NextToken: 'abc' }));
  assert.match(r.notes[0]!, /one page of several/);
});

test('selectForGroup: the summary of the observed group, the newest of several', () => {
  const list = [
    { summary: { greengrassGroupId: 'a', updatedAt: '2020-01-01T00:00:00.000Z' }, n: 1 },
    { summary: { greengrassGroupId: 'b', updatedAt: '2020-01-03T00:00:00.000Z' }, n: 2 },
    { summary: { greengrassGroupId: 'a', updatedAt: '2020-01-02T00:00:00.000Z' }, n: 3 },
  ];
  assert.equal(selectForGroup(list, 'a')?.n, 3);
  assert.equal(selectForGroup(list, 'b')?.n, 2);
  assert.equal(selectForGroup(list, 'c'), null);
});

test('near misses of known keys', () => {
  assert.equal(editDistance('greengrassgroupversionid', 'greengrassgroupversionid'), 0);
  assert.equal(editDistance('abcd', 'abdc'), 1);
  assert.equal(nearMiss('GreengrassGroupVersionId', ['greengrassGroupVersionId']), 'greengrassGroupVersionId');
  assert.equal(nearMiss('greengrassGroupVersionID', ['greengrassGroupVersionId']), 'greengrassGroupVersionId');
  assert.equal(nearMiss('greengrass_group_id', ['greengrassGroupId']), 'greengrassGroupId');
  assert.equal(nearMiss('greengrassGropId', ['greengrassGroupId']), 'greengrassGroupId');
  assert.equal(nearMiss('description', ['greengrassDeploymentId']), null);
  assert.equal(nearMiss('createdAt', ['updatedAt']), null);
});

test('every malformed shape is refused with a message naming the problem', () => {
  const s = summary(1);
  const cases: [string, RegExp][] = [
    ['', /the input is empty/],
    ['  \n', /the input is empty/],
    ['\uFEFF', /the input is empty/],
    ['{"summary": {"id": ', /not valid JSON: unexpected end of the document at line 1 column 20/],
    ['{"summary": {}} x', /not valid JSON/],
    ['[]', /empty array/],
    ['[[]]', /item 1 is an array inside an array/],
    ['"text"', /must be a JSON object, not string/],
    ['{}', /has no "summary", "summaries" or "description"/],
    ['{"expectation": {}}', /is an envelope/],
    ['{"Summary": {}}', /"Summary".*did you mean "summary"/],
    ['{"summary": {}, "summaries": []}', /has both "summary" and "summaries"/],
    [JSON.stringify({ summary: 'x' }), /summary must be an object, not string/],
    [JSON.stringify({ summary: { ...s, id: undefined } }), /summary.id is missing/],
    [JSON.stringify({ summary: { ...s, id: 'arn:nope' } }), /summary.id is not a system instance URN/],
    [JSON.stringify({ summary: { ...s, greengrassGroupId: undefined } }), /summary.greengrassGroupId is missing \(a Greengrass deployment must name its group/],
    [JSON.stringify({ summary: { ...s, greengrassGroupVersionId: undefined } }), /summary.greengrassGroupVersionId is missing/],
    [JSON.stringify({ summary: { ...s, greengrassGroupVersionId: '' } }), /summary.greengrassGroupVersionId is empty/],
    [JSON.stringify({ summary: s, greengrassDeploymentId: '' }), /greengrassDeploymentId is empty/],
    [JSON.stringify({ summary: s, greengrassDeploymentId: null }), /greengrassDeploymentId must be a string, not null/],
    [JSON.stringify({ summary: { ...s, greengrassGroupId: ' g-1' } }), /has white space around it/],
    [JSON.stringify({ summary: { ...s, greengrassGroupId: 7 } }), /greengrassGroupId must be a string, not number 7/],
    [JSON.stringify({ summary: { ...s, GreengrassGroupVersionId: 'v-2' } }), /"GreengrassGroupVersionId".*did you mean "greengrassGroupVersionId"/],
    [JSON.stringify({ summary: { ...s, greengrassGroupVersionID: 'v-2' } }), /"greengrassGroupVersionID".*did you mean "greengrassGroupVersionId"/],
    [JSON.stringify({ summary: s, GreengrassDeploymentId: 'd' }), /did you mean "greengrassDeploymentId"/],
    ['{"summary": {"id": "a", "id": "b"}}', /duplicate key "id" in \$\.summary at line 1 column 25/],
    [JSON.stringify({ summary: { ...s, status: 'DONE' } }), /summary.status is "DONE"; expected one of NOT_DEPLOYED/],
    [JSON.stringify({ summary: { ...s, target: 'EDGE' } }), /summary.target is "EDGE"/],
    [JSON.stringify({ summary: { ...s, updatedAt: 'yesterday' } }), /summary.updatedAt is "yesterday": not an ISO-8601 time/],
    [JSON.stringify({ summary: { ...s, updatedAt: 1574171690000 } }), /not a time in epoch seconds/],
    [JSON.stringify({ summary: { ...s, createdAt: true } }), /createdAt must be an ISO-8601 time or epoch seconds/],
    [JSON.stringify({ summaries: {} }), /summaries must be an array, not an object/],
    [JSON.stringify({ summaries: [s, 3] }), /summaries\[1\] must be an object, not number 3/],
    [JSON.stringify({ description: [] }), /description must be an object, not an array/],
    [JSON.stringify({ description: { summary: s, defintion: {} } }), /"defintion".*did you mean "definition"/],
    [JSON.stringify({ description: {} }), /description.summary is missing/],
    [[JSON.stringify(deployOut(1)), '{"summary": 1}'].join('\n'), /document 2 \(line 2\).summary must be an object/],
    [JSON.stringify([deployOut(1), { summary: { ...s, greengrassGroupId: '' } }]), /item 2.summary.greengrassGroupId is empty/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseDeployResponses(text), (err: unknown) => {
      assert.ok(err instanceof ResponseError, `${text.slice(0, 60)}: ${String(err)}`);
      assert.match(err.message, re, text.slice(0, 80));
      return true;
    });
  }
});

test('strict JSON: what JSON.parse reads, the same values, duplicates refused at any depth', () => {
  const samples = ['{"a":[1,2.5e3,-0,true,false,null],"b":{"c":"\\u00e9\\n\\"x\\""}}', '[]', '{}', '"\\ud83d\\ude00"', '1e-7', '{"__proto__":{"x":1}}'];
  const value = (s: string) => {
    const r = parseStrictJson(s);
    assert.ok(r.ok, s);
    return r.value;
  };
  for (const s of samples) assert.deepEqual(value(s), JSON.parse(s), s);
  assert.equal(Object.getPrototypeOf(value('{"__proto__":{"x":1}}')), Object.prototype);
  for (const bad of ['{"a":1,"a":2}', '[{"x":{"y":1,"y":1}}]', '{"a":1,}', '[1,]', '01', '"\t"', "{'a':1}", 'tru', '"\\x"', '{"a" 1}', 'NaN']) {
    const r = parseStrictJson(bad);
    assert.ok(!r.ok && /line 1/.test(r.error), bad);
    if (!/"a":1,"a"|"y":1,"y"/.test(bad)) assert.throws(() => JSON.parse(bad), bad);
  }
  const deep = parseStrictJson('['.repeat(300) + ']'.repeat(300));
  assert.ok(!deep.ok && /nesting deeper than 64 levels/.test(deep.error));
  const seq = parseStrictJsonSequence('{"a":1}\n\n[2]\n  3');
  assert.deepEqual(seq, { ok: true, documents: [{ value: { a: 1 }, line: 1 }, { value: [2], line: 3 }, { value: 3, line: 4 }] });
  const joined = parseStrictJsonSequence('1 2true');
  assert.ok(!joined.ok && /separated by white space/.test(joined.error));
  const glued = parseStrictJsonSequence('{"a":1}{"b":2}');
  assert.ok(glued.ok && glued.documents.length === 2);
});
