// The readable form of a report, for people at a terminal. Pure.
import { posix } from 'node:path';
import type { HealthSection } from '../health/health.js';
import { ACCESS_DENIED_CODES, unreadablePlace, type Finding, type FindingCode } from '../model/findings.js';
import type { AnyReport, GreengrassV2Report, LayoutName, Report } from '../verify/report.js';
import { V2_BASELINE_DIR } from '../state/greengrass-v2-baseline.js';
import { hintFor } from './hints.js';

function isHealth(h: unknown): h is HealthSection {
  return typeof h === 'object' && h !== null && 'flow' in h && 'disks' in h && 'mem' in h;
}

const short = (h: string | null | undefined, n = 12) => (h ? (h.length > n ? `${h.slice(0, n)}…` : h) : '-');

/** What the command knows beyond the report, to make the advice concrete. */
export interface SummaryContext {
  /** The core's root (--root): places are named as they are on this machine. */
  root?: string;
  /** The state folder (--state): where a baseline to lay down afresh lives. */
  stateDir?: string;
  /** How the files were hashed: a slow run says why. */
  hashing?: { rateLimitMBps: number; workers: number };
}

export function formatSummary(report: AnyReport, ctx: SummaryContext = {}): string {
  if (report.layout === 'greengrass-v2') return formatGreengrassV2Summary(report, ctx);
  const r: Report = report;
  const o = r.observed;
  const lines: string[] = [];
  lines.push(`deploy-witness: ${r.status}`);
  const denied = deniedPlaces(r.findings);
  // With places not read, "none" and "not observed" may only mean "not seen".
  const unseen = denied.length > 0 || r.findings.some((f) => unreadablePlace(f) !== null) ? ' (or not readable: see below)' : '';
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(18)}${v}`);
  // A group.json found missing or broken was read: its rows say no more than "-".
  const groupSaid = r.findings.some((f) => f.code === 'GROUP_DEFINITION_MISSING' || f.code === 'GROUP_DEFINITION_INVALID');
  const groupUnseen = groupSaid ? '' : unseen;
  row('core thing', o.coreThing ?? `-${groupUnseen}`);
  row('group', o.groupId ? `${o.groupId} version ${o.groupVersionId}` : `-${groupUnseen}`);
  row('deployment', o.deploymentId ? `${o.deploymentId} (from runtime.log)` : `not observed (best effort on a v1 core)${unseen}`);
  row('runtime', o.runtimeInitialized ? `initialized${o.runtimeVersion ? ` v${o.runtimeVersion}` : ''}` : `not initialized since last start${unseen}`);
  row('system instances', o.systemInstances.length ? o.systemInstances.join(', ') : `none registered since last start${unseen}`);
  for (const a of o.archives) row('flow archive', `${a.path}  sha256 ${short(a.sha256)}  ${a.entryCount} entries`);
  const files = o.units.reduce((n, u) => n + u.files, 0);
  row('deployed files', `${files} in ${o.units.length} folders, tree ${short(o.treeDigest)}${hashingText(ctx)}`);
  row('baseline', baselineText(r, unseen !== ''));
  if (r.expectation) {
    row('expected', `${r.expectation.systemInstanceId} in group ${r.expectation.greengrassGroupId}`);
  } else {
    row('expected', 'no expectation given (integrity and runtime only)');
  }
  if (isHealth(r.health)) {
    const h = r.health;
    const f = h.flow;
    if (f.state === 'unreadable') row('flow', `not known: ThingsGraph.log could not be read${f.runs > 0 ? ` (${f.runs} runs seen in the last ${f.winS} s)` : ''}`);
    else row('flow', `${f.state}${f.last ? `, last run ${f.last}` : ''}, ${f.runs} runs and ${f.fails} failures in the last ${f.winS} s${f.bounds ? ' (times are file mtimes)' : ''}`);
    for (const d of h.disks) row('disk', `${d.path}: ${d.freePct}% free (${d.freeMB} of ${d.totalMB} MB)`);
    if (h.disks.length === 0) row('disk', "not present (no folder of the core's layout under the root)");
    row('core', `memory ${h.mem.availMB} of ${h.mem.totalMB} MB available, load ${h.load.join(' ')}, up ${h.upS} s`);
  }
  lines.push(...findingLines(r.findings));
  lines.push(...accessLines(denied, ctx), ...hintLines(r, ctx));
  return lines.join('\n') + '\n';
}

/** A Greengrass v2 core's report, for people at a terminal. */
export function formatGreengrassV2Summary(r: GreengrassV2Report, ctx: SummaryContext = {}): string {
  const o = r.observed;
  const lines: string[] = [];
  lines.push(`deploy-witness: ${r.status} (Greengrass v2)`);
  const denied = deniedPlaces(r.findings);
  const unseen = denied.length > 0 || r.findings.some((f) => unreadablePlace(f) !== null) ? ' (or not readable: see below)' : '';
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(18)}${v}`);
  row('core thing', r.thing ?? `-${unseen}`);
  row('nucleus', `${o.nucleus === 'lite' ? 'nucleus lite' : 'Java nucleus'} at ${o.v2Root}`);
  const d = o.deployment;
  row('deployment', d ? `${d.deploymentId ?? '(no ID)'} for ${d.target ?? '-'}, ${d.link === 'previous-failure' ? 'recorded as failed' : 'recorded as succeeded'}` : `no finished deployment on record${unseen}`);
  if (o.ongoing) row('ongoing', `${o.ongoing.deploymentId ?? '(no ID)'}${o.ongoing.target ? ` for ${o.ongoing.target}` : ''} (not landed yet)`);
  row('components', `${o.components.length} component version(s) in the store${o.components.length === 0 ? unseen : ''}`);
  for (const c of o.components.slice(0, 20)) {
    const run = c.running !== null && c.running !== c.version ? `, runs ${c.running}` : '';
    row('', `${c.name} ${c.version}${run}${c.state ? `  ${c.state}` : ''}${c.recipe !== 'ok' ? `  recipe ${c.recipe}` : ''}`);
  }
  if (o.components.length > 20) row('', `... ${o.components.length - 20} more (--json lists them)`);
  const files = o.units.reduce((n, u) => n + u.files, 0);
  row('stored files', `${files} in ${o.units.length} folders, tree ${short(o.treeDigest)}${hashingText(ctx)}`);
  const b = o.baseline;
  row('baseline', b.state === 'none'
    ? (unseen ? 'none: not laid down while parts of the core cannot be read' : 'none (no settled deployment to lay one down for)')
    : `${b.state === 'created' ? 'created now' : 'compared'} (${b.createdAt}, ${b.deploymentId})`);
  const e = r.expectation;
  if (e?.kind === 'deployment') row('expected', `deployment ${e.deploymentId}${e.target ? ` for ${e.target}` : ''}: ${e.components.map((c) => `${c.name} ${c.version}`).join(', ') || 'no components'}`);
  else if (e) row('expected', `one of ${e.deployments.length} effective deployment(s) (list-effective-deployments)`);
  else row('expected', 'no expectation given (integrity and records only)');
  lines.push(...findingLines(r.findings));
  const state = ctx.stateDir ?? '<state folder>';
  const key = d && !o.ongoing && d.deploymentId ? d.deploymentId : '<deployment>';
  lines.push(...accessLines(denied, ctx), ...hintLinesFor(r.findings, 'greengrass-v2', posix.join(state, V2_BASELINE_DIR, `${key}.json`)));
  return lines.join('\n') + '\n';
}

