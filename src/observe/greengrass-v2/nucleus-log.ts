// Component states from the Java nucleus's own log, <v2 root>/logs/greengrass.log
// and its rotated siblings greengrass_<yyyy_MM_dd_HH>_<i>.log
// (aws-greengrass-logging-java PersistenceConfig). Lifecycle.setState logs
// every transition as the event "service-set-state" with the context keys
// serviceName, currentState and newState; KernelLifecycle logs "system-start"
// once per nucleus start. Two line formats exist (GreengrassLogMessage):
//   TEXT  <ISO instant> [<LEVEL>] (<thread>) <logger>: <eventType>. [<message>. ]{k=v, k=v}
//   JSON  {"thread":..,"level":..,"eventType":..,"message":..,"contexts":{..},"loggerName":..,"timestamp":<ms>,"cause":..}
// Only lines whose event type is exactly one of those two count: a component's
// own text cannot pass for a transition, since components log to their own files.
// Which files, and reading them once or as they grow: logs.ts.
import type { ComponentState, ComponentStatesObservation, LifecycleState } from '../../model/greengrass-v2.js';

export const STATES: readonly LifecycleState[] = [
  'NEW', 'INSTALLED', 'STARTING', 'RUNNING', 'STOPPING', 'ERRORED', 'BROKEN', 'FINISHED', 'STATELESS', 'UNINSTALLING', 'UNINSTALLED',
];
const STATE_SET = new Set<string>(STATES);
const MAX_COMPONENTS = 10_000;

export type NucleusLogEvent =
  | { kind: 'start'; at: string | null }
  | { kind: 'state'; at: string | null; service: string; state: LifecycleState };

const TEXT = /^(\d{4}-\d{2}-\d{2}T[0-9:.]+Z) \[[A-Z]+\] \(.*?\) [^\s:]+: ([a-z][a-z0-9-]*)\. (.*)$/;

function kv(ctx: string, key: string): string | undefined {
  // Context maps print as {k=v, k=v}; the keys read here hold no ", " or "}".
  const m = new RegExp(`(?:^\\{|, )${key}=([^,}]*)(?:,|\\}$)`).exec(ctx);
  return m ? m[1] : undefined;
}

/** One nucleus log line in, one event (or null) out. Pure. */
export function parseNucleusLogLine(line: string): NucleusLogEvent | null {
  if (line.startsWith('{')) return parseJsonLine(line);
  const m = TEXT.exec(line);
  if (!m) return null;
  const at = m[1]!;
  const event = m[2]!;
  const rest = m[3]!;
  if (event === 'system-start') return { kind: 'start', at };
  if (event !== 'service-set-state') return null;
  // The context map is the last part of the line.
  const brace = rest.lastIndexOf('{');
  if (brace === -1 || !rest.endsWith('}')) return null;
  const ctx = rest.slice(brace);
  const service = kv(ctx, 'serviceName');
  const state = kv(ctx, 'newState');
  if (!service || !state || !STATE_SET.has(state)) return null;
  return { kind: 'state', at, service, state: state as LifecycleState };
}

function parseJsonLine(line: string): NucleusLogEvent | null {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null) return null;
  const { eventType, contexts, timestamp } = o as { eventType?: unknown; contexts?: unknown; timestamp?: unknown };
  const at = typeof timestamp === 'number' && Number.isFinite(timestamp) ? new Date(timestamp).toISOString() : null;
  if (eventType === 'system-start') return { kind: 'start', at };
  if (eventType !== 'service-set-state' || typeof contexts !== 'object' || contexts === null) return null;
  const { serviceName, newState } = contexts as { serviceName?: unknown; newState?: unknown };
  if (typeof serviceName !== 'string' || serviceName === '' || typeof newState !== 'string' || !STATE_SET.has(newState)) return null;
  return { kind: 'state', at, service: serviceName, state: newState as LifecycleState };
}

/** Newest state per component since the newest nucleus start. Pure. */
export class ComponentStateReducer {
  private states = new Map<string, ComponentState>();
  startedAt: string | null = null;

  add(ev: NucleusLogEvent): void {
    if (ev.kind === 'start') {
      this.states = new Map();
      this.startedAt = ev.at;
      return;
    }
    if (!this.states.has(ev.service) && this.states.size >= MAX_COMPONENTS) return;
    this.states.set(ev.service, { name: ev.service, state: ev.state, at: ev.at });
  }

  result(): ComponentState[] {
    return [...this.states.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/**
 * States from an IPC ListComponents answer ({components: [{componentName,
 * version, state}]}), for an agent whose recipe is granted
 * aws.greengrass.Cli / aws.greengrass#ListComponents. Pure.
 */
export function componentStatesFromListComponents(answer: unknown): ComponentStatesObservation {
  const list = (answer as { components?: unknown } | null)?.components;
  const states: ComponentState[] = [];
  if (Array.isArray(list)) {
    for (const c of list.slice(0, MAX_COMPONENTS)) {
      const { componentName, state } = (c ?? {}) as { componentName?: unknown; state?: unknown };
      if (typeof componentName === 'string' && typeof state === 'string' && STATE_SET.has(state)) {
        states.push({ name: componentName, state: state as LifecycleState, at: null });
      }
    }
  }
  states.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { source: 'ipc', files: [], startedAt: null, states };
}
