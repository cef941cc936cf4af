// Hashing benchmark: hashTree against sha256sum and the machine's SHA-256
// limit (openssl speed x cores), over a cached tree of 10,000 files / 1 GiB.
// Figures are warm-cache: one warm-up pass runs first, so reads come from the
// page cache and the numbers measure hashing, not the disk.
// Run alone: node dist/scripts/bench-hash.js
import { spawn, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createHasher } from '../src/observe/hash.js';
import { hashTree } from '../src/observe/tree.js';
import { digestsByPath } from '../src/model/digest.js';
import type { FileDigest, TreeObservation } from '../src/model/observation.js';
import { prng } from '../test/lib/seeded.js';

const MIB = 1024 * 1024;
const UNITS = 20;
const TREE_VERSION = 2;

export interface BenchHashOptions {
  /** Where the tree lives; default <repo>/.bench/hash-<files>-<bytes>. */
  dir?: string;
  files?: number;
  totalBytes?: number;
  log: (line: string) => void;
}

interface BenchTree {
  dir: string;
  units: string[];
  files: string[];
  sizes: number[];
  totalBytes: number;
}

export function repoRoot(): string {
  // dist/scripts/bench-hash.js -> repo
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}


/**
 * A deployed-Lambda-like spread: 70% small (128 B-16 KiB: sources, configs),
 * 29% medium (16-512 KiB), 1% large (log-uniform 1-64 MiB, scaled to fill the total).
 */
function fileSizes(n: number, total: number, poolBytes: number, rnd: () => number): number[] {
  const logUniform = (lo: number, hi: number) => Math.round(2 ** (Math.log2(lo) + rnd() * (Math.log2(hi) - Math.log2(lo))));
  const sizes: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.7) sizes.push(logUniform(128, 16 * 1024));
    else if (r < 0.99) sizes.push(logUniform(16 * 1024, 512 * 1024));
    else {
      large.push(i);
      sizes.push(logUniform(MIB, 64 * MIB));
    }
  }
  const isLarge = new Set(large);
  const fixed = sizes.reduce((a, s, i) => (isLarge.has(i) ? a : a + s), 0);
  const rawLarge = large.reduce((a, i) => a + sizes[i]!, 0);
  const scale = Math.max(0, total - fixed) / Math.max(1, rawLarge);
  for (const i of large) sizes[i] = Math.min(poolBytes, Math.max(1, Math.round(sizes[i]! * scale)));
  return sizes;
}

/** Builds the tree once; a marker file names what was built, so a partial tree is rebuilt. */
export function ensureTree(dir: string, files: number, totalBytes: number, log: (l: string) => void): BenchTree {
  const rnd = prng(0x5eed);
  const poolBytes = Math.min(64 * MIB, Math.max(MIB, totalBytes));
  const sizes = fileSizes(files, totalBytes, poolBytes, rnd);
  const units = Array.from({ length: UNITS }, (_, u) => `lambda-${String(u).padStart(2, '0')}`);
  const paths = sizes.map((_, i) => {
    const u = i % UNITS;
    const sub = Math.floor(i / UNITS) % 25;
    const deep = sub % 5 === 0 ? `node_modules/pkg-${sub}/lib` : `d${sub}`;
    return `${units[u]}/${deep}/f${i}.bin`;
  });
  const marker = join(dir, '.complete');
  const want = JSON.stringify({ version: TREE_VERSION, files, totalBytes });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === want) {
    return { dir, units, files: paths.map((p) => join(dir, p)), sizes, totalBytes: sizes.reduce((a, b) => a + b, 0) };
  }
  log(`building ${files} files (${(totalBytes / MIB).toFixed(0)} MiB) in ${dir} ...`);
  const t0 = performance.now();
  // Only ever delete a tree this script built (a marker of any version), never a folder someone passed in.
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(marker)) {
    throw new Error(`${dir} exists and was not built by bench-hash; refusing to overwrite it`);
  }
  rmSync(dir, { recursive: true, force: true });
  // Random content without generating 1 GiB of randomness: slices of one random pool.
  const pool = randomFillSync(Buffer.allocUnsafe(poolBytes));
  const made = new Set<string>();
  for (let i = 0; i < sizes.length; i++) {
    const abs = join(dir, paths[i]!);
    const d = dirname(abs);
    if (!made.has(d)) {
      mkdirSync(d, { recursive: true });
      made.add(d);
    }
    const size = sizes[i]!;
    const off = Math.floor(rnd() * (pool.length - size + 1));
    writeFileSync(abs, pool.subarray(off, off + size));
  }
  writeFileSync(marker, want);
  log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { dir, units, files: paths.map((p) => join(dir, p)), sizes, totalBytes: sizes.reduce((a, b) => a + b, 0) };
}

