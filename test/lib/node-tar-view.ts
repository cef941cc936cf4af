// node-tar's own view of an archive, read the way a Node.js tool that unpacks
// it would: `tar.t` on the file (its own gunzip, its own chunking), every file's
// content hashed. The differential test's second independent reader: an archive
// deploy-witness accepts must look the same to it, whatever the in-process
// cross-check (src/observe/tar-crosscheck.ts) concluded.
import { createHash } from 'node:crypto';
import * as tar from 'tar';
import type { ArchiveInspection } from '../../src/model/observation.js';

export interface NodeTarView {
  entries: { path: string; type: string; size: number; sha256?: string }[];
  warnings: string[];
  /** node-tar threw (or emitted an error). */
  error: string | null;
}

export function nodeTarView(file: string): NodeTarView {
  const view: NodeTarView = { entries: [], warnings: [], error: null };
  try {
    tar.t({
      file,
      sync: true,
      strict: false,
      onwarn: (code: string, message: string) => view.warnings.push(`${code}: ${message}`),
      onReadEntry: (e) => {
        const rec: NodeTarView['entries'][number] = { path: String(e.path), type: String(e.type), size: Number(e.size) };
        view.entries.push(rec);
        if (e.type === 'File' || e.type === 'OldFile' || e.type === 'ContiguousFile') {
          const h = createHash('sha256');
          e.on('data', (c: Buffer) => h.update(c));
          e.on('end', () => (rec.sha256 = h.digest('hex')));
        }
      },
    });
  } catch (err) {
    view.error = err instanceof Error ? err.message : String(err);
  }
  return view;
}

const NODE_TYPE: Record<string, string> = { file: 'File', directory: 'Directory' };

/** How node-tar's view differs from what deploy-witness recorded, or null when they agree. */
export function nodeTarDifference(ours: ArchiveInspection, view: NodeTarView): string | null {
  if (view.error !== null) return `node-tar fails: ${view.error}`;
  // An archive with no entries is "unrecognized" to node-tar; an empty listing either way.
  const warnings = view.warnings.filter((w) => !(ours.entries.length === 0 && view.entries.length === 0 && /Unrecognized archive format/.test(w)));
  if (warnings.length > 0) return `node-tar warns: ${warnings[0]}`;
  if (ours.entries.length !== view.entries.length) return `node-tar lists ${view.entries.length} entries, deploy-witness ${ours.entries.length}`;
  for (let i = 0; i < ours.entries.length; i++) {
    const a = ours.entries[i]!;
    const b = view.entries[i]!;
    const type = NODE_TYPE[a.type] ?? `?${a.type}`;
    if (a.path !== b.path || (type !== b.type && !(type === 'File' && b.type === 'OldFile')) || a.size !== b.size) {
      return `entry ${i}: node-tar ${b.type} ${JSON.stringify(b.path)} ${b.size}, deploy-witness ${type} ${JSON.stringify(a.path)} ${a.size}`;
    }
    if (a.type === 'file' && a.sha256 !== b.sha256) {
      return `entry ${i}: node-tar content ${b.sha256?.slice(0, 12)}, deploy-witness ${a.sha256?.slice(0, 12)}`;
    }
  }
  return null;
}

/** The finding the in-process cross-check adds when node-tar read the archive differently. */
export function nodeTarFlagged(ours: ArchiveInspection): boolean {
  return ours.findings.some((f) => f.code === 'RESOURCE_CORRUPT' && f.message.startsWith('node-tar reads the archive differently'));
}

/** Refused only because node-tar read it differently: our reader alone would have accepted it. */
export function onlyNodeTarRefused(ours: ArchiveInspection): boolean {
  const refusals = ours.findings.filter((f) => ['UNSAFE_ARCHIVE_ENTRY', 'RESOURCE_CORRUPT', 'FILE_UNREADABLE'].includes(f.code));
  return refusals.length > 0 && refusals.every((f) => f.message.startsWith('node-tar reads the archive differently'));
}
