// Local health for the agent: flow activity from the log, the core's disks,
// memory and load, and the agent's own figures, as a report section and findings.
import { join } from 'node:path';
import type { Finding } from '../model/findings.js';
import type { Observation } from '../model/observation.js';
import type { Config } from '../config/config.js';
import { createAgentMetrics, type AgentMetrics } from './agent-metrics.js';
import { assessFlow } from './flow.js';
import { buildHealth } from './health.js';
import { diskFindings, systemHealth } from './system.js';

/** Local health plugs into a pass here: a section for reports and findings for the verdict. */
export interface HealthProvider {
  evaluate(obs: Observation, now: Date, agent: { watcher: string; spoolDepth?: number }): Promise<{
    section: unknown;
    findings: Finding[];
    /** When the verdict would change with nothing new logged (a flow window lapsing). */
    nextCheckAt?: Date;
  }>;
  close?(): void;
}

export function healthProvider(config: Config, metrics: AgentMetrics = createAgentMetrics()): HealthProvider & { close(): void } {
  // The file systems holding the Greengrass root and /thingsgraph.
  const paths = [join(config.root, config.layout.deploymentDir), join(config.root, config.layout.thingsGraphDir)];
  return {
    async evaluate(obs, now, agent) {
      const flow = assessFlow(obs.thingsGraphLog, now, { windowMinutes: config.health.flowWindowMinutes });
      const system = await systemHealth(paths);
      const section = buildHealth({
        flow: flow.health,
        system,
        agent: metrics.read(),
        watcher: agent.watcher,
        ...(agent.spoolDepth !== undefined ? { spoolDepth: agent.spoolDepth } : {}),
      });
      const findings = [...flow.findings, ...diskFindings(system.disks, config.health.diskLowPercent)];
      return { section, findings, ...(flow.health.nextCheckAt ? { nextCheckAt: flow.health.nextCheckAt } : {}) };
    },
    close: () => metrics.close(),
  };
}
