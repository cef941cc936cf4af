// Preloaded (node --import) into a command the benchmarks measure: at exit it
// writes the process's peak resident memory (maxRSS, KB) to standard error,
// where the bench reads it. Nothing else changes.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  writeSync(2, `\n@@maxrss ${process.resourceUsage().maxRSS}\n`);
});
