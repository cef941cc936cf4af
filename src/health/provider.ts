// Local health for the agent: flow activity from the log, the core's disks,
// memory and load, and the agent's own figures, as a report section and findings.
import { join } from 'node:path';
import type { HealthProvider } from '../agent/agent.js';
import type { Config } from '../config/config.js';
import { createAgentMetrics, type AgentMetrics } from './agent-metrics.js';
import { assessFlow } from './flow.js';
import { buildHealth } from './health.js';
import { diskFindings, systemHealth } from './system.js';

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
