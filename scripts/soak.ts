// Soak: the real agent (`deploy-witness run`, a child process) on a simulated
// core while a deployed file changes every --interval-ms, so it hashes,
// judges and reports once per change (over MQTT 5 to a local mosquitto with
// mutual TLS, or as JSON lines in local mode). A probe loaded into the child
// (soak-probe.ts) samples its memory: RSS from /proc, the JS heap (used and
// committed, per space), array buffers, and resident anonymous memory split
// into the main thread's malloc heap, other threads' malloc arenas and V8 heap
// pages. The series is printed as it comes, and at the end the slope of each
// after the warm-up and whether RSS stayed flat within 5 %.
//
//   npm run soak -- --minutes 60 --interval-ms 1000
//   npm run soak -- --minutes 15 --interval-ms 100 --mode local     (accelerated)
//   npm run soak -- --minutes 20 --env MALLOC_ARENA_MAX=2           (an experiment)
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { makeCore } from './simulated-core.js';
import { directCore, keepFlowRunning, startAgentProcess, type AgentProcess } from '../test/lib/agent-process.js';
import { startMosquitto, type Broker } from '../test/lib/mosquitto.js';

const HELP = `Usage: npm run soak -- [options]

  --minutes N        how long to run (default 60)
  --interval-ms N    one change of a deployed file every N ms (default 1000)
  --mode MODE        mqtt (mosquitto, mutual TLS; default) or local (JSON lines)
  --files N          files in the simulated core's Lambda folder (default 4; the agent bench uses 10000)
  --sample-s N       memory sample period in seconds (default 30)
  --warmup-min N     minutes left out of the slope (default 10, at most a third of the run)
  --env KEY=VALUE    set in the agent's environment (repeatable), e.g. MALLOC_ARENA_MAX=2
  --node-arg ARG     extra node option for the agent (repeatable, as NODE_OPTIONS allows), e.g. --max-semi-space-size=1
  --v8-flags FLAGS   V8 flags the agent sets on itself at start (v8.setFlagsFromString), e.g. --optimize-for-size
  --out FILE         write the samples as JSON lines to FILE too
`;

interface Sample {
  t: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  mallocedMemory: number;
  RssAnon?: number;
  RssFile?: number;
  VmHWM?: number;
  Threads?: number;
  brk?: number;
  arenas?: number;
  pages256k?: number;
  otherAnon?: number;
  resources?: Record<string, number>;
  reports?: number;
}

const MB = 1024 * 1024;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

/** Reports the agent has made: the sequence of its newest 'report' log line. */
function reportsMade(agent: AgentProcess): number {
  for (let i = agent.logs.length - 1; i >= 0; i--) {
    const l = agent.logs[i]!;
    if (l.message === 'report' && typeof l.sequence === 'number') return l.sequence;
  }
  return 0;
}

