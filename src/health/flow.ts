// Is the flow actually running? Pure: judges what ThingsGraph.log said against
// a clock reading. Times that are only upper bounds (a file's mtime) can only
// delay an error here, never raise one early.
import type { ThingsGraphLogObservation } from '../model/observation.js';
import { MAX_TIMELINE } from '../observe/logs.js';
import type { FlowTimeline } from '../model/observation.js';
import { parseTriggerCadence } from '../observe/log-lines.js';
import { finding, type Finding } from '../model/findings.js';

export interface FlowHealthOptions {
  /** Window when the log names no fixed trigger cadence. */
  windowMinutes: number;
  /** Window = this many trigger periods. Default 3. */
  cadenceMultiple?: number;
}

export type FlowState =
  | 'absent' // no sign of Things Graph in the log
  | 'starting' // bootstrapped, not yet initialized, window not over
  | 'not-initialized' // RUNTIME_NOT_INITIALIZED
  | 'idle' // initialized, nothing registered: no flow to run
  | 'waiting' // initialized, no execution yet, window not over
  | 'running'
  | 'stopped' // FLOW_NOT_RUNNING
  | 'unknown' // the log gives no times to judge by
  | 'unreadable'; // part of the log could not be read, and what was read does not show the flow running

export interface FlowHealth {
  state: FlowState;
  initialized: boolean;
  /** The runtime run's start: its bootstrap, or its first registration when that rotated away. */
  runtimeStartedAt?: string;
  initializedAt?: string;
  lastExecutionAt?: string;
  executionsInWindow: number;
  failuresInWindow: number;
  /** The counts reached the number of times the log reader keeps: the true counts may be higher. */
  countsCapped: boolean;
  windowMs: number;
  /** The trigger's period, when the log names a fixed one. */
  cadenceMs: number | null;
  timesAreBounds: boolean;
  /** The earliest instant the verdict changes if nothing new is logged: one timer instead of polling. */
  nextCheckAt?: Date;
}

export interface FlowAssessment {
  health: FlowHealth;
  findings: Finding[];
}

export const DEFAULT_CADENCE_MULTIPLE = 3;
/** A window shorter than this would flag a flow for a busy minute on a small device. */
export const MIN_WINDOW_MS = 60_000;
/** Newest failure lines quoted in FLOW_ERRORS. */
export const FAILURE_LINES_QUOTED = 3;

export function flowWindow(tg: ThingsGraphLogObservation, opts: FlowHealthOptions): { windowMs: number; cadenceMs: number | null } {
  const expr = tg.activity?.triggerExpression;
  const cadenceMs = expr === undefined ? null : parseTriggerCadence(expr);
  const multiple = opts.cadenceMultiple ?? DEFAULT_CADENCE_MULTIPLE;
  const windowMs = cadenceMs === null ? opts.windowMinutes * 60_000 : Math.max(MIN_WINDOW_MS, cadenceMs * multiple);
  return { windowMs, cadenceMs };
}

// Without a timeline (the reader was not asked for one) only the newest times
// are known: the bootstrap stands in for the initialization, and failures
// cannot be placed in a window.
function timelineOf(tg: ThingsGraphLogObservation): FlowTimeline {
  if (tg.activity?.timeline) return tg.activity.timeline;
  const t: FlowTimeline = { starts: tg.activity?.lastStartAt ? [tg.activity.lastStartAt] : [], failures: [], timesAreBounds: true };
  if (tg.lastBootstrapAt !== undefined) t.bootstrapAt = tg.lastBootstrapAt;
  if (tg.initialized && tg.lastBootstrapAt !== undefined) t.initializedAt = tg.lastBootstrapAt;
  return t;
}

function ms(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const n = Date.parse(iso);
  return Number.isNaN(n) ? undefined : n;
}

