// One hashing worker: reads files with sync calls into one reused buffer and
// hashes them, one at a time, from a short local queue. Sync reads block only
// this thread and skip a trip through the libuv pool per chunk. With a rate
// cap, the worker pays for each chunk by asking the pool's one limiter.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import {
  HashError,
  OPEN_FLAGS,
  RESULT_BATCH,
  checkRegular,
  toHashError,
  type FileHash,
  type FromWorker,
  type ToWorker,
  type WorkerJob,
  type WorkerResult,
} from './hash.js';

const CANCELLED = Symbol('cancelled');
const port = parentPort!;
const cancel: Int32Array = workerData.cancel;
const buf = Buffer.allocUnsafe(workerData.chunkSize as number);
const jobs: WorkerJob[] = [];
let results: WorkerResult[] = [];
let running = false;
let stopping = false;
let grant: { id: number; resolve: (ok: boolean) => void } | undefined;

function post(m: FromWorker): void {
  port.postMessage(m);
}

function flush(): void {
  if (results.length === 0) return;
  post({ t: 'results', results });
  results = [];
}

function cancelled(job: WorkerJob): boolean {
  return Atomics.load(cancel, 0) !== 0 || Atomics.load(cancel, 1 + job.idx) !== 0;
}

function take(id: number, bytes: number): Promise<boolean> {
  return new Promise((resolve) => {
    grant = { id, resolve };
    post({ t: 'take', id, bytes });
  });
}

async function hashOne(job: WorkerJob): Promise<FileHash | typeof CANCELLED> {
  if (cancelled(job)) return CANCELLED;
  const path = typeof job.path === 'string' ? job.path : Buffer.from(job.path);
  const fd = openSync(path, OPEN_FLAGS);
  try {
    const st = fstatSync(fd);
    checkRegular(st, path);
    const h = createHash('sha256');
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      size += n;
      if (job.limited && !(await take(job.id, n))) return CANCELLED;
      if (cancelled(job)) return CANCELLED;
    }
    return { sha256: h.digest('hex'), size, mode: st.mode, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

async function run(): Promise<void> {
  if (running) return;
  running = true;
  for (let job = jobs.shift(); job; job = jobs.shift()) {
    try {
      const r = await hashOne(job);
      results.push(r === CANCELLED ? { id: job.id, cancelled: true } : { id: job.id, r });
    } catch (err) {
      const e = toHashError(err, job.path);
      if (e instanceof HashError) results.push({ id: job.id, code: e.code, message: e.message });
      else results.push({ id: job.id, code: 'EUNKNOWN', message: (e as Error)?.message ?? String(e) });
    }
    // Batched so the pool wakes once per several small files; a paced job answers at once.
    if (results.length >= RESULT_BATCH || jobs.length === 0 || job.limited) flush();
  }
  running = false;
  if (stopping) port.close();
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'jobs') {
    jobs.push(...m.jobs);
    void run();
  } else if (m.t === 'grant') {
    if (grant?.id === m.id) {
      const g = grant;
      grant = undefined;
      g.resolve(m.ok);
    }
  } else {
    stopping = true;
    for (const job of jobs.splice(0)) results.push({ id: job.id, cancelled: true });
    flush();
    if (!running) port.close();
  }
});
