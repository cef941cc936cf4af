// The pure parts of check: the plan, which reports count as answers, rows and
// exit codes, fleet consistency, rendering, and the paced exchange on a fake
// clock. Device reports are made by the agent's own code (sim-device.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeployResponses, type DeviceDeployment } from '../../src/verify/deploy-response.js';
import { parseExpectation } from '../../src/verify/expectation.js';
import { canonicalJson, sha256Hex } from '../../src/verify/canonical.js';
import { reportMessages, topicsFor } from '../../src/report/protocol.js';
import type { Report } from '../../src/verify/report.js';
import { planCheck, PlanError, type ThingsGraphPlan } from '../../src/check/plan.js';
import { CheckSession } from '../../src/check/session.js';
import { buildRows as buildAnyRows, outcomeOf, EXIT_CODES, type Row } from '../../src/check/rows.js';
import { fleetConsistency, folderKey } from '../../src/check/consistency.js';
import { checkDocument } from '../../src/check/document.js';
import { clean, renderTable } from '../../src/check/render-table.js';
import { renderHtml } from '../../src/check/render-html.js';
import { Exchange, type Clock } from '../../src/check/exchange.js';
import { readAnswer } from '../../src/check/answer.js';
import { answerTo, defaultUnits, reportOf, type SimDevice } from '../lib/sim-device.js';

/** Rows of a Things Graph check. */
const buildRows = (s: Parameters<typeof buildAnyRows>[0], now: number): Row[] => buildAnyRows(s, now) as Row[];

const PREFIX = 'deploy-witness';

function deployment(n: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    summary: {
      id: `urn:tdm:us-east-1/123456789012/default:deployment:Door_G${n}`,
      status: 'DEPLOYED_IN_TARGET',
      target: 'GREENGRASS',
      greengrassGroupName: `Group${n}`,
      createdAt: '2026-11-20T10:00:00Z',
      updatedAt: '2026-11-20T10:05:00Z',
      greengrassGroupId: `g-${n}`,
      greengrassGroupVersionId: `v-${n}`,
      ...over,
    },
    greengrassDeploymentId: `d-${n}`,
  };
}

function deployments(...docs: Record<string, unknown>[]): DeviceDeployment[] {
  return parseDeployResponses(docs.map((d) => JSON.stringify(d)).join('\n')).deployments;
}

/** The device that runs deployment n as deployed. */
function device(n: number, over: Partial<SimDevice> = {}): SimDevice {
  return {
    thing: `Core${n}`, groupId: `g-${n}`, groupVersionId: `v-${n}`, deploymentId: `d-${n}`,
    systemInstanceId: `urn:tdm:us-east-1/123456789012/default:deployment:Door_G${n}`, ...over,
  };
}

let ids = 0;
const newRequestId = () => `req-${++ids}`;

function plan(ds: DeviceDeployment[], things: string[] = []): ThingsGraphPlan {
  return planCheck({ prefix: PREFIX, deployments: ds, things, newRequestId });
}

/** The report message as the agent's protocol code publishes it. */
function published(r: Report): { topic: string; payload: string } {
  const m = reportMessages(r, topicsFor(PREFIX, r.thing!)).find((x) => x.kind === 'report')!;
  return { topic: m.topic, payload: m.payload };
}

function feed(s: CheckSession, r: Report) {
  const m = published(r);
  return s.onMessage(m.topic, m.payload);
}

test('plan: one envelope per deployment, a fresh request ID in each, sent to the group topic; the answer digest is that of its canonical JSON', () => {
  const p = plan(deployments(deployment(1), deployment(2)));
  assert.equal(p.mode, 'group');
  assert.equal(p.reportFilter, 'deploy-witness/+/report');
  assert.deepEqual(p.targets.map((t) => t.groupTopic), ['deploy-witness/groups/g-1/expected', 'deploy-witness/groups/g-2/expected']);
  const t = p.targets[0]!;
  assert.notEqual(t.requestId, p.targets[1]!.requestId);
  assert.equal(t.sha256, sha256Hex(canonicalJson(JSON.parse(t.payload))));
  // What the device parses from it is the deployment, and it names the same digest.
  const parsed = parseExpectation(t.payload);
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.equal(parsed.expectation.sha256, t.sha256);
  assert.equal(parsed.expectation.requestId, t.requestId);
  assert.equal(parsed.expectation.greengrassGroupVersionId, 'v-1');
  assert.equal(parsed.expectation.greengrassDeploymentId, 'd-1');
  assert.equal(parsed.expectation.updatedAt, '2026-11-20T10:05:00.000Z');
});

