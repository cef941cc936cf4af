// The agent's lifecycle table. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptsWork, Lifecycle, runsWork, transition, TRANSITIONS, type LifecycleEvent, type Phase } from '../../src/agent/lifecycle.js';

const PHASES: Phase[] = ['starting', 'running', 'degraded', 'stopping', 'stopped'];
const EVENTS: LifecycleEvent[] = ['watching', 'degraded', 'stop', 'stopped'];

test('the table, whole: every phase and event, and nothing else', () => {
  const table = Object.fromEntries(PHASES.map((p) => [p, Object.fromEntries(EVENTS.map((e) => [e, transition(p, e)]))]));
  assert.deepEqual(table, {
    starting: { watching: 'running', degraded: 'degraded', stop: 'stopping', stopped: null },
    running: { watching: 'running', degraded: 'degraded', stop: 'stopping', stopped: null },
    degraded: { watching: null, degraded: null, stop: 'stopping', stopped: null },
    stopping: { watching: null, degraded: null, stop: null, stopped: 'stopped' },
    stopped: { watching: null, degraded: null, stop: null, stopped: null },
  });
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...PHASES].sort());
});

test('every phase can be reached from starting, and every live phase can stop', () => {
  const seen = new Set<Phase>(['starting']);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of [...seen]) for (const e of EVENTS) {
      const n = transition(p, e);
      if (n && !seen.has(n)) {
        seen.add(n);
        grew = true;
      }
    }
  }
  assert.deepEqual([...seen].sort(), [...PHASES].sort());
  for (const p of PHASES.filter(acceptsWork)) assert.equal(transition(transition(p, 'stop')!, 'stopped'), 'stopped');
});

test('work is asked for while live, and done only once running or degraded', () => {
  assert.deepEqual(PHASES.filter(acceptsWork), ['starting', 'running', 'degraded']);
  assert.deepEqual(PHASES.filter(runsWork), ['running', 'degraded']);
});

test('Lifecycle applies the table and ignores what it does not allow', () => {
  const l = new Lifecycle();
  assert.equal(l.phase, 'starting');
  assert.equal(l.on('stopped'), false, 'not from starting');
  assert.equal(l.phase, 'starting');
  assert.equal(l.on('watching'), true);
  assert.equal(l.phase, 'running');
  assert.equal(l.on('degraded'), true);
  assert.equal(l.on('watching'), false, 'degraded stays degraded');
  assert.equal(l.phase, 'degraded');
  assert.equal(l.on('stop'), true);
  assert.equal(l.on('stop'), false, 'a second stop is a no-op');
  assert.equal(l.on('stopped'), true);
  assert.equal(l.phase, 'stopped');
});
