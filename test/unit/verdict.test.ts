import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, statusOf } from '../../src/verify/verdict.js';
import { finding } from '../../src/model/findings.js';
import type { Baseline } from '../../src/model/baseline.js';
import { expectation, healthyObservation, unit, URN } from '../lib/observation.js';

const codes = (v: { findings: { code: string }[] }) => v.findings.map((f) => f.code).sort();

test('a healthy core matching its expectation is VERIFIED with no findings', () => {
  const v = judge({ observation: healthyObservation(), baseline: null, expectation: expectation() });
  assert.equal(v.status, 'VERIFIED');
  assert.deepEqual(v.findings, []);
});

test('group and version mismatches name expected and actual', () => {
  const v = judge({
    observation: healthyObservation(), baseline: null,
    expectation: expectation({ greengrassGroupId: 'g-999', greengrassGroupVersionId: 'v-999' }),
  });
  assert.equal(v.status, 'MISMATCH');
  assert.deepEqual(codes(v), ['GROUP_ID_MISMATCH', 'GROUP_VERSION_MISMATCH']);
  const g = v.findings.find((f) => f.code === 'GROUP_ID_MISMATCH')!;
  assert.equal(g.expected, 'g-999');
  assert.equal(g.actual, 'g-111');
});

test('a deployment ID mismatches only when one was observed', () => {
  const seen = judge({ observation: healthyObservation(), baseline: null, expectation: expectation({ greengrassDeploymentId: 'd-000' }) });
  assert.deepEqual(codes(seen), ['DEPLOYMENT_ID_MISMATCH']);
  const obs = healthyObservation();
  delete obs.runtimeLog.deploymentId;
  const unseen = judge({ observation: obs, baseline: null, expectation: expectation({ greengrassDeploymentId: 'd-000' }) });
  assert.equal(unseen.status, 'VERIFIED');
});

test('a failed deployment is never a match', () => {
  const obs = healthyObservation();
  obs.runtimeLog.deploymentFailed = { deploymentId: 'd-333', message: 'boom' };
  const v = judge({ observation: obs, baseline: null, expectation: expectation() });
  assert.equal(v.status, 'FAILED');
  assert.deepEqual(codes(v), ['DEPLOYMENT_FAILED']);
});

test('registration is checked against the expected system instance, either URN spelling', () => {
  const obs = healthyObservation();
  obs.thingsGraphLog.registered = [URN.replace(':deployment:', ':Deployment:')];
  assert.equal(judge({ observation: obs, baseline: null, expectation: expectation() }).status, 'VERIFIED');
  obs.thingsGraphLog.registered = ['urn:tdm:us-east-1/123456789012/default:deployment:Other_V001'];
  const v = judge({ observation: obs, baseline: null, expectation: expectation() });
  assert.deepEqual(codes(v), ['SYSTEM_INSTANCE_NOT_REGISTERED']);
  obs.thingsGraphLog.registered = [];
  assert.deepEqual(codes(judge({ observation: obs, baseline: null, expectation: null })), ['SYSTEM_INSTANCE_NOT_REGISTERED']);
});

test('missing group definition, runtime files and resources', () => {
  const obs = healthyObservation();
  obs.group = { state: 'missing', path: 'greengrass/ggc/deployment/group/group.json' };
  obs.runtimeFiles = { dir: true, db: false, engine: true };
  obs.flowResources = [];
  const v = judge({ observation: obs, baseline: null, expectation: expectation() });
  assert.deepEqual(codes(v), ['GROUP_DEFINITION_MISSING', 'RESOURCE_MISSING', 'RUNTIME_FILES_MISSING']);
  // Expected: the files present; found: which are missing (not the other way round).
  const rf = v.findings.find((f) => f.code === 'RUNTIME_FILES_MISSING')!;
  assert.deepEqual(rf.expected, { present: ['thingsgraph/', 'thingsgraph/ThingsGraph.db', 'thingsgraph/engine/'] });
  assert.deepEqual(rf.actual, { missing: ['thingsgraph/ThingsGraph.db'] });
  assert.match(rf.message, /missing: thingsgraph\/ThingsGraph\.db$/);
});

test('archive digests are compared with the envelope', () => {
  const v = judge({ observation: healthyObservation(), baseline: null, expectation: expectation({ resources: [{ name: 'flow-Door.tar.gz', sha256: 'b'.repeat(64) }] }) });
  assert.equal(v.status, 'MISMATCH');
  assert.deepEqual(codes(v), ['RESOURCE_DIGEST_MISMATCH']);
  const other = judge({ observation: healthyObservation(), baseline: null, expectation: expectation({ resources: [{ name: 'flow-Lamp.tar.gz', sha256: 'b'.repeat(64) }] }) });
  assert.deepEqual(codes(other), ['RESOURCE_MISSING']);
});

test('drift is judged only against the baseline of the observed group version', () => {
  const base: Baseline = {
    schemaVersion: 1, groupId: 'g-111', groupVersionId: 'v-222', createdAt: 'x', treeDigest: 't'.repeat(64),
    units: [unit('greengrass/ggc/deployment/group', { 'group.json': '0'.repeat(64), 'gone.txt': '2'.repeat(64) })],
  };
  const v = judge({ observation: healthyObservation(), baseline: base, expectation: null });
  assert.deepEqual(codes(v), ['ARTIFACT_MISSING', 'ARTIFACT_MODIFIED']);
  assert.equal(v.status, 'TAMPERED');
  const other = judge({ observation: healthyObservation(), baseline: { ...base, groupVersionId: 'v-old' }, expectation: null });
  assert.equal(other.status, 'VERIFIED');
});

test('status precedence: mismatch over failed over tampered over incomplete; warnings never fail', () => {
  const f = (c: Parameters<typeof finding>[0]) => finding(c, 'x');
  assert.equal(statusOf([f('ARTIFACT_MODIFIED'), f('DEPLOYMENT_FAILED'), f('GROUP_ID_MISMATCH')]), 'MISMATCH');
  assert.equal(statusOf([f('ARTIFACT_MODIFIED'), f('DEPLOYMENT_FAILED')]), 'FAILED');
  assert.equal(statusOf([f('ARTIFACT_MODIFIED'), f('FILE_UNREADABLE')]), 'TAMPERED');
  assert.equal(statusOf([f('FILE_UNREADABLE')]), 'INCOMPLETE');
  assert.equal(statusOf([f('WATCH_DEGRADED'), f('DISK_LOW'), f('FLOW_ERRORS')]), 'VERIFIED');
});
