// The pure Greengrass v2 naming and digest rules, against values computed
// outside this code (openssl, sha256sum) and the nucleus's own rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  artifactFileName,
  componentNameHash,
  javaRecipeFileName,
  normalizeDigest,
  parseConfigurationArn,
  targetOfIotArn,
  unarchiveStem,
} from '../../src/model/greengrass-v2.js';

// printf 'hello\n' | openssl dgst -sha256 -binary | base64  /  | sha256sum
const HELLO_B64 = 'WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=';
const HELLO_HEX = '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03';

test('a recipe digest in standard base64 or in hex becomes lower-case hex', () => {
  assert.deepEqual(normalizeDigest('SHA-256', HELLO_B64), { algorithm: 'SHA-256', raw: HELLO_B64, encoding: 'base64', sha256: HELLO_HEX });
  assert.equal(normalizeDigest('SHA-256', HELLO_HEX.toUpperCase()).sha256, HELLO_HEX);
  assert.equal(normalizeDigest('SHA-256', HELLO_HEX).encoding, 'hex');
  // An absent algorithm means SHA-256, as nucleus lite assumes.
  assert.equal(normalizeDigest(null, HELLO_B64).sha256, HELLO_HEX);
  assert.equal(normalizeDigest('sha256', HELLO_B64).sha256, HELLO_HEX);
});

test('digests the nucleus would never match are invalid, not guessed at', () => {
  // base64url instead of standard base64: the Java nucleus compares strings, so this never matches.
  const url = HELLO_B64.replace(/\//g, '_');
  assert.equal(normalizeDigest('SHA-256', url).encoding, 'invalid');
  // Unpadded.
  assert.equal(normalizeDigest('SHA-256', HELLO_B64.slice(0, -1)).encoding, 'invalid');
  // Non-canonical trailing bits decode to the same bytes but are not the nucleus's text.
  const last = HELLO_B64[42]!;
  const twisted = `${HELLO_B64.slice(0, 42)}${last === 'M' ? 'N' : 'M'}=`;
  assert.equal(normalizeDigest('SHA-256', twisted).encoding, 'invalid');
  assert.equal(normalizeDigest('SHA-256', 'abc').encoding, 'invalid');
  assert.deepEqual(normalizeDigest(null, null), { algorithm: null, raw: null, encoding: 'none', sha256: null });
});

test('another algorithm decodes but yields no SHA-256 to compare', () => {
  const d = normalizeDigest('SHA-512', HELLO_B64);
  assert.equal(d.encoding, 'base64');
  assert.equal(d.sha256, null);
});

test('the Java recipe file name is base64url, unpadded, of SHA-256 of the name', () => {
  // printf 'com.example.Sensor' | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='
  assert.equal(componentNameHash('com.example.Sensor'), 'eTauVA3br2lqjZ0xx_TV-2m05gkKVIETI4Sohen04Os');
  assert.equal(componentNameHash('aws.greengrass.Nucleus'), '89r1-ak7xPauDt4O7EG03sSXVUO8ysdHTk-YdF0NAAc');
  assert.equal(javaRecipeFileName('com.example.Sensor', '1.2.0'), 'eTauVA3br2lqjZ0xx_TV-2m05gkKVIETI4Sohen04Os@1.2.0.recipe.yaml');
});

test('each nucleus names the unarchive folder its own way', () => {
  // Java: ComponentManager.getFileName strips the last extension, unless the name starts with its only dot.
  assert.equal(unarchiveStem('webapp.zip', 'java'), 'webapp');
  assert.equal(unarchiveStem('bundle.tar.zip', 'java'), 'bundle.tar');
  assert.equal(unarchiveStem('APP.ZIP', 'java'), 'APP');
  assert.equal(unarchiveStem('.hidden', 'java'), '.hidden');
  assert.equal(unarchiveStem('noext', 'java'), 'noext');
  // Lite: only a trailing ".zip" goes.
  assert.equal(unarchiveStem('webapp.zip', 'lite'), 'webapp');
  assert.equal(unarchiveStem('APP.ZIP', 'lite'), 'APP.ZIP');
  assert.equal(unarchiveStem('bundle.tgz', 'lite'), 'bundle.tgz');
});

test('an artifact is stored under the last segment of its URI; docker images under nothing', () => {
  assert.equal(artifactFileName('s3://bucket/com.example/1.0.0/app.py'), 'app.py');
  assert.equal(artifactFileName('greengrass:webapp.zip'), 'webapp.zip');
  assert.equal(artifactFileName('S3://bucket/x/y.bin?versionId=3'), 'y.bin');
  assert.equal(artifactFileName('docker:123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1'), null);
  assert.equal(artifactFileName('s3://bucket/'), null);
  assert.equal(artifactFileName('s3://bucket'), null);
  assert.equal(artifactFileName('s3://bucket/x/..'), null);
  assert.equal(artifactFileName('not a uri'), null);
});

test('configuration and target ARNs name the same target the nucleus calls GroupName', () => {
  assert.deepEqual(parseConfigurationArn('arn:aws:greengrass:us-east-1:123456789012:configuration:thinggroup/Fleet:3'), { target: 'thinggroup/Fleet', revision: '3' });
  assert.deepEqual(parseConfigurationArn('arn:aws:greengrass:us-east-1:123456789012:configuration:thing/Core1:12'), { target: 'thing/Core1', revision: '12' });
  assert.equal(parseConfigurationArn('arn:aws:iot:us-east-1:123456789012:thinggroup/Fleet'), null);
  assert.equal(targetOfIotArn('arn:aws:iot:us-east-1:123456789012:thinggroup/Fleet'), 'thinggroup/Fleet');
  assert.equal(targetOfIotArn('arn:aws:iot:us-east-1:123456789012:thing/Core1'), 'thing/Core1');
  assert.equal(targetOfIotArn('arn:aws:iot:us-east-1:123456789012:job/abc'), null);
});
