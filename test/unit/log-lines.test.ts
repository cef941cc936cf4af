import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LOG_PATTERNS } from '../../src/config/layout.js';
import {
  classifyLine,
  compilePatterns,
  DEFAULT_FLOW_PATTERNS,
  LineSplitter,
  LogPatternError,
  MAX_EVENT_TEXT,
} from '../../src/observe/log-lines.js';

const golden = fileURLToPath(new URL('../../../test/golden/', import.meta.url));
const p = compilePatterns(DEFAULT_LOG_PATTERNS);
const URN = 'urn:tdm:us-east-1/123456789012/default:Deployment:MyExample01_V001';

function goldenLines(name: string): string[] {
  return readFileSync(golden + name, 'utf8').split('\n').filter((l) => l !== '');
}

test('the AWS ThingsGraph.log sample classifies line by line', () => {
  const events = goldenLines('thingsgraph.log').map((l) => classifyLine(l, p));
  assert.deepEqual(events, [
    { level: 'INFO', kind: 'bootstrap' },
    null, // bootstrapping entities
    null, // bootstrapping entities done
    null, // bootstrapping DB done: not a second bootstrap
    { level: 'INFO', kind: 'registered', urn: URN },
    { level: 'INFO', kind: 'initialized', version: '1.2.3' },
  ]);
});

test('timestamped lines carry their time and level', () => {
  const [first, , , , reg, init, trig, start, id, type, ok, failed, warn] = goldenLines('thingsgraph-timestamped.log').map((l) =>
    classifyLine(l, p),
  );
  assert.deepEqual(first, { at: '2019-03-03T20:33:09.339Z', level: 'INFO', kind: 'bootstrap' });
  assert.deepEqual(reg, { at: '2019-03-03T20:33:10.250Z', level: 'INFO', kind: 'registered', urn: URN });
  assert.deepEqual(init, { at: '2019-03-03T20:33:10.377Z', level: 'INFO', kind: 'initialized', version: '1.2.3' });
  assert.deepEqual(trig, { at: '2019-03-03T20:33:11.002Z', level: 'INFO', kind: 'trigger', expression: 'every 10 seconds' });
  assert.deepEqual(start, { at: '2019-03-03T20:33:20.004Z', level: 'INFO', kind: 'flowStart' });
  assert.deepEqual(id, {
    at: '2019-03-03T20:33:20.005Z',
    level: 'INFO',
    kind: 'flowDetail',
    flowInstanceId: '0f4c2a3e-7d1b-4b8e-9a51-2c6d0e9f1a77',
  });
  assert.deepEqual(type, {
    at: '2019-03-03T20:33:20.005Z',
    level: 'INFO',
    kind: 'flowDetail',
    flowType: 'urn:tdm:us-east-1/123456789012/default:Workflow:MyFlow',
  });
  assert.deepEqual(ok, {
    at: '2019-03-03T20:33:20.130Z',
    level: 'INFO',
    kind: 'transition',
    outcome: 'succeeded',
    text: 'StateTransition: step CameraCapture succeeded',
  });
  assert.equal(failed?.kind === 'transition' && failed.outcome, 'failed');
  assert.equal(failed?.level, 'ERROR');
  assert.deepEqual(warn, { at: '2019-03-03T20:33:20.411Z', level: 'WARN', kind: 'warn', text: 'retrying step RekognitionDetect' });
});

test('both spellings of the deployment URN register', () => {
  const lower = 'urn:tdm:eu-west-1/210987654321/default:deployment:plant_7';
  assert.deepEqual(classifyLine(`[INFO]-FlowsBootstrap: registered SDC: ${lower}`, p), { level: 'INFO', kind: 'registered', urn: lower });
  assert.deepEqual(classifyLine(`[INFO]-FlowsBootstrap: registered SDC: ${URN}`, p), { level: 'INFO', kind: 'registered', urn: URN });
  // Punctuation after the URN is prose, not URN.
  assert.deepEqual(classifyLine(`[INFO]-registered SDC: ${URN}, took 12 ms`, p), { level: 'INFO', kind: 'registered', urn: URN });
});

