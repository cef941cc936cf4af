// The check as text for a terminal: one row per device, then the findings of
// those that did not confirm, the fleet's outliers, what was skipped, and a
// last line that says what the exit code means. Pure. Everything a device
// sent passes through `clean`: a report must not drive the terminal.
import type { CheckDocument } from './document.js';
import type { AnyRow, ComponentCheck, GreengrassV2Row, Row } from './rows.js';

/** Control characters (ANSI escapes included) shown as `?`. */
export function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}

/** An ID short enough for a column: a UUID's first block, or a long ID cut. */
export function shortId(id: string): string {
  const c = clean(id);
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(c)) return c.slice(0, 8);
  return c.length <= 16 ? c : `${c.slice(0, 15)}…`;
}

export function age(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

/** A value seen on the device beside the one expected: `abc` when equal, `abc (want xyz)` when not. */
function seenVsWanted(seen: string | null | undefined, wanted: string | null, answered: boolean): string {
  if (!answered) return '-';
  if (seen === null || seen === undefined) return wanted === null ? '-' : 'not seen';
  if (wanted === null || seen === wanted) return shortId(seen);
  return `${shortId(seen)} (want ${shortId(wanted)})`;
}

function findingsCell(r: AnyRow): string {
  if (r.findingCount === 0) return r.seen ? '-' : '';
  const codes = r.findings.slice(0, 2).map((f) => clean(f.code));
  const more = r.findingCount - codes.length;
  return `${codes.join(', ')}${more > 0 ? ` +${more}` : ''}`;
}

export const TABLE_COLUMNS = ['THING', 'GROUP', 'VERDICT', 'CLOUD STATUS', 'GROUP VERSION', 'DEPLOYMENT', 'INSTANCE', 'FLOW', 'AGE', 'FINDINGS'] as const;
/** A Greengrass v2 check: the target, the deployment, how the device recorded it, an ongoing one, its store. */
export const TABLE_COLUMNS_V2 = ['THING', 'TARGET', 'VERDICT', 'CLOUD STATUS', 'DEPLOYMENT', 'RECORD', 'ONGOING', 'COMPONENTS', 'TREE', 'AGE', 'FINDINGS'] as const;

/** The columns of a check of this kind of deployment. */
export function columnsFor(layout: AnyRow['layout']): readonly string[] {
  return layout === 'greengrass-v2' ? TABLE_COLUMNS_V2 : TABLE_COLUMNS;
}

/** Who a row is about, in words: the thing, or the group (target) nobody answered for. */
export function whoOf(r: AnyRow): string {
  if (r.thing !== null) return r.thing;
  return r.layout === 'thingsgraph-v1' ? `group ${r.groupName ?? r.groupId ?? '?'}` : (r.target ?? 'the deployment');
}

export function rowCells(r: AnyRow): string[] {
  if (r.layout === 'greengrass-v2') return rowCellsV2(r);
  const answered = r.seen !== null;
  return [
    r.thing === null ? '-' : clean(r.thing),
    clean(r.groupName ?? (r.groupId ? shortId(r.groupId) : '-')),
    r.sharedGroup ? `${r.verdict} (shared)` : r.verdict,
    r.cloudStatus ?? '-',
    seenVsWanted(r.seen?.groupVersionId, r.expected.groupVersionId, answered),
    seenVsWanted(r.seen?.deploymentId, r.expected.deploymentId, answered),
    r.systemInstanceRegistered === null ? '-' : r.systemInstanceRegistered ? 'registered' : 'not registered',
    r.flow === null ? '-' : clean(r.flow),
    age(r.reportAgeSeconds),
    findingsCell(r),
  ];
}

function rowCellsV2(r: GreengrassV2Row): string[] {
  const seen = r.seen;
  const answered = seen !== null;
  return [
    r.thing === null ? '-' : clean(r.thing),
    r.target === null ? '-' : clean(r.target),
    r.sharedGroup ? `${r.verdict} (shared)` : r.verdict,
    r.cloudStatus ?? '-',
    seenVsWanted(seen?.deploymentId, r.expected.deploymentId, answered),
    seen?.record ?? '-',
    seen?.ongoingDeploymentId ? shortId(seen.ongoingDeploymentId) : '-',
    componentsCell(r),
    seen?.treeDigest ? clean(seen.treeDigest.slice(0, 8)) : '-',
    age(r.reportAgeSeconds),
    findingsCell(r),
  ];
}

/** `2/3`: the deployed components this device holds as deployed, of those the deployment names. */
function componentsCell(r: GreengrassV2Row): string {
  if (r.seen === null) return '-';
  if (r.components.length === 0) return `${r.seen.componentCount} stored`;
  return `${r.components.filter((c) => c.asDeployed).length}/${r.components.length}`;
}

/** One line on a deployed component that is not as deployed on this device. */
export function componentLine(c: ComponentCheck): string {
  if (c.unknown) return `${c.name}: not in the part of the report that was sent (it listed only some components)`;
  const parts = [`wants ${c.expected}`, c.stored.length ? `stored ${c.stored.join(', ')}` : 'not stored'];
  if (c.running !== null) parts.push(`runs ${c.running}`);
  if (c.state !== null) parts.push(c.state);
  return `${c.name}: ${parts.map(clean).join(', ')}`;
}

function table(header: readonly string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...body.map(line)].join('\n');
}

export function renderTable(doc: CheckDocument): string {
  const out: string[] = [table(columnsFor(doc.layout), doc.rows.map(rowCells))];

  const troubled = doc.rows.filter((r) => r.verdict !== 'VERIFIED' || r.sharedGroup || r.note !== null);
  if (troubled.length > 0) {
    out.push('');
    for (const r of troubled) {
      const who = clean(whoOf(r));
      out.push(`${who}: ${r.verdict}${r.note ? ` - ${clean(r.note)}` : ''}`);
      if (r.layout === 'greengrass-v2') for (const c of r.components) if (!c.asDeployed) out.push(`  component ${componentLine(c)}`);
      for (const f of r.findings) out.push(`  ${clean(f.code)}: ${clean(f.message)}${f.path ? ` (${clean(f.path)})` : ''}`);
      if (r.findingCount > r.findings.length) out.push(`  ... ${r.findingCount - r.findings.length} more finding(s): --json or --html lists what the report carries`);
    }
  }

  const outliers = doc.consistency.filter((c) => c.outliers.length > 0 || c.split.length > 0);
  if (outliers.length > 0) {
    out.push('', `Fleet consistency (devices running the same ${doc.layout === 'greengrass-v2' ? 'deployment' : 'flow'} hold different bytes):`);
    for (const c of outliers) {
      const flow = [...c.flowArchives, ...c.systemInstanceNames, ...c.deployments].map(clean).join(', ');
      out.push(`  ${flow} on ${c.devices.length} devices:`);
      for (const o of c.outliers) {
        out.push(`    ${clean(o.thing)} differs from the majority in ${o.folders.length} folder(s):`);
        for (const f of o.folders) out.push(`      ${clean(f.folder)}${f.digest === null ? ' (missing)' : f.majority === null ? ' (only here)' : ''}`);
      }
      for (const s of c.split) out.push(`    no majority for ${clean(s)}`);
    }
  }

  if (doc.skipped.length > 0) {
    out.push('', 'Not checked:');
    for (const s of doc.skipped) out.push(`  ${clean('systemInstanceId' in s ? s.systemInstanceId : s.deploymentId)}${s.where ? ` (${s.where})` : ''}: ${s.reason}`);
  }
  for (const n of doc.notes) out.push('', `Note: ${n}`);
  out.push('', doc.message);
  return `${out.join('\n')}\n`;
}
