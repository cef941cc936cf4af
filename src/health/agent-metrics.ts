// The agent's own figures: is the witness itself a burden on the device?
// Each read() covers the time since the previous one (or since creation).
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';

export interface AgentReading {
  /** Event-loop delay over the interval: how late timers and I/O callbacks ran. */
  loopDelayMs: { p50: number; p99: number; max: number };
  rssBytes: number;
  heapUsedBytes: number;
  /** CPU time over the interval as a percent of one core (may pass 100 with worker threads). */
  cpuPercent: number;
  intervalMs: number;
}

export interface AgentMetrics {
  read(): AgentReading;
  close(): void;
}

export interface AgentMetricsOptions {
  /**
   * Sampling resolution of the loop-delay monitor. Default 500 ms: each sample
   * wakes the process, and at 20 ms that alone cost ~0.26 % of a core while idle.
   */
  resolutionMs?: number;
  /** Monotonic milliseconds; default performance.now. */
  now?: () => number;
}

export function createAgentMetrics(opts: AgentMetricsOptions = {}): AgentMetrics {
  const now = opts.now ?? (() => performance.now());
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: Math.max(1, Math.round(opts.resolutionMs ?? 500)) });
  histogram.enable();
  let since = now();
  let cpuSince = process.cpuUsage();
  let open = true;

  return {
    read(): AgentReading {
      const t = now();
      const cpu = process.cpuUsage(cpuSince);
      const intervalMs = Math.max(0, t - since);
      const mem = process.memoryUsage();
      // The histogram counts nanoseconds; with no sample yet its figures are 0.
      const ns = (v: number): number => (Number.isFinite(v) ? v / 1e6 : 0);
      const reading: AgentReading = {
        loopDelayMs: { p50: ns(histogram.percentile(50)), p99: ns(histogram.percentile(99)), max: ns(histogram.max) },
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        cpuPercent: intervalMs > 0 ? ((cpu.user + cpu.system) / 1000 / intervalMs) * 100 : 0,
        intervalMs,
      };
      histogram.reset();
      since = t;
      cpuSince = process.cpuUsage();
      return reading;
    },
    close(): void {
      if (open) histogram.disable();
      open = false;
    },
  };
}
