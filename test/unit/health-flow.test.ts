// Flow health rules, the timeline the reducer keeps, and the health section:
// pure, with a clock passed in. Logs are written out as text here so every
// expectation below can be checked by reading the lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LOG_PATTERNS } from '../../src/config/layout.js';
import { classifyLine, compilePatterns, LineSplitter, parseTriggerCadence, type LogEvent } from '../../src/observe/log-lines.js';
import { MAX_TIMELINE, ThingsGraphLogReducer } from '../../src/observe/logs.js';
import { addLines, reduceThingsGraphLog } from '../lib/logs.js';
import type { ThingsGraphLogObservation } from '../../src/model/observation.js';
import { assessFlow, flowFindings, flowHealth, flowWindow, formatDuration } from '../../src/health/flow.js';
import { diskFindings, parseMemAvailable, type DiskHealth } from '../../src/health/system.js';
import { buildHealth, type HealthInput } from '../../src/health/health.js';

const golden = fileURLToPath(new URL('../../../test/golden/', import.meta.url));
const p = compilePatterns(DEFAULT_LOG_PATTERNS);
const URN = 'urn:tdm:us-east-1/123456789012/default:Deployment:MyExample01_V001';
const T0 = Date.parse('2024-05-01T12:00:00.000Z');
const S = 1000;
const MIN = 60 * S;
const at = (ms: number): Date => new Date(T0 + ms);
const iso = (ms: number): string => at(ms).toISOString();
const OPTS = { windowMinutes: 15 };
const FILE = 'greengrass/ggc/var/log/user/us-east-1/ThingsGraph/ThingsGraph.log';

/** A timestamped line at T0 + ms. */
const L = (ms: number, level: string, msg: string): string => `[${iso(ms)}][${level}]-${msg}`;
const startup = (ms: number, trigger: string | null = 'every 10 seconds'): string[] => [
  L(ms, 'INFO', 'bootstrapping DB'),
  L(ms + 100, 'INFO', `FlowsBootstrap: registered SDC: ${URN}`),
  L(ms + 200, 'INFO', 'Initialized ThingsGraph Runtime v1.2.3'),
  ...(trigger === null ? [] : [L(ms + 300, 'INFO', `Trigger expression condition: [${trigger}]`)]),
];
const exec = (ms: number): string[] => [
  L(ms, 'INFO', 'FlowSchedulerClientGreengrassImpl: StartFlowExecution:'),
  L(ms + 1, 'INFO', `flowInstanceId: i-${ms}`),
  L(ms + 100, 'INFO', 'StateTransition: step CameraCapture succeeded'),
];

function events(lines: string[]): LogEvent[] {
  const out: LogEvent[] = [];
  const s = new LineSplitter();
  s.push(Buffer.from(lines.map((l) => `${l}\n`).join('')), (line) => {
    const ev = classifyLine(line, p);
    if (ev) out.push(ev);
  });
  return out;
}

function observe(lines: string[], fallbackTime?: string): ThingsGraphLogObservation {
  const r = reduceThingsGraphLog(events(lines), { timeline: true, ...(fallbackTime ? { fallbackTime } : {}) });
  return { files: [FILE], ...r };
}

const codes = (tg: ThingsGraphLogObservation, nowMs: number, opts = OPTS): string[] =>
  flowFindings(tg, at(nowMs), opts).map((f) => f.code);

// ---- parsing and the timeline ----

test('parseTriggerCadence: fixed periods in ms, cron-like and unknown are null', () => {
  assert.equal(parseTriggerCadence('every 10 seconds'), 10_000);
  assert.equal(parseTriggerCadence('every 5 minutes'), 300_000);
  assert.equal(parseTriggerCadence('every 1 hour'), 3_600_000);
  assert.equal(parseTriggerCadence('Every 2 Hours'), 7_200_000);
  assert.equal(parseTriggerCadence('every minute'), 60_000);
  assert.equal(parseTriggerCadence('every 1.5 minutes'), 90_000);
  assert.equal(parseTriggerCadence('rate(5 minutes)'), 300_000);
  assert.equal(parseTriggerCadence('  every 30 s '), 30_000);
  assert.equal(parseTriggerCadence('0 */5 * * * ?'), null);
  assert.equal(parseTriggerCadence('cron(0 12 * * ? *)'), null);
  assert.equal(parseTriggerCadence('every 0 seconds'), null);
  assert.equal(parseTriggerCadence('every 10 fortnights'), null);
  assert.equal(parseTriggerCadence('when motion is detected'), null);
  assert.equal(parseTriggerCadence(''), null);
});

