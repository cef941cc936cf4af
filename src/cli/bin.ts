#!/usr/bin/env node
// Entry point of the `deploy-witness` command.
import { main } from './main.js';

// Exit explicitly: a stopped aws-crt MQTT client is freed only by garbage
// collection, and its native handles would otherwise keep the process alive.
// stdout and stderr are synchronous for files and pipes on Linux, so nothing is cut.
main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`deploy-witness: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  },
);
