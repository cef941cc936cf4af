// `npm run fuzz:expectations`: seeded expectation fuzzing through `deploy-witness
// verify --expect` (a real process per case, then the same command in-process
// against trap cores) and the agent's reader. Prints the counts: crashes, hangs
// and accepted expectations that lost a check must all be 0.
import { clean, fuzzExpectations } from '../test/lib/expectation-fuzz.js';
import { runFuzz, wholeFlag } from './fuzz-cli.js';

const HELP = `Usage: fuzz-expectations [--cases N] [--seed S] [--workers W]

Mutates N valid expectations (seeds S .. S+N-1; deploy-system-instance,
search-system-instances and get-system-instance outputs, a sequence of them,
and envelopes with archive digests): duplicate keys, misspelt, case-changed
and misplaced keys, empty strings, nulls, wrong types, removed keys,
truncation, invalid UTF-8, huge strings, deep nesting, unknown keys, and valid
variants. Each is given to 'deploy-witness verify --expect' on a healthy
simulated core (20 s timeout). What it accepts is run again against trap
cores that each fail exactly one check of the original (another group, group
version, system instance, deployment ID, archive bytes): none may be VERIFIED.

  --cases N    cases (default 2000)
  --seed S     first seed (default 1)
  --workers W  cases run at once (default 2)

Exit status: 0 all counts clean, 1 a crash, a hang, a check dropped or a
broken expectation accepted, 2 bad flags.
`;

async function main(values: Record<string, string | undefined>): Promise<number> {
  const n = wholeFlag(values, 'cases', 2000, true);
  const first = wholeFlag(values, 'seed', 1, true);
  const workers = wholeFlag(values, 'workers', 2, true);
  const t0 = performance.now();
  const t = await fuzzExpectations({
    first,
    n,
    workers,
    onProgress: (done) => {
      if (done % 50 === 0) process.stderr.write(`\r${done}/${n} expectations`);
    },
  });
  process.stderr.write('\n');
  const i = t.byIntent;
  console.log(`cases                          ${t.cases} (${i.valid} valid variants, ${i.invalid} to be refused, ${i.any} either; seeds ${first}..${first + n - 1})`);
  console.log(`refused (exit 2)               ${t.refused}`);
  console.log(`accepted (exit 0 or 1)         ${t.accepted} (then ${t.trapRuns} runs on trap cores)`);
  console.log(`crashes                        ${t.crashes}`);
  console.log(`hangs                          ${t.hangs} (20 s per case; slowest case ${(t.maxMs / 1000).toFixed(2)} s)`);
  console.log(`refused without a message      ${t.silentRefusals}`);
  console.log(`VERIFIED with a check dropped  ${t.verifiedCheckDropped} (on a trap core)`);
  console.log(`accepted, a check dropped      ${t.parsedCheckDropped} (verify's reader), ${t.agentCheckDropped} (the agent's)`);
  console.log(`broken, accepted               ${t.brokenAccepted} (verify's reader), ${t.agentBrokenAccepted} (the agent's)`);
  console.log(`valid, verified                ${t.validVerified} of ${i.valid}`);
  console.log(`time                           ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const b of t.bad.slice(0, 30)) console.log(`  ${b}`);
  if (t.bad.length > 30) console.log(`  ... and ${t.bad.length - 30} more`);
  return clean(t) ? 0 : 1;
}

runFuzz('fuzz-expectations', HELP, ['cases', 'seed', 'workers'], main);