function hashingText(ctx: SummaryContext): string {
  const h = ctx.hashing;
  if (!h) return '';
  const workers = `${h.workers} worker${h.workers === 1 ? '' : 's'}`;
  return h.rateLimitMBps > 0 ? ` (hashed at most ${h.rateLimitMBps} MB/s, ${workers})` : ` (hashed uncapped, ${workers})`;
}

function baselineText(r: Report, unseen: boolean): string {
  const b = r.observed.baseline;
  if (b.state === 'created') return `created now (${b.createdAt})`;
  if (b.state === 'compared') return `compared (${b.createdAt})`;
  if (r.observed.groupId && unseen) return 'none: not laid down while parts of the core cannot be read';
  return 'none (no usable group.json)';
}

// ---- a finding's expected and actual ----

/** Codes whose message already names what was expected and found: a second line would only repeat it. */
const SAID_IN_MESSAGE: ReadonlySet<FindingCode> = new Set(['DEPLOYMENT_FAILED']);

function detailOf(f: Finding): string | null {
  // A place that could not be read: its message names the error already.
  if (SAID_IN_MESSAGE.has(f.code) || unreadablePlace(f) !== null) return null;
  const parts: string[] = [];
  if (f.expected !== undefined) parts.push(`expected ${JSON.stringify(f.expected)}`);
  if (f.actual !== undefined) parts.push(`found ${JSON.stringify(f.actual)}`);
  return parts.length > 0 ? parts.join(', ') : null;
}

