// Every error a verdict can carry comes with a line saying what to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FINDING_CODES, type FindingCode } from '../../src/model/findings.js';
import { HINTS, hintFor } from '../../src/cli/hints.js';

const codes = Object.keys(FINDING_CODES) as FindingCode[];

test('hints: one per error code in src/model/findings.ts, none for warnings', () => {
  const errors = codes.filter((c) => FINDING_CODES[c].severity === 'error');
  assert.ok(errors.length > 10);
  assert.deepEqual(Object.keys(HINTS).sort(), [...errors].sort());
  for (const c of errors) {
    const h = hintFor(c, { baseline: '/s/baselines/g/v.json' });
    assert.ok(h !== null && h.length > 20 && !h.includes('\n'), `${c}: ${h}`);
    assert.ok(h.length <= 200, `${c}: a short line, ${h.length} characters`);
    assert.doesNotMatch(h, /\{baseline\}/, c);
  }
  for (const c of codes.filter((x) => FINDING_CODES[x].severity === 'warning')) assert.equal(hintFor(c, { baseline: 'x' }), null, c);
});

test('hints: drift hints say how to lay down a fresh baseline, with its file', () => {
  for (const c of ['ARTIFACT_MODIFIED', 'ARTIFACT_MISSING', 'ARTIFACT_ADDED'] as const) {
    assert.match(hintFor(c, { baseline: '/s/baselines/g/v.json' })!, /fresh baseline: delete \/s\/baselines\/g\/v\.json and run verify again/);
  }
  assert.match(hintFor('DEPLOYMENT_FAILED', { baseline: '' })!, /runtime\.log/);
  assert.match(hintFor('SYSTEM_INSTANCE_NOT_REGISTERED', { baseline: '' })!, /ThingsGraph\.log/);
});