test('the reducer keeps no timeline unless asked (the summary shape others rely on)', () => {
  const r = reduceThingsGraphLog(events([...startup(0), ...exec(10 * S)]));
  assert.equal('timeline' in r.activity, false);
});

test('timeline: times of the newest run from the golden sample', () => {
  const text = readFileSync(golden + 'thingsgraph-timestamped.log', 'utf8').split('\n').filter(Boolean);
  const r = reduceThingsGraphLog(events(text), { timeline: true, fallbackTime: '2030-01-01T00:00:00.000Z' });
  assert.deepEqual(r.activity.timeline, {
    starts: ['2019-03-03T20:33:20.004Z', '2019-03-03T20:33:30.003Z'],
    // The failed step is an ERROR line too: one line, one failure.
    failures: [{ at: '2019-03-03T20:33:20.410Z', text: 'StateTransition: step RekognitionDetect failed: timeout' }],
    bootstrapAt: '2019-03-03T20:33:09.339Z',
    registeredAt: '2019-03-03T20:33:10.250Z',
    initializedAt: '2019-03-03T20:33:10.377Z',
    timesAreBounds: false,
  });
});

test('timeline: lines without timestamps take the fallback time and are marked as bounds', () => {
  const lines = ['[INFO]-bootstrapping DB', `[INFO]-registered SDC: ${URN}`, '[INFO]-Initialized ThingsGraph Runtime', '[ERROR]-boom'];
  const t = reduceThingsGraphLog(events(lines), { timeline: true, fallbackTime: iso(0) }).activity.timeline!;
  assert.deepEqual(t, { starts: [], failures: [{ at: iso(0), text: 'boom' }], bootstrapAt: iso(0), registeredAt: iso(0), initializedAt: iso(0), timesAreBounds: true });
  // Without any time the lines cannot be placed at all.
  const none = reduceThingsGraphLog(events(lines), { timeline: true }).activity.timeline!;
  assert.deepEqual(none, { starts: [], failures: [], timesAreBounds: false });
});

test('timeline: bounded; the newest times are kept; a bootstrap starts afresh', () => {
  const lines = [...startup(0)];
  for (let i = 1; i <= 200; i++) lines.push(...exec(i * 10 * S), L(i * 10 * S + 5, 'ERROR', `e${i}`));
  const t = reduceThingsGraphLog(events(lines), { timeline: true }).activity.timeline!;
  assert.equal(t.starts.length, MAX_TIMELINE);
  assert.equal(t.starts[0], iso(137 * 10 * S));
  assert.equal(t.starts.at(-1), iso(200 * 10 * S));
  assert.equal(t.failures.length, MAX_TIMELINE);
  assert.equal(t.failures.at(-1)?.text, 'e200');

  const again = reduceThingsGraphLog(events([...lines, L(3000 * S, 'INFO', 'bootstrapping DB')]), { timeline: true }).activity.timeline!;
  assert.deepEqual(again, { starts: [], failures: [], bootstrapAt: iso(3000 * S), timesAreBounds: false });
});

test('timeline: failure text is clipped', () => {
  const t = reduceThingsGraphLog(events([L(0, 'ERROR', 'x'.repeat(5000))]), { timeline: true }).activity.timeline!;
  assert.equal(t.failures[0]?.text.length, 257);
});

// ---- the window ----

test('window: 3 trigger periods, at least a minute; the configured minutes when the log names no fixed period', () => {
  const w = (trigger: string | null, cadenceMultiple?: number) =>
    flowWindow(observe(startup(0, trigger)), { windowMinutes: 15, ...(cadenceMultiple ? { cadenceMultiple } : {}) });
  assert.deepEqual(w('every 5 minutes'), { windowMs: 15 * MIN, cadenceMs: 5 * MIN });
  assert.deepEqual(w('every 1 hour', 2), { windowMs: 120 * MIN, cadenceMs: 60 * MIN });
  assert.deepEqual(w('every 10 seconds'), { windowMs: MIN, cadenceMs: 10 * S }); // 30 s raised to the floor
  assert.deepEqual(w('0 */5 * * * ?'), { windowMs: 15 * MIN, cadenceMs: null });
  assert.deepEqual(w(null), { windowMs: 15 * MIN, cadenceMs: null });
});

// ---- the rules ----

