// The readable form of a report, for people at a terminal. Pure.
import type { HealthSection } from '../health/health.js';
import type { Report } from '../verify/report.js';

function isHealth(h: unknown): h is HealthSection {
  return typeof h === 'object' && h !== null && 'flow' in h && 'disks' in h && 'mem' in h;
}

const short = (h: string | null | undefined, n = 12) => (h ? (h.length > n ? `${h.slice(0, n)}…` : h) : '-');

export function formatSummary(r: Report): string {
  const o = r.observed;
  const lines: string[] = [];
  lines.push(`deploy-witness: ${r.status}`);
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(18)}${v}`);
  row('core thing', o.coreThing ?? '-');
  row('group', o.groupId ? `${o.groupId} version ${o.groupVersionId}` : '-');
  row('deployment', o.deploymentId ? `${o.deploymentId} (from runtime.log)` : 'not observed (best effort on a v1 core)');
  row('runtime', o.runtimeInitialized ? `initialized${o.runtimeVersion ? ` v${o.runtimeVersion}` : ''}` : 'not initialized since last start');
  row('system instances', o.systemInstances.length ? o.systemInstances.join(', ') : 'none registered since last start');
  for (const a of o.archives) row('flow archive', `${a.path}  sha256 ${short(a.sha256)}  ${a.entryCount} entries`);
  const files = o.units.reduce((n, u) => n + u.files, 0);
  row('deployed files', `${files} in ${o.units.length} folders, tree ${short(o.treeDigest)}`);
  row('baseline', o.baseline.state === 'none' ? 'none (no usable group.json)' : `${o.baseline.state === 'created' ? 'created now' : 'compared'} (${o.baseline.createdAt})`);
  if (r.expectation) {
    row('expected', `${r.expectation.systemInstanceId} in group ${r.expectation.greengrassGroupId}`);
  } else {
    row('expected', 'no expectation given (integrity and runtime only)');
  }
  if (isHealth(r.health)) {
    const h = r.health;
    const f = h.flow;
    row('flow', `${f.state}${f.last ? `, last run ${f.last}` : ''}, ${f.runs} runs and ${f.fails} failures in the last ${f.winS} s${f.bounds ? ' (times are file mtimes)' : ''}`);
    for (const d of h.disks) row('disk', `${d.path}: ${d.freePct}% free (${d.freeMB} of ${d.totalMB} MB)`);
    row('core', `memory ${h.mem.availMB} of ${h.mem.totalMB} MB available, load ${h.load.join(' ')}, up ${h.upS} s`);
  }
  if (r.findings.length > 0) {
    lines.push('', `Findings (${r.findings.length}):`);
    for (const f of r.findings) {
      lines.push(`  ${f.severity.toUpperCase().padEnd(8)}${f.code.padEnd(32)}${f.message}`);
      if (f.path) lines.push(`  ${''.padEnd(40)}at ${f.path}`);
      if (f.expected !== undefined || f.actual !== undefined) {
        lines.push(`  ${''.padEnd(40)}expected ${JSON.stringify(f.expected ?? null)}, found ${JSON.stringify(f.actual ?? null)}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}
