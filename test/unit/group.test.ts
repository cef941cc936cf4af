import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGroupArn, parseGroupJson } from '../../src/observe/group.js';

const FLOW = /^flow-.+\.tar\.gz$/;
const ARN = 'arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/g-111/versions/v-222';

test('group version ARN splits into group ID and version ID', () => {
  assert.deepEqual(parseGroupArn(ARN), { groupId: 'g-111', groupVersionId: 'v-222' });
  assert.equal(parseGroupArn('arn:aws:greengrass:us-east-1:1:/greengrass/groups/g-111'), null);
  assert.equal(parseGroupArn('arn:aws:greengrass:us-east-1:1:/greengrass/things/g/versions/v'), null);
});

test('parses the API resource shape, core thing, lambdas and the connector', () => {
  const doc = {
    Arn: ARN,
    Region: 'us-east-1',
    Cores: [{ thingArn: 'arn:aws:iot:us-east-1:123456789012:thing/PiCore' }],
    GroupDefinitions: {
      Lambdas: { Content: [{ FunctionArn: 'arn:aws:lambda:us-east-1:1:function:Other:2', DeploymentConfiguration: { CodeSize: 42 } }] },
      Connectors: { Content: [{ ConnectorArn: 'arn:aws:greengrass:us-east-1::/connectors/ThingsGraph/versions/1', Id: 'c1' }] },
      Resources: {
        Content: [
          { Id: 'r1', Name: 'flow', ResourceDataContainer: { S3MachineLearningModelResourceData: { S3Uri: 's3://b/flow-Door.tar.gz', DestinationPath: '/tg' } } },
        ],
      },
    },
  };
  const g = parseGroupJson(JSON.stringify(doc), 'g.json', { flowArchivePattern: FLOW });
  assert.equal(g.state, 'ok');
  if (g.state !== 'ok') return;
  assert.equal(g.definition.groupId, 'g-111');
  assert.equal(g.definition.groupVersionId, 'v-222');
  assert.equal(g.definition.coreThing, 'PiCore');
  assert.deepEqual(g.definition.lambdas, [{ functionArn: 'arn:aws:lambda:us-east-1:1:function:Other:2', codeSize: 42 }]);
  assert.equal(g.definition.hasThingsGraphConnector, true);
  assert.deepEqual(g.definition.flowResourceNames, ['flow-Door.tar.gz']);
  assert.deepEqual(g.definition.resources[0], {
    id: 'r1', name: 'flow', s3Uri: 's3://b/flow-Door.tar.gz', destinationPath: '/tg', type: 'S3MachineLearningModelResourceData',
  });
});

test('parses the {Type, Data} resource shape, with Data as a JSON string', () => {
  const doc = {
    Arn: ARN,
    GroupDefinitions: { Resources: { Content: [{ Type: 'S3', Data: '{"S3Uri":"s3://b/x/flow-Lamp.tar.gz"}' }] } },
  };
  const g = parseGroupJson(JSON.stringify(doc), 'g.json', { flowArchivePattern: FLOW });
  assert.equal(g.state, 'ok');
  if (g.state !== 'ok') return;
  assert.deepEqual(g.definition.flowResourceNames, ['flow-Lamp.tar.gz']);
  assert.equal(g.definition.hasThingsGraphConnector, false);
  assert.equal(g.definition.coreThing, undefined);
});

test('a connector named only by its Lambda still counts', () => {
  const doc = { Arn: ARN, GroupDefinitions: { Lambdas: { Content: [{ FunctionArn: 'arn:aws:lambda:r:1:function:ThingsGraphConnector:3' }] } } };
  const g = parseGroupJson(JSON.stringify(doc), 'g.json', { flowArchivePattern: FLOW });
  assert.equal(g.state === 'ok' && g.definition.hasThingsGraphConnector, true);
});

test('truncated, non-object and ARN-less documents are invalid, with a reason', () => {
  const cut = JSON.stringify({ Arn: ARN, GroupDefinitions: {} }).slice(0, 30);
  for (const [text, reason] of [
    [cut, /not valid JSON/],
    ['[1,2]', /not a JSON object/],
    ['{"Version":"1"}', /no "Arn"/],
    ['{"Arn":"arn:aws:iot:x"}', /not a group version ARN/],
  ] as const) {
    const g = parseGroupJson(text, 'g.json', { flowArchivePattern: FLOW });
    assert.equal(g.state, 'invalid', text);
    if (g.state === 'invalid') assert.match(g.reason, reason);
  }
});