test('nothing when Things Graph is not in play', () => {
  const tg = observe([L(0, 'INFO', 'something unrelated'), L(1, 'ERROR', 'unrelated error')]);
  assert.deepEqual(assessFlow(tg, at(10 * 60 * MIN), OPTS).findings, []);
  assert.equal(flowHealth(tg, at(0), OPTS).state, 'absent');
  assert.deepEqual(flowFindings({ files: [], bootstrapped: false, initialized: false, registered: [] }, at(0), OPTS), []);
});

test('a healthy flow: running until the window lapses; nextCheckAt is that instant and the finding appears there', () => {
  const lines = [...startup(0, 'every 5 minutes')];
  for (let i = 1; i <= 6; i++) lines.push(...exec(i * 5 * MIN));
  const tg = observe(lines);
  const last = 30 * MIN;
  const h = flowHealth(tg, at(last + 2 * MIN), OPTS);
  assert.equal(h.state, 'running');
  assert.equal(h.lastExecutionAt, iso(last));
  assert.equal(h.windowMs, 15 * MIN);
  assert.equal(h.executionsInWindow, 3); // at 20, 25 and 30 min: the window starts after 17 min
  assert.equal(h.failuresInWindow, 0);
  assert.equal(h.nextCheckAt?.toISOString(), iso(last + 15 * MIN));
  assert.deepEqual(codes(tg, last + 15 * MIN - 1), []);
  const f = flowFindings(tg, h.nextCheckAt!, OPTS);
  assert.deepEqual(f.map((x) => [x.code, x.severity]), [['FLOW_NOT_RUNNING', 'error']]);
  assert.equal(f[0]!.path, FILE);
  assert.match(f[0]!.message, /no flow execution for 15 min since the last one \(window 15 min\)/);
  assert.deepEqual(f[0]!.actual, { lastExecutionAt: iso(last), initializedAt: iso(200), executions: 6, timesAreBounds: false });
  // Once stopped, nothing changes until something is logged.
  assert.equal(flowHealth(tg, at(last + 15 * MIN), OPTS).nextCheckAt, undefined);
  assert.equal(flowHealth(tg, at(last + 15 * MIN), OPTS).state, 'stopped');
});

test('never started: judged from the initialization, only once the window has passed', () => {
  const tg = observe(startup(0, null)); // no trigger line: the 15-minute window
  const h = flowHealth(tg, at(10 * MIN), OPTS);
  assert.equal(h.state, 'waiting');
  assert.equal(h.nextCheckAt?.toISOString(), iso(200 + 15 * MIN));
  assert.deepEqual(codes(tg, 200 + 15 * MIN - 1), []);
  assert.deepEqual(codes(tg, 200 + 15 * MIN), ['FLOW_NOT_RUNNING']);
  assert.match(flowFindings(tg, at(200 + 15 * MIN), OPTS)[0]!.message, /since the runtime initialized/);
});

test('runtime not initialized: registered or bootstrapped, no initialization for a window', () => {
  const reg = observe([L(0, 'INFO', 'bootstrapping DB'), L(100, 'INFO', `FlowsBootstrap: registered SDC: ${URN}`)]);
  const h = flowHealth(reg, at(MIN), OPTS);
  assert.equal(h.state, 'starting');
  assert.equal(h.nextCheckAt?.toISOString(), iso(15 * MIN));
  assert.deepEqual(codes(reg, 15 * MIN - 1), []);
  const f = flowFindings(reg, at(15 * MIN), OPTS);
  assert.deepEqual(f.map((x) => [x.code, x.severity]), [['RUNTIME_NOT_INITIALIZED', 'error']]);
  assert.deepEqual(f[0]!.actual, { runtimeStartedAt: iso(0), registered: 1, timesAreBounds: false });

  assert.deepEqual(codes(observe([L(0, 'INFO', 'bootstrapping DB')]), 15 * MIN), ['RUNTIME_NOT_INITIALIZED']);
  // The bootstrap rotated away: the first registration dates the run.
  assert.deepEqual(codes(observe([L(5 * MIN, 'INFO', `registered SDC: ${URN}`)]), 19 * MIN), []);
  assert.deepEqual(codes(observe([L(5 * MIN, 'INFO', `registered SDC: ${URN}`)]), 20 * MIN), ['RUNTIME_NOT_INITIALIZED']);
});

test('initialized with nothing registered: no flow to run, no finding', () => {
  const tg = observe([L(0, 'INFO', 'bootstrapping DB'), L(200, 'INFO', 'Initialized ThingsGraph Runtime v1.2.3')]);
  assert.deepEqual(codes(tg, 24 * 60 * MIN), []);
  assert.equal(flowHealth(tg, at(24 * 60 * MIN), OPTS).state, 'idle');
});

