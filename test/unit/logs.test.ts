import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LOG_PATTERNS } from '../../src/config/layout.js';
import { classifyLine, compilePatterns, LineSplitter, type LogEvent } from '../../src/observe/log-lines.js';
import { MAX_ERROR_LINES, ThingsGraphLogReducer } from '../../src/observe/logs.js';
import { reduceRuntimeLog, reduceThingsGraphLog } from '../lib/logs.js';

const golden = fileURLToPath(new URL('../../../test/golden/', import.meta.url));
const p = compilePatterns(DEFAULT_LOG_PATTERNS);
const URN = 'urn:tdm:us-east-1/123456789012/default:Deployment:MyExample01_V001';

/** Complete lines of a text, the way the file readers cut them (an unfinished last line is left out). */
function events(text: string | Buffer, maxLineBytes?: number): LogEvent[] {
  const out: LogEvent[] = [];
  const s = new LineSplitter(maxLineBytes);
  s.push(typeof text === 'string' ? Buffer.from(text) : text, (line) => {
    const ev = classifyLine(line, p);
    if (ev) out.push(ev);
  });
  return out;
}

const goldenEvents = (name: string): LogEvent[] => events(readFileSync(golden + name));

const noActivity = { executions: 0, transitionsSucceeded: 0, transitionsFailed: 0, errors: 0, warnings: 0, lastErrors: [] };

test('AWS sample: registered, initialized, version; no time without a fallback', () => {
  assert.deepEqual(reduceThingsGraphLog(goldenEvents('thingsgraph.log')), {
    bootstrapped: true,
    initialized: true,
    runtimeVersion: '1.2.3',
    registered: [URN],
    activity: noActivity,
  });
});

test('lines without timestamps take the fallback time (the file mtime) as an upper bound', () => {
  const r = reduceThingsGraphLog(goldenEvents('thingsgraph.log'), { fallbackTime: '2024-01-02T03:04:05.000Z' });
  assert.equal(r.lastBootstrapAt, '2024-01-02T03:04:05.000Z');
});

test('timestamped sample: flow activity summary', () => {
  assert.deepEqual(reduceThingsGraphLog(goldenEvents('thingsgraph-timestamped.log'), { fallbackTime: '2030-01-01T00:00:00.000Z' }), {
    bootstrapped: true,
    initialized: true,
    runtimeVersion: '1.2.3',
    registered: [URN],
    lastBootstrapAt: '2019-03-03T20:33:09.339Z',
    activity: {
      executions: 2,
      lastStartAt: '2019-03-03T20:33:30.003Z',
      lastFlowInstanceId: '5b0e91d2-33aa-4c07-8f6e-d1c2b3a4e5f6',
      lastFlowType: 'urn:tdm:us-east-1/123456789012/default:Workflow:MyFlow',
      transitionsSucceeded: 2,
      transitionsFailed: 1,
      errors: 1,
      warnings: 1,
      lastErrors: ['StateTransition: step RekognitionDetect failed: timeout'],
      triggerExpression: 'every 10 seconds',
    },
  });
});

test('a restart clears registrations and initialisation', () => {
  const log = [
    '[INFO]-bootstrapping DB',
    `[INFO]-FlowsBootstrap: registered SDC: ${URN}`,
    '[INFO]-Initialized ThingsGraph Runtime v1.2.3',
    '[ERROR]-boom',
    '[INFO]-bootstrapping DB',
    '[INFO]-FlowsBootstrap: registered SDC: urn:tdm:us-east-1/123456789012/default:deployment:Other_V002',
    '',
  ].join('\n');
  assert.deepEqual(reduceThingsGraphLog(events(log)), {
    bootstrapped: true,
    initialized: false,
    registered: ['urn:tdm:us-east-1/123456789012/default:deployment:Other_V002'],
    activity: noActivity,
  });
});

test('registrations before any bootstrap (rotated away) still count, once each', () => {
  const log = `[INFO]-registered SDC: ${URN}\n[INFO]-registered SDC: ${URN}\n`;
  const r = reduceThingsGraphLog(events(log));
  assert.equal(r.bootstrapped, false);
  assert.deepEqual(r.registered, [URN]);
});

test('the lowercase deployment URN registers', () => {
  const urn = 'urn:tdm:us-west-2/111122223333/default:deployment:lowercase_v1';
  const r = reduceThingsGraphLog(events(`[INFO]-bootstrapping DB\n[INFO]-FlowsBootstrap: registered SDC: ${urn}\n`));
  assert.deepEqual(r.registered, [urn]);
});

test('CRLF line endings', () => {
  const r = reduceThingsGraphLog(events(readFileSync(golden + 'thingsgraph.log', 'utf8').replace(/\n/g, '\r\n')));
  assert.deepEqual(r.registered, [URN]);
  assert.equal(r.runtimeVersion, '1.2.3');
});

test('a truncated last line is not read as a (half) registration', () => {
  const log = `[INFO]-bootstrapping DB\n[INFO]-registered SDC: ${URN}\n[INFO]-registered SDC: urn:tdm:us-east-1/123456789012/default:Deployment:MyExa`;
  assert.deepEqual(reduceThingsGraphLog(events(log)).registered, [URN]);
});

