// Greengrass v2 verification end to end on a simulated root with 50 component
// versions and 2,000 artifact files (1 GiB; every fifth component also carries
// a zip artifact and its unarchived folder): observe, judge, report, first
// with no baseline and then against one, next to sha256sum over the same
// files and the openssl limit (openssl speed -evp sha256 x cores), measured in
// the same process. Warm cache, like the hash and verify benches.
// Run alone: node dist/scripts/bench-v2.js (or BENCH_ONLY=v2 npm run bench).
import { randomFillSync } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { digestsByPath, filePath } from '../src/model/digest.js';
import { createHasher } from '../src/observe/hash.js';
import { opensslBytesPerSecond, repoRoot, timeSha256sum } from './bench-hash.js';
import { makeV2Core } from './simulated-v2-root.js';
import { verifyV2, type VerifyV2Result } from './verify-v2.js';
import { prng } from '../test/lib/seeded.js';

const MIB = 1024 * 1024;
const ROOT_VERSION = 1;


/** Like a component store: mostly small scripts and configs, some libraries, a few large binaries scaled to fill the total. */
function sizes(n: number, total: number, rnd: () => number): number[] {
  const logUniform = (lo: number, hi: number) => Math.round(2 ** (Math.log2(lo) + rnd() * (Math.log2(hi) - Math.log2(lo))));
  const out: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.6) out.push(logUniform(256, 32 * 1024));
    else if (r < 0.97) out.push(logUniform(32 * 1024, 1024 * 1024));
    else {
      large.push(i);
      out.push(logUniform(4 * MIB, 64 * MIB));
    }
  }
  const fixed = out.reduce((a, s, i) => (large.includes(i) ? a : a + s), 0);
  const raw = large.reduce((a, i) => a + out[i]!, 0);
  const scale = Math.max(0, total - fixed) / Math.max(1, raw);
  for (const i of large) out[i] = Math.min(64 * MIB, Math.max(1, Math.round(out[i]! * scale)));
  return out;
}

interface Built {
  root: string;
  files: string[];
  totalBytes: number;
}