test('executions whose start rotated away still count: the flow ran, so it can stop', () => {
  const tg = observe([...exec(0), ...exec(10 * S)]);
  assert.equal(tg.registered.length, 0);
  assert.deepEqual(codes(tg, 10 * S + 15 * MIN - 1), []);
  assert.deepEqual(codes(tg, 10 * S + 15 * MIN), ['FLOW_NOT_RUNNING']);
});

test('a restart starts the judgement afresh', () => {
  const lines = [...startup(0, null), ...exec(MIN), ...startup(60 * MIN, null)];
  const tg = observe(lines);
  const h = flowHealth(tg, at(61 * MIN), OPTS);
  assert.equal(h.state, 'waiting');
  assert.equal(h.lastExecutionAt, undefined);
  assert.equal(h.runtimeStartedAt, iso(60 * MIN));
  assert.deepEqual(codes(tg, 60 * MIN + 200 + 15 * MIN), ['FLOW_NOT_RUNNING']);
});

test('flow errors: failures inside the window, counted, the newest quoted; they lapse with the window', () => {
  const lines = [...startup(0, 'every 1 minute')]; // window 3 min
  for (let i = 1; i <= 10; i++) lines.push(...exec(i * MIN));
  lines.push(L(5 * MIN + 10, 'ERROR', 'old error, outside the window'));
  lines.push(L(8 * MIN + 10, 'INFO', 'StateTransition: step CameraCapture FAILED'));
  lines.push(L(9 * MIN + 10, 'ERROR', 'java.net.SocketTimeoutException: connect timed out'));
  lines.push(L(10 * MIN + 10, 'ERROR', 'StateTransition: step CameraCapture failed: device Camera1 did not answer'));
  lines.push(L(10 * MIN + 20, 'FATAL', 'out of memory'));
  lines.push(L(10 * MIN + 30, 'WARN', 'a warning is not a failure'));
  const tg = observe(lines);
  const now = 10 * MIN + 30 * S;
  const { health, findings } = assessFlow(tg, at(now), OPTS);
  assert.equal(health.windowMs, 3 * MIN);
  assert.equal(health.failuresInWindow, 4);
  assert.equal(health.state, 'running');
  assert.deepEqual(findings.map((f) => [f.code, f.severity]), [['FLOW_ERRORS', 'warning']]);
  assert.equal(findings[0]!.message, '4 flow failure(s) in the last 3 min');
  assert.deepEqual(findings[0]!.actual, {
    failures: 4,
    countsCapped: false,
    windowMs: 3 * MIN,
    timesAreBounds: false,
    newest: [
      { at: iso(9 * MIN + 10), text: 'java.net.SocketTimeoutException: connect timed out' },
      { at: iso(10 * MIN + 10), text: 'StateTransition: step CameraCapture failed: device Camera1 did not answer' },
      { at: iso(10 * MIN + 20), text: 'out of memory' },
    ],
  });
  // The flow stops being "running" at 13 min, the warning goes at 13 min + 20 ms: the earlier one wins.
  assert.equal(health.nextCheckAt?.toISOString(), iso(13 * MIN));
  assert.deepEqual(codes(tg, 13 * MIN), ['FLOW_NOT_RUNNING', 'FLOW_ERRORS']);
  assert.equal(flowHealth(tg, at(13 * MIN), OPTS).nextCheckAt?.toISOString(), iso(13 * MIN + 20));
  assert.deepEqual(codes(tg, 13 * MIN + 20), ['FLOW_NOT_RUNNING']);
});

test('flow errors beyond what the reader keeps are reported as a lower bound', () => {
  const lines = [...startup(0, 'every 1 hour'), ...exec(MIN)];
  for (let i = 0; i < 100; i++) lines.push(L(2 * MIN + i, 'ERROR', `e${i}`));
  const { health, findings } = assessFlow(observe(lines), at(3 * MIN), OPTS);
  assert.equal(health.failuresInWindow, MAX_TIMELINE);
  assert.equal(health.countsCapped, true);
  assert.match(findings[0]!.message, /^64 or more flow failure\(s\)/);
});