test('an overlong line is cut, the lines after it still count', () => {
  const log = `[INFO]-bootstrapping DB\n[INFO]-${'x'.repeat(200_000)}\n[INFO]-registered SDC: ${URN} ${'y'.repeat(100_000)}\n`;
  assert.deepEqual(reduceThingsGraphLog(events(log, 64 * 1024)).registered, [URN]);
});

test('flowInstanceId/flowType join the flowStart just before them, not a later one', () => {
  const r = reduceThingsGraphLog(
    events(
      [
        '[INFO]-FlowSchedulerClientGreengrassImpl: StartFlowExecution:',
        '[INFO]-flowInstanceId: one',
        '[INFO]-flowType: T1',
        '[INFO]-FlowSchedulerClientGreengrassImpl: StartFlowExecution:',
        '[INFO]-Trigger expression condition: [every 10 seconds]',
        '[INFO]-flowInstanceId: stray',
        '',
      ].join('\n'),
    ),
  );
  assert.equal(r.activity.executions, 2);
  assert.equal(r.activity.lastFlowInstanceId, undefined);
  assert.equal(r.activity.lastFlowType, undefined);
  assert.equal('lastFlowInstanceId' in r.activity, false);

  const r2 = reduceThingsGraphLog(
    events('[INFO]-FlowSchedulerClientGreengrassImpl: StartFlowExecution:\nflowInstanceId: a\nflowInstanceId: b\nflowType: T\n'),
  );
  assert.equal(r2.activity.lastFlowInstanceId, 'a'); // a second ID closes the window
  assert.equal(r2.activity.lastFlowType, undefined);
});

test('only the newest error lines are kept', () => {
  const lines = Array.from({ length: 12 }, (_, i) => `[ERROR]-e${i}`).join('\n') + '\n';
  const r = reduceThingsGraphLog(events(lines));
  assert.equal(r.activity.errors, 12);
  assert.deepEqual(r.activity.lastErrors, ['e7', 'e8', 'e9', 'e10', 'e11']);
  assert.equal(r.activity.lastErrors.length, MAX_ERROR_LINES);
});

test('the reducer takes a fallback time per file', () => {
  const r = new ThingsGraphLogReducer();
  for (const ev of events('[INFO]-bootstrapping DB\n')) r.add(ev, '2024-01-01T00:00:00.000Z');
  for (const ev of events('[INFO]-FlowSchedulerClientGreengrassImpl: StartFlowExecution:\n')) r.add(ev, '2024-02-01T00:00:00.000Z');
  assert.equal(r.result().lastBootstrapAt, '2024-01-01T00:00:00.000Z');
  assert.equal(r.result().activity.lastStartAt, '2024-02-01T00:00:00.000Z');
});

// ---- runtime.log ----

test('verbatim runtime.log failure: failed, ID not observed', () => {
  assert.deepEqual(reduceRuntimeLog(goldenEvents('runtime-failed.log')), {
    deploymentFailed: { message: 'Deployment failed. {"deploymentId": "<id>", "errorString": "..."}' },
  });
});

test('two deployments, the newest failed', () => {
  assert.deepEqual(reduceRuntimeLog(goldenEvents('runtime-timestamped.log')), {
    deploymentId: 'a41b9e27-6c0d-4f3a-8b15-92e7d6c5b4a3',
    deploymentFailed: {
      deploymentId: 'a41b9e27-6c0d-4f3a-8b15-92e7d6c5b4a3',
      message:
        'Deployment failed. {"deploymentId": "a41b9e27-6c0d-4f3a-8b15-92e7d6c5b4a3", "errorString": "failed to download resource"}',
      at: '2019-03-03T20:33:08.771Z',
    },
  });
});

test('failed, then a newer deployment mentioned: the failure is cleared', () => {
  const log = [
    '[ERROR]-Deployment failed. {"deploymentId": "old-1", "errorString": "x"}',
    '[INFO]-Received deployment message. {"deploymentId": "new-2"}',
    '[INFO]-Deployment succeeded. {"deploymentId": "new-2"}',
    '',
  ].join('\n');
  assert.deepEqual(reduceRuntimeLog(events(log)), { deploymentId: 'new-2' });
});

test('failed, then the same deployment mentioned again: still failed', () => {
  const log = '[ERROR]-Deployment failed. {"deploymentId": "d-1"}\n[INFO]-Reporting status. {"deploymentId": "d-1"}\n';
  const r = reduceRuntimeLog(events(log), { fallbackTime: '2024-03-01T00:00:00.000Z' });
  assert.deepEqual(r, {
    deploymentId: 'd-1',
    deploymentFailed: { deploymentId: 'd-1', message: 'Deployment failed. {"deploymentId": "d-1"}', at: '2024-03-01T00:00:00.000Z' },
  });
});

test('a failure without an ID belongs to the deployment then current', () => {
  const same = '[INFO]-x {"deploymentId": "d-1"}\n[ERROR]-Deployment failed.\n[INFO]-y {"deploymentId": "d-1"}\n';
  assert.deepEqual(reduceRuntimeLog(events(same)), { deploymentId: 'd-1', deploymentFailed: { message: 'Deployment failed.' } });
  const newer = same + '[INFO]-z {"deploymentId": "d-2"}\n';
  assert.deepEqual(reduceRuntimeLog(events(newer)), { deploymentId: 'd-2' });
});

test('no deployment lines: nothing observed', () => {
  assert.deepEqual(reduceRuntimeLog(events('[INFO]-started\n[ERROR]-unrelated\n')), {});
});
