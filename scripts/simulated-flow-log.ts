// Writes a ThingsGraph.log that tells a flow-health story: a healthy flow, a
// stopped one, one that never started, one that fails, one without timestamps,
// one rotated. Each file's mtime is set to the time of its last line, as a real
// writer would leave it. A tool, not an oracle: tests check hand-written
// expectations against the times below.
//
// Line shapes follow the shared reference (things-graph-on-greengrass.md):
// `[<ISO UTC>][<LEVEL>]-<message>`, the bootstrap/registration/initialization
// lines verbatim, StartFlowExecution followed by flowInstanceId:/flowType:
// lines. There is no public sample of state transitions; the shape assumed
// here is `StateTransition: step <Name> succeeded|failed: <reason>` and
// `StateTransition: execution <id> succeeded|FAILED`, which the default
// FlowPatterns (transition, transitionSucceeded, transitionFailed) match; a
// different real shape is a pattern change, not a code change.
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const FLOW_LOG_SCENARIOS = {
  healthy: 'executions every 10 s up to now',
  stopped: 'executions every 10 s that ended an hour ago',
  'never-started': 'registered and initialized an hour ago, no execution since',
  failing: 'executions every 10 s up to now, each with a failed step and an ERROR line',
  'no-timestamps': 'the healthy story without timestamp prefixes; the file mtime is now',
  rotated: 'ThingsGraph.log.1 with the run start and older executions, ThingsGraph.log with the newer ones',
} as const;
export type FlowLogScenario = keyof typeof FLOW_LOG_SCENARIOS;

export interface FlowLogOptions {
  now: Date;
  /** Prefix lines with `[<ISO UTC>]`. The no-timestamps scenario never does. */
  timestamps: boolean;
  region?: string;
  /** The trigger line's expression; null leaves the line out. Default "every 10 seconds". */
  trigger?: string | null;
  /** Time between executions. Default 10 s. */
  cadenceMs?: number;
  urn?: string;
}

export interface FlowLogWritten {
  /** Root-relative paths, oldest first (rotated file before the current one). */
  files: string[];
  /** Absolute path of the current ThingsGraph.log. */
  current: string;
}

export const DEFAULT_FLOW_URN = 'urn:tdm:us-east-1/123456789012/default:Deployment:MyExample01_V001';
const FLOW_TYPE = 'urn:tdm:us-east-1/123456789012/default:Workflow:MyExample01';

export function flowLogDir(region = 'us-east-1'): string {
  return `greengrass/ggc/var/log/user/${region}/ThingsGraph`;
}

function line(timestamps: boolean, at: Date, level: string, msg: string): string {
  return `${timestamps ? `[${at.toISOString()}]` : ''}[${level}]-${msg}\n`;
}

/** The runtime's start as the reference shows it, then the trigger line. */
export function startupLines(at: Date, o: { timestamps: boolean; urn?: string; trigger?: string | null }): string {
  const L = (offsetMs: number, msg: string): string => line(o.timestamps, new Date(at.getTime() + offsetMs), 'INFO', msg);
  let out = L(0, 'bootstrapping DB');
  out += L(50, 'bootstrapping entities');
  out += L(400, 'bootstrapping entities done');
  out += L(450, 'bootstrapping DB done');
  out += L(600, `FlowsBootstrap: registered SDC: ${o.urn ?? DEFAULT_FLOW_URN}`);
  out += L(700, 'Initialized ThingsGraph Runtime v1.2.3');
  const trigger = o.trigger === undefined ? 'every 10 seconds' : o.trigger;
  if (trigger !== null) out += L(800, `Trigger expression condition: [${trigger}]`);
  return out;
}

