// Differential test against GNU tar and node-tar: every archive deploy-witness
// accepts must list and unpack the same under GNU tar and node-tar's `tar.t`,
// and every archive it refuses or that either reads differently must not
// verify on a core. The full run (thousands
// of seeds) is `npm run fuzz:archives`; this is its seeded CI share.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tar from 'tar';
import { inspectArchive } from '../../src/observe/archive.js';
import { addOutcome, ArchiveDifferential, emptyTally, type Tally } from '../lib/archive-differential.js';
import { namedCases, randomCase } from '../lib/evil-tar-gen.js';
import { prng } from '../lib/seeded.js';
import { accepted, gnuDifference, gnuTarView, parseListing, parseToCommand, unquoteC } from '../lib/gnu-tar.js';
import { nodeTarDifference, nodeTarView } from '../lib/node-tar-view.js';

const RANDOM_CASES = 250;
const FIRST_SEED = 20_000;
const VERIFY_EVERY = 10;

let diff: ArchiveDifferential;
let tmp: string;
before(async () => {
  diff = await ArchiveDifferential.create();
  tmp = await mkdtemp(join(tmpdir(), 'dw-writers-'));
});
after(async () => {
  await diff.close();
  await rm(tmp, { recursive: true, force: true });
});

const show = (t: Tally) => JSON.stringify(t.bad.slice(0, 5), null, 1);

describe('GNU tar view helpers', () => {
  it('decode C-quoted names and to-command records', () => {
    assert.equal(unquoteC('"a\\nb\\\\c\\"d\\303\\251"')?.toString('utf8'), 'a\nb\\c"d\u00e9');
    assert.equal(unquoteC('"unterminated'), null);
    assert.deepEqual(parseListing('-rw-r--r-- 0/0               5 2023-11-14 22:13 "flow/a b"\ndrwxr-xr-x 0/0 0 2023-11-14 22:13 "flow/"\n'), [
      { type: '-', path: 'flow/a b' },
      { type: 'd', path: 'flow/' },
    ]);
    const rec = Buffer.from(`F\0f\0flow/x\n\0${'a'.repeat(64)}  -\n`);
    assert.deepEqual(parseToCommand(rec), [{ type: 'f', path: 'flow/x\n', sha256: 'a'.repeat(64) }]);
    assert.equal(parseToCommand(Buffer.from('garbage')), null);
  });
  it('the generator is deterministic per seed', () => {
    assert.deepEqual(randomCase(7), randomCase(7));
    assert.notDeepEqual(randomCase(7).gz, randomCase(8).gz);
    assert.equal(prng(1)(), prng(1)());
  });
});

describe('archives real writers make are accepted and read as GNU tar reads them', () => {
  it('GNU tar in every format, and node-tar', async () => {
    const src = join(tmp, 'src');
    const long = `flow-w/${'d'.repeat(110)}/${'\u00e9'.repeat(40)}.json`;
    await mkdir(join(src, long, '..'), { recursive: true });
    await mkdir(join(src, 'flow-w', 'empty-dir'), { recursive: true });
    await writeFile(join(src, long), '{"deep":true}\n');
    await writeFile(join(src, 'flow-w', 'manifest.json'), '{"format":"thingsgraph-deployment"}\n');
    await writeFile(join(src, 'flow-w', 'empty'), '');
    await writeFile(join(src, 'flow-w', 'big.bin'), randomBytes(200_000));
    const made: [string, string][] = [];
    for (const format of ['gnu', 'oldgnu', 'posix', 'pax']) {
      const file = join(tmp, `gnu-${format}.tar.gz`);
      execFileSync('tar', [`--format=${format}`, '-czf', file, '-C', src, 'flow-w']);
      made.push([`GNU tar --format=${format}`, file]);
    }
    for (const format of ['ustar', 'v7']) {
      // Short names only: these formats cannot hold the long one.
      const file = join(tmp, `gnu-${format}.tar.gz`);
      execFileSync('tar', [`--format=${format}`, '-czf', file, '-C', src, 'flow-w/manifest.json', 'flow-w/empty', 'flow-w/empty-dir']);
      made.push([`GNU tar --format=${format}`, file]);
    }
    for (const portable of [true, false]) {
      const file = join(tmp, `node-tar-${portable}.tar.gz`);
      await tar.c({ gzip: true, file, cwd: src, portable }, ['flow-w']);
      made.push([`node-tar portable=${portable}`, file]);
    }
    for (const [who, file] of made) {
      const ours = await inspectArchive(file, 'flow-w.tar.gz');
      assert.deepEqual(ours.findings, [], who);
      assert.ok(accepted(ours), who);
      assert.equal(gnuDifference(ours, await gnuTarView(file, tmp)), null, who);
      assert.equal(nodeTarDifference(ours, nodeTarView(file)), null, who);
      assert.ok(ours.entries.some((e) => e.type === 'file' && e.sha256), who);
    }
  });
});

describe('differential against GNU tar and node-tar', () => {
  const ACCEPTED = new Set(['clean ustar', 'clean pax long name', 'clean GNU long name', 'clean prefix', 'clean odd names', 'gzip trailing zeros', 'gzip two members']);
  /** Read alike by GNU tar and our reader: refused only because node-tar reads them otherwise. */
  const NODE_TAR_ONLY = new Set(['checksum of eight digits', 'prefix tail with a newline', 'pax comment smuggles a path', 'pax comment smuggles a size']);

  it('every named hazard is refused and none verifies; the clean ones are read alike and verify', async () => {
    const t = emptyTally();
    for (const c of namedCases()) {
      const o = await diff.check(c, { verify: true });
      addOutcome(t, o);
      assert.equal(o.accepted, ACCEPTED.has(c.name), `${c.name}: ${o.codes.join(',')} ${o.difference ?? ''}`);
      assert.equal(o.nodeTarOnly, NODE_TAR_ONLY.has(c.name), `${c.name}: ${o.codes.join(',')}`);
      if (NODE_TAR_ONLY.has(c.name)) {
        assert.equal(o.difference, null, `${c.name}: GNU tar reads it as our reader does`);
        assert.notEqual(o.nodeTarDifference, null, `${c.name}: node-tar's own tar.t reads it otherwise too`);
      }
    }
    assert.equal(t.disagreements, 0, show(t));
    assert.equal(t.nodeTarDisagreements, 0, show(t));
    assert.equal(t.verifiedHostile, 0, show(t));
    assert.equal(t.cleanNotVerified, 0, show(t));
    assert.equal(t.accepted, ACCEPTED.size);
  });

  it(`${RANDOM_CASES} seeded random archives: no disagreement, nothing hostile verifies`, async () => {
    const t = emptyTally();
    for (let i = 0; i < RANDOM_CASES; i++) {
      addOutcome(t, await diff.check(randomCase(FIRST_SEED + i), { verify: i % VERIFY_EVERY === 0 }));
    }
    assert.equal(t.disagreements, 0, show(t));
    assert.equal(t.nodeTarDisagreements, 0, show(t));
    assert.equal(t.verifiedHostile, 0, show(t));
    assert.equal(t.cleanNotVerified, 0, show(t));
    // Both sides are exercised: some archives pass, most are refused, some of those GNU tar reads differently.
    assert.ok(t.accepted >= RANDOM_CASES / 10, `accepted ${t.accepted}`);
    assert.ok(t.findings >= RANDOM_CASES / 2, `findings ${t.findings}`);
    assert.ok(t.gnuDiffers > 0);
    assert.equal(t.verifyPasses, RANDOM_CASES / VERIFY_EVERY);
  });
});
