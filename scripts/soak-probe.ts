// Loaded into the agent under soak with `node --import` (scripts/soak.ts sets
// NODE_OPTIONS): every SOAK_PROBE_MS it appends one JSON line of the process's
// memory, as the process itself sees it, to SOAK_PROBE_FILE. /proc alone tells
// RSS; only the process knows how much of it is JS heap, external memory and
// array buffers, which is what tells a JS leak from a native one.
import { appendFileSync, readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';

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

/**
 * Resident anonymous memory by kind, from /proc/self/smaps: `brk` is the main
 * thread's malloc heap ([heap]); `arenas` are the malloc arenas of other
 * threads (64 MiB-aligned mappings followed by their reserve); `pages256k` are
 * mappings of 256 KiB, the size of a V8 heap page; `otherAnon` is the rest
 * (large mallocs, thread stacks, V8 code and large-object pages).
 */
function anonByKind(): Record<string, number> {
  const maps: { start: number; end: number; perm: string; name: string; rss: number }[] = [];
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) maps.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), perm: m[3]!, name: m[4]!.trim(), rss: 0 });
    else if (line.startsWith('Rss:') && maps.length > 0) maps[maps.length - 1]!.rss = Number(line.split(/\s+/)[1]) * 1024;
  }
  const out = { brk: 0, arenas: 0, pages256k: 0, otherAnon: 0 };
  const ARENA = 64 * 1024 * 1024;
  maps.forEach((m, i) => {
    if (m.name === '[heap]') out.brk += m.rss;
    else if (m.name !== '' || !m.perm.startsWith('rw')) return;
    else if (m.start % ARENA === 0 && maps[i + 1]?.perm === '---p' && maps[i + 1]!.name === '' && maps[i + 1]!.end - m.start === ARENA) out.arenas += m.rss;
    else if (m.end - m.start === 256 * 1024) out.pages256k += m.rss;
    else out.otherAnon += m.rss;
  });
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
    ...anonByKind(),
    spaces,
    resources,
  };
  appendFileSync(file!, `${JSON.stringify(line)}\n`);
}

// V8 flags to try on the agent without a new command line (some, like
// --optimize-for-size, are not allowed in NODE_OPTIONS). Set before the
// agent's code runs; flags V8 reads only at start-up have no effect here.
if (isMainThread && process.env.SOAK_V8_FLAGS) setFlagsFromString(process.env.SOAK_V8_FLAGS);

if (isMainThread && file) {
  sample();
  setInterval(sample, every).unref();
}
