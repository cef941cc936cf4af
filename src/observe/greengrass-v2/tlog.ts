// What the Java nucleus runs, replayed from its configuration transaction log,
// config/config.tlog: one JSON object a line, {"TS": <epoch ms>, "TP": [<topic
// path>], "W": "changed" | "removed" | "timestampUpdated" | "interiorAdded",
// "V": <value>} (Tlogline, ConfigurationWriter.childChanged,
// ConfigurationReader.mergeTLogInto). Three things are kept:
//   - services.<name>.version, the running version of a component
//     (KernelConfigResolver.VERSION_CONFIG_KEY);
//   - system.thingName, the core's thing (DeviceConfiguration);
//   - the targets under services.DeploymentService.GroupToRootComponents
//     ("thinggroup/<name>", "thing/<name>", "LOCAL_DEPLOYMENT"): the nucleus
//     writes a target's root components there after each successful
//     deployment and removes a thing group the device is no longer in
//     (DeploymentService.persistGroupToRootComponents).
// effectiveConfig.yaml is not used: the nucleus rewrites it only at start and
// shutdown, not after a deployment. The file is read as a log (log-tail.ts):
// a running agent reads only the lines appended since, and all of it again
// when the nucleus rewrites the file.

/** Components tracked at most; a tlog naming more is not a device's. */
export const MAX_SERVICES = 10_000;
/** Deployment targets tracked at most. */
export const MAX_GROUPS = 1_000;

const GROUPS_PATH = ['services', 'DeploymentService', 'GroupToRootComponents'] as const;

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.every((p, i) => path[i] === p);
}

/** Replays the tlog's lines. Pure; malformed lines are skipped as the nucleus skips them. */
export class TlogVersions {
  private readonly versions = new Map<string, { ts: number; v: string }>();
  private thing: { ts: number; v: string } | null = null;
  private readonly groups = new Set<string>();
  skipped = 0;

  line(text: string): void {
    if (!text.includes('"services"') && !text.includes('"system"')) return;
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      this.skipped++;
      return;
    }
    if (typeof o !== 'object' || o === null) return;
    const { TS, TP, W, V } = o as { TS?: unknown; TP?: unknown; W?: unknown; V?: unknown };
    if (!Array.isArray(TP) || !TP.every((s) => typeof s === 'string')) return;
    const path = TP as string[];
    const ts = typeof TS === 'number' && Number.isFinite(TS) ? TS : 0;
    if (path[0] === 'system') {
      if (path.length === 2 && path[1] === 'thingName' && W === 'changed' && typeof V === 'string') {
        if (this.thing && this.thing.ts > ts) return;
        this.thing = { ts, v: V };
      } else if (W === 'removed' && (path.length === 1 || (path.length === 2 && path[1] === 'thingName'))) {
        this.thing = null;
      }
      return;
    }
    if (path[0] !== 'services') return;
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
    // The deployment targets: a target exists while anything below it was set since it was last removed.
    if (startsWith(path, GROUPS_PATH) && path.length > GROUPS_PATH.length) {
      const group = path[GROUPS_PATH.length]!;
      if (W === 'changed' && path.length > GROUPS_PATH.length + 1) {
        if (this.groups.has(group) || this.groups.size < MAX_GROUPS) this.groups.add(group);
      } else if (W === 'removed' && path.length === GROUPS_PATH.length + 1) {
        this.groups.delete(group);
      }
    } else if (W === 'removed' && GROUPS_PATH.length >= path.length && startsWith(GROUPS_PATH, path)) {
      this.groups.clear(); // GroupToRootComponents itself, the DeploymentService or all services went
    }
  }

  /** services.<name>.version, by name. */
  result(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of [...this.versions.keys()].sort()) {
      Object.defineProperty(out, k, { value: this.versions.get(k)!.v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /** system.thingName, or null. */
  thingName(): string | null {
    return this.thing?.v ?? null;
  }

  /** The deployment targets the nucleus keeps root components for, sorted. */
  deploymentGroups(): string[] {
    return [...this.groups].sort();
  }
}

export interface TlogSummary {
  versions: Record<string, string>;
  thingName: string | null;
  deploymentGroups: string[];
}

/** TlogVersions as a log reducer (log-tail.ts). */
export class TlogReducer {
  private readonly replay = new TlogVersions();

  add(line: string): void {
    this.replay.line(line);
  }

  result(): TlogSummary {
    return { versions: this.replay.result(), thingName: this.replay.thingName(), deploymentGroups: this.replay.deploymentGroups() };
  }
}