async function ensureRoot(dir: string, components: number, perComponent: number, totalBytes: number, log: (l: string) => void): Promise<Built> {
  const marker = join(dir, '.complete');
  const want = JSON.stringify({ version: ROOT_VERSION, components, perComponent, totalBytes });
  const root = join(dir, 'root');
  if (!(existsSync(marker) && readFileSync(marker, 'utf8') === want)) {
    log(`building a v2 root: ${components} components x ${perComponent} files, ${(totalBytes / MIB).toFixed(0)} MiB, in ${dir} ...`);
    const t0 = performance.now();
    rmSync(dir, { recursive: true, force: true });
    const rnd = prng(0x76322);
    const s = sizes(components * perComponent, totalBytes, rnd);
    const pool = randomFillSync(Buffer.allocUnsafe(64 * MIB));
    await makeV2Core({
      root,
      bulk: {
        components,
        filesPerComponent: perComponent,
        zipEvery: 5,
        fileData: (c, f) => {
          const size = s[c * perComponent + f]!;
          const off = Math.floor(rnd() * (pool.length - size + 1));
          return pool.subarray(off, off + size);
        },
      },
    });
    writeFileSync(marker, want);
    log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  // Every file the verification hashes: artifacts and unarchived folders.
  const probeHasher = createHasher({ concurrency: 2 });
  const probe = await verifyV2({ root, hasher: probeHasher }).finally(() => probeHasher.close());
  const files: string[] = [];
  let bytes = 0;
  for (const u of probe.observation.tree.units) {
    for (const [k, f] of Object.entries(u.files)) {
      files.push(join(root, filePath(u.path, k)));
      bytes += f.size;
    }
  }
  return { root, files, totalBytes: bytes };
}

async function timeVerify(root: string, concurrency: number, baseline: VerifyV2Result['newBaseline'] | null) {
  const hasher = createHasher({ concurrency, rateLimitMBps: 0 });
  const before = process.memoryUsage.rss();
  let peak = before;
  const t0 = performance.now();
  try {
    const r = await verifyV2({
      root, hasher, baseline,
      onProgress: () => {
        peak = Math.max(peak, process.memoryUsage.rss());
      },
    });
    return { seconds: (performance.now() - t0) / 1000, r, peakDeltaMB: (Math.max(peak, process.memoryUsage.rss()) - before) / MIB };
  } finally {
    await hasher.close();
  }
}

export async function benchV2(opts: { log: (line: string) => void; components?: number; filesPerComponent?: number; totalBytes?: number }): Promise<Record<string, number>> {
  const { log } = opts;
  const components = opts.components ?? 50;
  const per = opts.filesPerComponent ?? 40;
  const totalBytes = opts.totalBytes ?? 1024 * MIB;
  const dir = join(repoRoot(), '.bench', `v2-root-${components}-${per}-${totalBytes}`);
  const built = await ensureRoot(dir, components, per, totalBytes, log);
  const cores = availableParallelism();
  const mb = (b: number) => b / MIB;
  const out: Record<string, number> = {};
  const archives = (r: VerifyV2Result) => r.observation.components.flatMap((c) => c.archives);
  log(
    `v2 bench: ${components + 3} component versions, ${components * per} artifact files, ${built.files.length} files hashed in all ` +
      `(artifacts and unarchived), ${mb(built.totalBytes).toFixed(0)} MiB; warm cache`,
  );
  await timeVerify(built.root, cores, null); // warm the page cache
  const shaSec = Math.min(await timeSha256sum(built.files, 1), await timeSha256sum(built.files, 1));
  const limit = opensslBytesPerSecond() * cores;
  out.sha256sum_MBps = mb(built.totalBytes) / shaSec;
  out.openssl_limit_MBps = mb(limit);
  log(`  sha256sum over the same files: ${out.sha256sum_MBps.toFixed(0)} MB/s; openssl limit ${out.openssl_limit_MBps.toFixed(0)} MB/s (${cores} cores)`);
  for (const concurrency of [1, cores]) {
    const first = await timeVerify(built.root, concurrency, null);
    if (first.r.verdict.status !== 'VERIFIED') throw new Error(`the bench root is not VERIFIED: ${JSON.stringify(first.r.verdict.findings.slice(0, 3))}`);
    if (!first.r.newBaseline) throw new Error('no baseline was laid down');
    const again = await timeVerify(built.root, concurrency, first.r.newBaseline);
    if (again.r.verdict.status !== 'VERIFIED' || again.r.observed.baseline.state !== 'compared') throw new Error('the second verify disagrees with the first');
    for (const [name, t] of [['first', first], ['baseline', again]] as const) {
      const k = `v2_${name}_c${concurrency}`;
      const bytes = t.r.observation.tree.bytesHashed;
      const zipBytes = archives(t.r).reduce((a, z) => a + z.size, 0);
      out[`${k}_seconds`] = t.seconds;
      out[`${k}_MBps`] = mb(bytes) / t.seconds;
      out[`${k}_files_per_s`] = t.r.observation.tree.filesHashed / t.seconds;
      out[`${k}_ratio_sha256sum`] = shaSec / t.seconds;
      out[`${k}_ratio_openssl_limit`] = mb(bytes) / t.seconds / out.openssl_limit_MBps;
      out[`${k}_zip_MB_inflated`] = mb(zipBytes);
      out[`${k}_peak_rss_delta_MB`] = t.peakDeltaMB;
      log(
        `  verify ${name === 'first' ? 'first run (no baseline)' : 'against the baseline  '} hashConcurrency=${concurrency}: ` +
          `${t.seconds.toFixed(2)} s, ${out[`${k}_MBps`]!.toFixed(0)} MB/s, ${out[`${k}_files_per_s`]!.toFixed(0)} files/s, ` +
          `${out[`${k}_ratio_sha256sum`]!.toFixed(2)}x sha256sum, ${out[`${k}_ratio_openssl_limit`]!.toFixed(2)}x openssl limit, ` +
          `${archives(t.r).length} zips (${mb(zipBytes).toFixed(0)} MiB) read again and inflated, peak RSS +${t.peakDeltaMB.toFixed(1)} MB`,
      );
    }
  }
  // A rescan as the agent does it: unchanged files trusted by stat, archive inspections reused.
  const base = await timeVerify(built.root, cores, null);
  const hasher = createHasher({ concurrency: cores, rateLimitMBps: 0 });
  try {
    const t0 = performance.now();
    const re = await verifyV2({
      root: built.root, hasher, baseline: base.r.newBaseline, trustUnchangedStat: true,
      previous: digestsByPath(base.r.observation.tree.units),
      previousArchives: new Map(archives(base.r).map((z) => [z.path, z])),
    });
    out.v2_rescan_seconds = (performance.now() - t0) / 1000;
    out.v2_rescan_bytes_hashed = re.observation.tree.bytesHashed;
    log(`  rescan (stat-trusted files, archive inspections reused): ${out.v2_rescan_seconds.toFixed(3)} s, ${out.v2_rescan_bytes_hashed} bytes hashed`);
  } finally {
    await hasher.close();
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  benchV2({ log: (l) => console.log(l) }).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