test('plan: --resource-file digests go to every deployment, or to the one named; unknown IDs and two digests for one name are refused', () => {
  const ds = deployments(deployment(1), deployment(2));
  const all = { name: 'flow-Door.tar.gz', sha256: 'b'.repeat(64) };
  const only2 = { name: 'flow-Extra.tar.gz', sha256: 'c'.repeat(64), systemInstanceId: 'urn:tdm:us-east-1/123456789012/default:Deployment:Door_G2' };
  const p = planCheck({ prefix: PREFIX, deployments: ds, resources: [all, only2], newRequestId });
  assert.deepEqual(p.targets[0]!.envelope.resources, [all]);
  assert.deepEqual(p.targets[1]!.envelope.resources, [all, { name: only2.name, sha256: only2.sha256 }]);
  assert.throws(() => planCheck({ prefix: PREFIX, deployments: ds, resources: [{ ...only2, systemInstanceId: 'urn:tdm:x/1/default:deployment:Nope' }], newRequestId }), PlanError);
  assert.throws(() => planCheck({ prefix: PREFIX, deployments: ds, resources: [all, { ...all, sha256: 'd'.repeat(64) }], newRequestId }), /two --resource-file digests/);
  assert.throws(() => plan(ds, ['bad/thing']), /cannot be used in a topic/);
});

test('found by group: only a report judged by the envelope sent counts, from the thing in its topic, observing the deployment\'s group', () => {
  const p = plan(deployments(deployment(1)));
  const s = new CheckSession(p, { firstAnswer: false, newRequestId });
  const t = p.targets[0]!;
  assert.deepEqual(s.pending().map((m) => [m.topic, m.payload]), [[t.groupTopic, t.payload]]);
  const d = device(1);

  // A report from before (retained, spooled), judged by another envelope for the same deployment: not an answer.
  const older = planCheck({ prefix: PREFIX, deployments: deployments(deployment(1)), newRequestId }).targets[0]!;
  assert.equal(feed(s, answerTo(d, older.payload, { sequence: 5 })).changed, false);
  // An unsolicited report (no expectation): not an answer.
  assert.equal(feed(s, reportOf(d, null, { sequence: 6 })).changed, false);
  // An impostor: the right answer, published on another thing's topic.
  const forged = answerTo(d, t.payload, { sequence: 7 });
  assert.equal(s.onMessage('deploy-witness/Core9/report', published(forged).payload).changed, false);
  // A device of another group cannot answer for this one.
  assert.equal(feed(s, answerTo(device(2, { thing: 'Other' }), t.payload, { sequence: 1 })).changed, false);
  assert.deepEqual(s.stats, { ignored: 2, impostors: 1, foreignGroup: 1 });
  assert.equal(outcomeOf(buildRows(s, Date.now())), 'silent');

  assert.equal(feed(s, answerTo(d, t.payload, { sequence: 8 })).changed, true);
  assert.deepEqual(s.pending(), [], 'nothing more is sent to a group that answered');
  const rows = buildRows(s, Date.now());
  assert.deepEqual(rows.map((r) => [r.thing, r.verdict, r.seen?.groupVersionId, r.systemInstanceRegistered]), [['Core1', 'VERIFIED', 'v-1', true]]);
  assert.equal(s.done(), true);
  assert.equal(outcomeOf(rows), 'confirmed');
});

