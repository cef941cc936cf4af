#!/usr/bin/env node
// Entry point of the `deploy-witness` command.
import { writeSync } from 'node:fs';
import { flushed, watchOutput } from './io.js';
import { main } from './main.js';

const stdout = watchOutput(process.stdout);
watchOutput(process.stderr);

// Exit explicitly: a stopped aws-crt MQTT client is freed only by garbage
// collection, and its native handles would otherwise keep the process alive.
// But only once stdout and stderr are drained: writes to a pipe whose reader
// is slower than we are (`| jq`) are queued, and exiting drops the queue.
async function exit(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  const failed = stdout.failure();
  if (failed) {
    // stderr may be the broken one too: say it once, directly, and move on.
    try {
      writeSync(2, `deploy-witness: cannot write the output: ${failed.code ?? failed.message}\n`);
    } catch {
      /* nowhere left to say it */
    }
    process.exit(2);
  }
  process.exit(code);
}

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => exit(code),
  (err: unknown) => {
    process.stderr.write(`deploy-witness: ${(err as Error).stack ?? String(err)}\n`);
    return exit(2);
  },
);
