// The command line as a user who may not read everything, whoever runs the
// tests. chmod does not stop root, and CI runs as root, so:
//
// - as root, the child runs as nobody (uid/gid 65534): places are denied by
//   chmod (root owns them), and the folders the child must reach are opened to
//   it (the temp tree searchable, the state folder its own);
// - as root with a checkout nobody cannot read (the program itself out of
//   reach), the child stays root but runs without the capabilities that let
//   root read what it does not own (setpriv): places are denied by giving them
//   to nobody and closing them;
// - as anyone else, the child is this user, and a place is denied by chmod 0.
//
// In every case the kernel refuses the read with EACCES, as on a real core.
import { spawnSync } from 'node:child_process';
import { chmod, chown, lstat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BIN, runCli, type CliOptions, type CliResult } from './cli-child.js';

export const NOBODY = 65534;

export type Mode = 'nobody' | 'no-dac-capabilities' | 'self';

export interface Unprivileged {
  mode: Mode;
  /** The command line as that user. */
  run(args: string[], opts?: CliOptions): Promise<CliResult>;
  /** Makes a file or folder unreadable for the child (a folder: not listable, not searchable). */
  deny(path: string): Promise<void>;
  /** Lets the child reach `path` and every folder above it up to `top` (read and search). */
  reach(top: string, path: string): Promise<void>;
  /** Makes a folder the child's own, to write its state in. */
  own(path: string): Promise<void>;
  /** Gives every denied place back, in reverse order (cleanup needs to search them). */
  restore(): Promise<void>;
}

function nobodyCanRun(): boolean {
  const r = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(BIN)}, require('fs').constants.R_OK)`], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: 'ignore',
  });
  return r.status === 0;
}

const SETPRIV = ['setpriv', '--inh-caps=-all', '--bounding-set=-dac_override,-dac_read_search', '--'];

export function unprivileged(): Unprivileged {
  const root = process.getuid?.() === 0;
  const mode: Mode = !root ? 'self' : nobodyCanRun() ? 'nobody' : 'no-dac-capabilities';
  const denied: { path: string; mode: number; uid: number; gid: number }[] = [];
  const closed = async (path: string, dirMode: number, fileMode: number) =>
    chmod(path, (await lstat(path)).isDirectory() ? dirMode : fileMode);
  return {
    mode,
    run(args, opts = {}) {
      if (mode === 'nobody') return runCli(args, { ...opts, uid: NOBODY, gid: NOBODY });
      if (mode === 'no-dac-capabilities') return runCli(args, { ...opts, prefix: SETPRIV });
      return runCli(args, opts);
    },
    async deny(path) {
      const st = await lstat(path);
      denied.push({ path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
      if (mode === 'self') return closed(path, 0o000, 0o000);
      if (mode === 'no-dac-capabilities') await chown(path, NOBODY, NOBODY);
      // Owner only: root owns it (nobody is denied), or nobody does (root without its capabilities is).
      return closed(path, 0o700, 0o600);
    },
    async reach(top, path) {
      if (mode !== 'nobody') return;
      for (let p = path; ; p = dirname(p)) {
        const st = await lstat(p);
        await chmod(p, st.isDirectory() ? 0o755 : 0o644);
        if (p === top || dirname(p) === p) break;
      }
    },
    async own(path) {
      if (mode === 'nobody') await chown(path, NOBODY, NOBODY);
    },
    async restore() {
      for (const d of denied.splice(0).reverse()) {
        await chmod(d.path, d.mode);
        if (root) await chown(d.path, d.uid, d.gid);
      }
    },
  };
}