// ---- places that could not be read for lack of permission ----

/** Most places named in the "run as root" line; the rest are counted. */
const MAX_PLACES_NAMED = 6;

function isDenied(f: Finding): boolean {
  const u = unreadablePlace(f);
  return u !== null && ACCESS_DENIED_CODES.has(u.code);
}

/** Root-relative places not permitted to read, the top-most of each branch only, sorted. */
export function deniedPlaces(findings: Finding[]): string[] {
  const paths = [...new Set(findings.filter(isDenied).map((f) => f.path!))].sort();
  return paths.filter((p) => !paths.some((q) => q !== p && p.startsWith(`${q}/`)));
}

function accessLines(denied: string[], ctx: SummaryContext): string[] {
  if (denied.length === 0) return [];
  const root = ctx.root ?? '/';
  const named = denied.slice(0, MAX_PLACES_NAMED).map((p) => posix.join(root, p));
  const more = denied.length > named.length ? ` and ${denied.length - named.length} more` : '';
  return [
    '',
    'Not everything could be read: this is not a verdict on the deployment.',
    `  run as root (or grant read access to ${named.join(', ')}${more})`,
  ];
}

// ---- what to do ----

function hintLines(r: Report, ctx: SummaryContext): string[] {
  const o = r.observed;
  const state = ctx.stateDir ?? '<state folder>';
  const baseline =
    o.groupId && o.groupVersionId ? posix.join(state, 'baselines', o.groupId, `${o.groupVersionId}.json`) : posix.join(state, 'baselines', '<group>', '<version>.json');
  return hintLinesFor(r.findings, 'thingsgraph-v1', baseline);
}

function hintLinesFor(findings: Finding[], layout: LayoutName, baseline: string): string[] {
  // FILE_UNREADABLE for lack of permission only is said once, by the "run as root" line.
  const errors = findings.filter((f) => f.severity === 'error' && !isDenied(f));
  const codes = [...new Set(errors.map((f) => f.code))];
  const out: string[] = [];
  for (const code of codes) {
    const hint = hintFor(code, { baseline, layout });
    if (hint !== null) out.push(`  ${code}: ${hint}`);
  }
  return out.length > 0 ? ['', 'What to do:', ...out] : [];
}

/** The findings block, one code per line with its place and detail beneath; nothing when there are none. */
function findingLines(findings: readonly Finding[]): string[] {
  if (findings.length === 0) return [];
  const lines = ['', `Findings (${findings.length}):`];
  for (const f of findings) {
    lines.push(`  ${f.severity.toUpperCase().padEnd(8)}${f.code.padEnd(32)}${f.message}`);
    if (f.path) lines.push(`  ${''.padEnd(40)}at ${f.path}`);
    const detail = detailOf(f);
    if (detail) lines.push(`  ${''.padEnd(40)}${detail}`);
  }
  return lines;
}
