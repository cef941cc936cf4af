// Where things sit on a Greengrass v1 core, and the shapes of its log lines.
// The public record of several of these is thin, so each is configuration
// with a default, never a hard-coded truth. All paths are relative to --root.

export interface LayoutConfig {
  /** The deployed group definition. */
  groupJson: string;
  /** Folder holding group/, lambda/<arn>/, mlmodel/<uuid>/ ... */
  deploymentDir: string;
  /** Folders searched (recursively) for flow archives and unpacked flow folders. */
  flowSearchPaths: string[];
  /** Regex (source) an archive basename must match to be a flow resource. */
  flowArchivePattern: string;
  /** The Things Graph runtime folder (ThingsGraph.db, engine/). */
  thingsGraphDir: string;
  /** Folder whose <region>/ThingsGraph/ children hold ThingsGraph.log. */
  userLogDir: string;
  /** Regex (source) for ThingsGraph.log and its rotated siblings. */
  thingsGraphLogPattern: string;
  /** Folder of runtime.log. */
  systemLogDir: string;
  /** Regex (source) for runtime.log and its rotated siblings. */
  runtimeLogPattern: string;
  /** Files under thingsGraphDir that change at run time: checked for presence only. */
  runtimeVolatile: string[];
}

export interface LogPatterns {
  /** Optional prefix before a line's level, e.g. "[2019-03-03T20:33:09.339Z]"; group 1 is the time. */
  timestampPrefix: string;
  /** Level marker; group 1 is the level. */
  level: string;
  bootstrap: string;
  /** Group 1 is the system instance URN. */
  registered: string;
  /** Group 1 (optional) is the runtime version. */
  initialized: string;
  /** Group 1 is a deployment ID inside a JSON fragment or plain text. */
  deploymentId: string;
  /** A line that reports a failed deployment. */
  deploymentFailed: string;
}

export interface ArchiveLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxPathDepth: number;
  /** Uncompressed bytes over compressed file size. */
  maxRatio: number;
}

export const DEFAULT_LAYOUT: LayoutConfig = {
  groupJson: 'greengrass/ggc/deployment/group/group.json',
  deploymentDir: 'greengrass/ggc/deployment',
  flowSearchPaths: ['greengrass/ggc/deployment', 'thingsgraph'],
  flowArchivePattern: '^flow-.+\\.tar\\.gz$',
  thingsGraphDir: 'thingsgraph',
  userLogDir: 'greengrass/ggc/var/log/user',
  thingsGraphLogPattern: '^ThingsGraph\\.log(\\.[0-9A-Za-z_.-]+)?$',
  systemLogDir: 'greengrass/ggc/var/log/system',
  runtimeLogPattern: '^runtime\\.log(\\.[0-9A-Za-z_.-]+)?$',
  runtimeVolatile: ['ThingsGraph.db', 'ThingsGraph.db-journal', 'ThingsGraph.db-wal', 'ThingsGraph.db-shm'],
};

export const DEFAULT_LOG_PATTERNS: LogPatterns = {
  timestampPrefix: '^\\[(\\d{4}-\\d{2}-\\d{2}T[0-9:.]+Z?)\\]',
  level: '\\[(INFO|WARN|WARNING|ERROR|DEBUG|FATAL|TRACE)\\]-?',
  bootstrap: 'bootstrapping DB(?! done)',
  registered: 'registered SDC:\\s*(urn:tdm:\\S+)',
  initialized: 'Initialized ThingsGraph Runtime(?:\\s+v?(\\S+))?',
  deploymentId: '"?deploymentId"?\\s*[:=]\\s*"?([A-Za-z0-9._:/-]+)"?',
  deploymentFailed: '[Dd]eployment failed',
};

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxEntries: 20_000,
  maxTotalBytes: 2 * 1024 ** 3,
  maxPathDepth: 32,
  maxRatio: 200,
};

/**
 * Where a Greengrass v2 root sits under --root, and the shapes read there.
 * Paths are relative to --root. The Java nucleus's root is {kernel:rootPath}
 * (installer --root, /greengrass/v2 by default); nucleus lite's is
 * system.rootPath (/var/lib/greengrass by default).
 */
export interface GreengrassV2LayoutConfig {
  rootPath: string;
  liteRootPath: string;
  /** Regex (source) for the nucleus log and its rotated siblings under <root>/logs; group 1 is the rotation suffix. */
  nucleusLogPattern: string;
}

export const DEFAULT_GREENGRASS_V2_LAYOUT: GreengrassV2LayoutConfig = {
  rootPath: 'greengrass/v2',
  liteRootPath: 'var/lib/greengrass',
  nucleusLogPattern: '^greengrass(_\\d{4}_\\d{2}_\\d{2}_\\d{2}_\\d+)?\\.log$',
};
