// What observing a core yields. Plain data: the verifier judges it without I/O.
import type { Finding } from './findings.js';

export interface GroupDefinition {
  arn: string;
  groupId: string;
  groupVersionId: string;
  region?: string;
  coreThingArn?: string;
  coreThing?: string;
  lambdas: { functionArn: string; codeSize?: number }[];
  connectors: { connectorArn: string; id?: string }[];
  resources: { id?: string; name?: string; s3Uri?: string; destinationPath?: string; type?: string }[];
  /** The group names the Things Graph connector (or a Lambda that looks like it). */
  hasThingsGraphConnector: boolean;
  /** Basenames of flow-*.tar.gz resources the group names (from S3 URIs or names). */
  flowResourceNames: string[];
}

export type GroupObservation =
  | { state: 'ok'; path: string; definition: GroupDefinition }
  | { state: 'missing'; path: string }
  | { state: 'invalid'; path: string; reason: string }
  /** There, or perhaps there, but it could not be read (EACCES ...): nothing is known of it. */
  | { state: 'unreadable'; path: string; reason: string };

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'other';

export interface ArchiveEntry {
  /** The path as written in the archive. */
  path: string;
  type: EntryType;
  size: number;
  mode: number;
  /** SHA-256 (hex) of the entry's content, for files. */
  sha256?: string;
}

export interface ArchiveInspection {
  /** Relative to the root, POSIX separators. */
  path: string;
  /** Size of the archive file in bytes. */
  size: number;
  /** SHA-256 (hex) of the whole archive file; null when it could not be read. */
  sha256: string | null;
  entryCount: number;
  /** Sum of entry sizes (uncompressed content). */
  totalBytes: number;
  entries: ArchiveEntry[];
  /** RESOURCE_CORRUPT, UNSAFE_ARCHIVE_ENTRY and the like. */
  findings: Finding[];
}

export interface FlowResource {
  /** `flow-<name>`: the archive basename without .tar.gz, or the folder name. */
  name: string;
  archive?: ArchiveInspection;
  /** Relative path of the folder the archive was unpacked into, when found. */
  folder?: string;
  /** Differences between the folder and the archive's entries. */
  folderFindings: Finding[];
}

export interface FileDigest {
  sha256: string;
  size: number;
  mode: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** One baseline unit: a deployed folder (or a lone file) with one digest over its files. */
export interface UnitDigest {
  /** Relative to the root, POSIX separators. */
  path: string;
  /** SHA-256 over the sorted (relative path, sha256, size, mode) of its files. */
  digest: string;
  /** Keyed by path relative to the unit. A lone-file unit has the key "". */
  files: Record<string, FileDigest>;
}

export interface TreeObservation {
  units: UnitDigest[];
  /** SHA-256 over the sorted (unit path, unit digest). */
  treeDigest: string;
  filesHashed: number;
  bytesHashed: number;
}

export interface ThingsGraphLogObservation {
  /** Log files read, newest last, relative to the root. */
  files: string[];
  /** A bootstrap ("bootstrapping DB") was seen. */
  bootstrapped: boolean;
  /** "Initialized ThingsGraph Runtime" after the newest bootstrap. */
  initialized: boolean;
  runtimeVersion?: string;
  /** System instance URNs registered since the newest bootstrap. */
  registered: string[];
  lastBootstrapAt?: string;
  /** Flow executions, outcomes and errors since the newest bootstrap. */
  activity?: FlowActivity;
  /**
   * Places of this log (folders, files) that could not be read: what the log
   * says is then incomplete, and its silence proves nothing.
   */
  unreadable?: string[];
}

export interface RuntimeLogObservation {
  files: string[];
  /** The newest deployment ID the log mentions. */
  deploymentId?: string;
  /** Set when the newest deployment the log mentions failed. */
  deploymentFailed?: { deploymentId?: string; message: string; at?: string };
  /** As for ThingsGraph.log: places of this log that could not be read. */
  unreadable?: string[];
}

/** The Things Graph runtime's files: present or not, and those whose presence could not be told. */
export interface RuntimeFilesObservation {
  /** The runtime folder, root-relative (layout.thingsGraphDir); "thingsgraph" when absent. */
  path?: string;
  dir: boolean;
  db: boolean;
  engine: boolean;
  /**
   * Those of the three that could not be looked at (a folder on the way not
   * searchable), root-relative, with the error code: their false above means
   * "not known", not "missing".
   */
  unreadable?: { path: string; reason: string }[];
}

/** Folders under the flow search paths that could not be listed: a flow resource there would go unseen. */
export interface FlowSearchObservation {
  unreadable: { path: string; reason: string }[];
}

export interface Observation {
  root: string;
  observedAt: string;
  group: GroupObservation;
  flowResources: FlowResource[];
  runtimeFiles: RuntimeFilesObservation;
  /** Absent when every folder searched for flow resources could be listed. */
  flowSearch?: FlowSearchObservation;
  thingsGraphLog: ThingsGraphLogObservation;
  runtimeLog: RuntimeLogObservation;
  tree: TreeObservation;
  /** I/O problems met while observing (unreadable files and such). */
  findings: Finding[];
}

/** A short summary of flow activity since the newest bootstrap (or the log's start). */
export interface FlowActivity {
  /** StartFlowExecution lines seen. */
  executions: number;
  lastStartAt?: string;
  lastFlowInstanceId?: string;
  lastFlowType?: string;
  transitionsSucceeded: number;
  transitionsFailed: number;
  /** Lines at ERROR/FATAL level, whatever they say. */
  errors: number;
  warnings: number;
  /** Newest error lines, oldest first, at most MAX_ERROR_LINES. */
  lastErrors: string[];
  /** The newest trigger expression, e.g. "every 10 seconds". */
  triggerExpression?: string;
  /** When things happened, for windowed health; only when the reducer was asked for it. */
  timeline?: FlowTimeline;
}

/**
 * Times (ISO-8601 UTC) of the newest runtime run, bounded: at most
 * MAX_TIMELINE starts and failures each, oldest first. Lines with neither a
 * timestamp nor a fallback time cannot be placed and are left out.
 */
export interface FlowTimeline {
  /** Flow-execution starts (StartFlowExecution lines). */
  starts: string[];
  /** Failed transitions and ERROR/FATAL lines, one entry per line; text clipped to MAX_FAILURE_TEXT. */
  failures: { at: string; text: string }[];
  bootstrapAt?: string;
  /** The first registration of the run: the run's start when its bootstrap rotated away. */
  registeredAt?: string;
  initializedAt?: string;
  /**
   * Some kept time is a file's mtime, not the line's own: an upper bound on when
   * the line was written. Health treats such times as "no later than".
   */
  timesAreBounds: boolean;
}