test('a device that says MISMATCH first and VERIFIED once its deployment lands ends VERIFIED; --first-answer takes the first word', () => {
  for (const firstAnswer of [false, true]) {
    const p = plan(deployments(deployment(1)));
    const s = new CheckSession(p, { firstAnswer, newRequestId });
    const t = p.targets[0]!;
    const before = device(1, { groupVersionId: 'v-0' });
    feed(s, answerTo(before, t.payload, { sequence: 10 }));
    assert.equal(s.done(), firstAnswer);
    if (!firstAnswer) {
      // The device judges by the envelope it adopted: its next report is its newer word, even without the request ID.
      feed(s, reportOf(device(1), parseExpectationOk(t.payload), { sequence: 11 }));
      // A resent older report does not take it back.
      feed(s, answerTo(before, t.payload, { sequence: 10 }));
    }
    const rows = buildRows(s, Date.now());
    assert.equal(rows[0]!.verdict, firstAnswer ? 'MISMATCH' : 'VERIFIED');
    assert.equal(EXIT_CODES[outcomeOf(rows)], firstAnswer ? 1 : 0);
  }
});

function parseExpectationOk(text: string) {
  const r = parseExpectation(text);
  if (!r.ok) throw new Error(r.error);
  return r.expectation;
}

test('rows and exit codes: a bad answer wins over silence; two devices for one group are both shown and the group is not confirmed', () => {
  const p = plan(deployments(deployment(1), deployment(2), deployment(3), deployment(4)));
  const s = new CheckSession(p, { firstAnswer: false, newRequestId });
  const [t1, t2, t3] = p.targets;
  feed(s, answerTo(device(1), t1!.payload, { sequence: 1 }));
  feed(s, answerTo(device(2, { groupVersionId: 'v-other' }), t2!.payload, { sequence: 1 }));
  feed(s, answerTo(device(3, { tampered: true }), t3!.payload, { sequence: 1 }));
  let rows = buildRows(s, Date.now());
  assert.deepEqual(rows.map((r) => [r.thing, r.groupName, r.verdict]), [
    ['Core1', 'Group1', 'VERIFIED'], ['Core2', 'Group2', 'MISMATCH'], ['Core3', 'Group3', 'TAMPERED'], [null, 'Group4', 'NO ANSWER'],
  ]);
  assert.equal(outcomeOf(rows), 'refuted');
  assert.equal(rows[1]!.findings[0]!.code, 'GROUP_VERSION_MISMATCH');
  assert.match(rows[3]!.note!, /is the agent running/);

  const silentOnly = new CheckSession(plan(deployments(deployment(1), deployment(4))), { firstAnswer: false, newRequestId });
  feed(silentOnly, answerTo(device(1), silentOnly.plan.targets[0]!.payload, { sequence: 1 }));
  assert.equal(EXIT_CODES[outcomeOf(buildRows(silentOnly, Date.now()))], 3);

  const shared = new CheckSession(plan(deployments(deployment(1))), { firstAnswer: false, newRequestId });
  const t = shared.plan.targets[0]!;
  feed(shared, answerTo(device(1), t.payload, { sequence: 1 }));
  feed(shared, answerTo(device(1, { thing: 'Twin' }), t.payload, { sequence: 1 }));
  rows = buildRows(shared, Date.now());
  assert.deepEqual(rows.map((r) => [r.thing, r.verdict, r.sharedGroup]), [['Core1', 'VERIFIED', true], ['Twin', 'VERIFIED', true]]);
  assert.equal(outcomeOf(rows), 'refuted');
  assert.match(rows[0]!.note!, /2 devices answered for group g-1/);
});

test('a device that refuses the expectation (EXPECTATION_INVALID echoing the request) is REFUSED, exit 1', () => {
  const p = plan(deployments(deployment(1)));
  const s = new CheckSession(p, { firstAnswer: false, newRequestId });
  const t = p.targets[0]!;
  // The device's parser refuses what it got: here a mangled copy that still carries the request ID.
  const mangled = JSON.stringify({ ...t.envelope, expectation: { summary: { ...t.envelope.expectation.summary, greengrassGroupVersionId: '' } } });
  const refusal = answerTo(device(1), mangled, { sequence: 3 });
  assert.equal(refusal.requestId, t.requestId);
  assert.equal(feed(s, refusal).changed, true);
  assert.equal(s.done(), true, 'a refusal is final');
  const rows = buildRows(s, Date.now());
  assert.equal(rows[0]!.verdict, 'REFUSED');
  assert.match(rows[0]!.note!, /could not use the expectation sent: .*greengrassGroupVersionId is empty/);
  assert.equal(EXIT_CODES[outcomeOf(rows)], 1);
});

