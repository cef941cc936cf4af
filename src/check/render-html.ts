// The check as one self-contained HTML page, for people who would rather look
// than read: the fleet summary, a row per device in clear colours (with the
// verdict written out, never colour alone), the findings of each, the fleet's
// outliers. No scripts, no fetches: the Content-Security-Policy forbids any,
// so the page shows the same offline, from a mail attachment or a CI artifact.
// Pure. Everything a device sent is escaped.
import type { CheckDocument } from './document.js';
import { age, columnsFor, componentLine, rowCells, whoOf } from './render-table.js';
import type { AnyRow } from './rows.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

type Tone = 'good' | 'bad' | 'silent';

function toneOf(r: AnyRow): Tone {
  if (r.sharedGroup) return 'bad';
  if (r.verdict === 'VERIFIED') return 'good';
  return r.verdict === 'NO ANSWER' ? 'silent' : 'bad';
}

const CSS = `
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
h2 { font-size: 1.1rem; margin: 2rem 0 .6rem; }
.summary { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.tile { padding: .6rem 1rem; border-radius: 8px; min-width: 7rem; border: 1px solid #d0d7de; }
.tile b { display: block; font-size: 1.6rem; }
.outcome { padding: .8rem 1rem; border-radius: 8px; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #d0d7de; vertical-align: top; }
th { background: #f6f8fa; }
td.verdict { font-weight: 700; white-space: nowrap; }
.good { background: #e6f4ea; color: #0d5b26; }
.bad { background: #fce8e6; color: #8c1d18; }
.silent { background: #fef7e0; color: #6d4c00; }
.findings li { margin: .2rem 0; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.muted { color: #57606a; }
`;

function tile(label: string, value: number, tone: Tone | 'plain'): string {
  return `<div class="tile ${tone === 'plain' ? '' : tone}"><b>${value}</b>${escapeHtml(label)}</div>`;
}

function deviceTable(doc: CheckDocument): string {
  const columns = columnsFor(doc.layout);
  const head = columns.map((c) => `<th scope="col">${escapeHtml(c.toLowerCase())}</th>`).join('');
  const body = doc.rows.map((r) => {
    const cells = rowCells(r);
    const tone = toneOf(r);
    const tds = cells.map((c, i) => (columns[i] === 'VERDICT' ? `<td class="verdict ${tone}">${escapeHtml(c)}</td>` : `<td>${escapeHtml(c)}</td>`)).join('');
    return `<tr class="${tone}-row" data-thing="${escapeHtml(r.thing ?? '')}" data-verdict="${escapeHtml(r.verdict)}">${tds}</tr>`;
  });
  return `<table id="devices"><thead><tr>${head}</tr></thead><tbody>\n${body.join('\n')}\n</tbody></table>`;
}

function findingsSection(doc: CheckDocument): string {
  const troubled = doc.rows.filter((r) => toneOf(r) !== 'good' || r.note !== null);
  if (troubled.length === 0) return '';
  const items = troubled.map((r) => {
    const who = whoOf(r);
    const fs = r.findings.map((f) =>
      `<li><code>${escapeHtml(f.code)}</code> ${escapeHtml(f.message)}${f.path ? ` <code class="muted">${escapeHtml(f.path)}</code>` : ''}</li>`).join('');
    const more = r.findingCount > r.findings.length ? `<li class="muted">${r.findingCount - r.findings.length} more in the device's report</li>` : '';
    const comps = r.layout === 'greengrass-v2'
      ? r.components.filter((c) => !c.asDeployed).map((c) => `<li class="component">component ${escapeHtml(componentLine(c))}</li>`).join('')
      : '';
    return `<h3 class="${toneOf(r)}" style="padding:.3rem .6rem;border-radius:6px">${escapeHtml(who)}: ${escapeHtml(r.verdict)}</h3>` +
      (r.note ? `<p>${escapeHtml(r.note)}</p>` : '') + (comps ? `<ul class="components">${comps}</ul>` : '') + (fs || more ? `<ul class="findings">${fs}${more}</ul>` : '');
  });
  return `<h2>What the devices said</h2>\n${items.join('\n')}`;
}

