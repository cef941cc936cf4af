// The two logs of a Java nucleus root that deploy-witness reads, kept current
// the way the Things Graph logs are (log-tail.ts): config/config.tlog (what
// runs, tlog.ts) and logs/greengrass.log with its rotated siblings (component
// states, nucleus-log.ts). `verify` reads each once; the agent reads only what
// was appended since, and everything again after a rotation or a rewrite, so
// what it holds always equals a fresh read. Nucleus lite keeps neither (its
// configuration is SQLite, its logs are in the journal).
import { join, posix } from 'node:path';
import type { GreengrassV2LayoutConfig } from '../../config/layout.js';
import type { Finding } from '../../model/findings.js';
import type { ComponentStatesObservation, NucleusKind, RunningVersions } from '../../model/greengrass-v2.js';
import { discoverLogFolder } from '../log-discovery.js';
import { LogTail } from '../log-tail.js';
import { ComponentStateReducer, parseNucleusLogLine, type NucleusLogEvent } from './nucleus-log.js';
import { TlogReducer, type TlogSummary } from './tlog.js';

const TLOG = /^config\.tlog()$/;

interface StatesSummary {
  startedAt: string | null;
  states: ComponentStatesObservation['states'];
}

class StatesReducer {
  private readonly r = new ComponentStateReducer();

  add(ev: NucleusLogEvent): void {
    this.r.add(ev);
  }

  result(): StatesSummary {
    return { startedAt: this.r.startedAt, states: this.r.result() };
  }
}

const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

export class GreengrassV2Logs {
  private readonly tlog: LogTail<TlogSummary, string> | null;
  private readonly nucleusLog: LogTail<StatesSummary, NucleusLogEvent> | null;
  private readonly configDir: string;
  private readonly logsDir: string;
  readonly tlogPath: string;

  constructor(
    private readonly root: string,
    v2Root: string,
    nucleus: NucleusKind,
    layout: GreengrassV2LayoutConfig,
  ) {
    this.configDir = posix.join(v2Root, 'config');
    this.logsDir = posix.join(v2Root, 'logs');
    this.tlogPath = posix.join(this.configDir, 'config.tlog');
    if (nucleus === 'lite') {
      this.tlog = null;
      this.nucleusLog = null;
      return;
    }
    const pattern = new RegExp(layout.nucleusLogPattern);
    this.tlog = new LogTail<TlogSummary, string>({
      discover: () => discoverLogFolder(root, this.configDir, TLOG, 'the configuration folder'),
      reducer: () => new TlogReducer(),
      classify: (line) => line,
    });
    this.nucleusLog = new LogTail<StatesSummary, NucleusLogEvent>({
      discover: () => discoverLogFolder(root, this.logsDir, pattern, 'the nucleus logs (the folder is owner-only, 700)'),
      reducer: () => new StatesReducer(),
      classify: parseNucleusLogLine,
    });
  }

  /** The folders whose changes concern these logs (absolute); none for nucleus lite. */
  watchPaths(): string[] {
    return this.tlog ? [join(this.root, this.configDir), join(this.root, this.logsDir)] : [];
  }

  /** True for a root-relative path at or under one of the folders. */
  concerns(rel: string): boolean {
    return this.tlog !== null && (under(rel, this.configDir) || under(rel, this.logsDir));
  }

  async refresh(): Promise<void> {
    await this.tlog?.refresh();
    await this.nucleusLog?.refresh();
  }

  async reread(): Promise<void> {
    await this.tlog?.reread();
    await this.nucleusLog?.reread();
  }

  runningVersions(): RunningVersions {
    if (!this.tlog) return { state: 'unsupported', path: posix.join(posix.dirname(this.configDir), 'config.db'), reason: 'nucleus lite keeps its configuration in SQLite' };
    const r = this.tlog.result();
    if (r.files.length > 0) {
      return { state: 'ok', path: this.tlogPath, versions: r.versions, thingName: r.thingName, deploymentGroups: r.deploymentGroups };
    }
    const problem = this.tlog.findings()[0];
    if (problem) return { state: 'unreadable', path: this.tlogPath, reason: problem.message };
    return { state: 'missing', path: this.tlogPath };
  }

  componentStates(): ComponentStatesObservation {
    if (!this.nucleusLog) return { source: 'none', files: [], startedAt: null, states: [] };
    const r = this.nucleusLog.result();
    return { source: r.files.length > 0 ? 'log' : 'none', files: r.files, startedAt: r.startedAt, states: r.states };
  }

  /** Folders that cannot be listed and files that cannot be read. */
  findings(): Finding[] {
    return [...(this.tlog?.findings() ?? []), ...(this.nucleusLog?.findings() ?? [])];
  }
}
