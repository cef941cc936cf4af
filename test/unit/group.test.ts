import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGroupArn, parseGroupJson } from '../../src/observe/group.js';

const FLOW = /^flow-.+\.tar\.gz$/;
const ARN = 'arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/g-111/versions/v-222';
const CORE = { thingArn: 'arn:aws:iot:us-east-1:123456789012:thing/PiCore' };

/** The smallest definition that passes: Arn, Version, Cores. */
const base = (extra: Record<string, unknown> = {}) => ({ Arn: ARN, Version: 'v-222', Cores: [CORE], ...extra });
const parse = (doc: unknown) => parseGroupJson(typeof doc === 'string' ? doc : JSON.stringify(doc), 'g.json', { flowArchivePattern: FLOW });

function reasonOf(doc: unknown): string {
  const g = parse(doc);
  assert.equal(g.state, 'invalid', `expected invalid: ${typeof doc === 'string' ? doc : JSON.stringify(doc)}`);
  return g.state === 'invalid' ? g.reason : '';
}

test('group version ARN splits into group ID, version ID and region', () => {
  assert.deepEqual(parseGroupArn(ARN), { groupId: 'g-111', groupVersionId: 'v-222', region: 'us-east-1' });
  assert.deepEqual(parseGroupArn('arn:aws-cn:greengrass:cn-north-1:123456789012:/greengrass/groups/a/versions/b')?.region, 'cn-north-1');
  for (const bad of [
    'arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/g-111',
    'arn:aws:greengrass:us-east-1:123456789012:/greengrass/things/g/versions/v',
    'arn:aws:greengrass:us-east-1:1:/greengrass/groups/g/versions/v',
    'arn:aws:iot:us-east-1:123456789012:/greengrass/groups/g/versions/v',
    `${ARN}/extra`,
    'arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups//versions/v',
    'x:arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/g/versions/v',
  ]) {
    assert.equal(parseGroupArn(bad), null, bad);
  }
});