/** sha256sum over the files via xargs -0 in batches, output to /dev/null; seconds. */
export function timeSha256sum(files: string[], parallel: number): Promise<number> {
  return new Promise((done, fail) => {
    const args = ['-0', '-n', '500', ...(parallel > 1 ? ['-P', String(parallel)] : []), 'sha256sum'];
    const t0 = performance.now();
    const child = spawn('xargs', args, { stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done((performance.now() - t0) / 1000) : fail(new Error(`xargs sha256sum exited ${code}`))));
    child.stdin.end(files.join('\0'));
  });
}

/** One core's SHA-256 speed from openssl, bytes/s. */
export function opensslBytesPerSecond(): number {
  const r = spawnSync('openssl', ['speed', '-evp', 'sha256', '-bytes', '1048576', '-seconds', '2'], { encoding: 'utf8' });
  const m = /^sha256\s+([\d.]+)k\s*$/m.exec(r.stdout ?? '');
  if (!m) throw new Error(`cannot parse openssl speed output: ${r.stderr || r.stdout}`);
  return Number(m[1]) * 1000;
}

function previousOf(tree: TreeObservation): Map<string, FileDigest> {
  return digestsByPath(tree.units);
}

interface Run {
  seconds: number;
  tree: TreeObservation;
  peakRssDelta: number;
}

