// A device's report as the cloud side keeps it: read defensively from a
// payload (any client allowed on `<prefix>/+/report` could have sent it), and
// cut down to what a row, the verdict and the fleet comparison need, so a
// thousand devices cost a few megabytes, not a thousand full reports. Pure.
import { STATUSES, type Status } from '../verify/verdict.js';
import { REPORT_SCHEMA, type LayoutName } from '../verify/report.js';

/** Findings kept per device: the first ones (the report's own order), and the count. */
export const FINDINGS_KEPT = 5;
const MAX_TEXT = 300;
const MAX_UNITS = 500;
const MAX_LIST = 64;

export interface AnswerFinding {
  code: string;
  severity: string;
  message: string;
  path?: string;
}

/** What a Greengrass v2 report observed, as check keeps it. */
export interface GreengrassV2Seen {
  deploymentId: string | null;
  /** `thinggroup/<name>`, `thing/<name>`, `LOCAL_DEPLOYMENT`. */
  target: string | null;
  /** How the newest finished deployment ended on the device. */
  record: 'succeeded' | 'failed' | null;
  ongoingDeploymentId: string | null;
  /** The deployment targets the device says it belongs to. */
  targets: string[];
  /** Component versions in the store (the count the report gives, whatever was kept). */
  componentCount: number;
  /** The first MAX_COMPONENTS of them: what a row says per component. */
  components: SeenComponent[];
  treeDigest: string | null;
}

/** One component version a v2 report lists: stored, the version the nucleus runs, its newest state. */
export interface SeenComponent {
  name: string;
  version: string;
  running: string | null;
  state: string | null;
}

/** Component versions kept per v2 device: a deployment names a few dozen at most. */
export const MAX_COMPONENTS = 200;

export interface Answer {
  /** The report's layout (a report without one is an older agent's, Things Graph). */
  layout: LayoutName;
  thing: string;
  status: Status;
  sequence: number | null;
  generatedAt: string | null;
  requestId: string | null;
  expectationSha256: string | null;
  observed: {
    groupId: string | null;
    groupVersionId: string | null;
    deploymentId: string | null;
    systemInstances: string[];
    archives: { name: string; sha256: string | null; path: string }[];
    units: { path: string; digest: string }[];
    /** The report listed only some units (cut to fit a message). */
    unitsTruncated: boolean;
  };
  /** A Greengrass v2 report's own observations; null for Things Graph. */
  v2: GreengrassV2Seen | null;
  findings: AnswerFinding[];
  findingCount: number;
  /** The health section's flow state (`running`, `stopped`, ...), when the report has one. */
  flow: string | null;
  /** The message of an EXPECTATION_INVALID finding: the device refused an expectation. */
  refusal: string | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max = MAX_TEXT): string | null => (typeof v === 'string' ? v.slice(0, max) : null);
const strList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, MAX_LIST).map((x) => x.slice(0, MAX_TEXT)) : []);

/** A report from a payload, or null when it is not one (wrong schema, not JSON, no thing, no status). */
export function readAnswer(payload: Buffer | string): Answer | null {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return null;
  }
  if (!isObj(doc) || doc.schema !== REPORT_SCHEMA) return null;
  const thing = str(doc.thing, 128);
  const status = doc.status;
  if (!thing || typeof status !== 'string' || !(STATUSES as readonly string[]).includes(status)) return null;
  const o = isObj(doc.observed) ? doc.observed : {};
  const exp = isObj(doc.expectation) ? doc.expectation : null;
  const findings = Array.isArray(doc.findings) ? doc.findings.filter(isObj) : [];
  const refused = findings.find((f) => f.code === 'EXPECTATION_INVALID');
  const health = isObj(doc.health) ? doc.health : null;
  const flow = health && isObj(health.flow) ? str(health.flow.state, 40) : null;
  const counts = isObj(doc.counts) ? Object.values(doc.counts).filter((n): n is number => typeof n === 'number') : [];
  const counted = counts.reduce((a, b) => a + b, 0);
  const layout: LayoutName = doc.layout === 'greengrass-v2' ? 'greengrass-v2' : 'thingsgraph-v1';
  return {
    layout,
    thing,
    status: status as Status,
    sequence: typeof doc.sequence === 'number' && Number.isSafeInteger(doc.sequence) ? doc.sequence : null,
    generatedAt: str(doc.generatedAt, 40),
    requestId: str(doc.requestId, 256),
    expectationSha256: exp ? str(exp.sha256, 64) : null,
    observed: {
      groupId: str(o.groupId),
      groupVersionId: str(o.groupVersionId),
      deploymentId: str(o.deploymentId),
      systemInstances: strList(o.systemInstances),
      archives: (Array.isArray(o.archives) ? o.archives.filter(isObj) : []).slice(0, MAX_LIST).map((a) => ({
        name: str(a.name) ?? '', sha256: str(a.sha256, 64), path: str(a.path, 1000) ?? '',
      })),
      units: (Array.isArray(o.units) ? o.units.filter(isObj) : [])
        .flatMap((u) => (typeof u.path === 'string' && typeof u.digest === 'string' ? [{ path: u.path.slice(0, 1000), digest: u.digest.slice(0, 64) }] : []))
        .slice(0, MAX_UNITS),
      unitsTruncated: o.unitsTruncated === true || (Array.isArray(o.units) && o.units.length > MAX_UNITS),
    },
    v2: layout === 'greengrass-v2' ? readV2(o) : null,
    findings: findings.slice(0, FINDINGS_KEPT).map((f) => {
      const kept: AnswerFinding = { code: str(f.code, 64) ?? '?', severity: str(f.severity, 16) ?? '?', message: str(f.message) ?? '' };
      const path = str(f.path, 1000);
      if (path) kept.path = path;
      return kept;
    }),
    // A report cut to fit a message carries some findings; its counts still say how many there are.
    findingCount: Math.max(findings.length, counted),
    flow,
    refusal: refused ? (str(refused.message) ?? 'refused') : null,
  };
}

function readV2(o: Record<string, unknown>): GreengrassV2Seen {
  const d = isObj(o.deployment) ? o.deployment : null;
  const on = isObj(o.ongoing) ? o.ongoing : null;
  return {
    deploymentId: d ? str(d.deploymentId) : null,
    target: d ? str(d.target) : null,
    record: d ? (d.link === 'previous-failure' ? 'failed' : d.link === 'previous-success' ? 'succeeded' : null) : null,
    ongoingDeploymentId: on ? str(on.deploymentId) : null,
    targets: strList(o.targets),
    componentCount: Array.isArray(o.components) ? o.components.length : 0,
    components: (Array.isArray(o.components) ? o.components.filter(isObj) : []).slice(0, MAX_COMPONENTS).flatMap((c) => {
      const name = str(c.name, 128);
      const version = str(c.version, 64);
      return name && version ? [{ name, version, running: str(c.running, 64), state: str(c.state, 16) }] : [];
    }),
    treeDigest: str(o.treeDigest, 64),
  };
}

/**
 * Whether `b` is a newer word than `a` from the same device: a higher sequence
 * (the agent's counter survives restarts; a resend keeps its number), else a
 * later generatedAt when either has no sequence.
 */
export function isNewer(b: Answer, a: Answer): boolean {
  if (a.sequence !== null && b.sequence !== null) return b.sequence > a.sequence;
  const ta = a.generatedAt ? Date.parse(a.generatedAt) : NaN;
  const tb = b.generatedAt ? Date.parse(b.generatedAt) : NaN;
  if (Number.isNaN(ta)) return true;
  return !Number.isNaN(tb) && tb > ta;
}
