// The agent's pending work: one item per kind, taken in order, coalesced by the rules. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ANSWERS, ORDER, WorkQueue, type Work } from '../../src/agent/work-queue.js';
import type { Expectation } from '../../src/verify/expectation.js';

const drain = (q: WorkQueue): Work[] => {
  const out: Work[] = [];
  for (let w = q.take(); w; w = q.take()) out.push(w);
  return out;
};
const paths = (...p: string[]): Work => ({ kind: 'paths', paths: new Set(p) });

test('empty: nothing to take', () => {
  const q = new WorkQueue(10);
  assert.equal(q.take(), null);
  assert.equal(q.size, 0);
});

test('taken in order: scan, paths, rewatch, report, answer, heartbeat, whatever the order asked', () => {
  assert.deepEqual(ORDER, ['scan', 'paths', 'rewatch', 'report', 'answer', 'heartbeat']);
  const q = new WorkQueue(10);
  q.add({ kind: 'heartbeat' });
  q.add({ kind: 'report', force: false, requestId: null });
  q.add({ kind: 'rewatch' });
  q.add(paths('/a'));
  assert.deepEqual(drain(q).map((w) => w.kind), ['paths', 'rewatch', 'report', 'heartbeat']);
  q.add({ kind: 'heartbeat' });
  q.add({ kind: 'scan', full: false });
  assert.deepEqual(drain(q).map((w) => w.kind), ['scan', 'heartbeat']);
});

test('at most one of a kind: heartbeats and rewatches asked twice are done once', () => {
  const q = new WorkQueue(10);
  for (let i = 0; i < 3; i++) {
    q.add({ kind: 'heartbeat' });
    q.add({ kind: 'rewatch' });
  }
  assert.deepEqual(drain(q), [{ kind: 'rewatch' }, { kind: 'heartbeat' }]);
});

test('paths are one set; a scan pending (or asked later) sees them all', () => {
  const q = new WorkQueue(10);
  q.add(paths('/a', '/b'));
  q.add(paths('/b', '/c'));
  assert.deepEqual(drain(q), [paths('/a', '/b', '/c')]);
  q.add(paths('/a'));
  q.add({ kind: 'scan', full: false });
  q.add(paths('/b'));
  assert.deepEqual(drain(q), [{ kind: 'scan', full: false }]);
});

test('more paths than the cap become a rescan', () => {
  const q = new WorkQueue(3);
  q.add(paths('/1', '/2'));
  q.add(paths('/3'));
  assert.equal(q.has('paths'), true);
  q.add(paths('/4'));
  assert.deepEqual(drain(q), [{ kind: 'scan', full: false }]);
});

test('a full rehash is never lost to a rescan asked before or after it', () => {
  for (const asked of [[false, true, false], [true, false], [false, true]]) {
    const q = new WorkQueue(10);
    for (const full of asked) q.add({ kind: 'scan', full });
    assert.deepEqual(drain(q), [{ kind: 'scan', full: true }], JSON.stringify(asked));
  }
});

test('two reports become one: forced if either was, with the newest request ID (an older one when the newer has none)', () => {
  const q = new WorkQueue(10);
  q.add({ kind: 'report', force: false, requestId: null });
  q.add({ kind: 'report', force: true, requestId: 'r-1' });
  q.add({ kind: 'report', force: false, requestId: 'r-2' });
  assert.deepEqual(drain(q), [{ kind: 'report', force: true, requestId: 'r-2' }]);
  q.add({ kind: 'report', force: true, requestId: 'r-3' });
  q.add({ kind: 'report', force: false, requestId: null });
  assert.deepEqual(drain(q), [{ kind: 'report', force: true, requestId: 'r-3' }]);
});

test('takeKind takes one kind and leaves the rest', () => {
  const q = new WorkQueue(10);
  q.add({ kind: 'report', force: true, requestId: 'r-9' });
  q.add({ kind: 'heartbeat' });
  assert.deepEqual(q.takeKind('report'), { kind: 'report', force: true, requestId: 'r-9' });
  assert.equal(q.takeKind('report'), undefined);
  assert.deepEqual(drain(q), [{ kind: 'heartbeat' }]);
  q.add({ kind: 'heartbeat' });
  q.clear();
  assert.equal(q.take(), null);
});

const exp = (sha256: string) => ({ sha256 } as Expectation);
const answer = (sha: string, requestId: string | null): Work => ({ kind: 'answer', answers: [{ expectation: exp(sha), requestId }] });

test('answers: one per expectation with its newest request ID, in arrival order, the newest MAX_ANSWERS kept', () => {
  const q = new WorkQueue(10);
  q.add(answer('a', 'r1'));
  q.add(answer('b', 'r2'));
  q.add(answer('a', 'r3'));
  const w = q.take();
  assert.equal(w?.kind, 'answer');
  assert.deepEqual(w.kind === 'answer' && w.answers.map((x) => [x.expectation.sha256, x.requestId]), [['b', 'r2'], ['a', 'r3']]);
  for (let i = 0; i < MAX_ANSWERS + 3; i++) q.add(answer(`e${i}`, `r${i}`));
  const many = q.take();
  assert.ok(many?.kind === 'answer');
  assert.equal(many.answers.length, MAX_ANSWERS);
  assert.equal(many.answers.at(-1)!.requestId, `r${MAX_ANSWERS + 2}`);
  assert.equal(many.answers[0]!.requestId, 'r3');
});

test('a pending report and a pending answer stay apart: the answer is judged by its own expectation', () => {
  const q = new WorkQueue(10);
  q.add(answer('old', 'r-old'));
  q.add({ kind: 'report', force: true, requestId: 'r-now' });
  assert.deepEqual(drain(q).map((w) => w.kind), ['report', 'answer']);
});
