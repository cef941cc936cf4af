import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyInbound, fitReport, heartbeat, offlineHeartbeat, reportMessages, shadowSummary, topicsFor, MAX_SHADOW } from '../../src/report/protocol.js';
import { buildReport, type Report } from '../../src/verify/report.js';
import { finding } from '../../src/model/findings.js';
import { judge } from '../../src/verify/verdict.js';
import { healthyObservation, expectation } from '../lib/observation.js';

function report(findings = 0): Report {
  const obs = healthyObservation();
  for (let i = 0; i < findings; i++) {
    obs.findings.push(finding('ARTIFACT_ADDED', 'file appeared in a deployed folder', { path: `greengrass/ggc/deployment/lambda/x/${'deep/'.repeat(10)}file-${i}.bin`, actual: { sha256: 'f'.repeat(64), size: i, mode: 33188 } }));
  }
  const v = judge({ observation: obs, baseline: null, expectation: expectation() });
  return buildReport(obs, v, expectation(), {
    agentVersion: '1.0.0', thing: 'Pi-1', sequence: 7, now: new Date('2026-11-24T10:00:00Z'),
    baseline: { state: 'compared', createdAt: 'x', treeDigest: null },
  });
}

test('topics follow <prefix>/<thing>/..., and the named shadow', () => {
  assert.deepEqual(topicsFor('deploy-witness', 'Pi-1'), {
    expected: 'deploy-witness/Pi-1/expected',
    reportGet: 'deploy-witness/Pi-1/report/get',
    report: 'deploy-witness/Pi-1/report',
    reportPart: 'deploy-witness/Pi-1/report/part',
    heartbeat: 'deploy-witness/Pi-1/heartbeat',
    shadowUpdate: '$aws/things/Pi-1/shadow/name/deploy-witness/update',
  });
  assert.throws(() => topicsFor('p', 'a/b'), /cannot be used in a topic/);
  assert.throws(() => topicsFor('p', '#'), /cannot be used in a topic/);
});

test('a small report goes out whole: report (retained), then the shadow', () => {
  const msgs = reportMessages(report(), topicsFor('dw', 'Pi-1'));
  assert.deepEqual(msgs.map((m) => [m.topic, m.kind, m.qos, m.retain]), [
    ['dw/Pi-1/report', 'report', 1, true],
    ['$aws/things/Pi-1/shadow/name/deploy-witness/update', 'shadow', 1, false],
  ]);
  assert.equal(JSON.parse(msgs[0]!.payload).findingsTruncated, false);
});

test('findings that do not fit 128 KB follow as numbered parts, and nothing is lost', () => {
  const r = report(3000);
  assert.ok(Buffer.byteLength(JSON.stringify(r)) > 128 * 1024);
  const { report: main, parts } = fitReport(r);
  assert.ok(Buffer.byteLength(JSON.stringify(main)) <= 128 * 1024);
  assert.equal(main.findingsTruncated, true);
  assert.equal(main.counts.ARTIFACT_ADDED, 3000, 'counts still count them all');
  assert.ok(main.findings.length > 0 && main.findings.length < 3000);
  assert.ok(parts.length >= 2);
  parts.forEach((p, i) => {
    assert.equal(p.part, i + 1);
    assert.equal(p.of, parts.length);
    assert.equal(p.sequence, 7);
    assert.ok(Buffer.byteLength(JSON.stringify(p)) <= 128 * 1024);
  });
  const all = parts.flatMap((p) => p.findings);
  assert.deepEqual(all, r.findings);
  const msgs = reportMessages(r, topicsFor('dw', 'Pi-1'));
  assert.deepEqual(msgs.map((m) => m.kind), ['report', ...parts.map(() => 'part'), 'shadow']);
  assert.ok(msgs.filter((m) => m.kind === 'part').every((m) => m.retain === false));
});

test('the shadow summary stays under 8 KB and names status, IDs and digests', () => {
  const r = report(3000);
  r.health = { big: 'x'.repeat(20_000) };
  const s = shadowSummary(r);
  assert.ok(Buffer.byteLength(JSON.stringify(s)) <= MAX_SHADOW);
  assert.equal(s.state.reported.status, r.status);
  assert.equal(s.state.reported.groupId, 'g-111');
  assert.equal(s.state.reported.treeDigest, r.observed.treeDigest);
  assert.equal(s.state.reported.findings, 3000);
});

test('heartbeats: small, and the last will says offline', () => {
  const r = report();
  const h = heartbeat(r, 'Pi-1', new Date('2026-11-24T10:05:00Z'), { flow: 'running' });
  assert.deepEqual({ ...h, counts: undefined }, {
    schema: 'deploy-witness/heartbeat', schemaVersion: 1, thing: 'Pi-1', online: true, time: '2026-11-24T10:05:00.000Z',
    status: 'VERIFIED', sequence: 7, counts: undefined, health: { flow: 'running' },
  });
  assert.equal(offlineHeartbeat('Pi-1').online, false);
});

test('inbound: expectations, report requests with or without a request ID, anything else', () => {
  const t = topicsFor('dw', 'Pi-1');
  assert.deepEqual(classifyInbound(t.expected, Buffer.from('{"x":1}'), t), { kind: 'expected', text: '{"x":1}' });
  assert.deepEqual(classifyInbound(t.reportGet, Buffer.from('{"requestId":"r-1"}'), t), { kind: 'get', requestId: 'r-1' });
  assert.deepEqual(classifyInbound(t.reportGet, Buffer.from('not json'), t), { kind: 'get', requestId: null });
  assert.deepEqual(classifyInbound(t.reportGet, Buffer.from('{"requestId":5}'), t), { kind: 'get', requestId: null });
  assert.deepEqual(classifyInbound('dw/Other/expected', Buffer.from('{}'), t), { kind: 'unknown' });
});

test('inbound: an expectation that is not UTF-8 is refused before parsing, its request ID still echoed', () => {
  const t = topicsFor('dw', 'Pi-1');
  // A lossy decode would turn the bad byte into U+FFFD inside a string and parse.
  const bytes = Buffer.concat([Buffer.from('{"requestId":"r-9","expectation":{"summary":{"id":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}}')]);
  const m = classifyInbound(t.expected, bytes, t);
  assert.equal(m.kind, 'expected-unreadable');
  assert.ok(m.kind === 'expected-unreadable' && /not valid UTF-8 \(first bad byte at offset 52\)/.test(m.error), JSON.stringify(m));
  assert.equal(m.kind === 'expected-unreadable' && m.requestId, 'r-9');
  assert.deepEqual(classifyInbound(t.expected, Buffer.from('{"a":"é"}'), t), { kind: 'expected', text: '{"a":"é"}' });
});