test('parses the API resource shape, core thing, lambdas and the connector', () => {
  const doc = base({
    Region: 'us-east-1',
    GroupDefinitions: {
      Lambdas: {
        Content: [
          { FunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:Other:2', DeploymentConfiguration: { CodeSize: 42 } },
          { FunctionArn: 'arn:aws:lambda:::function:GGIPDetector:1' },
        ],
      },
      Connectors: { Content: [{ ConnectorArn: 'arn:aws:greengrass:us-east-1::/connectors/ThingsGraph/versions/1', Id: 'c1' }] },
      Resources: {
        Content: [
          { Id: 'r1', Name: 'flow', ResourceDataContainer: { S3MachineLearningModelResourceData: { S3Uri: 's3://b/flow-Door.tar.gz', DestinationPath: '/tg' } } },
        ],
      },
      Subscriptions: { Content: [{ Id: 's', Source: 'cloud', Subject: 'a/#', Target: 'GGShadowService' }] },
      Logging: { Content: [{ Component: 'GreengrassSystem', Level: 'INFO' }] },
    },
  });
  const g = parse(doc);
  assert.equal(g.state, 'ok', g.state === 'invalid' ? g.reason : '');
  if (g.state !== 'ok') return;
  assert.equal(g.definition.groupId, 'g-111');
  assert.equal(g.definition.groupVersionId, 'v-222');
  assert.equal(g.definition.coreThing, 'PiCore');
  assert.equal(g.definition.region, 'us-east-1');
  assert.deepEqual(g.definition.lambdas, [
    { functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:Other:2', codeSize: 42 },
    { functionArn: 'arn:aws:lambda:::function:GGIPDetector:1' },
  ]);
  assert.equal(g.definition.hasThingsGraphConnector, true);
  assert.deepEqual(g.definition.flowResourceNames, ['flow-Door.tar.gz']);
  assert.deepEqual(g.definition.resources[0], {
    id: 'r1', name: 'flow', s3Uri: 's3://b/flow-Door.tar.gz', destinationPath: '/tg', type: 'S3MachineLearningModelResourceData',
  });
});

test('parses the {Type, Data} resource shape, with Data as a JSON string', () => {
  const doc = base({ GroupDefinitions: { Resources: { Content: [{ Type: 'S3', Data: '{"S3Uri":"s3://b/x/flow-Lamp.tar.gz"}' }] } } });
  const g = parse(doc);
  assert.equal(g.state, 'ok');
  if (g.state !== 'ok') return;
  assert.deepEqual(g.definition.flowResourceNames, ['flow-Lamp.tar.gz']);
  assert.equal(g.definition.hasThingsGraphConnector, false);
});

test('a connector named only by its Lambda still counts; Connectors may be absent', () => {
  const doc = base({ GroupDefinitions: { Lambdas: { Content: [{ FunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:ThingsGraphConnector:3' }] } } });
  const g = parse(doc);
  assert.equal(g.state === 'ok' && g.definition.hasThingsGraphConnector, true);
});

test('reads Key or key, refuses both in one object', () => {
  const g = parse({ arn: ARN, version: 'v-222', cores: [{ ThingArn: CORE.thingArn }] });
  assert.equal(g.state === 'ok' && g.definition.coreThing, 'PiCore');
  assert.match(reasonOf(base({ arn: ARN })), /^Arn is given twice, as "Arn" and "arn"/);
  assert.match(reasonOf(base({ Cores: [{ ...CORE, ThingArn: CORE.thingArn }] })), /Cores\[0\]\.ThingArn is given twice/);
});

test('broken definitions are invalid, with a reason naming the key', () => {
  const defs = (d: unknown) => base({ GroupDefinitions: d });
  const cases: [unknown, RegExp][] = [
    [JSON.stringify(base()).slice(0, 30), /not valid JSON: unexpected end|not valid JSON: unterminated/],
    ['[1,2]', /top level is an array/],
    ['{"Arn":"x","Arn":"y"}', /not valid JSON: duplicate key "Arn" in \$/],
    // Greengrass itself would not read a definition that starts with a byte order mark.
    [`\ufeff${JSON.stringify(base())}`, /not valid JSON: unexpected character U\+FEFF \(a byte order mark\) at line 1 column 1/],
    ['{"Version":"1"}', /Arn is missing/],
    [{ ...base(), Arn: 'arn:aws:iot:x' }, /Arn is not a group version ARN/],
    [{ ...base(), Arn: 42 }, /Arn is a number, not a non-empty string/],
    [{ Arn: ARN, Cores: [CORE] }, /Version is missing/],
    [base({ Version: 'v-999' }), /Version \("v-999"\) differs from the version in Arn \("v-222"\)/],
    [base({ Version: '' }), /Version is an empty string/],
    [base({ Region: 'eu-west-1' }), /Region \("eu-west-1"\) differs from the region in Arn/],
    [base({ Region: 7 }), /Region is a number/],
    [{ Arn: ARN, Version: 'v-222' }, /Cores is missing/],
    [base({ Cores: [] }), /Cores is an empty array/],
    [base({ Cores: {} }), /Cores is an object, not an array/],
    [base({ Cores: [null] }), /Cores\[0\] is null, not an object/],
    [base({ Cores: [{}] }), /Cores\[0\]\.ThingArn is missing/],
    [base({ Cores: [{ thingArn: 'PiCore' }] }), /Cores\[0\]\.ThingArn is not a thing ARN/],
    [base({ Devices: 'none' }), /Devices is a string, not an array/],
    [defs(null), /GroupDefinitions is null, not an object/],
    [defs([]), /GroupDefinitions is an array/],
    [defs({ Lambdas: [] }), /GroupDefinitions\.Lambdas is an array, not an object/],
    [defs({ Lambdas: {} }), /GroupDefinitions\.Lambdas\.Content is missing/],
    [defs({ Lambdas: { Content: {} } }), /GroupDefinitions\.Lambdas\.Content is an object, not an array/],
    [defs({ Lambdas: { Content: [{}] } }), /Lambdas\.Content\[0\]\.FunctionArn is missing/],
    [defs({ Lambdas: { Content: [{ FunctionArn: 'ThingsGraphConnector' }] } }), /FunctionArn is not a Lambda function ARN/],
    [defs({ Lambdas: { Content: [{ FunctionArn: 'arn:aws:lambda:::function:X:1', DeploymentConfiguration: { CodeSize: '12' } }] } }), /CodeSize is a string, not a whole number/],
    [defs({ Connectors: null }), /GroupDefinitions\.Connectors is null/],
    [defs({ Connectors: { Content: [{ Id: 'c' }] } }), /Connectors\.Content\[0\]\.ConnectorArn is missing/],
    [defs({ Resources: { Content: 'flow-x.tar.gz' } }), /Resources\.Content is a string/],
    [defs({ Resources: { Content: [{ Id: 'r' }] } }), /Resources\.Content\[0\] has neither "ResourceDataContainer" nor "Data"/],
    [defs({ Resources: { Content: [{ Data: 5 }] } }), /Resources\.Content\[0\]\.Data is a number/],
    [defs({ Subscriptions: { Content: [{ Target: 5 }] } }), /Subscriptions\.Content\[0\]\.Target is a number/],
    [defs({ Logging: { Content: [1] } }), /Logging\.Content\[0\] is a number, not an object/],
    [`${'['.repeat(100)}${']'.repeat(100)}`, /nesting deeper than 64/],
  ];
  for (const [doc, re] of cases) assert.match(reasonOf(doc), re, typeof doc === 'string' ? doc : JSON.stringify(doc));
});

test('bytes that are not UTF-8 are invalid, never replaced', () => {
  const text = JSON.stringify(base({ Note: 'caf\u00e9' }));
  const bytes = Buffer.from(text, 'utf8');
  assert.equal(parseGroupJson(bytes, 'g.json', { flowArchivePattern: FLOW }).state, 'ok');
  const broken = Buffer.from(bytes);
  broken[broken.indexOf(0xc3)] = 0xff;
  const g = parseGroupJson(broken, 'g.json', { flowArchivePattern: FLOW });
  assert.equal(g.state, 'invalid');
  if (g.state === 'invalid') assert.match(g.reason, /not valid UTF-8 \(first bad byte at offset \d+\)/);
});
