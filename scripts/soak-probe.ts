// Loaded into the agent under soak with `node --import` (scripts/soak.ts sets
// NODE_OPTIONS): every SOAK_PROBE_MS it appends one JSON line of the process's
// memory, as the process itself sees it, to SOAK_PROBE_FILE. /proc alone tells
// RSS; only the process knows how much of it is JS heap, external memory and
// array buffers, which is what tells a JS leak from a native one.
import { appendFileSync, readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const file = process.env.SOAK_PROBE_FILE;
const every = Number(process.env.SOAK_PROBE_MS ?? 10_000);

/** kB fields of /proc/self/status, in bytes. */
function status(): Record<string, number> {
  const out: Record<string, number> = {};
  const text = readFileSync('/proc/self/status', 'utf8');
  for (const key of ['VmRSS', 'RssAnon', 'RssFile', 'VmHWM', 'VmSize', 'VmData']) {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (m) out[key] = Number(m[1]) * 1024;
  }
  const threads = /^Threads:\s+(\d+)/m.exec(text);
  if (threads) out.Threads = Number(threads[1]);
  return out;
}

function sample(): void {
  const mem = process.memoryUsage();
  const heap = getHeapStatistics();
  const resources: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  // Committed size of each V8 space: which part of the heap grows.
  const spaces: Record<string, number> = {};
  for (const sp of getHeapSpaceStatistics()) spaces[sp.space_name] = sp.space_size;
  const line = {
    t: Date.now(),
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    mallocedMemory: heap.malloced_memory,
    ...status(),
    spaces,
    resources,
  };
  appendFileSync(file!, `${JSON.stringify(line)}\n`);
}

if (isMainThread && file) {
  sample();
  setInterval(sample, every).unref();
}
