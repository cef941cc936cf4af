// The live agent (`deploy-witness run`) as a child process on a simulated core
// with a 10,000-file Lambda folder: time to the first report (cold: no
// baseline; warm: baseline stored), time from a file write to the report on
// stdout (p50/p99; in-place writes and atomic replaces), bytes hashed per
// change, inotify watches used, RSS and CPU while idle, time to stop on SIGTERM.
// Run alone: node dist/scripts/bench-agent.js   (BENCH_IDLE_SECONDS=60 by default)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { countWatches } from '../src/agent/watch-budget.js';
import { defaultConfig } from '../src/config/config.js';
import { DEFAULT_LAYOUT } from '../src/config/layout.js';
import { makeCore, type MadeCore } from './simulated-core.js';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/bin.js');
const FILES = 10_000;
const WAIT_MS = 120_000;

type Doc = Record<string, unknown> & { schema?: string; status?: string; findings?: { code: string; path?: string }[] };

/** The agent as a child: reports from stdout, parsed, with event-driven waits. */
class AgentChild {
  readonly child: ChildProcess;
  readonly reports: { doc: Doc; at: number }[] = [];
  private readonly bus = new EventEmitter();
  private exit: { code: number | null; at: number } | null = null;
  readonly exited: Promise<{ code: number | null; at: number }>;
  private stderrTail: string[] = [];