/** One flow execution starting at `at`: its start, IDs and transitions (all within 300 ms). */
export function executionLines(at: Date, n: number, o: { timestamps: boolean; failing?: boolean }): string {
  const L = (offsetMs: number, level: string, msg: string): string => line(o.timestamps, new Date(at.getTime() + offsetMs), level, msg);
  const id = `exec-${String(n).padStart(6, '0')}`;
  let out = L(0, 'INFO', 'FlowSchedulerClientGreengrassImpl: StartFlowExecution:');
  out += L(1, 'INFO', `flowInstanceId: ${id}`);
  out += L(1, 'INFO', `flowType: ${FLOW_TYPE}`);
  out += L(120, 'INFO', 'StateTransition: step MotionSensorRead succeeded');
  if (o.failing) {
    out += L(250, 'ERROR', 'StateTransition: step CameraCapture failed: device Camera1 did not answer');
    out += L(251, 'ERROR', 'java.net.SocketTimeoutException: connect timed out');
  } else {
    out += L(250, 'INFO', 'StateTransition: step CameraCapture succeeded');
    out += L(260, 'INFO', `StateTransition: execution ${id} succeeded`);
  }
  return out;
}

async function writeAt(path: string, text: string, mtime: Date): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  await utimes(path, mtime, mtime);
}

/**
 * Times, with N = now and c = cadence (10 s); every execution's lines end
 * 260 ms after its start (251 ms when failing), and a file's mtime is its last line's time:
 * - healthy, failing, no-timestamps: bootstrap at N - 10 min - 1 s, executions
 *   at bootstrap + k c, the last at N - 1 s (60 of them).
 * - stopped: bootstrap at N - 2 h, executions at bootstrap + k c, the last at N - 1 h.
 * - never-started: bootstrap at N - 1 h, nothing after the trigger line (N - 1 h + 800 ms).
 * - rotated: bootstrap at N - 20 min - 1 s; .1 holds the start and the executions
 *   up to N - 10 min - 1 s, the current file the ones after, up to N - 1 s.
 */
export async function writeFlowLog(root: string, scenario: FlowLogScenario, opts: FlowLogOptions): Promise<FlowLogWritten> {
  const dir = flowLogDir(opts.region);
  const current = join(root, dir, 'ThingsGraph.log');
  const N = opts.now.getTime();
  const c = opts.cadenceMs ?? 10_000;
  const timestamps = scenario === 'no-timestamps' ? false : opts.timestamps;
  const failing = scenario === 'failing';
  const start = {
    timestamps,
    ...(opts.urn === undefined ? {} : { urn: opts.urn }),
    ...(opts.trigger === undefined ? {} : { trigger: opts.trigger }),
  };
  const MIN = 60_000;
  const tail = failing ? 251 : 260;
  // Executions at first, first + c, ... while not after `last`; returns the text and its last line's time.
  let n = 0; // instance IDs go on across files
  const run = (first: number, last: number): { text: string; end: number } => {
    let text = '';
    let end = first;
    for (let t = first; t <= last; t += c, n++) {
      text += executionLines(new Date(t), n, { timestamps, failing });
      end = t + tail;
    }
    return { text, end };
  };

  if (scenario === 'rotated') {
    const boot = N - 20 * MIN - 1000;
    const older = run(boot + c, N - 10 * MIN - 1000);
    await writeAt(`${current}.1`, startupLines(new Date(boot), start) + older.text, new Date(older.end));
    const newer = run(older.end - tail + c, N - 1000);
    await writeAt(current, newer.text, new Date(newer.end));
    return { files: [`${dir}/ThingsGraph.log.1`, `${dir}/ThingsGraph.log`], current };
  }
  if (scenario === 'never-started') {
    const boot = N - 60 * MIN;
    await writeAt(current, startupLines(new Date(boot), start), new Date(boot + 800));
  } else {
    const boot = scenario === 'stopped' ? N - 120 * MIN : N - 10 * MIN - 1000;
    const execs = run(boot + c, scenario === 'stopped' ? N - 60 * MIN : N - 1000);
    await writeAt(current, startupLines(new Date(boot), start) + execs.text, new Date(execs.end));
  }
  return { files: [`${dir}/ThingsGraph.log`], current };
}
