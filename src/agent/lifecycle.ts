// The agent's lifecycle as a transition table. Pure: the agent asks it what
// an event makes of the phase it is in, and what a phase allows.
//
//   starting --watching--> running     the first pass is done and the watcher hears events
//   starting --degraded--> degraded    ... or it cannot watch: scheduled scans only
//   running  --degraded--> degraded    the watcher failed (ENOSPC, deaf) and could not be replaced
//   running  --watching--> running     the watcher was replaced (a folder swapped in, a deaf one)
//   any live --stop------> stopping    schedules end, the watcher closes, work in flight is waited for
//   stopping --stopped---> stopped
//
// Nothing leads out of degraded but a stop: a watcher that failed for want of
// inotify watches would fail again, and the owner restarts us with a new budget.

export type Phase = 'starting' | 'running' | 'degraded' | 'stopping' | 'stopped';
export type LifecycleEvent = 'watching' | 'degraded' | 'stop' | 'stopped';

export const TRANSITIONS: { readonly [P in Phase]: { readonly [E in LifecycleEvent]?: Phase } } = {
  starting: { watching: 'running', degraded: 'degraded', stop: 'stopping' },
  running: { watching: 'running', degraded: 'degraded', stop: 'stopping' },
  degraded: { stop: 'stopping' },
  stopping: { stopped: 'stopped' },
  stopped: {},
};

/** The phase an event leads to, or null when the event means nothing in this phase. */
export function transition(phase: Phase, event: LifecycleEvent): Phase | null {
  return TRANSITIONS[phase][event] ?? null;
}

/** Work may be asked for (it waits while starting). */
export function acceptsWork(phase: Phase): boolean {
  return phase === 'starting' || phase === 'running' || phase === 'degraded';
}

/** Work asked for is done now (while starting, it waits for the first report). */
export function runsWork(phase: Phase): boolean {
  return phase === 'running' || phase === 'degraded';
}

/** Holds the phase and applies events through the table. */
export class Lifecycle {
  private current: Phase = 'starting';

  get phase(): Phase {
    return this.current;
  }

  /** Applies an event; false (and no change) when the table has no such transition. */
  on(event: LifecycleEvent): boolean {
    const next = transition(this.current, event);
    if (next === null) return false;
    this.current = next;
    return true;
  }
}