test('named with --thing: one deployment goes to every thing; with several, each thing says its group first (report/get)', () => {
  const one = new CheckSession(plan(deployments(deployment(1)), ['Core1', 'Core2']), { firstAnswer: false, newRequestId });
  assert.deepEqual(one.pending().map((m) => m.topic), ['deploy-witness/Core1/expected', 'deploy-witness/Core2/expected']);
  const t = one.plan.targets[0]!;
  feed(one, answerTo(device(1), t.payload, { sequence: 1 }));
  // Core2 runs another group: named, so its answer counts, and it says so.
  feed(one, answerTo(device(2), t.payload, { sequence: 1 }));
  assert.deepEqual(buildRows(one, Date.now()).map((r) => [r.thing, r.verdict, r.findings[0]?.code]), [
    ['Core1', 'VERIFIED', undefined], ['Core2', 'MISMATCH', 'GROUP_ID_MISMATCH'],
  ]);

  const several = new CheckSession(plan(deployments(deployment(1), deployment(2)), ['Core2', 'Core7', 'Core8']), { firstAnswer: false, newRequestId });
  const probes = several.pending();
  assert.deepEqual(probes.map((m) => [m.topic, m.kind]), [
    ['deploy-witness/Core2/report/get', 'probe'], ['deploy-witness/Core7/report/get', 'probe'], ['deploy-witness/Core8/report/get', 'probe'],
  ]);
  const probeId = (JSON.parse(probes[0]!.payload) as { requestId: string }).requestId;
  // Not the probe's answer (a retained report): nothing learnt.
  assert.equal(feed(several, reportOf(device(2), null, { sequence: 1 })).send.length, 0);
  const r = feed(several, reportOf(device(2), null, { sequence: 2, requestId: probeId }));
  const t2 = several.plan.targets[1]!;
  assert.deepEqual(r.send, [{ topic: 'deploy-witness/Core2/expected', payload: t2.payload, kind: 'expectation', ref: 'e:Core2' }]);
  const probe7 = (JSON.parse(probes[1]!.payload) as { requestId: string }).requestId;
  feed(several, reportOf(device(9, { thing: 'Core7' }), null, { sequence: 1, requestId: probe7 }));
  feed(several, answerTo(device(2), t2.payload, { sequence: 3 }));
  assert.deepEqual(several.pending().map((m) => m.topic), ['deploy-witness/Core8/report/get']);
  assert.deepEqual(buildRows(several, Date.now()).map((x) => [x.thing, x.verdict, x.groupId]), [
    ['Core2', 'VERIFIED', 'g-2'], ['Core7', 'OTHER GROUP', 'g-9'], ['Core8', 'NO ANSWER', null],
  ]);
});

test('reports that are not reports are ignored, never thrown on', () => {
  const s = new CheckSession(plan(deployments(deployment(1))), { firstAnswer: false, newRequestId });
  for (const p of ['', 'null', '{', '[]', '{"schema":"other"}', JSON.stringify({ schema: 'deploy-witness/report', thing: 'Core1', status: 'GREAT' })]) {
    assert.deepEqual(s.onMessage('deploy-witness/Core1/report', p), { changed: false, send: [] });
  }
  assert.equal(s.onMessage('deploy-witness/a/b/report', '{}').changed, false);
  assert.equal(readAnswer('{"schema":"deploy-witness/report","thing":"x","status":"VERIFIED","findings":"no"}')?.findingCount, 0);
});

