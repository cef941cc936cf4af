// The readable form of a report, for people at a terminal. Pure.
import type { HealthSection } from '../health/health.js';
import type { AnyReport, GreengrassV2Report, Report } from '../verify/report.js';

function isHealth(h: unknown): h is HealthSection {
  return typeof h === 'object' && h !== null && 'flow' in h && 'disks' in h && 'mem' in h;
}

const short = (h: string | null | undefined, n = 12) => (h ? (h.length > n ? `${h.slice(0, n)}…` : h) : '-');

export function formatSummary(report: AnyReport): string {
  if (report.layout === 'greengrass-v2') return formatGreengrassV2Summary(report);
  const r: Report = report;
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

/** A Greengrass v2 core's report, for people at a terminal. */
export function formatGreengrassV2Summary(r: GreengrassV2Report): string {
  const o = r.observed;
  const lines: string[] = [];
  lines.push(`deploy-witness: ${r.status} (Greengrass v2)`);
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(18)}${v}`);
  row('core thing', r.thing ?? '-');
  row('nucleus', `${o.nucleus === 'lite' ? 'nucleus lite' : 'Java nucleus'} at ${o.v2Root}`);
  const d = o.deployment;
  row('deployment', d ? `${d.deploymentId ?? '(no ID)'} for ${d.target ?? '-'}, ${d.link === 'previous-failure' ? 'recorded as failed' : 'recorded as succeeded'}` : 'no finished deployment on record');
  if (o.ongoing) row('ongoing', `${o.ongoing.deploymentId ?? '(no ID)'}${o.ongoing.target ? ` for ${o.ongoing.target}` : ''} (not landed yet)`);
  row('components', `${o.components.length} component version(s) in the store`);
  for (const c of o.components.slice(0, 20)) {
    const run = c.running !== null && c.running !== c.version ? `, runs ${c.running}` : '';
    row('', `${c.name} ${c.version}${run}${c.state ? `  ${c.state}` : ''}${c.recipe !== 'ok' ? `  recipe ${c.recipe}` : ''}`);
  }
  if (o.components.length > 20) row('', `... ${o.components.length - 20} more (--json lists them)`);
  const files = o.units.reduce((n, u) => n + u.files, 0);
  row('stored files', `${files} in ${o.units.length} folders, tree ${short(o.treeDigest)}`);
  row('baseline', o.baseline.state === 'none' ? 'none (no settled deployment to lay one down for)' : `${o.baseline.state === 'created' ? 'created now' : 'compared'} (${o.baseline.createdAt}, ${o.baseline.deploymentId})`);
  const e = r.expectation;
  if (e?.kind === 'deployment') row('expected', `deployment ${e.deploymentId}${e.target ? ` for ${e.target}` : ''}: ${e.components.map((c) => `${c.name} ${c.version}`).join(', ') || 'no components'}`);
  else if (e) row('expected', `one of ${e.deployments.length} effective deployment(s) (list-effective-deployments)`);
  else row('expected', 'no expectation given (integrity and records only)');
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