function consistencySection(doc: CheckDocument): string {
  if (doc.consistency.length === 0) return '';
  const parts = doc.consistency.map((c) => {
    const flow = escapeHtml([...c.flowArchives, ...c.systemInstanceNames, ...c.deployments].join(', ') || 'one flow');
    if (c.outliers.length === 0 && c.split.length === 0) {
      return `<p class="good" style="padding:.4rem .6rem;border-radius:6px">${flow}: the ${c.devices.length} devices hold the same bytes.</p>`;
    }
    const rows = c.outliers.flatMap((o) => o.folders.map((f) =>
      `<tr><td>${escapeHtml(o.thing)}</td><td><code>${escapeHtml(f.folder)}</code></td><td><code>${escapeHtml(f.digest?.slice(0, 16) ?? 'missing')}</code></td><td><code>${escapeHtml(f.majority?.slice(0, 16) ?? 'absent')}</code></td></tr>`));
    const split = c.split.map((s) => `<li>no majority for <code>${escapeHtml(s)}</code></li>`).join('');
    return `<p class="bad" style="padding:.4rem .6rem;border-radius:6px">${flow}: ${c.outliers.length} of ${c.devices.length} devices differ from the majority.</p>` +
      (rows.length ? `<table class="outliers"><thead><tr><th>device</th><th>folder</th><th>its digest</th><th>majority's</th></tr></thead><tbody>${rows.join('')}</tbody></table>` : '') +
      (split ? `<ul>${split}</ul>` : '');
  });
  const why = doc.layout === 'greengrass-v2'
    ? 'Devices that answered for the same deployment must hold the same bytes in their component store.'
    : 'Devices running the same flow must hold the same bytes for what the flow and its connector put on disk.';
  return `<h2>Fleet consistency</h2>\n<p class="muted">${why}</p>\n${parts.join('\n')}`;
}

export function renderHtml(doc: CheckDocument): string {
  const tone: Tone = doc.outcome === 'confirmed' ? 'good' : doc.outcome === 'silent' ? 'silent' : 'bad';
  const skipped = doc.skipped.length === 0 ? '' :
    `<h2>Not checked</h2><ul>${doc.skipped.map((s) => `<li><code>${escapeHtml('systemInstanceId' in s ? s.systemInstanceId : s.deploymentId)}</code>: ${escapeHtml(s.reason)}</li>`).join('')}</ul>`;
  const notes = doc.notes.map((n) => `<p class="muted">Note: ${escapeHtml(n)}</p>`).join('');
  const oldest = Math.max(-1, ...doc.rows.map((r) => r.reportAgeSeconds ?? -1));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>deploy-witness check: ${escapeHtml(doc.outcome)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>Deployment check</h1>
<p class="muted">${escapeHtml(doc.finishedAt)} &middot; ${doc.mode === 'group' ? 'devices found by group' : 'devices named'} &middot; ${doc.firstAnswer ? 'first answers' : `waited up to ${doc.timeoutSeconds} s`}${oldest >= 0 ? ` &middot; oldest report ${escapeHtml(age(oldest))}` : ''}</p>
<p class="outcome ${tone}" id="outcome">${escapeHtml(doc.message)}</p>
<div class="summary">
${tile('devices', doc.counts.rows, 'plain')}
${tile('verified', doc.counts.verified, 'good')}
${tile('answered otherwise', doc.counts.refuted, 'bad')}
${tile('no answer', doc.counts.silent, 'silent')}
</div>
${deviceTable(doc)}
${findingsSection(doc)}
${consistencySection(doc)}
${skipped}
${notes}
<p class="muted">deploy-witness ${escapeHtml(doc.agent.version)} &middot; exit code ${doc.exitCode}</p>
</body>
</html>
`;
}