test('fleet consistency: devices of one flow whose folders differ from the majority are listed with the folders', () => {
  const members = [1, 2, 3, 4].map((n) => {
    // Each group has its own resource ID and the fourth core another account: compared by what they are.
    const resourceId = n === 2 ? '00000000-1111-4222-8333-444444444444' : undefined;
    const units = defaultUnits(String(n), resourceId); // the group folder differs on every core: left out
    if (n === 4) units[1] = { path: units[1]!.path.replace('123456789012', '999999999999').replace('us-east-1', 'eu-west-1'), digest: '1'.repeat(64) };
    if (n === 3) units[3] = { path: 'thingsgraph/engine', digest: 'f'.repeat(64) };
    if (n === 3) units.push({ path: 'greengrass/ggc/deployment/lambda/extra', digest: 'e'.repeat(64) });
    const d = device(n, { units, archiveSha256: 'a'.repeat(64), ...(resourceId ? { resourceId } : {}) });
    return { thing: d.thing, systemInstanceId: d.systemInstanceId, answer: readAnswer(JSON.stringify(reportOf(d, null, { sequence: 1 })))! };
  });
  const unrelated = device(5, { archiveSha256: 'b'.repeat(64), systemInstanceId: 'urn:tdm:us-east-1/1/default:deployment:Other' });
  const cohorts = fleetConsistency([...members, { thing: unrelated.thing, systemInstanceId: unrelated.systemInstanceId, answer: readAnswer(JSON.stringify(reportOf(unrelated, null, { sequence: 1 })))! }]);
  assert.equal(cohorts.length, 1, 'a device alone with its flow has nothing to compare with');
  assert.deepEqual(cohorts[0]!.devices, ['Core1', 'Core2', 'Core3', 'Core4']);
  assert.deepEqual(cohorts[0]!.outliers, [{
    thing: 'Core3',
    folders: [
      { folder: 'greengrass/ggc/deployment/lambda/extra', digest: 'e'.repeat(64), majority: null },
      { folder: 'thingsgraph/engine', digest: 'f'.repeat(64), majority: '3'.repeat(64) },
    ],
  }]);
  assert.equal(folderKey('greengrass/ggc/deployment/mlmodel/3c0f1e2d-4b5a-4978-8e6d-5c4b3a291807', [{ name: 'flow-Door.tar.gz', path: 'greengrass/ggc/deployment/mlmodel/3c0f1e2d-4b5a-4978-8e6d-5c4b3a291807/flow-Door.tar.gz' }]),
    'greengrass/ggc/deployment/mlmodel/* (flow-Door.tar.gz)');
  assert.equal(members[1]!.answer.observed.archives[0]!.name, 'flow-Door', 'a report names the resource without its extension');
  // Two devices that differ: no majority, so no outlier, and the folder is named.
  const two = fleetConsistency(members.slice(1, 3));
  assert.deepEqual(two[0]!.outliers, []);
  assert.deepEqual(two[0]!.split, ['greengrass/ggc/deployment/lambda/extra', 'thingsgraph/engine']);
});

test('the table and the page: one row per device, device text cleaned of control characters and escaped in HTML', () => {
  const p = plan(deployments(deployment(1), deployment(2)));
  const s = new CheckSession(p, { firstAnswer: false, newRequestId });
  const evil = device(1, { thing: 'Core1', deploymentId: '<script>alert(1)</script>\u001b[2J' });
  feed(s, answerTo(evil, p.targets[0]!.payload, { sequence: 1 }));
  const doc = checkDocument({
    session: s, skipped: [], notes: [], startedAt: new Date(0), finishedAt: new Date(), firstAnswer: false, timeoutSeconds: 5, version: 'test',
  });
  assert.equal(doc.exitCode, 1);
  const text = renderTable(doc);
  assert.doesNotMatch(text, /\u001b/);
  const lines = text.split('\n');
  assert.match(lines[0]!, /^THING\s+GROUP\s+VERDICT\s+CLOUD STATUS\s+GROUP VERSION\s+DEPLOYMENT\s+INSTANCE\s+FLOW\s+AGE\s+FINDINGS$/);
  assert.match(lines[1]!, /^Core1\s+Group1\s+MISMATCH\s+DEPLOYED_IN_TARGET\s+v-1\s+<script>alert\(1…\s+\(want d-1\)\s+registered/);
  assert.match(lines[2]!, /^-\s+Group2\s+NO ANSWER\s+DEPLOYED_IN_TARGET\s+-\s+-\s+-\s+-\s+-$/);
  assert.match(text, /DEPLOYMENT_ID_MISMATCH: the newest deployment on the core is another one/);
  assert.match(text.trimEnd().split('\n').at(-1)!, /^not confirmed: 1 device\(s\) answered something other than VERIFIED, 1 did not answer/);
  assert.equal(clean('a\u0007b\u009bc'), 'a?b?c');

  const html = renderHtml(doc);
  assert.doesNotMatch(html, /<script/i);
  assert.match(html, /&lt;script&gt;alert\(1/);
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/);
  assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//i, 'no fetches');
  assert.match(html, /data-thing="Core1" data-verdict="MISMATCH"/);
});

/** A clock whose time moves only when told; timers fire in order. */
function fakeClock(): Clock & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const next = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = end;
    },
    pending: () => timers.size,
  };
}

