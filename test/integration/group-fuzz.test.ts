// Seeded group.json fuzzing through `deploy-witness verify --json`, a real
// process per case. The full run (2,000 files) is `npm run fuzz:group`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyGroupTally, fuzzGroups, groupCase, GroupFuzzWorker } from '../lib/group-fuzz.js';

const CASES = 30;

test('the generator is deterministic and mostly broken', () => {
  assert.deepEqual(groupCase(3), groupCase(3));
  const cases = Array.from({ length: 200 }, (_, i) => groupCase(i));
  const broken = cases.filter((c) => c.broken).length;
  assert.ok(broken > 150 && broken < 200, `broken ${broken} of 200`);
});

test('GroupDefinitions null, with thingsgraph/ and the log gone, is not VERIFIED', async () => {
  const w = await GroupFuzzWorker.create();
  try {
    const t = emptyGroupTally();
    const doc = JSON.parse(groupCase(0).bytes.toString('utf8')) as Record<string, unknown>;
    doc.GroupDefinitions = null;
    // An odd length picks the core without thingsgraph/ and the Things Graph log.
    let text = JSON.stringify(doc);
    if (text.length % 2 === 0) text += ' ';
    await w.run({ name: 'GroupDefinitions null', bytes: Buffer.from(text), broken: true }, t);
    assert.deepEqual([t.crashes, t.hangs, t.verifiedBroken, t.brokenUnflagged], [0, 0, 0, 0], t.bad.join('\n'));
  } finally {
    await w.close();
  }
});

test(`${CASES} seeded group.json files: no crash, no hang, nothing broken verified, every valid one verified`, async () => {
  const t = await fuzzGroups({ first: 1, n: CASES, workers: 2 });
  assert.equal(t.cases, CASES);
  assert.deepEqual(
    { crashes: t.crashes, hangs: t.hangs, verifiedBroken: t.verifiedBroken, brokenUnflagged: t.brokenUnflagged },
    { crashes: 0, hangs: 0, verifiedBroken: 0, brokenUnflagged: 0 },
    t.bad.join('\n'),
  );
  assert.ok(t.valid > 0, 'some valid variants ran');
  assert.equal(t.validVerified, t.valid, t.bad.join('\n'));
});
