// The MQTT protocol the cloud relies on: topics, the report cut to fit AWS IoT
// Core's 128 KB limit (with numbered parts for the rest of the findings), the
// heartbeat and the named-shadow summary. Pure.
import { decodeUtf8Strict } from '../model/strict-json.js';
import type { Finding } from '../model/findings.js';
import { greengrassV2ShadowFields } from '../verify/greengrass-v2-report.js';
import type { AnyReport, LayoutName } from '../verify/report.js';
import { STATUSES, type Status } from '../verify/verdict.js';
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

/**
 * Where the cloud sends one Greengrass v2 expectation for every core of a
 * thing group: each agent subscribes to the topics of the thing groups its
 * deployments name (and moves when they change).
 */
export function thingGroupExpectedTopic(prefix: string, thingGroup: string): string {
  if (!thingGroup || /[#+/]/.test(thingGroup)) throw new Error(`thing group "${thingGroup}" cannot be used in a topic`);
  return `${prefix}/thinggroups/${thingGroup}/expected`;
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
export function fitReport<R extends AnyReport>(report: R, max = MAX_PAYLOAD): { report: R; parts: ReportPart[] } {
  if (bytes(report) <= max) return { report, parts: [] };
  const all = report.findings;
  // Binary search for the most findings that fit with the flag set.
  let lo = 0;
  let hi = all.length;
  const withN = (n: number): R => ({ ...report, findings: all.slice(0, n), findingsTruncated: true });
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

function splitFindings(report: AnyReport, all: Finding[], max: number): ReportPart[] {
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
  /** The status of the newest report; with several layouts, the gravest (MISMATCH before FAILED ... before VERIFIED). */
  status: AnyReport['status'] | null;
  /** The sequence of the newest report. */
  sequence: number | null;
  /** The findings counted over the newest report of every layout. */
  counts: AnyReport['counts'];
  /** Each layout's newest report. */
  layouts?: { layout: LayoutName; status: Status; sequence: number | null }[];
  health?: unknown;
}

/** Statuses gravest first, as the verdict's precedence orders them. */
const GRAVITY: readonly Status[] = ['MISMATCH', 'FAILED', 'TAMPERED', 'INCOMPLETE', 'VERIFIED'];

/** `reports`: the newest report of each layout (or the one report, or none yet). */
export function heartbeat(reports: AnyReport | readonly AnyReport[] | null, thing: string | null, now: Date, health?: unknown): Heartbeat {
  const list: readonly AnyReport[] = reports === null ? [] : Array.isArray(reports) ? reports : [reports as AnyReport];
  const counts: AnyReport['counts'] = {};
  for (const r of list) for (const [k, n] of Object.entries(r.counts) as [keyof AnyReport['counts'], number][]) counts[k] = (counts[k] ?? 0) + n;
  const statuses = list.map((r) => r.status);
  const sequences = list.map((r) => r.sequence).filter((n): n is number => n !== null);
  const h: Heartbeat = {
    schema: 'deploy-witness/heartbeat',
    schemaVersion: 1,
    thing,
    online: true,
    time: now.toISOString(),
    status: GRAVITY.find((g) => statuses.includes(g)) ?? null,
    sequence: sequences.length > 0 ? Math.max(...sequences) : null,
    counts,
  };
  if (list.length > 0) h.layouts = list.map((r) => ({ layout: r.layout, status: r.status, sequence: r.sequence }));
  if (health !== undefined) h.health = health;
  return h;
}

/** The last will: the broker publishes it when the agent vanishes. */
export function offlineHeartbeat(thing: string): Omit<Heartbeat, 'time'> & { time: null } {
  return { schema: 'deploy-witness/heartbeat', schemaVersion: 1, thing, online: false, time: null, status: null, sequence: null, counts: {} };
}

/** Where a Greengrass v2 report's summary sits in the shadow's reported state. */
export const SHADOW_V2_KEY = 'greengrassV2';

/**
 * The named shadow's reported state: a summary for fleet indexing, under 8 KB.
 * A Things Graph report's summary is the reported state itself; a Greengrass
 * v2 report's is nested under `greengrassV2`. A shadow update merges into what
 * is there, so a device that reports both layouts keeps both summaries, and
 * neither overwrites the other's status.
 */
export function shadowSummary(report: AnyReport): { state: { reported: Record<string, unknown> } } {
  if (report.layout === 'greengrass-v2') {
    const v2: Record<string, unknown> = {
      status: report.status,
      sequence: report.sequence,
      time: report.generatedAt,
      ...greengrassV2ShadowFields(report.observed),
      expectationSha256: report.expectation?.sha256 ?? null,
      counts: report.counts,
      findings: report.findings.length,
    };
    return { state: { reported: { [SHADOW_V2_KEY]: v2 } } };
  }
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

export function reportMessages(report: AnyReport, topics: Topics): OutboundMessage[] {
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

/**
 * `groupTopics`: the expected topics of the groups the agent follows now (the
 * v1 group, the v2 thing groups); a former group's is ignored.
 */
export function classifyInbound(topic: string, payload: Buffer, topics: Topics, groupTopics: string | ReadonlySet<string> | null = null): Inbound {
  const isGroup = typeof groupTopics === 'string' ? topic === groupTopics : groupTopics !== null && groupTopics.has(topic);
  if (topic === topics.expected || isGroup) {
    const d = decodeUtf8Strict(payload);
    // The request ID is still echoed where it can be found, so the sender learns of the refusal.
    return d.ok ? { kind: 'expected', text: d.text } : { kind: 'expected-unreadable', error: `the expectation is ${d.error}`, requestId: requestIdOf(payload.toString('utf8')) };
  }
  // Any payload asks for the report.
  if (topic === topics.reportGet) return { kind: 'get', requestId: requestIdOf(payload.toString('utf8')) };
  return { kind: 'unknown' };
}
