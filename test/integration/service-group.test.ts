// The agent listens on the expected topic of the group it observes, as a real
// process in direct mode against mosquitto with mutual TLS: an envelope sent
// to the group is answered on the thing's own report topic; when group.json
// names another group, the agent follows the new group and no longer takes
// what is sent to the former one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../../src/verify/report.js';
import { groupJson } from '../../scripts/simulated-core.js';
import { startMosquitto, type Broker, type Received } from '../lib/mosquitto.js';
import { canonicalSha256, directCore } from '../lib/agent-process.js';

const T = { timeout: 180_000 };
const WAIT = 60_000;
let broker: Broker;
let scratch: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-service-group-'));
  broker = await startMosquitto();
});

after(async () => {
  await broker?.stop();
  await rm(scratch, { recursive: true, force: true });
});

const json = <X>(m: Received): X => JSON.parse(m.payload) as X;

test('an envelope on the group topic is answered on the thing topic; a new group is followed, the former one dropped', T, async (t) => {
  const groupA = 'aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa';
  const groupB = 'bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb';
  const s = await directCore({ dir: join(scratch, 'g'), thing: 'GroupFollower', broker, spec: { ids: { groupId: groupA } } });
  t.after(() => s.stop());
  const sub = await broker.subscriber(`${s.base}/report`);
  t.after(() => sub.close());
  const agent = s.start();
  await agent.waitForLog((l) => l.message === 'following the group topic' && l.topic === `deploy-witness/groups/${groupA}/expected`, WAIT);
  await broker.subscribed(`deploy-witness/groups/${groupA}/expected`, 'GroupFollower-deploy-witness', WAIT);

  const envelope = { ...(s.core.envelope as { expectation: { summary: Record<string, unknown> } }), requestId: 'by-group-1' };
  await broker.publish(`deploy-witness/groups/${groupA}/expected`, JSON.stringify(envelope));
  const answer = json<Report>(await sub.waitFor((m) => json<Report>(m).requestId === 'by-group-1', WAIT));
  assert.equal(answer.thing, 'GroupFollower');
  assert.equal(answer.status, 'VERIFIED');
  assert.equal(answer.expectation?.sha256, canonicalSha256(envelope));
  assert.match(await readFile(join(s.stateDir, 'expectation.json'), 'utf8'), /by-group-1/, 'adopted and kept, like one sent to the thing');

  // The core joins another group (a v1 core is re-provisioned): the agent follows it.
  const ids = { ...s.core.ids, groupId: groupB };
  await writeFile(join(s.core.root, s.core.paths.groupJson), JSON.stringify(groupJson(ids, 'api', `flow-${ids.flowName}.tar.gz`), null, 2));
  await agent.waitForLog((l) => l.message === 'following the group topic' && l.topic === `deploy-witness/groups/${groupB}/expected`, WAIT);
  await broker.subscribed(`deploy-witness/groups/${groupB}/expected`, 'GroupFollower-deploy-witness', WAIT);

  // What goes to the former group is not taken (garbage would be answered with EXPECTATION_INVALID), what goes to
  // the new one is. One publisher, in order: had the first been taken, it would have been logged before the answer.
  await broker.publish(`deploy-witness/groups/${groupA}/expected`, 'garbage for the former group');
  const forB = { ...envelope, requestId: 'by-group-2', expectation: { ...envelope.expectation, summary: { ...envelope.expectation.summary, greengrassGroupId: groupB } } };
  await broker.publish(`deploy-witness/groups/${groupB}/expected`, JSON.stringify(forB));
  const second = json<Report>(await sub.waitFor((m) => json<Report>(m).requestId === 'by-group-2', WAIT));
  assert.equal(second.observed.groupId, groupB);
  assert.equal(second.expectation?.greengrassGroupId, groupB);
  assert.equal(agent.logs.filter((l) => l.message === 'expectation rejected').length, 0, agent.dump());
});
