// The health section of heartbeats and reports: short keys, rounded numbers,
// capped lists, so it stays well under 2 KB whatever the inputs but the disk
// paths (the shadow summary has 8 KB for everything, and leaves the section out
// when it does not fit). A path is kept whole: a path cut short names another
// place, or none, and a person reading the report cannot tell.
import type { FlowHealth, FlowState } from './flow.js';
import type { SystemHealth } from './system.js';
import type { AgentReading } from './agent-metrics.js';

export interface HealthSection {
  flow: {
    state: FlowState;
    /** Newest flow execution (ISO-8601). */
    last?: string;
    /** Executions and failures inside the window. */
    runs: number;
    fails: number;
    winS: number;
    cadS?: number;
    /** Times are file mtimes (upper bounds), not the lines' own. */
    bounds?: true;
    /** The counts reached what the reader keeps: the true counts may be higher. */
    capped?: true;
  };
  disks: { path: string; freeMB: number; totalMB: number; freePct: number }[];
  mem: { totalMB: number; availMB: number };
  load: [number, number, number];
  upS: number;
  agent: { lagMs: { p50: number; p99: number; max: number }; rssMB: number; cpuPct: number; watcher?: string; spool?: number };
}

export interface HealthInput {
  flow: FlowHealth;
  system: SystemHealth;
  agent: AgentReading;
  /** The watcher's state, e.g. "watching", "degraded", "scanning". */
  watcher?: string;
  /** Reports waiting in the on-disk spool. */
  spoolDepth?: number;
}

export const MAX_DISKS = 4;
export const MAX_WATCHER_CHARS = 24;

const MB = 1024 ** 2;

function round(n: number, digits = 0): number {
  if (!Number.isFinite(n)) return 0;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// JSON writes a control character as 6 bytes and a lone surrogate (a pair cut
// by clipping) as 6 too: both become 1-3 bytes, so the size bound holds.
function tidy(s: string): string {
  return s
    .replace(/[\u0000-\u001f\u007f]/g, '?')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function clipEnd(s: string, max: number): string {
  return tidy(s.length > max ? `${s.slice(0, max - 1)}…` : s);
}

export function buildHealth(input: HealthInput): HealthSection {
  const { flow: f, system: s, agent: a } = input;
  const flow: HealthSection['flow'] = {
    state: f.state,
    runs: round(f.executionsInWindow),
    fails: round(f.failuresInWindow),
    winS: round(f.windowMs / 1000),
  };
  if (f.lastExecutionAt !== undefined) flow.last = clipEnd(f.lastExecutionAt, 30);
  if (f.cadenceMs !== null) flow.cadS = round(f.cadenceMs / 1000, 1);
  if (f.timesAreBounds) flow.bounds = true;
  if (f.countsCapped) flow.capped = true;

  const agent: HealthSection['agent'] = {
    lagMs: { p50: round(a.loopDelayMs.p50, 1), p99: round(a.loopDelayMs.p99, 1), max: round(a.loopDelayMs.max, 1) },
    rssMB: round(a.rssBytes / MB, 1),
    cpuPct: round(a.cpuPercent, 1),
  };
  if (input.watcher !== undefined) agent.watcher = clipEnd(input.watcher, MAX_WATCHER_CHARS);
  if (input.spoolDepth !== undefined) agent.spool = round(input.spoolDepth);

  return {
    flow,
    // Fullest first: when there are more file systems than room, the ones running out are kept.
    disks: [...s.disks]
      .sort((x, y) => x.freePercent - y.freePercent)
      .slice(0, MAX_DISKS)
      .map((d) => ({
        path: d.path,
        freeMB: round(d.freeBytes / MB),
        totalMB: round(d.totalBytes / MB),
        freePct: round(d.freePercent, 1),
      })),
    mem: { totalMB: round(s.memory.totalBytes / MB), availMB: round(s.memory.availableBytes / MB) },
    load: [round(s.load[0], 2), round(s.load[1], 2), round(s.load[2], 2)],
    upS: round(s.uptimeSeconds),
    agent,
  };
}
