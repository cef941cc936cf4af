#!/usr/bin/env node
// Entry point of the `deploy-witness` command.
import { main } from './main.js';

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`deploy-witness: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 2;
  },
);
