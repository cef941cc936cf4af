// `npm run fuzz:group`: seeded group.json fuzzing through `deploy-witness
// verify --json` (a real process per case). Prints the counts: crashes, hangs
// and VERIFIED verdicts on broken definitions must all be 0.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fuzzGroups } from '../test/lib/group-fuzz.js';
import { repoRoot } from './bench-hash.js';

const HELP = `Usage: fuzz-group [--cases N] [--seed S] [--workers W]

Writes N mutated group.json files (seeds S .. S+N-1: duplicate keys, invalid
UTF-8, wrong types, Version/Arn mismatch, non-ARN Arn, missing keys,
truncation, deep nesting, and valid variants) into simulated cores and runs
'deploy-witness verify --json' on each, with a 20 s timeout per case.

  --cases N    cases (default 2000)
  --seed S     first seed (default 1)
  --workers W  cases run at once (default 2)

Exit status: 0 all counts clean, 1 a crash, a hang or a broken definition verified, 2 bad flags.
`;

function whole(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) === 0) {
    console.error(`fuzz-group: --${name} takes a positive whole number, not ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return Number(v);
}

async function main(): Promise<number> {
  let values;
  try {
    values = parseArgs({
      options: { cases: { type: 'string' }, seed: { type: 'string' }, workers: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`fuzz-group: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const n = whole(values.cases, 'cases', 2000);
  const first = values.seed === undefined ? 1 : whole(values.seed, 'seed', 1);
  const workers = whole(values.workers, 'workers', 2);
  const bin = join(repoRoot(), 'dist/src/cli/bin.js');
  const t0 = performance.now();
  const t = await fuzzGroups({
    bin,
    first,
    n,
    workers,
    onProgress: (done) => {
      if (done % 100 === 0) process.stderr.write(`\r${done}/${n} group.json files`);
    },
  });
  process.stderr.write('\n');
  console.log(`cases               ${t.cases} (${t.broken} broken, ${t.valid} valid; seeds ${first}..${first + n - 1})`);
  console.log(`crashes             ${t.crashes}`);
  console.log(`hangs               ${t.hangs} (20 s per case; slowest case ${(t.maxMs / 1000).toFixed(2)} s)`);
  console.log(`VERIFIED on broken  ${t.verifiedBroken}`);
  console.log(`broken, unflagged   ${t.brokenUnflagged} (no GROUP_DEFINITION_INVALID)`);
  console.log(`valid, verified     ${t.validVerified} of ${t.valid}`);
  console.log(`time                ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const b of t.bad.slice(0, 20)) console.log(`  ${b}`);
  return t.crashes + t.hangs + t.verifiedBroken + t.brokenUnflagged === 0 && t.validVerified === t.valid ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