test('the verbatim runtime.log failure shape: failed, no usable ID in the placeholder', () => {
  const [line] = goldenLines('runtime-failed.log');
  assert.deepEqual(classifyLine(line!, p), {
    level: 'ERROR',
    kind: 'deploymentFailed',
    message: 'Deployment failed. {"deploymentId": "<id>", "errorString": "..."}',
  });
});

test('deployment IDs in JSON fragments', () => {
  const lines = goldenLines('runtime-timestamped.log').map((l) => classifyLine(l, p));
  assert.deepEqual(lines[0], {
    at: '2019-03-03T20:30:01.120Z',
    level: 'INFO',
    kind: 'deploymentId',
    id: '7d3a1c5e-0b2f-4e8a-9c61-5f4e3d2c1b0a',
  });
  assert.deepEqual(lines[3], {
    at: '2019-03-03T20:33:08.771Z',
    level: 'ERROR',
    kind: 'deploymentFailed',
    id: 'a41b9e27-6c0d-4f3a-8b15-92e7d6c5b4a3',
    message:
      'Deployment failed. {"deploymentId": "a41b9e27-6c0d-4f3a-8b15-92e7d6c5b4a3", "errorString": "failed to download resource"}',
  });
  assert.deepEqual(classifyLine('[INFO]-deployment failed, deploymentId=abc-1', p), {
    level: 'INFO',
    kind: 'deploymentFailed',
    id: 'abc-1',
    message: 'deployment failed, deploymentId=abc-1',
  });
});

test('flow start with its IDs on the same line', () => {
  const line =
    '[INFO]-FlowSchedulerClientGreengrassImpl: StartFlowExecution: flowInstanceId: "f-1", flowType: "urn:tdm:aws:Workflow:W"';
  assert.deepEqual(classifyLine(line, p), { level: 'INFO', kind: 'flowStart', flowInstanceId: 'f-1', flowType: 'urn:tdm:aws:Workflow:W' });
  // Continuation lines may come without any prefix.
  assert.deepEqual(classifyLine('    flowInstanceId: f-2', p), { kind: 'flowDetail', flowInstanceId: 'f-2' });
});

test('transition outcomes', () => {
  assert.equal((classifyLine('[INFO]-StateTransition: execution SUCCEEDED', p) as { outcome: string }).outcome, 'succeeded');
  assert.equal((classifyLine('[INFO]-StateTransition: step X Failed', p) as { outcome: string }).outcome, 'failed');
  assert.equal((classifyLine('[INFO]-StateTransition: RUNNING -> WAITING', p) as { outcome: string }).outcome, 'other');
  // "failedSteps" is a word of its own, not a failure.
  assert.equal((classifyLine('[INFO]-StateTransition: failedSteps=0', p) as { outcome: string }).outcome, 'other');
});

test('levels: errors and warnings without a known message, WARNING folded into WARN', () => {
  assert.deepEqual(classifyLine('[ERROR]-java.lang.NullPointerException', p), { level: 'ERROR', kind: 'error', text: 'java.lang.NullPointerException' });
  assert.deepEqual(classifyLine('[FATAL]-out of memory', p), { level: 'FATAL', kind: 'error', text: 'out of memory' });
  assert.deepEqual(classifyLine('[WARNING]-slow disk', p), { level: 'WARN', kind: 'warn', text: 'slow disk' });
  assert.equal(classifyLine('[INFO]-something else entirely', p), null);
  assert.equal(classifyLine('[DEBUG]-heartbeat', p), null);
  assert.equal(classifyLine('', p), null);
  assert.equal(classifyLine('   \r', p), null);
  // A level marker inside the message is not the line's level.
  assert.equal(classifyLine('[INFO]-user typed [ERROR]-x', p), null);
});

test('noise: CR, BOM, NUL runs; timestamps without a zone are UTC; bad ones are dropped', () => {
  assert.deepEqual(classifyLine('[INFO]-bootstrapping DB\r', p), { level: 'INFO', kind: 'bootstrap' });
  assert.deepEqual(classifyLine('\uFEFF[INFO]-bootstrapping DB', p), { level: 'INFO', kind: 'bootstrap' });
  assert.deepEqual(classifyLine('\0\0\0[INFO]-bootstrapping DB', p), { level: 'INFO', kind: 'bootstrap' });
  assert.deepEqual(classifyLine('[2019-03-03T20:33:09.339][INFO]-bootstrapping DB', p), {
    at: '2019-03-03T20:33:09.339Z',
    level: 'INFO',
    kind: 'bootstrap',
  });
  assert.deepEqual(classifyLine('[2019-13-45T99:99:99Z][INFO]-bootstrapping DB', p), { level: 'INFO', kind: 'bootstrap' });
});

