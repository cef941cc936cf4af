import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSpool, type Spool, type SpoolEntry } from '../../src/report/spool.js';
import { Outbox, type OutboxOptions, type RetryInfo } from '../../src/report/outbox.js';
import { silentLogger } from '../../src/log.js';
import type { OutboundMessage } from '../../src/report/transport.js';
import { FakeTransport } from '../lib/fake-transport.js';

const CHILD = fileURLToPath(new URL('../lib/spool-child.js', import.meta.url));
const TIMEOUT = { timeout: 60_000 };

function msg(i: number): OutboundMessage {
  return { topic: 'dw/test/report', payload: JSON.stringify({ n: i }), qos: 1, kind: 'report' };
}
const payloads = (ms: OutboundMessage[]) => ms.map((m) => m.payload);

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-outbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** An outbox wired to a fake transport, recording what it reports; waits are event-driven. */
async function rig(
  t: { after: (fn: () => Promise<void>) => void },
  spool: Spool,
  transport: FakeTransport,
  extra: Partial<OutboxOptions> = {},
) {
  const sent: SpoolEntry[] = [];
  const retries: RetryInfo[] = [];
  let waiters: { n: number; resolve: () => void }[] = [];
  let retryWaiters: (() => void)[] = [];
  const outbox = new Outbox({
    spool,
    transport,
    logger: silentLogger(),
    ...extra,
    onSent: (e) => {
      sent.push(e);
      waiters = waiters.filter((w) => (sent.length >= w.n ? (w.resolve(), false) : true));
    },
    onRetry: (info) => {
      retries.push(info);
      const ws = retryWaiters;
      retryWaiters = [];
      for (const w of ws) w();
    },
  });
  t.after(() => outbox.stop());
  await transport.start({ onConnected: () => outbox.transportConnected(), onDisconnected() {}, onMessage() {} });
  return {
    outbox,
    sent,
    retries,
    /** Resolves once n entries in all were sent. */
    sentCount: (n: number) =>
      new Promise<void>((resolve) => (sent.length >= n ? resolve() : waiters.push({ n, resolve }))),
    nextRetry: () => new Promise<void>((resolve) => retryWaiters.push(resolve)),
  };
}

