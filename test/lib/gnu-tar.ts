// GNU tar's view of an archive: what it lists and what it would unpack, read
// with the tar binary itself. The independent reader of the differential
// archive test: deploy-witness must never accept an archive that GNU tar
// reads differently.
import { execFile } from 'node:child_process';
import type { ArchiveInspection } from '../../src/model/observation.js';

export interface GnuView {
  /** Worst exit status of the listing and the extraction (0: GNU tar read the archive without error). */
  status: number;
  stderr: string;
  /** Every member `tar -tv` lists, in order: the type letter of its mode column and its path. */
  entries: { type: string; path: string }[];
  /** Regular files as `tar -x` hands them to a command, in order. */
  files: { path: string; sha256: string }[];
}

// One shell per file: its type and name, NUL-separated, then the SHA-256 of what tar writes to it.
const TO_COMMAND = `printf 'F\\0%s\\0%s\\0' "$TAR_FILETYPE" "$TAR_FILENAME"; sha256sum`;

function run(args: string[], cwd: string): Promise<{ status: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'tar',
      args,
      { cwd, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 30_000, env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 128) : 0;
        resolve({ status: code, stdout, stderr: stderr.toString('utf8') });
      },
    );
  });
}

/** Reads a C-quoted string (`--quoting-style=c`) starting at the opening quote; returns its bytes. */
export function unquoteC(s: string): Buffer | null {
  if (s[0] !== '"') return null;
  const out: number[] = [];
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, '"': 34, '?': 63 };
  const bytes = Buffer.from(s.slice(1), 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (c === 0x22) return Buffer.from(out);
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const e = String.fromCharCode(bytes[++i] as number);
    if (e in simple) out.push(simple[e] as number);
    else if (/[0-7]/.test(e)) {
      const oct = String.fromCharCode(...bytes.subarray(i, i + 3));
      if (!/^[0-7]{3}$/.test(oct)) return null;
      out.push(parseInt(oct, 8));
      i += 2;
    } else return null;
  }
  return null;
}

const LIST_LINE = /^(\S)\S{9} \S+\s+\S+ \S+ \S+ (".*)$/;

export function parseListing(stdout: string): { type: string; path: string }[] {
  const out: { type: string; path: string }[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const m = LIST_LINE.exec(line);
    const name = m ? unquoteC(m[2] as string) : null;
    // A line we cannot read counts as a member we cannot match.
    out.push(m && name ? { type: m[1] as string, path: name.toString('utf8') } : { type: '!', path: line });
  }
  return out;
}

export function parseToCommand(out: Buffer): { path: string; sha256: string; type: string }[] | null {
  const files: { path: string; sha256: string; type: string }[] = [];
  let i = 0;
  while (i < out.length) {
    if (out[i] !== 0x46 || out[i + 1] !== 0) return null;
    const t = out.indexOf(0, i + 2);
    const n = t === -1 ? -1 : out.indexOf(0, t + 1);
    if (n === -1) return null;
    const hash = out.subarray(n + 1, n + 1 + 64).toString('latin1');
    if (!/^[0-9a-f]{64}$/.test(hash) || out.subarray(n + 65, n + 69).toString('latin1') !== '  -\n') return null;
    files.push({ type: out.subarray(i + 2, t).toString('utf8'), path: out.subarray(t + 1, n).toString('utf8'), sha256: hash });
    i = n + 69;
  }
  return files;
}

/** Lists a .tar.gz with GNU tar and runs every regular file through sha256sum, extracting nothing to disk. */
export async function gnuTarView(file: string, scratchDir: string): Promise<GnuView> {
  const list = await run(['-tvz', '--quoting-style=c', '--numeric-owner', '-f', file], scratchDir);
  const extract = await run(['-xz', '-f', file, `--to-command=${TO_COMMAND}`], scratchDir);
  const files = parseToCommand(extract.stdout);
  return {
    status: Math.max(list.status, extract.status, files === null ? 125 : 0),
    stderr: list.stderr + extract.stderr,
    entries: parseListing(list.stdout.toString('utf8')),
    files: (files ?? []).map(({ path, sha256 }) => ({ path, sha256 })),
  };
}

/** deploy-witness accepted the archive: no finding says it is unsafe, damaged or unread. */
export function accepted(i: ArchiveInspection): boolean {
  return i.sha256 !== null && !i.findings.some((f) => ['UNSAFE_ARCHIVE_ENTRY', 'RESOURCE_CORRUPT', 'FILE_UNREADABLE'].includes(f.code));
}

const TYPE_LETTER: Record<string, string> = { file: '-', directory: 'd' };
const dirKey = (type: string, p: string) => (type === 'd' ? p.replace(/\/+$/, '') : p);

/** How GNU tar's view differs from what deploy-witness recorded, or null when they agree. */
export function gnuDifference(ours: ArchiveInspection, gnu: GnuView): string | null {
  if (gnu.status !== 0) return `GNU tar fails (status ${gnu.status}): ${gnu.stderr.split('\n')[0] ?? ''}`;
  const mine = ours.entries.map((e) => ({ type: TYPE_LETTER[e.type] ?? `?${e.type}`, path: e.path }));
  if (mine.length !== gnu.entries.length) return `GNU tar lists ${gnu.entries.length} entries, deploy-witness ${mine.length}`;
  for (let i = 0; i < mine.length; i++) {
    const a = mine[i] as { type: string; path: string };
    const b = gnu.entries[i] as { type: string; path: string };
    if (a.type !== b.type || dirKey(a.type, a.path) !== dirKey(b.type, b.path)) {
      return `entry ${i}: GNU tar ${b.type} ${JSON.stringify(b.path)}, deploy-witness ${a.type} ${JSON.stringify(a.path)}`;
    }
  }
  const myFiles = ours.entries.filter((e) => e.type === 'file');
  if (myFiles.length !== gnu.files.length) return `GNU tar unpacks ${gnu.files.length} files, deploy-witness read ${myFiles.length}`;
  for (let i = 0; i < myFiles.length; i++) {
    const a = myFiles[i] as { path: string; sha256?: string };
    const b = gnu.files[i] as { path: string; sha256: string };
    if (a.path !== b.path || a.sha256 !== b.sha256) {
      return `file ${i}: GNU tar ${JSON.stringify(b.path)} ${b.sha256.slice(0, 12)}, deploy-witness ${JSON.stringify(a.path)} ${a.sha256?.slice(0, 12)}`;
    }
  }
  return null;
}
