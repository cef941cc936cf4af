// Inspecting a large clean flow archive (1 GiB of content by default,
// BENCH_ARCHIVE_MB to change it): deploy-witness's single pass (gunzip, tar
// reader, SHA-256 of the file and of every entry) against GNU `tar -tzf` on
// the same file, in the same run. Warm cache. Run alone: node dist/scripts/bench-archive.js
import { createCipheriv } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createGzip } from 'node:zlib';
import { inspectArchive } from '../src/observe/archive.js';
import { ustarHeader } from '../test/lib/evil-tar.js';
import { repoRoot } from './bench-hash.js';

const MIB = 1024 * 1024;
const FILE_BYTES = 4 * MIB;

/** Deterministic incompressible bytes: AES-CTR over zeros, so the archive is the same on every run. */
function* content(totalBytes: number): Generator<Buffer> {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(FILE_BYTES);
  yield ustarHeader({ path: 'flow-big/', type: '5' });
  for (let i = 0; i * FILE_BYTES < totalBytes; i++) {
    yield ustarHeader({ path: `flow-big/part-${String(i).padStart(5, '0')}.bin`, size: FILE_BYTES });
    yield cipher.update(zeros);
  }
  yield Buffer.alloc(1024);
}

/** The bench archive, written once under .bench/ and reused. */
async function ensureArchive(totalBytes: number, log: (l: string) => void): Promise<string> {
  const dir = join(repoRoot(), '.bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `archive-${totalBytes / MIB}MiB.tar.gz`);
  if (existsSync(file)) return file;
  log(`  writing ${file} (once)`);
  const tmp = `${file}.${process.pid}.tmp`;
  await pipeline(Readable.from(content(totalBytes)), createGzip({ level: 1 }), createWriteStream(tmp));
  renameSync(tmp, file);
  return file;
}

function timeTarList(file: string): number {
  const t0 = performance.now();
  execFileSync('tar', ['-tzf', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  return (performance.now() - t0) / 1000;
}

export async function benchArchive(opts: { log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const mb = Number(process.env.BENCH_ARCHIVE_MB ?? 1024);
  if (!Number.isInteger(mb) || mb < 1) throw new Error(`BENCH_ARCHIVE_MB must be a whole number of MiB, not ${process.env.BENCH_ARCHIVE_MB}`);
  const totalBytes = mb * MIB;
  const file = await ensureArchive(totalBytes, log);
  const size = statSync(file).size;
  const limits = { maxEntries: 100_000, maxTotalBytes: 2 * totalBytes, maxPathDepth: 32, maxRatio: 200 };
  log(`archive bench: ${(size / MIB).toFixed(0)} MiB tar.gz, ${mb / (FILE_BYTES / MIB)} files of 4 MiB; warm cache`);
  timeTarList(file); // warm the page cache
  const tarSec = Math.min(timeTarList(file), timeTarList(file));
  const runs: { seconds: number; rssMB: number }[] = [];
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const r = await inspectArchive(file, 'flow-big.tar.gz', { limits });
    const seconds = (performance.now() - t0) / 1000;
    if (r.findings.length > 0 || r.sha256 === null) throw new Error(`the bench archive is not clean: ${JSON.stringify(r.findings)}`);
    runs.push({ seconds, rssMB: process.memoryUsage.rss() / MIB });
  }
  const best = Math.min(...runs.map((r) => r.seconds));
  const out = {
    tar_tzf_MBps: size / MIB / tarSec,
    inspect_MBps: size / MIB / best,
    inspect_ratio_tar_tzf: tarSec / best,
    inspect_rss_MB: Math.max(...runs.map((r) => r.rssMB)),
  };
  log(`  GNU tar -tzf: ${tarSec.toFixed(2)} s, ${out.tar_tzf_MBps.toFixed(0)} MB/s (gzip -d and listing, no hashing)`);
  log(
    `  inspectArchive: ${best.toFixed(2)} s, ${out.inspect_MBps.toFixed(0)} MB/s, ${out.inspect_ratio_tar_tzf.toFixed(2)}x tar -tzf ` +
      `(gunzip, tar reader, SHA-256 of the file and of every entry); RSS ${out.inspect_rss_MB.toFixed(0)} MB`,
  );
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  benchArchive({ log: (l) => console.log(l) }).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
