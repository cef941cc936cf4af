// Seeded expectation fuzzing through `deploy-witness verify --expect` (a real
// process per case) and trap cores. The full run (2,000 expectations) is
// `npm run fuzz:expectations`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CHECKS, checksOfBase, clean, emptyExpectationTally, expectationCase, ExpectationFuzzWorker, fuzzExpectations, type Check,
} from '../lib/expectation-fuzz.js';

const CASES = 16;

/** The one error each trap core must show against the original envelope. */
const TRAP_FINDING: Record<Check, string> = {
  group: 'GROUP_ID_MISMATCH',
  version: 'GROUP_VERSION_MISMATCH',
  instance: 'SYSTEM_INSTANCE_NOT_REGISTERED',
  deployment: 'DEPLOYMENT_ID_MISMATCH',
  digest: 'RESOURCE_DIGEST_MISMATCH',
};

interface Report {
  status: string;
  findings: { code: string; severity: string }[];
}

let w: ExpectationFuzzWorker;
before(async () => {
  w = await ExpectationFuzzWorker.create();
});
after(async () => {
  await w.close();
});

describe('expectation fuzzing', () => {
  it('the generator is deterministic, covers every shape, and builds valid, broken and undecided cases', () => {
    const o = w.originals;
    assert.deepEqual(expectationCase(11, o), expectationCase(11, o));
    const cases = Array.from({ length: 400 }, (_, i) => expectationCase(i, o));
    const by = (k: 'intent' | 'base') => new Set(cases.map((c) => c[k]));
    assert.deepEqual([...by('intent')].sort(), ['any', 'invalid', 'valid']);
    assert.deepEqual([...by('base')].sort(), ['deploy', 'envelope', 'get', 'search', 'sequence']);
    assert.ok(cases.some((c) => c.relaxes.length > 0), 'some remove an optional check on purpose');
  });

  it('each trap core fails exactly one check of the original, and verifies against its own expectation', async () => {
    const original = Buffer.from(JSON.stringify(w.healthy.envelope));
    const healthy = JSON.parse((await w.verifyOn(w.healthy, original)).stdout) as Report;
    assert.equal(healthy.status, 'VERIFIED', JSON.stringify(healthy.findings));
    assert.deepEqual(checksOfBase('envelope'), [...CHECKS]);
    for (const check of CHECKS) {
      const trap = w.traps.get(check)!;
      const r = JSON.parse((await w.verifyOn(trap, original)).stdout) as Report;
      const errors = r.findings.filter((f) => f.severity === 'error').map((f) => f.code);
      assert.deepEqual(errors, [TRAP_FINDING[check]], `${check} trap`);
      // Its own expectation (the digest trap's archive was recompressed after the core was made).
      const own = structuredClone(trap.envelope) as { resources: { sha256: string }[] };
      own.resources[0]!.sha256 = createHash('sha256').update(await readFile(join(trap.root, trap.paths.archive))).digest('hex');
      const mine = JSON.parse((await w.verifyOn(trap, Buffer.from(JSON.stringify(own)))).stdout) as Report;
      assert.equal(mine.status, 'VERIFIED', `${check} trap, own expectation: ${JSON.stringify(mine.findings)}`);
    }
  });

  it('a deployment ID moved out of envelope.expectation is refused, not dropped', async () => {
    const env = structuredClone(w.healthy.envelope) as { expectation: Record<string, unknown> } & Record<string, unknown>;
    env.greengrassDeploymentId = env.expectation.greengrassDeploymentId;
    delete env.expectation.greengrassDeploymentId;
    const t = emptyExpectationTally();
    await w.run({ name: 'deployment ID beside the expectation', base: 'envelope', bytes: Buffer.from(JSON.stringify(env)), intent: 'any', relaxes: [] }, t);
    assert.equal(t.refused, 1, t.bad.join('\n'));
    assert.ok(clean(t), t.bad.join('\n'));
  });

  it('the oracle sees a check dropped: with the deployment ID removed but not declared, the deployment trap verifies', async () => {
    const env = structuredClone(w.healthy.envelope) as { expectation: Record<string, unknown> };
    delete env.expectation.greengrassDeploymentId;
    const t = emptyExpectationTally();
    // Declared as dropping nothing: the oracle must object.
    await w.run({ name: 'no deployment ID, undeclared', base: 'envelope', bytes: Buffer.from(JSON.stringify(env)), intent: 'any', relaxes: [] }, t);
    assert.equal(t.accepted, 1);
    assert.equal(t.parsedCheckDropped, 1);
    assert.equal(t.verifiedCheckDropped, 1);
    assert.equal(clean(t), false);
  });

  it(`${CASES} seeded expectations: no crash, no hang, no check dropped, nothing broken accepted, every valid one verified`, async () => {
    const t = await fuzzExpectations({ first: 1, n: CASES, workers: 2 });
    assert.equal(t.cases, CASES);
    assert.deepEqual(
      {
        crashes: t.crashes, hangs: t.hangs, silent: t.silentRefusals, verifiedCheckDropped: t.verifiedCheckDropped,
        parsedCheckDropped: t.parsedCheckDropped, agentCheckDropped: t.agentCheckDropped, brokenAccepted: t.brokenAccepted, agentBrokenAccepted: t.agentBrokenAccepted,
      },
      { crashes: 0, hangs: 0, silent: 0, verifiedCheckDropped: 0, parsedCheckDropped: 0, agentCheckDropped: 0, brokenAccepted: 0, agentBrokenAccepted: 0 },
      t.bad.join('\n'),
    );
    assert.ok(t.byIntent.valid > 0 && t.refused > 0 && t.trapRuns > 0, JSON.stringify(t));
    assert.equal(t.validVerified, t.byIntent.valid, t.bad.join('\n'));
  });
});
