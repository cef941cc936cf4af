// Every problem the verifier can name. A code has a fixed severity and a
// category; the category decides the report's top-level status.

export type Severity = 'error' | 'warning';

/** What kind of problem: drives the report status (see verdict.ts). */
export type Category =
  | 'mismatch' // the device runs something other than what was expected
  | 'failed' // the deployment did not land or does not run
  | 'tampered' // what landed has changed or is unsafe
  | 'agent' // the witness itself cannot see everything
  | 'health'; // local health of the core (warnings)

export const FINDING_CODES = {
  GROUP_ID_MISMATCH: { severity: 'error', category: 'mismatch' },
  GROUP_VERSION_MISMATCH: { severity: 'error', category: 'mismatch' },
  DEPLOYMENT_ID_MISMATCH: { severity: 'error', category: 'mismatch' },
  RESOURCE_DIGEST_MISMATCH: { severity: 'error', category: 'mismatch' },
  EXPECTATION_INVALID: { severity: 'warning', category: 'mismatch' },
  DEPLOYMENT_FAILED: { severity: 'error', category: 'failed' },
  SYSTEM_INSTANCE_NOT_REGISTERED: { severity: 'error', category: 'failed' },
  GROUP_DEFINITION_MISSING: { severity: 'error', category: 'failed' },
  GROUP_DEFINITION_INVALID: { severity: 'error', category: 'failed' },
  RESOURCE_MISSING: { severity: 'error', category: 'failed' },
  RUNTIME_FILES_MISSING: { severity: 'error', category: 'failed' },
  RUNTIME_NOT_INITIALIZED: { severity: 'error', category: 'failed' },
  FLOW_NOT_RUNNING: { severity: 'error', category: 'failed' },
  RESOURCE_CORRUPT: { severity: 'error', category: 'tampered' },
  UNSAFE_ARCHIVE_ENTRY: { severity: 'error', category: 'tampered' },
  ARTIFACT_MODIFIED: { severity: 'error', category: 'tampered' },
  ARTIFACT_MISSING: { severity: 'error', category: 'tampered' },
  ARTIFACT_ADDED: { severity: 'error', category: 'tampered' },
  FILE_UNREADABLE: { severity: 'error', category: 'agent' },
  WATCH_DEGRADED: { severity: 'warning', category: 'agent' },
  BASELINE_REPLACED: { severity: 'warning', category: 'agent' },
  FLOW_ERRORS: { severity: 'warning', category: 'health' },
  DISK_LOW: { severity: 'warning', category: 'health' },
} as const satisfies Record<string, { severity: Severity; category: Category }>;

export type FindingCode = keyof typeof FINDING_CODES;

export interface Finding {
  code: FindingCode;
  severity: Severity;
  message: string;
  /** Path relative to the root, POSIX separators. */
  path?: string;
  expected?: unknown;
  actual?: unknown;
}

/** Builds a finding with the code's own severity. */
export function finding(
  code: FindingCode,
  message: string,
  extra: { path?: string; expected?: unknown; actual?: unknown } = {},
): Finding {
  const f: Finding = { code, severity: FINDING_CODES[code].severity, message };
  if (extra.path !== undefined) f.path = extra.path;
  if (extra.expected !== undefined) f.expected = extra.expected;
  if (extra.actual !== undefined) f.actual = extra.actual;
  return f;
}

/**
 * A FILE_UNREADABLE finding whose `actual` is an error code (EACCES, EPERM,
 * EIO ...) says its place could not be read: what is at or below it is not
 * known, so no rule may take its silence for absence. Without a code the place
 * was seen and is not what it should be (a FIFO where a file belongs).
 */
export function unreadablePlace(f: Finding): { path: string; code: string } | null {
  if (f.code !== 'FILE_UNREADABLE' || f.path === undefined || typeof f.actual !== 'string') return null;
  return /^E[A-Z0-9]+$/.test(f.actual) ? { path: f.path, code: f.actual } : null;
}

/** Codes that mean "not permitted": another user (root) could read the place. */
export const ACCESS_DENIED_CODES: ReadonlySet<string> = new Set(['EACCES', 'EPERM']);
