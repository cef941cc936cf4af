// `verify` end to end on a simulated core holding 10,000 deployed files / 1 GiB:
// the first run (no baseline: hash and lay it down) and a second run (hash and
// compare), against sha256sum over the same files and the openssl limit, in the
// same process; then the command line itself with its defaults, as a person runs it. Warm cache, like the hash bench. Run alone: node dist/scripts/bench-verify.js
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { verifyOnce } from '../src/core-state/core-state.js';
import { applyConfig, defaultConfig } from '../src/config/config.js';
import { createHasher } from '../src/observe/hash.js';
import { ensureTree, opensslBytesPerSecond, repoRoot, timeSha256sum } from './bench-hash.js';
import { makeCore } from './simulated-core.js';
import { oneShotConfig } from '../src/config/config.js';
import type { Report } from '../src/verify/report.js';

const CLI = join(repoRoot(), 'dist', 'src', 'cli', 'bin.js');

const MIB = 1024 * 1024;

/**
 * `deploy-witness verify` as a person runs it: the command line, its own
 * defaults (no hashing flags), node's start included. Timed from spawn to exit.
 */
function timeCliVerify(root: string, stateDir: string): Promise<{ seconds: number; report: Report }> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, 'verify', '--root', root, '--state', stateDir, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', fail);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0 && code !== 1) return fail(new Error(`verify exited ${code}`));
      done({ seconds, report: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Report });
    });
  });
}

async function timeVerify(root: string, stateDir: string, concurrency: number) {
  const config = applyConfig(defaultConfig({}), { root, stateDir, hashRateLimitMBps: 0, hashConcurrency: concurrency }, 'bench');
  const hasher = createHasher({ concurrency, rateLimitMBps: 0 });
  const before = process.memoryUsage.rss();
  let peak = before;
  const t0 = performance.now();
  try {
    const r = await verifyOnce({
      config, hasher, expectation: null, agentVersion: 'bench',
      onProgress: () => {
        peak = Math.max(peak, process.memoryUsage.rss());
      },
    });
    return { seconds: (performance.now() - t0) / 1000, report: r.report, peakDeltaMB: (Math.max(peak, process.memoryUsage.rss()) - before) / MIB };
  } finally {
    await hasher.close();
  }
}

export async function benchVerify(opts: { log: (line: string) => void; files?: number; totalBytes?: number }): Promise<Record<string, number>> {
  const { log } = opts;
  const files = opts.files ?? 10_000;
  const totalBytes = opts.totalBytes ?? 1024 * MIB;
  const root = join(repoRoot(), '.bench', `verify-core-${files}-${totalBytes}`);
  // The bulk of the deployment: 20 Lambda folders of random files, then a whole simulated core around them.
  const tree = ensureTree(join(root, 'greengrass/ggc/deployment/lambda'), files, totalBytes, log);
  await makeCore({ root });
  const cores = availableParallelism();
  const mb = (b: number) => b / MIB;
  const out: Record<string, number> = {};
  const stateDir = join(root, '..', `verify-state-${process.pid}`);
  try {
    log(`verify bench: simulated core with ${tree.files.length} + ~20 files, ${mb(tree.totalBytes).toFixed(0)} MiB; warm cache`);
    await timeVerify(root, join(stateDir, 'warm'), 1); // warm the page cache
    const shaSec = Math.min(await timeSha256sum(tree.files, 1), await timeSha256sum(tree.files, 1));
    const limit = opensslBytesPerSecond() * cores;
    out.sha256sum_MBps = mb(tree.totalBytes) / shaSec;
    out.openssl_limit_MBps = mb(limit);
    log(`  sha256sum over the same files: ${out.sha256sum_MBps.toFixed(0)} MB/s; openssl limit ${out.openssl_limit_MBps.toFixed(0)} MB/s (${cores} cores)`);
    for (const concurrency of [1, cores]) {
      const first = await timeVerify(root, join(stateDir, `c${concurrency}`), concurrency);
      const again = await timeVerify(root, join(stateDir, `c${concurrency}`), concurrency);
      if (first.report.observed.baseline.state !== 'created' || again.report.observed.baseline.state !== 'compared') {
        throw new Error('baseline states are not created then compared');
      }
      if (again.report.status !== first.report.status) throw new Error('the second verify disagrees with the first');
      for (const [name, r] of [['first', first], ['rescan', again]] as const) {
        const k = `verify_${name}_c${concurrency}`;
        const bytes = r.report.observed.bytesHashed;
        out[`${k}_MBps`] = mb(bytes) / r.seconds;
        out[`${k}_files_per_s`] = r.report.observed.filesHashed / r.seconds;
        out[`${k}_ratio_sha256sum`] = shaSec / r.seconds;
        out[`${k}_ratio_openssl_limit`] = mb(bytes) / r.seconds / out.openssl_limit_MBps;
        out[`${k}_peak_rss_delta_MB`] = r.peakDeltaMB;
        log(
          `  verify ${name === 'first' ? 'first run (no baseline)' : 'with baseline      '} hashConcurrency=${concurrency}: ` +
            `${r.seconds.toFixed(2)} s, ${out[`${k}_MBps`]!.toFixed(0)} MB/s, ${out[`${k}_files_per_s`]!.toFixed(0)} files/s, ` +
            `${out[`${k}_ratio_sha256sum`]!.toFixed(2)}x sha256sum, ${out[`${k}_ratio_openssl_limit`]!.toFixed(2)}x openssl limit, ` +
            `peak RSS +${r.peakDeltaMB.toFixed(1)} MB`,
        );
      }
    }
    // The command line with its defaults: what a person at a prompt waits for.
    const workers = oneShotConfig({}).hashConcurrency;
    const cliState = join(stateDir, 'cli');
    for (const name of ['first', 'rescan'] as const) {
      const r = await timeCliVerify(root, cliState);
      const want = name === 'first' ? 'created' : 'compared';
      if (r.report.observed.baseline.state !== want) throw new Error(`the command line's ${name} run: baseline ${r.report.observed.baseline.state}`);
      const k = `verify_cli_defaults_${name}`;
      out[`${k}_seconds`] = r.seconds;
      out[`${k}_MBps`] = mb(r.report.observed.bytesHashed) / r.seconds;
      out[`${k}_ratio_sha256sum`] = shaSec / r.seconds;
      log(
        `  deploy-witness verify ${name === 'first' ? '(no baseline)  ' : '(with baseline)'} defaults (uncapped, ${workers} workers): ` +
          `${r.seconds.toFixed(2)} s, ${out[`${k}_MBps`]!.toFixed(0)} MB/s, ${out[`${k}_ratio_sha256sum`]!.toFixed(2)}x sha256sum (${shaSec.toFixed(2)} s)`,
      );
    }
    out.verify_cli_default_workers = workers;
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  benchVerify({ log: (l) => console.log(l) }).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