test('untimestamped lines: the mtime is an upper bound; the finding comes no earlier than the bound allows', () => {
  const lines = ['[INFO]-bootstrapping DB', `[INFO]-registered SDC: ${URN}`, '[INFO]-Initialized ThingsGraph Runtime v1.2.3'];
  lines.push('[INFO]-Trigger expression condition: [every 10 seconds]', '[INFO]-FlowSchedulerClientGreengrassImpl: StartFlowExecution:');
  const mtime = 30 * MIN;
  const tg = observe(lines, iso(mtime));
  const h = flowHealth(tg, at(mtime + 10 * S), OPTS);
  assert.equal(h.timesAreBounds, true);
  assert.equal(h.lastExecutionAt, iso(mtime));
  assert.equal(h.state, 'running');
  assert.equal(h.nextCheckAt?.toISOString(), iso(mtime + MIN));
  assert.deepEqual(codes(tg, mtime + MIN - 1), []);
  const f = flowFindings(tg, at(mtime + MIN), OPTS);
  assert.deepEqual(f.map((x) => x.code), ['FLOW_NOT_RUNNING']);
  assert.equal((f[0]!.actual as { timesAreBounds: boolean }).timesAreBounds, true);
});

test('no time at all (no timestamps, no fallback): nothing can be judged', () => {
  const tg = observe(['[INFO]-bootstrapping DB', `[INFO]-registered SDC: ${URN}`, '[INFO]-Initialized ThingsGraph Runtime']);
  const h = flowHealth(tg, at(1000 * MIN), OPTS);
  assert.equal(h.state, 'unknown');
  assert.equal(h.nextCheckAt, undefined);
  assert.deepEqual(codes(tg, 1000 * MIN), []);
});

test('a clock that jumped back: the newest time counts, not the last line', () => {
  const tg = observe([...startup(0, null), ...exec(20 * MIN), ...exec(2 * MIN)]);
  assert.equal(flowHealth(tg, at(21 * MIN), OPTS).lastExecutionAt, iso(20 * MIN));
  assert.deepEqual(codes(tg, 21 * MIN), []);
});

test('without a timeline (reader not asked): the newest start and the bootstrap still judge FLOW_NOT_RUNNING', () => {
  const r = reduceThingsGraphLog(events([...startup(0, null), ...exec(MIN)]));
  const tg: ThingsGraphLogObservation = { files: [FILE], ...r };
  assert.equal(flowHealth(tg, at(2 * MIN), OPTS).state, 'running');
  assert.deepEqual(codes(tg, 16 * MIN - 1), []);
  assert.deepEqual(codes(tg, 16 * MIN), ['FLOW_NOT_RUNNING']);
  const waiting = { files: [FILE], ...reduceThingsGraphLog(events(startup(0, null))) };
  assert.deepEqual(codes(waiting, 15 * MIN), ['FLOW_NOT_RUNNING']); // from the bootstrap: 200 ms earlier than the init line
});

test('the reducer fed in pieces gives the same timeline as in one go', () => {
  const lines = [...startup(0)];
  for (let i = 1; i <= 80; i++) lines.push(...exec(i * 10 * S));
  const whole = new ThingsGraphLogReducer({ timeline: true });
  addLines(whole, lines, p);
  const pieces = new ThingsGraphLogReducer({ timeline: true });
  for (let i = 0; i < lines.length; i += 7) addLines(pieces, lines.slice(i, i + 7), p);
  assert.deepEqual(pieces.result(), whole.result());
  assert.equal(whole.result().activity.executions, 80);
});

test('formatDuration', () => {
  assert.equal(formatDuration(45_400), '45 s');
  assert.equal(formatDuration(119_000), '119 s');
  assert.equal(formatDuration(12 * MIN), '12 min');
  assert.equal(formatDuration(185 * MIN), '3 h 5 min');
  assert.equal(formatDuration(3 * 60 * MIN), '3 h');
  assert.equal(formatDuration(52 * 60 * MIN), '2 d 4 h');
  assert.equal(formatDuration(-5), '0 s');
});

// ---- disks, memory, the section ----

const disk = (path: string, freePercent: number): DiskHealth => ({
  path,
  totalBytes: 1000 * 1024 ** 2,
  freeBytes: freePercent * 10 * 1024 ** 2,
  freePercent,
});

test('diskFindings: under the threshold is DISK_LOW; 0 turns it off; 100 flags anything not empty', () => {
  const disks = [disk('/greengrass', 5), disk('/var/lib', 10), disk('/data', 99.9)];
  const f = diskFindings(disks, 10);
  assert.deepEqual(f.map((x) => [x.code, x.severity]), [['DISK_LOW', 'warning']]);
  assert.equal(f[0]!.message, '/greengrass: 5.0% free (50 MiB), under 10%');
  assert.deepEqual(f[0]!.expected, { minFreePercent: 10 });
  assert.deepEqual(f[0]!.actual, { path: '/greengrass', freeBytes: 50 * 1024 ** 2, totalBytes: 1000 * 1024 ** 2, freePercent: 5 });
  assert.equal(diskFindings(disks, 100).length, 3);
  assert.deepEqual(diskFindings([...disks, disk('/full', 0)], 0), []);
});

