// `deploy-witness run` with a fault injected through the report spool's own
// options, for kill tests:
//   node dist/test/lib/faulty-run.js kill-in-spool-write <n> run <run options>
// SIGKILLs the process inside its n-th spool entry write, after the temp file
// is durable and before it is renamed into place.
import { runCommand } from '../../src/cli/run.js';

const [fault, n, command, ...args] = process.argv.slice(2);
const at = Number(n);
if (fault !== 'kill-in-spool-write' || !Number.isSafeInteger(at) || at < 1 || command !== 'run') {
  process.stderr.write('usage: faulty-run.js kill-in-spool-write <n> run [options]\n');
  process.exit(2);
}
let writes = 0;
const code = await runCommand(args, { stdout: process.stdout, stderr: process.stderr, env: process.env }, {
  spool: {
    faults: {
      beforeRename: () => {
        if (++writes === at) process.kill(process.pid, 'SIGKILL');
      },
    },
  },
});
// As bin.ts does: the MQTT client's native handles would keep the process alive.
process.exit(code);