export async function soak(argv: string[], log: (line: string) => void = (l) => console.log(l)): Promise<Record<string, number>> {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '60' },
      'interval-ms': { type: 'string', default: '1000' },
      mode: { type: 'string', default: 'mqtt' },
      'sample-s': { type: 'string', default: '30' },
      files: { type: 'string', default: '4' },
      'warmup-min': { type: 'string' },
      env: { type: 'string', multiple: true },
      'node-arg': { type: 'string', multiple: true },
      'v8-flags': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    log(HELP);
    return {};
  }
  const minutes = Number(values.minutes);
  const intervalMs = Number(values['interval-ms']);
  const sampleMs = Number(values['sample-s']) * 1000;
  const warmupMin = Math.min(Number(values['warmup-min'] ?? 10), minutes / 3);
  const files = Number(values.files);
  if (!(minutes > 0) || !(intervalMs >= 10) || !(sampleMs >= 1000) || !Number.isInteger(files) || files < 1) throw new Error(`bad options\n${HELP}`);
  if (values.mode !== 'mqtt' && values.mode !== 'local') throw new Error(`--mode is mqtt or local\n${HELP}`);
  const extraEnv: Record<string, string> = {};
  for (const kv of values.env ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--env wants KEY=VALUE, got ${kv}`);
    extraEnv[kv.slice(0, i)] = kv.slice(i + 1);
  }

  const dir = await mkdtemp(join(tmpdir(), 'dw-soak-'));
  const probeFile = join(dir, 'probe.jsonl');
  const probe = pathToFileURL(resolve(import.meta.dirname, 'soak-probe.js')).href;
  const env = {
    ...extraEnv,
    NODE_OPTIONS: [`--import=${probe}`, ...(values['node-arg'] ?? [])].join(' '),
    SOAK_PROBE_FILE: probeFile,
    SOAK_PROBE_MS: String(sampleMs),
    ...(values['v8-flags'] ? { SOAK_V8_FLAGS: values['v8-flags'] } : {}),
  };
  let broker: Broker | undefined;
  let agent: AgentProcess | undefined;
  const closers: (() => Promise<void> | void)[] = [];
  let target: string;
  try {
    if (values.mode === 'mqtt') {
      broker = await startMosquitto();
      const d = await directCore({ dir: join(dir, 'core'), thing: 'SoakCore', broker, spec: { lambdaFiles: files } });
      closers.push(() => d.stop());
      agent = d.start([], env);
      target = join(d.core.root, d.core.paths.lambdaDir, 'lib', 'dep-0000.jar');
    } else {
      const core = await makeCore({ root: join(dir, 'core', 'root'), lambdaFiles: files });
      closers.push(keepFlowRunning(join(core.root, core.paths.thingsGraphLog), core.ids.flowName));
      agent = startAgentProcess({ args: ['--root', core.root, '--state', join(dir, 'state'), '--hash-rate', '0'], env });
      closers.push(async () => void (await agent?.term()));
      target = join(core.root, core.paths.lambdaDir, 'lib', 'dep-0000.jar');
    }
    await agent.waitForLog((l) => l.message === 'agent started', 120_000);
    log(`soak: ${values.mode} mode, ${files} files in the Lambda folder, one change every ${intervalMs} ms for ${minutes} min, samples every ${sampleMs / 1000} s, warm-up ${warmupMin.toFixed(1)} min`);
    log(`soak: agent pid ${agent.pid}${Object.keys(extraEnv).length ? `, env ${JSON.stringify(extraEnv)}` : ''}; changing ${target}`);
    const original = await readFile(target);

    let changes = 0;
    let stop = false;
    const changer = (async () => {
      while (!stop) {
        const t0 = performance.now();
        // New content each time: a new digest, a new finding, a new report.
        await writeFile(target, Buffer.concat([original, Buffer.from(`\n${changes++}\n`)]));
        const wait = intervalMs - (performance.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();

    const samples: Sample[] = [];
    let read = 0;
    const t0 = Date.now();
    const header = 'min      rss  rssAnon heapUsed heapTot arrayBuf      brk   arenas  v8pages    other  reports';
    log(header);
    const collect = async () => {
      const text = await readFile(probeFile, 'utf8').catch(() => '');
      const lines = text.split('\n').filter(Boolean);
      for (const line of lines.slice(read)) {
        const s = JSON.parse(line) as Sample;
        s.reports = reportsMade(agent!);
        samples.push(s);
        const f = (v: number | undefined) => (v === undefined ? '-' : (v / MB).toFixed(1)).padStart(8);
        log(
          `${((s.t - t0) / 60_000).toFixed(1).padStart(5)} ${f(s.rss)} ${f(s.RssAnon)} ${f(s.heapUsed)} ${f(s.heapTotal)} ${f(s.arrayBuffers)} ` +
            `${f(s.brk)} ${f(s.arenas)} ${f(s.pages256k)} ${f(s.otherAnon)} ${String(s.reports).padStart(8)}`,
        );
      }
      read = lines.length;
    };
    const end = t0 + minutes * 60_000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(sampleMs, end - Date.now())));
      if (!agent.running) throw new Error(`the agent exited: ${agent.dump()}`);
      await collect();
    }
    stop = true;
    await changer;
    await collect();
    const last = samples[samples.length - 1];
    if (last) log(`active resources at the end: ${JSON.stringify(last.resources)}`);
    if (values.out) await writeFile(values.out, samples.map((s) => JSON.stringify(s)).join('\n') + '\n');

    const after = samples.filter((s) => s.t - t0 >= warmupMin * 60_000);
    const hours = after.map((s) => (s.t - t0) / 3_600_000);
    const out: Record<string, number> = { minutes, intervalMs, changes, reports: reportsMade(agent), samplesAfterWarmup: after.length };
    for (const key of ['rss', 'RssAnon', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers', 'brk', 'arenas', 'pages256k', 'otherAnon'] as const) {
      const ys = after.map((s) => (s[key] ?? NaN) / MB);
      out[`${key}SlopeMBPerHour`] = slope(hours, ys);
    }
    const k = Math.max(1, Math.min(5, Math.floor(after.length / 4)));
    const first = median(after.slice(0, k).map((s) => s.rss));
    const lastRss = median(after.slice(-k).map((s) => s.rss));
    out.rssAtWarmupMB = first / MB;
    out.rssAtEndMB = lastRss / MB;
    out.rssGrowthPercent = ((lastRss - first) / first) * 100;
    out.rssRangePercent = ((Math.max(...after.map((s) => s.rss)) - Math.min(...after.map((s) => s.rss))) / first) * 100;
    out.peakRssMB = Math.max(...samples.map((s) => s.VmHWM ?? s.rss)) / MB;
    log(`soak: ${changes} changes, ${out.reports} reports`);
    log(
      `soak: after the first ${warmupMin} min: RSS ${out.rssAtWarmupMB.toFixed(1)} -> ${out.rssAtEndMB.toFixed(1)} MB ` +
        `(${out.rssGrowthPercent >= 0 ? '+' : ''}${out.rssGrowthPercent.toFixed(1)} %, range ${out.rssRangePercent.toFixed(1)} %), ` +
        `slope ${out.rssSlopeMBPerHour!.toFixed(2)} MB/h (anon ${out.RssAnonSlopeMBPerHour!.toFixed(2)}, heap used ${out.heapUsedSlopeMBPerHour!.toFixed(2)}, ` +
        `heap total ${out.heapTotalSlopeMBPerHour!.toFixed(2)}, array buffers ${out.arrayBuffersSlopeMBPerHour!.toFixed(2)}, brk ${out.brkSlopeMBPerHour!.toFixed(2)}, ` +
        `arenas ${out.arenasSlopeMBPerHour!.toFixed(2)}, V8 pages ${out.pages256kSlopeMBPerHour!.toFixed(2)}); ` +
        `${Math.abs(out.rssGrowthPercent) <= 5 ? 'flat within 5 %' : 'NOT flat within 5 %'}`,
    );
    return out;
  } finally {
    for (const c of closers.reverse()) await c();
    if (agent?.running) await agent.kill();
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  soak(process.argv.slice(2)).then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
