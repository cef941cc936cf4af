// `npm run fuzz:archives`: the full differential archive run. Every named
// hazard and N seeded random archives are read by deploy-witness, by GNU tar
// and by node-tar's `tar.t`; prints the counts (cases, findings,
// disagreements) and exits 1 when an archive deploy-witness accepts is read
// differently by GNU tar or node-tar, or when a refused or differing archive
// verifies on a core.
import { addOutcome, ArchiveDifferential, emptyTally } from '../test/lib/archive-differential.js';
import { namedCases, randomCase, type GeneratedArchive } from '../test/lib/evil-tar-gen.js';
import { runFuzz, wholeFlag } from './fuzz-cli.js';

const HELP = `Usage: fuzz-archives [--cases N] [--seed S] [--verify-every K]

Generates the named hostile archives and N random ones (seeds S .. S+N-1),
reads each with deploy-witness, with GNU tar (tar -tv, tar -x --to-command)
and with node-tar (tar.t, every file hashed),
and runs a verify pass (no expectation, no baseline) on a simulated core for
every named case and every K-th random one.

  --cases N          random archives (default 5000)
  --seed S           first seed (default 1)
  --verify-every K   verify every K-th random archive (default 10; 0: none)

Exit status: 0 no disagreement, 1 a disagreement or a hostile archive verified, 2 bad flags.
`;

async function main(values: Record<string, string | undefined>): Promise<number> {
  const n = wholeFlag(values, 'cases', 5000);
  const seed = wholeFlag(values, 'seed', 1);
  const every = wholeFlag(values, 'verify-every', 10);

  const diff = await ArchiveDifferential.create();
  const tally = emptyTally();
  const t0 = performance.now();
  const todo: { c: () => GeneratedArchive; verify: boolean }[] = [
    ...namedCases().map((c) => ({ c: () => c, verify: true })),
    ...Array.from({ length: n }, (_, i) => ({ c: () => randomCase(seed + i), verify: every > 0 && i % every === 0 })),
  ];
  try {
    for (let i = 0; i < todo.length; i++) {
      const job = todo[i] as { c: () => GeneratedArchive; verify: boolean };
      addOutcome(tally, await diff.check(job.c(), { verify: job.verify }));
      if ((i + 1) % 250 === 0) process.stderr.write(`\r${i + 1}/${todo.length} archives, ${tally.disagreements + tally.nodeTarDisagreements} disagreements`);
    }
  } finally {
    await diff.close();
  }
  process.stderr.write('\n');
  const secs = (performance.now() - t0) / 1000;
  console.log(`cases          ${tally.cases} (${todo.length - n} named, ${n} random from seed ${seed})`);
  console.log(`accepted       ${tally.accepted}`);
  console.log(`findings       ${tally.findings} (UNSAFE_ARCHIVE_ENTRY or RESOURCE_CORRUPT; ${tally.gnuDiffers} of them read differently by GNU tar)`);
  console.log(`disagreements  ${tally.disagreements} (accepted, but GNU tar reads them differently)`);
  console.log(`node-tar       ${tally.nodeTarDisagreements} accepted but read differently by node-tar's tar.t; ${tally.nodeTarDiffers} refused and read differently by it`);
  console.log(`               ${tally.nodeTarFlagged} refused by the node-tar cross-check, ${tally.nodeTarOnly} of them refused for that alone`);
  console.log(`verify passes  ${tally.verifyPasses}: hostile VERIFIED ${tally.verifiedHostile}, clean not VERIFIED ${tally.cleanNotVerified}`);
  console.log(`time           ${secs.toFixed(1)} s`);
  for (const b of tally.bad.slice(0, 20)) console.log(`  ${b.name}: ${b.difference ?? ''} [${b.codes.join(',')}] ${b.status ?? ''}`);
  return tally.disagreements + tally.nodeTarDisagreements + tally.verifiedHostile + tally.cleanNotVerified === 0 ? 0 : 1;
}

runFuzz('fuzz-archives', HELP, ['cases', 'seed', 'verify-every'], main);
