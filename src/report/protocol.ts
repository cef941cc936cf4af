// The MQTT protocol the cloud relies on: topics, the report cut to fit AWS IoT
// Core's 128 KB limit (with numbered parts for the rest of the findings), the
// heartbeat and the named-shadow summary. Pure.
import { decodeUtf8Strict } from '../model/strict-json.js';
import type { Finding } from '../model/findings.js';
import type { Report } from '../verify/report.js';
import type { OutboundMessage } from './transport.js';

/** AWS IoT Core's MQTT payload limit. */
export const MAX_PAYLOAD = 128 * 1024;
/** A named shadow's state document limit. */
export const MAX_SHADOW = 8 * 1024;
export const SHADOW_NAME = 'deploy-witness';

export interface Topics {
  expected: string;
  reportGet: string;
  report: string;
  reportPart: string;
  heartbeat: string;
  shadowUpdate: string;
}

export function topicsFor(prefix: string, thing: string): Topics {
  if (!thing || /[#+/]/.test(thing)) throw new Error(`thing name "${thing}" cannot be used in a topic`);
  const base = `${prefix}/${thing}`;
  return {
    expected: `${base}/expected`,
    reportGet: `${base}/report/get`,
    report: `${base}/report`,
    reportPart: `${base}/report/part`,
    heartbeat: `${base}/heartbeat`,
    shadowUpdate: `$aws/things/${thing}/shadow/name/${SHADOW_NAME}/update`,
  };
}

/**
 * Where the cloud sends one expectation for the one core of a Greengrass v1
 * group: every agent subscribes to the topic of the group it observes, so a
 * publish per deployment reaches its device without knowing the thing.
 */
export function groupExpectedTopic(prefix: string, groupId: string): string {
  if (!groupId || /[#+/]/.test(groupId)) throw new Error(`group ID "${groupId}" cannot be used in a topic`);
  return `${prefix}/groups/${groupId}/expected`;
}

/** The wildcard the cloud side subscribes to for every device's report. */
export function reportWildcard(prefix: string): string {
  return `${prefix}/+/report`;
}

/** The thing a report topic names (`<prefix>/<thing>/report`), or null for another topic. */
export function thingOfReportTopic(prefix: string, topic: string): string | null {
  const head = `${prefix}/`;
  if (!topic.startsWith(head) || !topic.endsWith('/report')) return null;
  const thing = topic.slice(head.length, topic.length - '/report'.length);
  return thing && !thing.includes('/') ? thing : null;
}

/** True for a topic the agent publishes to under these topics. */
export function publishesTo(topics: Topics, topic: string): boolean {
  return topic === topics.report || topic === topics.reportPart || topic === topics.heartbeat || topic === topics.shadowUpdate;
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

export interface ReportPart {
  schema: 'deploy-witness/report-part';
  schemaVersion: 1;
  thing: string | null;
  sequence: number | null;
  part: number;
  of: number;
  findings: Finding[];
}

/**
 * Cuts a report to fit `max` bytes: as many findings as fit stay in it (with
 * findingsTruncated), and the full list follows in numbered parts.
 */
export function fitReport(report: Report, max = MAX_PAYLOAD): { report: Report; parts: ReportPart[] } {
  if (bytes(report) <= max) return { report, parts: [] };
  const all = report.findings;
  // Binary search for the most findings that fit with the flag set.
  let lo = 0;
  let hi = all.length;
  const withN = (n: number): Report => ({ ...report, findings: all.slice(0, n), findingsTruncated: true });
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (bytes(withN(mid)) <= max) lo = mid;
    else hi = mid - 1;
  }
  let main = withN(lo);
  if (bytes(main) > max) {
    // Even with no findings it is too big: the per-folder digests are the bulk.
    // The tree digest still stands for them all.
    const units = report.observed.units;
    let keep = units.length;
    while (keep > 0 && bytes({ ...main, observed: { ...main.observed, units: units.slice(0, keep) } }) > max) keep = Math.floor(keep / 2);
    main = { ...main, observed: { ...main.observed, units: units.slice(0, keep), unitsTruncated: true } };
  }
  return { report: main, parts: splitFindings(report, all, max) };
}

function splitFindings(report: Report, all: Finding[], max: number): ReportPart[] {
  const chunks: Finding[][] = [];
  const empty: ReportPart = { schema: 'deploy-witness/report-part', schemaVersion: 1, thing: report.thing, sequence: report.sequence, part: 999999, of: 999999, findings: [] };
  const overhead = bytes(empty);
  let cur: Finding[] = [];
  let size = overhead;
  for (const f of all) {
    const fb = bytes(f) + 1;
    if (fb + overhead > max) {
      // One finding alone too big (a huge message or value): keep what identifies it.
      const slim: Finding = { code: f.code, severity: f.severity, message: f.message.slice(0, 1000), ...(f.path ? { path: f.path.slice(0, 1000) } : {}) };
      cur.push(slim);
      size += bytes(slim) + 1;
      continue;
    }
    if (size + fb > max && cur.length > 0) {
      chunks.push(cur);
      cur = [];
      size = overhead;
    }
    cur.push(f);
    size += fb;
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks.map((findings, i) => ({ ...empty, part: i + 1, of: chunks.length, findings }));
}

export interface Heartbeat {
  schema: 'deploy-witness/heartbeat';
  schemaVersion: 1;
  thing: string | null;
  online: boolean;
  time: string;
  status: Report['status'] | null;
  /** The sequence of the newest report. */
  sequence: number | null;
  counts: Report['counts'];
  health?: unknown;
}

export function heartbeat(report: Report | null, thing: string | null, now: Date, health?: unknown): Heartbeat {
  const h: Heartbeat = {
    schema: 'deploy-witness/heartbeat',
    schemaVersion: 1,
    thing,
    online: true,
    time: now.toISOString(),
    status: report?.status ?? null,
    sequence: report?.sequence ?? null,
    counts: report?.counts ?? {},
  };
  if (health !== undefined) h.health = health;
  return h;
}

/** The last will: the broker publishes it when the agent vanishes. */
export function offlineHeartbeat(thing: string): Omit<Heartbeat, 'time'> & { time: null } {
  return { schema: 'deploy-witness/heartbeat', schemaVersion: 1, thing, online: false, time: null, status: null, sequence: null, counts: {} };
}

/** The named shadow's reported state: a summary for fleet indexing, under 8 KB. */
export function shadowSummary(report: Report): { state: { reported: Record<string, unknown> } } {
  const o = report.observed;
  const reported: Record<string, unknown> = {
    status: report.status,
    sequence: report.sequence,
    time: report.generatedAt,
    groupId: o.groupId,
    groupVersionId: o.groupVersionId,
    deploymentId: o.deploymentId,
    systemInstances: o.systemInstances.slice(0, 8),
    treeDigest: o.treeDigest,
    expectationSha256: report.expectation?.sha256 ?? null,
    counts: report.counts,
    findings: report.findings.length,
  };
  if (report.health !== undefined) reported.health = report.health;
  const doc = { state: { reported } };
  if (bytes(doc) > MAX_SHADOW) {
    delete reported.health;
    reported.systemInstances = o.systemInstances.slice(0, 1);
  }
  return doc;
}

export function reportMessages(report: Report, topics: Topics): OutboundMessage[] {
  const { report: main, parts } = fitReport(report);
  return [
    { topic: topics.report, payload: JSON.stringify(main), qos: 1, retain: true, kind: 'report' },
    ...parts.map((p): OutboundMessage => ({ topic: topics.reportPart, payload: JSON.stringify(p), qos: 1, retain: false, kind: 'part' })),
    { topic: topics.shadowUpdate, payload: JSON.stringify(shadowSummary(report)), qos: 1, retain: false, kind: 'shadow' },
  ];
}

export type Inbound =
  | { kind: 'expected'; text: string }
  /** An expectation payload that is not UTF-8: refused before parsing, as a lossy decode could pass. */
  | { kind: 'expected-unreadable'; error: string; requestId: string | null }
  | { kind: 'get'; requestId: string | null }
  | { kind: 'unknown' };

/** The request ID a JSON message carries (cut to 256 characters), or null: any payload may come. */
export function requestIdOf(text: string): string | null {
  try {
    const v = JSON.parse(text) as { requestId?: unknown } | null;
    return typeof v?.requestId === 'string' ? v.requestId.slice(0, 256) : null;
  } catch {
    return null;
  }
}

/** `groupTopic`: the expected topic of the group the agent observes now (a former group's is ignored). */
export function classifyInbound(topic: string, payload: Buffer, topics: Topics, groupTopic: string | null = null): Inbound {
  if (topic === topics.expected || (groupTopic !== null && topic === groupTopic)) {
    const d = decodeUtf8Strict(payload);
    // The request ID is still echoed where it can be found, so the sender learns of the refusal.
    return d.ok ? { kind: 'expected', text: d.text } : { kind: 'expected-unreadable', error: `the expectation is ${d.error}`, requestId: requestIdOf(payload.toString('utf8')) };
  }
  // Any payload asks for the report.
  if (topic === topics.reportGet) return { kind: 'get', requestId: requestIdOf(payload.toString('utf8')) };
  return { kind: 'unknown' };
}
