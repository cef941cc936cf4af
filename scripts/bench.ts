// `npm run bench`: every benchmark, each printing its figures and comparing
// with a baseline measured in the same run (sha256sum, openssl speed).
// BENCH_ONLY=hash,verify,v2,archive,agent,mqtt,check picks some; figures also go to
// .bench/results.json for the notes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchAgent } from './bench-agent.js';
import { benchArchive } from './bench-archive.js';
import { benchCheck } from './bench-check.js';
import { benchHash, repoRoot } from './bench-hash.js';
import { benchMqtt } from './bench-mqtt.js';
import { benchVerify } from './bench-verify.js';
import { benchV2 } from './bench-v2.js';

type Bench = (opts: { log: (line: string) => void }) => Promise<Record<string, number>>;

const BENCHES: Record<string, Bench> = { hash: benchHash, verify: benchVerify, v2: benchV2, archive: benchArchive, agent: benchAgent, mqtt: benchMqtt, check: benchCheck };

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = (only ?? []).filter((n) => !(n in BENCHES));
  if (unknown.length > 0) throw new Error(`unknown bench ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`);
  const results: Record<string, Record<string, number>> = {};
  for (const [name, bench] of Object.entries(BENCHES)) {
    if (only && !only.includes(name)) continue;
    console.log(`\n== ${name} ==`);
    const t0 = performance.now();
    results[name] = await bench({ log: (l) => console.log(l) });
    console.log(`(${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const dir = join(repoRoot(), '.bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2)}\n`);
  console.log(`\nfigures written to ${join(dir, 'results.json')}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