test('the exchange: paced under the per-connection limit, resent only to the silent, done early or at the deadline, three timers at most', async () => {
  const n = 250;
  const docs = Array.from({ length: n }, (_, i) => deployment(i + 1));
  const p = plan(deployments(...docs));
  const s = new CheckSession(p, { firstAnswer: false, newRequestId });
  const clock = fakeClock();
  const sent: { at: number; topic: string }[] = [];
  const ex = new Exchange({
    session: s, clock, timeoutMs: 60_000, publishRate: 80,
    link: { publish: async (topic) => void sent.push({ at: clock.now(), topic }) },
  });
  const result = ex.run();
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  for (let ms = 0; ms < 4_000; ms += 10) {
    clock.advance(10);
    await settle();
    assert.ok(clock.pending() <= 3, `${clock.pending()} timers`);
  }
  // No one-second window holds more than 100 publishes (AWS IoT Core's limit per connection).
  for (const a of sent) assert.ok(sent.filter((b) => b.at >= a.at && b.at < a.at + 1000).length <= 90);
  const firstRound = sent.length;
  assert.ok(firstRound >= 250 && firstRound <= 330, `${firstRound} sent in 4 s`);
  // Every device but the last answers; the resends go only to it.
  for (const t of p.targets.slice(0, -1)) {
    const m = published(answerTo(device(t.index + 1), t.payload, { sequence: 1 }));
    ex.deliver(m.topic, m.payload);
  }
  sent.length = 0;
  for (let ms = 0; ms < 20_000; ms += 100) {
    clock.advance(100);
    await settle();
  }
  assert.ok(sent.length >= 1);
  assert.deepEqual([...new Set(sent.map((m) => m.topic))], [p.targets.at(-1)!.groupTopic]);
  const last = p.targets.at(-1)!;
  const m = published(answerTo(device(n), last.payload, { sequence: 1 }));
  ex.deliver(m.topic, m.payload);
  const r = await result;
  assert.equal(r.complete, true);
  assert.equal(clock.pending(), 0, 'no timer left behind');

  // Nobody answers: the deadline ends it.
  const s2 = new CheckSession(plan(deployments(deployment(1))), { firstAnswer: false, newRequestId });
  const c2 = fakeClock();
  const ex2 = new Exchange({ session: s2, clock: c2, timeoutMs: 5_000, link: { publish: async () => {} } });
  const r2 = ex2.run();
  c2.advance(5_000);
  assert.deepEqual({ ...(await r2), published: 0 }, { complete: false, published: 0, publishFailures: 0, rounds: 2 });
  assert.equal(c2.pending(), 0);
});

test('the cloud\'s status beside the device\'s word: in progress means wait for the device, even with --first-answer', () => {
  const p = plan(deployments(deployment(1, { status: 'DEPLOY_IN_PROGRESS' }), deployment(2, { status: 'FAILED' })));
  const s = new CheckSession(p, { firstAnswer: true, newRequestId });
  feed(s, answerTo(device(1, { groupVersionId: 'v-0' }), p.targets[0]!.payload, { sequence: 1 }));
  feed(s, answerTo(device(2), p.targets[1]!.payload, { sequence: 1 }));
  assert.equal(s.done(), false, 'the deployment is still on its way to Core1');
  const rows = buildRows(s, Date.now());
  assert.deepEqual(rows.map((r) => [r.verdict, r.cloudStatus]), [['MISMATCH', 'DEPLOY_IN_PROGRESS'], ['VERIFIED', 'FAILED']]);
  assert.match(rows[0]!.note!, /the cloud says DEPLOY_IN_PROGRESS: the deployment may not have reached the device yet/);
  assert.equal(rows[1]!.note, 'the device says VERIFIED though the cloud says FAILED');
  assert.equal(outcomeOf(rows), 'refuted', 'the device\'s word decides');
  feed(s, reportOf(device(1), parseExpectationOk(p.targets[0]!.payload), { sequence: 2 }));
  assert.equal(s.done(), true);
});
