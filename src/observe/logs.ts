// What the logs say: pure reducers over classified lines, oldest first. Which
// files a core has is log-discovery.ts; reading them is log-tail.ts.
import type { FlowActivity, FlowTimeline, RuntimeLogObservation, ThingsGraphLogObservation } from '../model/observation.js';
import type { LogEvent } from './log-lines.js';

export type ThingsGraphLogSummary = Omit<ThingsGraphLogObservation, 'files'> & { activity: FlowActivity };
export type RuntimeLogSummary = Omit<RuntimeLogObservation, 'files'>;

export const MAX_ERROR_LINES = 5;
/** Starts and failures kept per run: enough for any window at the cadences flows use. */
export const MAX_TIMELINE = 64;
export const MAX_FAILURE_TEXT = 256;
/** A hostile log could register endless URNs; the newest ones are kept. */
export const MAX_REGISTERED = 256;

function emptyActivity(): FlowActivity {
  return { executions: 0, transitionsSucceeded: 0, transitionsFailed: 0, errors: 0, warnings: 0, lastErrors: [] };
}

interface Stamp {
  at: string;
  bound: boolean;
}

// Times per run, newest MAX_TIMELINE of each kind; a bootstrap starts afresh.
class TimelineBuilder {
  private starts: Stamp[] = [];
  private failures: (Stamp & { text: string })[] = [];
  private bootstrapAt: Stamp | undefined;
  private registeredAt: Stamp | undefined;
  private initializedAt: Stamp | undefined;

  add(ev: LogEvent, stamp: Stamp | undefined): void {
    if (ev.kind === 'bootstrap') {
      this.starts = [];
      this.failures = [];
      this.registeredAt = undefined;
      this.initializedAt = undefined;
      this.bootstrapAt = stamp;
    }
    if (!stamp) return;
    if (ev.kind === 'registered') this.registeredAt ??= stamp;
    else if (ev.kind === 'initialized') this.initializedAt = stamp;
    else if (ev.kind === 'flowStart') push(this.starts, stamp);
    const failedStep = ev.kind === 'transition' && ev.outcome === 'failed';
    if (failedStep || ev.level === 'ERROR' || ev.level === 'FATAL') {
      const t = eventText(ev);
      push(this.failures, { ...stamp, text: t.length > MAX_FAILURE_TEXT ? `${t.slice(0, MAX_FAILURE_TEXT)}…` : t });
    }
  }

  result(): FlowTimeline {
    const out: FlowTimeline = {
      starts: this.starts.map((s) => s.at),
      failures: this.failures.map((f) => ({ at: f.at, text: f.text })),
      timesAreBounds: false,
    };
    const single = { bootstrapAt: this.bootstrapAt, registeredAt: this.registeredAt, initializedAt: this.initializedAt };
    for (const [k, v] of Object.entries(single) as [keyof typeof single, Stamp | undefined][]) if (v) out[k] = v.at;
    out.timesAreBounds = [...this.starts, ...this.failures, ...Object.values(single)].some((s) => s?.bound === true);
    return out;
  }
}

function push<T>(ring: T[], item: T): void {
  ring.push(item);
  if (ring.length > MAX_TIMELINE) ring.shift();
}

function eventText(ev: LogEvent): string {
  switch (ev.kind) {
    case 'error':
    case 'warn':
    case 'transition':
      return ev.text;
    case 'deploymentFailed':
      return ev.message;
    default:
      return ev.kind;
  }
}

/**
 * Folds ThingsGraph.log events, oldest first. A bootstrap starts a new runtime
 * run: registrations, initialisation and flow activity are about the newest run.
 */
export class ThingsGraphLogReducer {
  private bootstrapped = false;
  private initialized = false;
  private runtimeVersion: string | undefined;
  private registered: string[] = [];
  private lastBootstrapAt: string | undefined;
  private activity = emptyActivity();
  // A flowStart whose instance ID / type may still arrive on the next lines.
  private openStart = false;
  private readonly timeline: TimelineBuilder | undefined;

  /** `timeline`: also keep the times health needs (FlowActivity.timeline). */
  constructor(opts: { timeline?: boolean } = {}) {
    if (opts.timeline) this.timeline = new TimelineBuilder();
  }

