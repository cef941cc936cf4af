// Loaded into a child under test with `node --import` (see cli-child.ts): at
// exit it writes the process's peak resident set (VmHWM, kB) to the file named
// by DW_TEST_PEAK_RSS_FILE, so a test can bound what a hostile input cost.
import { readFileSync, writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const out = process.env.DW_TEST_PEAK_RSS_FILE;
if (isMainThread && out) {
  process.on('exit', () => {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    writeFileSync(out, m?.[1] ?? '');
  });
}