test('offline while 20 messages are enqueued; online delivers all, in order, exactly once', TIMEOUT, async (t) => {
  const dir = await tempDir(t);
  const spool = await openSpool(dir);
  const transport = new FakeTransport({ online: false });
  // A long backoff: only the reconnect can end the wait.
  const r = await rig(t, spool, transport, { backoff: { minMs: 60_000, maxMs: 60_000 } });
  const firstRetry = r.nextRetry();
  r.outbox.start();
  for (let i = 0; i < 20; i++) await r.outbox.enqueue(msg(i));
  await firstRetry;
  await turns();
  assert.equal(transport.attempts, 1, 'enqueues during a backoff do not cause extra attempts');
  assert.equal(r.outbox.depth, 20);
  assert.deepEqual(transport.accepted, []);

  transport.setOnline(true);
  await r.sentCount(20);
  assert.deepEqual(payloads(transport.accepted), Array.from({ length: 20 }, (_, i) => `{"n":${i}}`));
  assert.deepEqual(
    r.sent.map((e) => e.spoolSeq),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.equal(transport.attempts, 21);
  assert.equal(r.outbox.depth, 0);
  assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.json')), []);
});

test('messages for topics no longer used are dropped: one refused for good no longer holds back the rest', TIMEOUT, async (t) => {
  const dir = await tempDir(t);
  const spool = await openSpool(dir);
  const transport = new FakeTransport();
  // A long backoff: only the discard can end the wait on the refused head of the queue.
  const r = await rig(t, spool, transport, { backoff: { minMs: 60_000, maxMs: 60_000 } });
  const old = (i: number): OutboundMessage => ({ ...msg(i), topic: 'old-prefix/thing/heartbeat', kind: 'heartbeat' });
  transport.failNext(1_000);
  const retry = r.nextRetry();
  r.outbox.start();
  await r.outbox.enqueue(old(0));
  await r.outbox.enqueue(msg(1));
  await r.outbox.enqueue(old(2));
  await retry;
  assert.deepEqual(transport.accepted, [], 'the head of the queue is refused');
  transport.failNext(0);
  assert.equal(await r.outbox.discardUnless((m) => !m.topic.startsWith('old-prefix/')), 2);
  await r.sentCount(1);
  assert.deepEqual(payloads(transport.accepted), ['{"n":1}']);
  assert.equal(r.outbox.depth, 0);
  assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.json')), []);
  assert.equal(await r.outbox.discardUnless(() => false), 0, 'nothing left to drop');
});

test('failed publishes are retried with growing, jittered delays; success resets the backoff', TIMEOUT, async (t) => {
  const dir = await tempDir(t);
  const spool = await openSpool(dir);
  const transport = new FakeTransport();
  const r = await rig(t, spool, transport, { backoff: { minMs: 4, maxMs: 20 }, random: () => 0.5 });
  r.outbox.start();
  transport.failNext(3);
  await r.outbox.enqueue(msg(0));
  await r.sentCount(1);
  assert.deepEqual(
    r.retries.map((x) => [x.spoolSeq, x.attempt, x.delayMs]),
    [
      [1, 0, 6],
      [1, 1, 10],
      [1, 2, 12],
    ],
  );
  assert.equal(transport.attempts, 4);
  assert.deepEqual(payloads(transport.accepted), ['{"n":0}']);

  transport.failNext(1);
  await r.outbox.enqueue(msg(1));
  await r.sentCount(2);
  assert.deepEqual(r.retries[3] && [r.retries[3].attempt, r.retries[3].delayMs], [0, 6]);
  assert.deepEqual(payloads(transport.accepted), ['{"n":0}', '{"n":1}']);
});

test('a reconnect ends the backoff at once; stop leaves no timer behind', TIMEOUT, async (t) => {
  const dir = await tempDir(t);
  const spool = await openSpool(dir);
  const transport = new FakeTransport();
  const r = await rig(t, spool, transport, { backoff: { minMs: 60_000, maxMs: 120_000 } });
  const before = timers();
  r.outbox.start();
  transport.failNext(1);
  const retry = r.nextRetry();
  await r.outbox.enqueue(msg(0));
  await retry;
  assert.equal(timers(), before + 1, 'the backoff timer');
  await r.outbox.enqueue(msg(1));
  await turns();
  assert.equal(transport.attempts, 1);

  r.outbox.transportConnected();
  await r.sentCount(2);
  assert.deepEqual(payloads(transport.accepted), ['{"n":0}', '{"n":1}']);
  assert.equal(timers(), before, 'the woken backoff cleared its timer');

  transport.failNext(1);
  const retry2 = r.nextRetry();
  await r.outbox.enqueue(msg(2));
  await retry2;
  assert.equal(timers(), before + 1);
  await r.outbox.stop();
  assert.equal(timers(), before, 'stop cleared the backoff timer');
  r.outbox.transportConnected();
  await turns();
  assert.equal(transport.attempts, 4, 'nothing is sent after stop');
  assert.equal(r.outbox.depth, 1);
});

test('stop does not wait for a publish in flight; if it lands, its entry is removed and nothing else is sent', TIMEOUT, async (t) => {
  const dir = await tempDir(t);
  const spool = await openSpool(dir);
  const transport = new FakeTransport();
  const r = await rig(t, spool, transport);
  transport.hold();
  const first = transport.nextAttempt();
  r.outbox.start();
  await r.outbox.enqueue(msg(0));
  await r.outbox.enqueue(msg(1));
  await first;
  assert.equal(transport.pending, 1);
  await r.outbox.stop(); // would hang here if it waited for the held publish
  transport.release();
  await r.sentCount(1);
  await turns();
  assert.deepEqual(payloads(transport.accepted), ['{"n":0}']);
  assert.equal(transport.attempts, 1);
  assert.deepEqual(spool.entries().map((e) => e.spoolSeq), [2]);
});

test('an entry whose file vanished is skipped; the rest are sent', TIMEOUT, async (t) => {
  const dir = await tempDir(t);
  const spool = await openSpool(dir);
  for (let i = 0; i < 3; i++) await spool.append(msg(i));
  await unlink(join(dir, '000000000002.report.json'));
  const transport = new FakeTransport();
  const r = await rig(t, spool, transport);
  r.outbox.start();
  await r.sentCount(2);
  assert.deepEqual(payloads(transport.accepted), ['{"n":0}', '{"n":2}']);
  assert.deepEqual(r.sent.map((e) => e.spoolSeq), [1, 3]);
});

// ---- kill tests: a real child process dies by SIGKILL at a chosen point ----

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: Record<string, unknown>[];
  stderr: string;
}

