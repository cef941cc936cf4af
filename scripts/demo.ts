// The first thing a newcomer runs: a simulated core, the live agent on it, a
// tampered file, the verdict changing, the file restored, the verdict back.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../src/agent/agent.js';
import { applyConfig, defaultConfig } from '../src/config/config.js';
import { createLogger } from '../src/log.js';
import { createHasher } from '../src/observe/hash.js';
import type { Heartbeat } from '../src/report/protocol.js';
import type { ReportSink } from '../src/report/sink.js';
import { parseExpectation } from '../src/verify/expectation.js';
import type { Report } from '../src/verify/report.js';
import { VERSION } from '../src/version.js';
import { keepFlowRunning, makeCore } from './simulated-core.js';

const say = (s: string) => process.stdout.write(`${s}\n`);

const waiters: { pred: (r: Report) => boolean; resolve: (r: Report) => void }[] = [];

/** Resolves with the first report (already seen or still to come) that matches. */
function waitFor(reports: Report[], pred: (r: Report) => boolean, ms = 15_000): Promise<Report> {
  const hit = reports.find(pred);
  if (hit) return Promise.resolve(hit);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the agent did not report in time')), ms);
    waiters.push({ pred, resolve: (r) => { clearTimeout(timer); resolve(r); } });
  });
}

function notify(r: Report): void {
  for (const w of waiters.splice(0)) {
    if (w.pred(r)) w.resolve(r);
    else waiters.push(w);
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'deploy-witness-demo-'));
  try {
    const root = join(dir, 'core');
    say(`1. Writing a simulated Greengrass v1 core after a Things Graph deployment to ${root}, its flow running`);
    const core = await makeCore({ root });
    // Its flow keeps running, as on a healthy core: a log that stops growing is FLOW_NOT_RUNNING a minute later.
    const flow = await keepFlowRunning(core);
    const parsed = parseExpectation(JSON.stringify(core.envelope));
    if (!parsed.ok) throw new Error(parsed.error);

    const reports: Report[] = [];
    const sink: ReportSink = {
      name: 'demo',
      async report(any) {
        const r = any as Report; // a Things Graph core
        reports.push(r);
        const codes = r.findings.map((f) => `${f.code} ${f.path ?? ''}`.trim());
        say(`   report #${r.sequence}: ${r.status}${codes.length ? ` (${codes.join('; ')})` : ''}`);
        notify(r);
      },
      async heartbeat(_b: Heartbeat) {},
      async close() {},
    };
    const config = applyConfig(defaultConfig(), { root, stateDir: join(dir, 'state'), debounceMs: 100 }, 'demo');
    const hasher = createHasher({ concurrency: 1, rateLimitMBps: config.hashRateLimitMBps });
    const agent = new Agent({
      config, sink, hasher, agentVersion: VERSION, expectation: parsed.expectation,
      logger: createLogger({ level: 'warn', stream: 'stderr' }),
    });
    say('2. Starting the agent: a full verification against what deploy-system-instance said');
    await agent.start();
    await waitFor(reports, (r) => r.status === 'VERIFIED');

    const target = join(root, core.paths.lambdaDir, 'config.json');
    const original = await readFile(target);
    say(`3. Tampering with the connector's config.json`);
    await writeFile(target, '{"handler":"evil.Handler::handle"}\n');
    await waitFor(reports, (r) => r.status === 'TAMPERED');

    say('4. Restoring the file');
    await writeFile(target, original);
    const back = await waitFor(reports, (r) => r.status === 'VERIFIED' && (r.sequence ?? 0) > 2);

    say(`5. Verified again: tree digest ${back.observed.treeDigest.slice(0, 16)}…, ${reports.length} reports in all`);
    await agent.stop();
    await hasher.close();
    await flow.stop();
    say('Done. Next: `npx deploy-witness verify --help`, `npx deploy-witness run --help`, README.md.');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