/** "45 s", "12 min", "3 h 5 min", "2 d 4 h": for messages. */
export function formatDuration(milliseconds: number): string {
  const s = Math.max(0, Math.round(milliseconds / 1000));
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export function assessFlow(tg: ThingsGraphLogObservation, now: Date, opts: FlowHealthOptions): FlowAssessment {
  const t = timelineOf(tg);
  const { windowMs, cadenceMs } = flowWindow(tg, opts);
  const nowMs = now.getTime();
  const executions = tg.activity?.executions ?? 0;
  // Clock jumps (a Pi has no RTC) can put lines out of order: the newest time counts, not the last line.
  const startTimes = t.starts.map(ms).filter((n): n is number => n !== undefined);
  const lastExec = startTimes.length > 0 ? Math.max(...startTimes) : undefined;
  const inWindow = (at: number): boolean => at > nowMs - windowMs;
  const failures = t.failures.map((f) => ({ at: ms(f.at), text: f.text })).filter((f): f is { at: number; text: string } => f.at !== undefined);
  const recentFailures = failures.filter((f) => inWindow(f.at));
  const startedAt = t.bootstrapAt ?? t.registeredAt;
  const initializedAt = ms(t.initializedAt);
  // A flow that executes proves the runtime up, whether or not its start rotated away.
  const ran = executions > 0 || startTimes.length > 0;
  const initialized = tg.initialized || ran;

  const health: FlowHealth = {
    state: 'unknown',
    initialized,
    executionsInWindow: startTimes.filter(inWindow).length,
    failuresInWindow: recentFailures.length,
    countsCapped: false,
    windowMs,
    cadenceMs,
    timesAreBounds: t.timesAreBounds,
  };
  if (startedAt !== undefined) health.runtimeStartedAt = startedAt;
  if (t.initializedAt !== undefined) health.initializedAt = t.initializedAt;
  if (lastExec !== undefined) health.lastExecutionAt = new Date(lastExec).toISOString();
  // All kept times inside the window: older ones, dropped by the reader, may be too.
  const capped = (times: number[]): boolean => times.length >= MAX_TIMELINE && times.every(inWindow);
  const failuresCapped = capped(failures.map((f) => f.at));
  health.countsCapped = capped(startTimes) || failuresCapped;

  const findings: Finding[] = [];
  const changes: number[] = [];
  const path = tg.files.length > 0 ? tg.files[tg.files.length - 1] : undefined;
  const at = path === undefined ? {} : { path };
  const registered = tg.registered.length > 0;

  // A log that could not be read in full proves nothing by its silence: what it
  // shows (executions, failures) counts, what it does not show is not concluded.
  const blind = (tg.unreadable ?? []).length > 0;

  if (!registered && !tg.bootstrapped && !ran && !tg.initialized) {
    health.state = blind ? 'unreadable' : 'absent';
    return { health, findings };
  }

  if (!initialized) {
    const start = ms(startedAt);
    if (start === undefined) health.state = 'unknown';
    else if (nowMs >= start + windowMs && blind) health.state = 'unreadable';
    else if (nowMs >= start + windowMs) {
      health.state = 'not-initialized';
      findings.push(
        finding(
          'RUNTIME_NOT_INITIALIZED',
          `the Things Graph runtime started ${formatDuration(nowMs - start)} ago and has not reported itself initialized`,
          {
            ...at,
            expected: { initializedWithinMs: windowMs },
            actual: { runtimeStartedAt: startedAt, registered: tg.registered.length, timesAreBounds: t.timesAreBounds },
          },
        ),
      );
    } else {
      health.state = 'starting';
      changes.push(start + windowMs);
    }
  } else if (!registered && !ran) {
    health.state = blind ? 'unreadable' : 'idle';
  } else {
    const ref = lastExec ?? initializedAt;
    if (ref === undefined) health.state = 'unknown';
    else if (nowMs >= ref + windowMs && blind) health.state = 'unreadable';
    else if (nowMs >= ref + windowMs) {
      health.state = 'stopped';
      const since = lastExec === undefined ? 'since the runtime initialized' : 'since the last one';
      findings.push(
        finding('FLOW_NOT_RUNNING', `no flow execution for ${formatDuration(nowMs - ref)} ${since} (window ${formatDuration(windowMs)})`, {
          ...at,
          expected: { executionWithinMs: windowMs, cadenceMs },
          actual: {
            lastExecutionAt: health.lastExecutionAt ?? null,
            initializedAt: t.initializedAt ?? null,
            executions,
            timesAreBounds: t.timesAreBounds,
          },
        }),
      );
    } else {
      health.state = lastExec === undefined ? 'waiting' : 'running';
      changes.push(ref + windowMs);
    }
  }

  if (recentFailures.length > 0) {
    const newest = [...recentFailures].sort((a, b) => a.at - b.at).slice(-FAILURE_LINES_QUOTED);
    const more = failuresCapped ? ' or more' : '';
    findings.push(
      finding('FLOW_ERRORS', `${recentFailures.length}${more} flow failure(s) in the last ${formatDuration(windowMs)}`, {
        ...at,
        actual: {
          failures: recentFailures.length,
          countsCapped: failuresCapped,
          windowMs,
          timesAreBounds: t.timesAreBounds,
          newest: newest.map((f) => ({ at: new Date(f.at).toISOString(), text: f.text })),
        },
      }),
    );
    // The warning goes when its newest failure leaves the window.
    changes.push(newest[newest.length - 1]!.at + windowMs);
  }

  const next = changes.filter((c) => c > nowMs);
  if (next.length > 0) health.nextCheckAt = new Date(Math.min(...next));
  return { health, findings };
}

/** FLOW_NOT_RUNNING, RUNTIME_NOT_INITIALIZED, FLOW_ERRORS; none when Things Graph is not in play. */
export function flowFindings(tg: ThingsGraphLogObservation, now: Date, opts: FlowHealthOptions): Finding[] {
  return assessFlow(tg, now, opts).findings;
}

export function flowHealth(tg: ThingsGraphLogObservation, now: Date, opts: FlowHealthOptions): FlowHealth {
  return assessFlow(tg, now, opts).health;
}