test('event text is clipped', () => {
  const ev = classifyLine(`[ERROR]-${'x'.repeat(5000)}`, p);
  assert.equal(ev?.kind, 'error');
  assert.equal((ev as { text: string }).text.length, MAX_EVENT_TEXT + 1);
});

test('compilePatterns names the bad key', () => {
  assert.throws(
    () => compilePatterns({ ...DEFAULT_LOG_PATTERNS, registered: 'registered SDC: (urn' }),
    (err: unknown) => err instanceof LogPatternError && err.key === 'registered' && /"registered" is not a valid regular expression/.test(err.message),
  );
  assert.throws(() => compilePatterns({ ...DEFAULT_LOG_PATTERNS, deploymentId: 'deploymentId: \\S+' }), /"deploymentId" needs a capture group/);
  assert.throws(() => compilePatterns({ ...DEFAULT_LOG_PATTERNS, bootstrap: '.*' }), /"bootstrap" matches an empty string/);
  assert.throws(() => compilePatterns(DEFAULT_LOG_PATTERNS, { trigger: '[' }), /"trigger" is not a valid/);
  assert.throws(
    () => compilePatterns({ ...DEFAULT_LOG_PATTERNS, level: 42 as unknown as string }),
    /"level" must be a string/,
  );
});

test('custom patterns replace the defaults', () => {
  const custom = compilePatterns(
    { ...DEFAULT_LOG_PATTERNS, timestampPrefix: '^(\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}) ' },
    { trigger: 'every (\\d+ \\w+)' },
  );
  assert.deepEqual(classifyLine('2024-05-01 10:00:00 [INFO]-bootstrapping DB', custom), {
    at: '2024-05-01T10:00:00.000Z',
    level: 'INFO',
    kind: 'bootstrap',
  });
  assert.deepEqual(classifyLine('[INFO]-run every 5 minutes', custom), { level: 'INFO', kind: 'trigger', expression: '5 minutes' });
  assert.equal(DEFAULT_FLOW_PATTERNS.trigger, 'Trigger expression condition:\\s*\\[([^\\]]*)\\]');
});

function split(chunks: (string | Buffer)[], max?: number): { lines: [string, boolean][]; s: LineSplitter } {
  const s = new LineSplitter(max);
  const lines: [string, boolean][] = [];
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c, (l, t) => lines.push([l, t]));
  return { lines, s };
}

test('LineSplitter joins lines across chunks and keeps the unfinished one', () => {
  const { lines, s } = split(['ab', 'c\nde', 'f\r\n\ng', 'h']);
  assert.deepEqual(lines, [
    ['abc', false],
    ['def', false],
    ['', false],
  ]);
  assert.equal(s.pendingBytes, 2);
  const rest: string[] = [];
  s.flush((l) => rest.push(l));
  assert.deepEqual(rest, ['gh']);
  assert.equal(s.pendingBytes, 0);
});

test('LineSplitter truncates overlong lines without holding them', () => {
  const { lines, s } = split(['0123456789', 'abcdef', 'XYZ\nok\n', 'long'], 8);
  assert.deepEqual(lines, [
    ['01234567', true],
    ['ok', false],
  ]);
  assert.equal(s.pendingBytes, 4);
  const { lines: more, s: s2 } = split(['abcdefghijklmnop'], 4);
  assert.deepEqual(more, []);
  assert.equal(s2.pendingBytes, 16); // counted, though only 4 are held
});

test('LineSplitter decodes a UTF-8 character split between chunks', () => {
  const bytes = Buffer.from('Zürich\n');
  const { lines } = split([bytes.subarray(0, 2), bytes.subarray(2)]);
  assert.deepEqual(lines, [['Zürich', false]]);
});

test('LineSplitter skipToNextLine drops the rest of a line', () => {
  const s = new LineSplitter();
  s.skipToNextLine();
  const lines: string[] = [];
  s.push(Buffer.from('tail of old\nnew\n'), (l) => lines.push(l));
  assert.deepEqual(lines, ['new']);
});
