// `npm run fuzz:group`: seeded group.json fuzzing through `deploy-witness
// verify --json` (a real process per case). Prints the counts: crashes, hangs
// and VERIFIED verdicts on broken definitions must all be 0.
import { fuzzGroups } from '../test/lib/group-fuzz.js';
import { runFuzz, wholeFlag } from './fuzz-cli.js';

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

async function main(values: Record<string, string | undefined>): Promise<number> {
  const n = wholeFlag(values, 'cases', 2000, true);
  const first = wholeFlag(values, 'seed', 1, true);
  const workers = wholeFlag(values, 'workers', 2, true);
  const t0 = performance.now();
  const t = await fuzzGroups({
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

runFuzz('fuzz-group', HELP, ['cases', 'seed', 'workers'], main);