  constructor(args: string[]) {
    const env = { ...process.env };
    for (const k of ['AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT', 'SVCUID', 'AWS_IOT_THING_NAME']) delete env[k];
    this.child = spawn(process.execPath, [BIN, 'run', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.bus.setMaxListeners(0);
    let rest = '';
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      const at = performance.now();
      rest += chunk;
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        let doc: Doc;
        try {
          doc = JSON.parse(line) as Doc;
        } catch {
          continue;
        }
        if (doc.schema !== 'deploy-witness/report') continue;
        this.reports.push({ doc, at });
        if (this.reports.length > 1000) {
          this.reports.shift();
          this.dropped += 1;
        }
        this.bus.emit('report');
      }
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderrTail.push(chunk);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    });
    this.exited = new Promise((res) =>
      this.child.once('exit', (code) => {
        this.exit = { code, at: performance.now() };
        this.bus.emit('exit');
        res(this.exit);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The first report from index `from` on that matches, with the time its line arrived. */
  waitReport(pred: (d: Doc) => boolean, what: string, from = 0): Promise<{ doc: Doc; at: number }> {
    const find = () => this.reports.slice(Math.max(0, from - this.dropped)).find((r) => pred(r.doc));
    const seen = find();
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const off = () => {
        clearTimeout(timer);
        this.bus.off('report', check);
        this.bus.off('exit', onExit);
      };
      const check = () => {
        const r = find();
        if (r) {
          off();
          res(r);
        }
      };
      const onExit = () => {
        off();
        rej(new Error(`agent exited before ${what}: ${this.stderrTail.join('').slice(-2000)}`));
      };
      const timer = setTimeout(() => {
        off();
        rej(new Error(`no report with ${what} within ${WAIT_MS} ms`));
      }, WAIT_MS);
      this.bus.on('report', check);
      if (this.exit) onExit();
      else this.bus.on('exit', onExit);
    });
  }

  private dropped = 0;
  /** Reports ever received (the list keeps the newest 1000). */
  totalSeen(): number {
    return this.dropped + this.reports.length;
  }

  async stop(): Promise<number> {
    const sent = performance.now();
    this.child.kill('SIGTERM');
    const guard = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const e = await this.exited;
    clearTimeout(guard);
    if (e.code !== 0) throw new Error(`agent exited ${e.code} on SIGTERM: ${this.stderrTail.join('').slice(-2000)}`);
    return e.at - sent;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const clockTicks = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** VmRSS and VmHWM (peak) in MiB from /proc/<pid>/status. */
function memoryMB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** inotify watches the process holds (from /proc/<pid>/fdinfo). */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!target.includes('inotify')) continue;
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    n += info.split('\n').filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

const modifiedAt = (path: string) => (d: Doc) => (d.findings ?? []).some((f) => f.code === 'ARTIFACT_MODIFIED' && f.path === path);

/**
 * Writes to `path` and waits for the report that says so: `tampered` decides
 * whether the report must name the file as modified or no longer name it.
 */
async function timedChange(
  agent: AgentChild,
  core: MadeCore,
  rel: string,
  data: Buffer,
  tampered: boolean,
  atomic: boolean,
): Promise<{ ms: number; bytes: number }> {
  const abs = join(core.root, rel);
  const from = agent.totalSeen();
  const t0 = performance.now();
  if (atomic) {
    const tmp = `${abs}.bench-tmp`;
    await writeFile(tmp, data);
    await rename(tmp, abs);
  } else {
    await writeFile(abs, data);
  }
  const pred = modifiedAt(rel);
  const got = await agent.waitReport((d) => (tampered ? pred(d) : !pred(d)), `${rel} ${tampered ? 'modified' : 'restored'}`, from);
  const bytes = Number((got.doc.observed as { bytesHashed?: number } | undefined)?.bytesHashed ?? NaN);
  return { ms: got.at - t0, bytes };
}

async function changeSeries(
  agent: AgentChild,
  core: MadeCore,
  count: number,
  atomic: boolean,
): Promise<{ ms: number[]; bytes: number[] }> {
  const ms: number[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < count / 2; i++) {
    // Spread over the 10,000-file folder; each file tampered, then put back.
    const rel = `${core.paths.lambdaDir}/lib/dep-${String((i * 997 + (atomic ? 500 : 0)) % FILES).padStart(4, '0')}.jar`;
    const original = await readFile(join(core.root, rel));
    const changed = Buffer.from(original);
    changed[0] = changed[0]! ^ 0xff;
    for (const [data, tampered] of [[changed, true], [original, false]] as const) {
      const r = await timedChange(agent, core, rel, data, tampered, atomic);
      ms.push(r.ms);
      bytes.push(r.bytes);
    }
  }
  return { ms: ms.sort((a, b) => a - b), bytes };
}

export async function benchAgent(opts: { log: (line: string) => void }): Promise<Record<string, number>> {
  const { log } = opts;
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
  const changes = Math.max(50, Number(process.env.BENCH_CHANGES ?? 60));
  const dir = await mkdtemp(join(tmpdir(), 'dw-bench-agent-'));
  const out: Record<string, number> = {};
  const children: AgentChild[] = [];
  try {
    const t0 = performance.now();
    const core = await makeCore({ root: join(dir, 'core'), lambdaFiles: FILES });
    const state = join(dir, 'state');
    log(`agent bench: simulated core with a ${FILES}-file Lambda folder, made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const L = DEFAULT_LAYOUT;
    const watched = [L.deploymentDir, ...L.flowSearchPaths, L.thingsGraphDir, L.userLogDir, L.systemLogDir].map((p) => join(core.root, p));
    out.watchesNeeded = await countWatches([...new Set(watched)].filter((p) => !watched.some((q) => q !== p && p.startsWith(`${q}/`))), 10_000_000);

    // 1. Default settings, no baseline yet.
    const cold = new AgentChild(['--root', core.root, '--state', state]);
    children.push(cold);
    const cold0 = performance.now();
    const first = await cold.waitReport(() => true, 'the first report');
    out.startupColdMs = first.at - cold0;
    out.defaultBudgetDegraded = (first.doc.findings ?? []).some((f) => f.code === 'WATCH_DEGRADED') ? 1 : 0;
    out.stopColdMs = await cold.stop();
    log(`  default settings: first report after ${out.startupColdMs.toFixed(0)} ms (no baseline: every byte hashed at the 50 MB/s cap)`);
    log(`  watches needed: ${out.watchesNeeded}, default budget ${defaultConfig({}).watchBudget}: ${out.defaultBudgetDegraded ? 'WATCH_DEGRADED, scheduled scans only' : 'watching'}`);

    // 2. Baseline stored. Default settings, unless the default watch budget is too
    // small for the tree: then raised to fit, since scans alone have no latency to measure.
    const args = ['--root', core.root, '--state', state];
    if (out.defaultBudgetDegraded) {
      const cfg = join(dir, 'bench.yaml');
      await writeFile(cfg, `watchBudget: ${out.watchesNeeded * 2}\n`);
      args.push('--config', cfg);
      log(`  (watchBudget raised to ${out.watchesNeeded * 2} for what follows)`);
    }
    const warm = new AgentChild(args);
    children.push(warm);
    const warm0 = performance.now();
    const w1 = await warm.waitReport(() => true, 'the first report');
    out.startupWarmMs = w1.at - warm0;
    if ((w1.doc.findings ?? []).some((f) => f.code === 'WATCH_DEGRADED')) throw new Error('degraded: no event latency to measure');
    log(`  restart with the baseline stored: first report after ${out.startupWarmMs.toFixed(0)} ms (unchanged files trusted), watching`);
    // The watcher is ready when start resolves, which is before the first report.
    out.inotifyWatches = inotifyWatches(warm.pid);
    log(`  inotify watches held: ${out.inotifyWatches}`);

    const inPlace = await changeSeries(warm, core, changes, false);
    out.changes = inPlace.ms.length;
    out.writeToReportP50Ms = percentile(inPlace.ms, 50);
    out.writeToReportP99Ms = percentile(inPlace.ms, 99);
    out.writeToReportMaxMs = inPlace.ms[inPlace.ms.length - 1]!;
    out.bytesHashedPerChangeMax = Math.max(...inPlace.bytes);
    log(`  write -> report over ${out.changes} in-place writes: p50 ${out.writeToReportP50Ms.toFixed(0)} ms, p99 ${out.writeToReportP99Ms.toFixed(0)} ms, max ${out.writeToReportMaxMs.toFixed(0)} ms`);
    log(`  bytes hashed per change: at most ${out.bytesHashedPerChangeMax} (the changed file only; the folder holds ${FILES} files)`);

    const atomic = await changeSeries(warm, core, 20, true);
    out.atomicToReportP50Ms = percentile(atomic.ms, 50);
    out.atomicToReportP99Ms = percentile(atomic.ms, 99);
    log(`  write + rename -> report over ${atomic.ms.length} replaces: p50 ${out.atomicToReportP50Ms.toFixed(0)} ms, p99 ${out.atomicToReportP99Ms.toFixed(0)} ms`);

    // 3. Idle: nothing changes; a heartbeat may fall in the window, as on a device.
    // Settle first: the hash worker retires after 10 s without work, and V8 shrinks the heap the changes grew.
    await new Promise((r) => setTimeout(r, 15_000));
    const cpu0 = cpuSeconds(warm.pid);
    const idle0 = performance.now();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const cpu1 = cpuSeconds(warm.pid);
    const wall = (performance.now() - idle0) / 1000;
    const mem = memoryMB(warm.pid);
    out.idleSeconds = wall;
    out.idleCpuPercent = ((cpu1 - cpu0) / wall) * 100;
    out.idleRssMB = mem.rss;
    out.peakRssMB = mem.peak;
    log(`  idle ${wall.toFixed(0)} s: CPU ${out.idleCpuPercent.toFixed(2)} % of a core, RSS ${mem.rss.toFixed(1)} MB (peak ${mem.peak.toFixed(1)} MB)`);
    out.stopMs = await warm.stop();
    log(`  SIGTERM -> exit 0 in ${out.stopMs.toFixed(0)} ms`);
    return out;
  } finally {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  benchAgent({ log: (l) => console.log(l) }).then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
