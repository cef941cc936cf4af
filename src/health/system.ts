// Is the core well? Disk space where the deployment lives,
// memory, load, uptime. One read per call: the agent decides when to call.
import { readFile, stat, statfs } from 'node:fs/promises';
import { freemem, loadavg, totalmem, uptime } from 'node:os';
import { finding, type Finding } from '../model/findings.js';

export interface DiskHealth {
  /** The first requested path on this file system (as given, never shortened). */
  path: string;
  /** Bytes an unprivileged process may still write (f_bavail). */
  freeBytes: number;
  totalBytes: number;
  freePercent: number;
}

export interface SystemHealth {
  disks: DiskHealth[];
  memory: { totalBytes: number; availableBytes: number };
  load: [number, number, number];
  uptimeSeconds: number;
}

export interface SystemHealthOptions {
  /** Where MemAvailable is read from; default /proc/meminfo. */
  meminfoPath?: string;
}

/** MemAvailable (bytes) from /proc/meminfo text; null when absent (kernels before 3.14). */
export function parseMemAvailable(text: string): number | null {
  const m = /^MemAvailable:\s+(\d+)\s*kB\s*$/m.exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * Disk space of the file system holding each path, once per file system. A
 * path that is not there is left out: the space of the folder above it would
 * be reported under a name that is not on the machine (on a machine that is
 * not a core, /greengrass is not there at all).
 */
export async function systemHealth(paths: string[], opts: SystemHealthOptions = {}): Promise<SystemHealth> {
  const disks: DiskHealth[] = [];
  const seen = new Set<number>();
  for (const requested of paths) {
    let dev: number;
    try {
      dev = (await stat(requested)).dev;
    } catch {
      continue; // not there (or not to be looked at): no file system to speak of
    }
    // Same device, same file system: report it once.
    if (seen.has(dev)) continue;
    seen.add(dev);
    let fs;
    try {
      fs = await statfs(requested);
    } catch {
      continue; // vanished between stat and statfs, or not permitted: nothing to say
    }
    const totalBytes = fs.blocks * fs.bsize;
    if (totalBytes <= 0) continue; // a pseudo file system has no space to run out of
    const freeBytes = Math.min(fs.bavail * fs.bsize, totalBytes);
    disks.push({ path: requested, freeBytes, totalBytes, freePercent: (freeBytes / totalBytes) * 100 });
  }

  let available: number | null = null;
  try {
    available = parseMemAvailable(await readFile(opts.meminfoPath ?? '/proc/meminfo', 'utf8'));
  } catch {
    // Not Linux, or /proc not mounted: free memory is the next best figure.
  }
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  return {
    disks,
    memory: { totalBytes: totalmem(), availableBytes: available ?? freemem() },
    load: [l1, l5, l15],
    uptimeSeconds: uptime(),
  };
}

/** DISK_LOW for each disk with less than `lowPercent` free; 0 turns the check off. */
export function diskFindings(disks: DiskHealth[], lowPercent: number): Finding[] {
  return disks
    .filter((d) => d.freePercent < lowPercent)
    .map((d) =>
      finding('DISK_LOW', `${d.path}: ${d.freePercent.toFixed(1)}% free (${Math.floor(d.freeBytes / 1024 ** 2)} MiB), under ${lowPercent}%`, {
        expected: { minFreePercent: lowPercent },
        actual: { path: d.path, freeBytes: d.freeBytes, totalBytes: d.totalBytes, freePercent: Math.round(d.freePercent * 10) / 10 },
      }),
    );
}
