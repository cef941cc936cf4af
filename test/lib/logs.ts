// Reading logs the short way in tests: a fresh tail read once (what a full
// pass does), the reducers over events or raw lines.
import type { LayoutConfig } from '../../src/config/layout.js';
import type { Finding } from '../../src/model/findings.js';
import type { RuntimeLogObservation } from '../../src/model/observation.js';
import { classifyLine, type CompiledPatterns, type LogEvent } from '../../src/observe/log-lines.js';
import { runtimeLogTail, thingsGraphLogTail } from '../../src/observe/log-tail.js';
import {
  RuntimeLogReducer, ThingsGraphLogReducer, type RuntimeLogSummary, type ThingsGraphLogSummary,
} from '../../src/observe/logs.js';

export interface ReadLogOptions {
  maxLineBytes?: number;
  /** Receives FILE_UNREADABLE findings (unlistable folders, unreadable files). */
  findings?: Finding[];
  /** ThingsGraph.log only: fill FlowActivity.timeline. */
  timeline?: boolean;
}

/** ThingsGraph.log of the current region, read once. */
export async function readThingsGraphLog(root: string, layout: LayoutConfig, patterns: CompiledPatterns, opts: ReadLogOptions = {}) {
  const tail = thingsGraphLogTail(root, layout, patterns, opts);
  await tail.refresh();
  opts.findings?.push(...tail.findings());
  return tail.result();
}

/** runtime.log, read once. */
export async function readRuntimeLog(root: string, layout: LayoutConfig, patterns: CompiledPatterns, opts: ReadLogOptions = {}): Promise<RuntimeLogObservation> {
  const tail = runtimeLogTail(root, layout, patterns, opts);
  await tail.refresh();
  opts.findings?.push(...tail.findings());
  return tail.result();
}

export function reduceThingsGraphLog(events: Iterable<LogEvent>, opts: { fallbackTime?: string; timeline?: boolean } = {}): ThingsGraphLogSummary {
  const r = new ThingsGraphLogReducer({ timeline: opts.timeline === true });
  for (const ev of events) r.add(ev, opts.fallbackTime);
  return r.result();
}

export function reduceRuntimeLog(events: Iterable<LogEvent>, opts: { fallbackTime?: string } = {}): RuntimeLogSummary {
  const r = new RuntimeLogReducer();
  for (const ev of events) r.add(ev, opts.fallbackTime);
  return r.result();
}

/** Classifies raw lines (e.g. those a LogCursor returned) and adds them. */
export function addLines(reducer: ThingsGraphLogReducer, lines: Iterable<string>, patterns: CompiledPatterns, fallbackTime?: string): void {
  for (const line of lines) {
    const ev = classifyLine(line, patterns);
    if (ev) reducer.add(ev, fallbackTime);
  }
}