  /** `fallbackTime`: for lines without a timestamp, an upper bound (the file's mtime). */
  add(ev: LogEvent, fallbackTime?: string): void {
    const at = ev.at ?? fallbackTime;
    if (this.timeline) this.timeline.add(ev, at === undefined ? undefined : { at, bound: ev.at === undefined });
    if (ev.level === 'ERROR' || ev.level === 'FATAL') {
      this.activity.errors++;
      this.activity.lastErrors.push(eventText(ev));
      if (this.activity.lastErrors.length > MAX_ERROR_LINES) this.activity.lastErrors.shift();
    } else if (ev.level === 'WARN') {
      this.activity.warnings++;
    }
    switch (ev.kind) {
      case 'bootstrap':
        this.bootstrapped = true;
        this.initialized = false;
        this.runtimeVersion = undefined;
        this.registered = [];
        this.lastBootstrapAt = at;
        this.activity = emptyActivity();
        this.openStart = false;
        break;
      case 'registered':
        if (!this.registered.includes(ev.urn)) {
          this.registered.push(ev.urn);
          if (this.registered.length > MAX_REGISTERED) this.registered.shift();
        }
        break;
      case 'initialized':
        this.initialized = true;
        if (ev.version !== undefined) this.runtimeVersion = ev.version;
        break;
      case 'flowStart':
        this.activity.executions++;
        this.activity.lastStartAt = at;
        this.activity.lastFlowInstanceId = ev.flowInstanceId;
        this.activity.lastFlowType = ev.flowType;
        this.openStart = !(ev.flowInstanceId && ev.flowType);
        break;
      case 'flowDetail': {
        if (!this.openStart) break;
        const a = this.activity;
        // A field seen twice means these lines belong to something else.
        if ((ev.flowInstanceId && a.lastFlowInstanceId) || (ev.flowType && a.lastFlowType)) {
          this.openStart = false;
          break;
        }
        if (ev.flowInstanceId) a.lastFlowInstanceId = ev.flowInstanceId;
        if (ev.flowType) a.lastFlowType = ev.flowType;
        this.openStart = !(a.lastFlowInstanceId && a.lastFlowType);
        break;
      }
      case 'transition':
        if (ev.outcome === 'succeeded') this.activity.transitionsSucceeded++;
        if (ev.outcome === 'failed') this.activity.transitionsFailed++;
        break;
      case 'trigger':
        this.activity.triggerExpression = ev.expression;
        break;
      default:
        break;
    }
    if (ev.kind !== 'flowStart' && ev.kind !== 'flowDetail') this.openStart = false;
  }

  result(): ThingsGraphLogSummary {
    const a = this.activity;
    const activity: FlowActivity = { ...a, lastErrors: [...a.lastErrors] };
    for (const k of ['lastStartAt', 'lastFlowInstanceId', 'lastFlowType', 'triggerExpression'] as const) {
      if (activity[k] === undefined) delete activity[k];
    }
    if (this.timeline) activity.timeline = this.timeline.result();
    const out: ThingsGraphLogSummary = {
      bootstrapped: this.bootstrapped,
      initialized: this.initialized,
      registered: [...this.registered],
      activity,
    };
    if (this.runtimeVersion !== undefined) out.runtimeVersion = this.runtimeVersion;
    if (this.lastBootstrapAt !== undefined) out.lastBootstrapAt = this.lastBootstrapAt;
    return out;
  }
}

/** Folds runtime.log events, oldest first: the newest deployment mentioned wins. */
export class RuntimeLogReducer {
  private deploymentId: string | undefined;
  private failed: { deploymentId?: string; message: string; at?: string } | undefined;
  // The newest ID known when a failure without an ID was logged.
  private failedContext: string | undefined;

  add(ev: LogEvent, fallbackTime?: string): void {
    const at = ev.at ?? fallbackTime;
    if (ev.kind === 'deploymentFailed') {
      if (ev.id !== undefined) this.deploymentId = ev.id;
      this.failed = { message: ev.message };
      if (ev.id !== undefined) this.failed.deploymentId = ev.id;
      if (at !== undefined) this.failed.at = at;
      this.failedContext = ev.id ?? this.deploymentId;
    } else if (ev.kind === 'deploymentId') {
      this.deploymentId = ev.id;
      // A mention of another deployment after the failure means a newer one came along.
      if (this.failed && ev.id !== this.failedContext) {
        this.failed = undefined;
        this.failedContext = undefined;
      }
    }
  }

  result(): RuntimeLogSummary {
    const out: RuntimeLogSummary = {};
    if (this.deploymentId !== undefined) out.deploymentId = this.deploymentId;
    if (this.failed) out.deploymentFailed = { ...this.failed };
    return out;
  }
}