test('parseMemAvailable', () => {
  assert.equal(parseMemAvailable('MemTotal:        3884096 kB\nMemFree:          123456 kB\nMemAvailable:    2000000 kB\n'), 2_048_000_000);
  assert.equal(parseMemAvailable('MemTotal:        3884096 kB\nMemFree:          123456 kB\n'), null);
  assert.equal(parseMemAvailable(''), null);
});

const sampleInput = (): HealthInput => ({
  flow: {
    state: 'running',
    initialized: true,
    runtimeStartedAt: '2024-05-01T11:50:00.000Z',
    initializedAt: '2024-05-01T11:50:00.700Z',
    lastExecutionAt: '2024-05-01T11:59:59.000Z',
    executionsInWindow: 6,
    failuresInWindow: 0,
    countsCapped: false,
    windowMs: 60_000,
    cadenceMs: 10_000,
    timesAreBounds: false,
    nextCheckAt: new Date('2024-05-01T12:00:59.000Z'),
  },
  system: {
    disks: [
      { path: '/', freeBytes: 12_345_678_901, totalBytes: 31_234_567_890, freePercent: 39.5254 },
      { path: '/greengrass', freeBytes: 512 * 1024 ** 2, totalBytes: 8 * 1024 ** 3, freePercent: 6.25 },
    ],
    memory: { totalBytes: 3_977_314_304, availableBytes: 2_048_000_000 },
    load: [0.4567, 0.312, 0.25],
    uptimeSeconds: 86_400.73,
  },
  agent: { loopDelayMs: { p50: 20.1234, p99: 31.98, max: 45.04 }, rssBytes: 71_234_567, heapUsedBytes: 20_000_000, cpuPercent: 0.8333, intervalMs: 300_000 },
  watcher: 'watching',
  spoolDepth: 0,
});

test('buildHealth: the golden sample (short keys, rounded numbers, fullest disk first)', () => {
  const want = JSON.parse(readFileSync(golden + 'health-section.json', 'utf8'));
  assert.deepEqual(buildHealth(sampleInput()), want);
});

test('buildHealth: a worst case stays under 2 KB but for its disk paths, which are kept whole', () => {
  const input = sampleInput();
  const huge = Number.MAX_SAFE_INTEGER;
  // Long paths of 3-byte characters and surrogate pairs.
  const path = (i: number) => `/${'\u20ac'.repeat(500)}/${'\ud83d\ude00'.repeat(300)}${i}`;
  input.system.disks = Array.from({ length: 500 }, (_, i) => ({ path: path(i), freeBytes: huge, totalBytes: huge, freePercent: -1e300 / (i + 1) }));
  input.system.memory = { totalBytes: huge, availableBytes: huge };
  input.system.load = [1e21 + 0.123, Number.NaN, Number.POSITIVE_INFINITY];
  input.system.uptimeSeconds = huge;
  input.flow = { ...input.flow, state: 'not-initialized', executionsInWindow: huge, failuresInWindow: huge, windowMs: huge, cadenceMs: huge, timesAreBounds: true, countsCapped: true, lastExecutionAt: 'x'.repeat(10_000) };
  input.agent = { loopDelayMs: { p50: huge, p99: huge, max: huge }, rssBytes: huge, heapUsedBytes: huge, cpuPercent: huge, intervalMs: huge };
  input.watcher = '\u0000\u20ac'.repeat(5_000);
  input.spoolDepth = huge;
  const section = buildHealth(input);
  // A path cut short names another place: the fullest four, each exactly as given.
  assert.deepEqual(section.disks.map((d) => d.path), [0, 1, 2, 3].map(path));
  const rest = { ...section, disks: section.disks.map((d) => ({ ...d, path: '' })) };
  const bytes = Buffer.byteLength(JSON.stringify(rest));
  assert.ok(bytes < 2048, `worst case is ${bytes} bytes besides the paths`);
  assert.equal(JSON.stringify(rest).includes('\\u'), false); // nothing escaped to 6 bytes
  assert.deepEqual(section.load.slice(1), [0, 0]);
});