async function timeTree(t: BenchTree, opts: { concurrency: number; threads?: boolean; previous?: Map<string, FileDigest> }): Promise<Run> {
  const hasher = createHasher({ concurrency: opts.concurrency, threads: opts.threads ?? true });
  const before = process.memoryUsage.rss();
  let peak = before;
  const t0 = performance.now();
  try {
    const { tree } = await hashTree(t.dir, t.units, {
      hasher,
      ...(opts.previous ? { previous: opts.previous, trustUnchangedStat: true } : {}),
      onProgress: () => {
        peak = Math.max(peak, process.memoryUsage.rss());
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    peak = Math.max(peak, process.memoryUsage.rss());
    return { seconds, tree, peakRssDelta: peak - before };
  } finally {
    await hasher.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function benchHash(opts: BenchHashOptions): Promise<Record<string, number>> {
  const log = opts.log;
  const files = opts.files ?? 10_000;
  const totalBytes = opts.totalBytes ?? 1024 * MIB;
  const dir = opts.dir ?? join(repoRoot(), '.bench', `hash-${files}-${totalBytes}`);
  const cores = availableParallelism();
  const t = ensureTree(dir, files, totalBytes, log);
  const mb = (bytes: number) => bytes / MIB;
  const out: Record<string, number> = {};

  log(`hash bench: ${t.files.length} files, ${mb(t.totalBytes).toFixed(0)} MiB, ${cores} cores; warm cache (one warm-up pass first); MB = MiB`);
  const small = t.sizes.filter((s) => s <= 16 * 1024).length;
  const big = t.sizes.filter((s) => s > 512 * 1024).length;
  log(`  sizes: ${small} files <= 16 KiB, ${big} files > 512 KiB, largest ${mb(Math.max(...t.sizes)).toFixed(1)} MiB`);
  const warm = await timeTree(t, { concurrency: cores });
  const expectDigest = warm.tree.treeDigest;

  // Best of two for sha256sum: the comparison is then the strictest.
  const shaSec = Math.min(await timeSha256sum(t.files, 1), await timeSha256sum(t.files, 1));
  const shaParSec = await timeSha256sum(t.files, cores);
  const sslOne = opensslBytesPerSecond();
  const limit = sslOne * cores;
  out.sha256sum_MBps = mb(t.totalBytes) / shaSec;
  out.sha256sum_parallel_MBps = mb(t.totalBytes) / shaParSec;
  out.openssl_limit_MBps = mb(limit);
  log(`sha256sum (xargs -0 -n 500, one process at a time): ${out.sha256sum_MBps.toFixed(0)} MB/s, ${(t.files.length / shaSec).toFixed(0)} files/s`);
  log(`sha256sum (xargs -P ${cores}): ${out.sha256sum_parallel_MBps.toFixed(0)} MB/s`);
  log(`openssl speed -evp sha256 (1 MiB blocks): ${mb(sslOne).toFixed(0)} MB/s per core x ${cores} = ${out.openssl_limit_MBps.toFixed(0)} MB/s limit`);

  const full: Run[] = [];
  for (let i = 0; i < 3; i++) full.push(await timeTree(t, { concurrency: cores }));
  if (full.some((r) => r.tree.treeDigest !== expectDigest)) throw new Error('tree digest differs between passes');
  const fullSec = median(full.map((r) => r.seconds));
  out.full_MBps = mb(t.totalBytes) / fullSec;
  out.full_files_per_s = t.files.length / fullSec;
  out.full_ratio_sha256sum = shaSec / fullSec;
  out.full_ratio_openssl_limit = out.full_MBps / out.openssl_limit_MBps;
  out.full_peak_rss_delta_MB = mb(Math.max(...full.map((r) => r.peakRssDelta)));
  log(
    `hashTree full (${cores} workers, median of 3): ${out.full_MBps.toFixed(0)} MB/s, ${out.full_files_per_s.toFixed(0)} files/s, ` +
      `${out.full_ratio_sha256sum.toFixed(2)}x sha256sum, ${out.full_ratio_openssl_limit.toFixed(2)}x openssl limit, ` +
      `peak RSS +${out.full_peak_rss_delta_MB.toFixed(1)} MB`,
  );

  const one = await timeTree(t, { concurrency: 1 });
  out.full_1worker_MBps = mb(t.totalBytes) / one.seconds;
  const inThread = await timeTree(t, { concurrency: cores, threads: false });
  out.full_inthread_MBps = mb(t.totalBytes) / inThread.seconds;
  log(`  for comparison: 1 worker ${out.full_1worker_MBps.toFixed(0)} MB/s; no workers (main thread, ${cores} reads at once) ${out.full_inthread_MBps.toFixed(0)} MB/s`);

  const previous = previousOf(full[0]!.tree);
  const rescans: Run[] = [];
  for (let i = 0; i < 3; i++) rescans.push(await timeTree(t, { concurrency: cores, previous }));
  const reSec = median(rescans.map((r) => r.seconds));
  out.rescan_files_per_s = t.files.length / reSec;
  out.rescan_bytes_hashed = Math.max(...rescans.map((r) => r.tree.bytesHashed));
  out.rescan_peak_rss_delta_MB = mb(Math.max(...rescans.map((r) => r.peakRssDelta)));
  log(
    `hashTree rescan (previous + trustUnchangedStat, median of 3): ${out.rescan_files_per_s.toFixed(0)} files/s, ` +
      `${reSec.toFixed(3)} s, ${out.rescan_bytes_hashed} bytes read, peak RSS +${out.rescan_peak_rss_delta_MB.toFixed(1)} MB`,
  );

  // Rate cap: 200 MiB at 50 MiB/s across all workers should take about 4 s.
  const capMBps = 50;
  const capFiles: string[] = [];
  let capBytes = 0;
  for (let i = 0; i < t.files.length && capBytes < 200 * MIB; i++) {
    capFiles.push(t.files[i]!);
    capBytes += t.sizes[i]!;
  }
  const capped = createHasher({ concurrency: cores, rateLimitMBps: capMBps });
  const c0 = performance.now();
  try {
    await Promise.all(capFiles.map((f) => capped.hash(f)));
  } finally {
    await capped.close();
  }
  out.ratecap_seconds = (performance.now() - c0) / 1000;
  out.ratecap_expected_seconds = mb(capBytes) / capMBps;
  log(
    `rate cap ${capMBps} MB/s, ${cores} workers: ${mb(capBytes).toFixed(0)} MiB in ${out.ratecap_seconds.toFixed(2)} s ` +
      `(expected ${out.ratecap_expected_seconds.toFixed(2)} s, ${(mb(capBytes) / out.ratecap_seconds).toFixed(1)} MB/s)`,
  );
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  benchHash({ log: (l) => console.log(l) }).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
