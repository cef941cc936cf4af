// The component versions the Java nucleus runs, replayed from its
// configuration transaction log, config/config.tlog: one JSON object a line,
// {"TS": <epoch ms>, "TP": [<topic path>], "W": "changed" | "removed" |
// "timestampUpdated" | "interiorAdded", "V": <value>} (Tlogline,
// ConfigurationWriter.childChanged, ConfigurationReader.mergeTLogInto). The
// running version of a component is services.<name>.version
// (KernelConfigResolver.VERSION_CONFIG_KEY). effectiveConfig.yaml is not used:
// the nucleus rewrites it only at start and shutdown, not after a deployment.
import { join, posix } from 'node:path';
import type { RunningVersions } from '../../model/greengrass-v2.js';
import { readLogLines } from '../logs.js';

/** Components tracked at most; a tlog naming more is not a device's. */
export const MAX_SERVICES = 10_000;

/** Replays services.<name>.version over tlog lines. Pure; malformed lines are skipped as the nucleus skips them. */
export class TlogVersions {
  private readonly versions = new Map<string, { ts: number; v: string }>();
  skipped = 0;

  line(text: string): void {
    if (!text.includes('"services"')) return;
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      this.skipped++;
      return;
    }
    if (typeof o !== 'object' || o === null) return;
    const { TS, TP, W, V } = o as { TS?: unknown; TP?: unknown; W?: unknown; V?: unknown };
    if (!Array.isArray(TP) || TP[0] !== 'services' || !TP.every((s) => typeof s === 'string')) return;
    const path = TP as string[];
    const ts = typeof TS === 'number' && Number.isFinite(TS) ? TS : 0;
    if (W === 'changed' && path.length === 3 && path[2] === 'version' && typeof V === 'string') {
      const prev = this.versions.get(path[1]!);
      // Topic.withNewerValue: an older timestamp does not overwrite a newer value.
      if (prev && prev.ts > ts) return;
      if (!prev && this.versions.size >= MAX_SERVICES) return;
      this.versions.set(path[1]!, { ts, v: V });
    } else if (W === 'removed') {
      if (path.length === 1) this.versions.clear();
      else if (path.length === 2 || (path.length === 3 && path[2] === 'version')) this.versions.delete(path[1]!);
    }
  }

  result(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of [...this.versions.keys()].sort()) {
      Object.defineProperty(out, k, { value: this.versions.get(k)!.v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}

export async function readRunningVersions(root: string, v2Root: string): Promise<RunningVersions> {
  const rel = posix.join(v2Root, 'config', 'config.tlog');
  const replay = new TlogVersions();
  const r = await readLogLines(join(root, rel), (line) => replay.line(line));
  if (r.state === 'vanished') return { state: 'missing', path: rel };
  if (r.state === 'unreadable') return { state: 'unreadable', path: rel, reason: r.reason };
  return { state: 'ok', path: rel, versions: replay.result() };
}