function runChild(args: string[]): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stderr: err,
        events: out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      }),
    );
  });
}

/** Opens the spool a killed child left and drains it through a fresh outbox. */
async function drainAfterRestart(t: { after: (fn: () => Promise<void>) => void }, dir: string, expected: number) {
  const spool = await openSpool(dir);
  const transport = new FakeTransport();
  const r = await rig(t, spool, transport);
  r.outbox.start();
  await r.sentCount(expected);
  await turns();
  await r.outbox.stop();
  return { spool, transport, sent: r.sent };
}

test('KILL after appending, before sending: a new outbox delivers all, in order', TIMEOUT, async (t) => {
  const dir = await tempDir(t);
  const run = await runChild([dir, 'append-kill', '5']);
  assert.equal(run.signal, 'SIGKILL', run.stderr);
  assert.deepEqual(
    run.events.map((e) => e.spoolSeq),
    [1, 2, 3, 4, 5],
  );

  const { transport, sent } = await drainAfterRestart(t, dir, 5);
  assert.deepEqual(payloads(transport.accepted), ['{"n":0}', '{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']);
  assert.deepEqual(sent.map((e) => e.spoolSeq), [1, 2, 3, 4, 5]);
  assert.equal(transport.attempts, 5);
  assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.json')), []);
});

test('KILL inside a spool write: the spool opens cleanly, earlier entries are delivered, the torn one is absent', TIMEOUT, async (t) => {
  const dir = await tempDir(t);
  const run = await runChild([dir, 'torn', '3']);
  assert.equal(run.signal, 'SIGKILL', run.stderr);
  assert.deepEqual(run.events, [
    { event: 'appended', spoolSeq: 1, payload: '{"n":0}' },
    { event: 'appended', spoolSeq: 2, payload: '{"n":1}' },
    { event: 'appended', spoolSeq: 3, payload: '{"n":2}' },
    { event: 'killing', at: 'beforeRename' },
  ]);
  const left = await readdir(dir);
  assert.equal(left.filter((n) => n.endsWith('.tmp')).length, 1, `the torn write's temp file: ${left.join(', ')}`);

  const { spool, transport, sent } = await drainAfterRestart(t, dir, 3);
  assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.tmp')), []);
  assert.deepEqual(payloads(transport.accepted), ['{"n":0}', '{"n":1}', '{"n":2}']);
  assert.deepEqual(sent.map((e) => e.spoolSeq), [1, 2, 3]);
  assert.equal(transport.attempts, 3, 'nothing duplicated');
  const next = await spool.append(msg(9));
  assert.ok(next.spoolSeq > 4, `the torn write's sequence 4 is not reused (got ${next.spoolSeq})`);
});

test('KILL after the transport accepted, before remove: re-sent once with the same spoolSeq', TIMEOUT, async (t) => {
  const dir = await tempDir(t);
  const run = await runChild([dir, 'sent-kill', '4', '3']);
  assert.equal(run.signal, 'SIGKILL', run.stderr);
  assert.deepEqual(run.events.slice(4), [
    { event: 'published', payload: '{"n":0}' },
    { event: 'published', payload: '{"n":1}' },
    { event: 'published', payload: '{"n":2}' },
    { event: 'killing', at: 'beforeRemove', spoolSeq: 3 },
  ]);

  const { transport, sent } = await drainAfterRestart(t, dir, 2);
  assert.deepEqual(payloads(transport.accepted), ['{"n":2}', '{"n":3}']);
  // The duplicate carries the spoolSeq it had when first sent.
  assert.deepEqual(sent.map((e) => e.spoolSeq), [3, 4]);
  assert.equal(transport.attempts, 2);
});
