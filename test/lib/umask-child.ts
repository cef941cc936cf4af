// Run as a child by state-permissions.test.ts: with the umask at 000, writes
// every kind of state the commands keep (a verify pass: baseline and lock;
// the spool; the sequence; the stored expectation; the watcher's canary), and prints the lock
// file's mode as seen while it is held.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { openSpool } from '../../src/report/spool.js';
import { lockPath } from '../../src/state/baseline.js';
import { saveExpectation } from '../../src/state/expectation-store.js';
import { withLock } from '../../src/state/lock.js';
import { SequenceCounter } from '../../src/state/sequence.js';
import { Watcher } from '../../src/agent/watcher.js';
import { silentLogger } from '../../src/log.js';

const [root, stateDir] = process.argv.slice(2) as [string, string];
process.umask(0);
const code = await main(['verify', '--root', root, '--state', stateDir, '--hash-rate', '0'], {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
const spool = await openSpool(join(stateDir, 'spool'));
await spool.append({ topic: 't/report', payload: '{}', qos: 1, retain: false, kind: 'report' });
await (await SequenceCounter.open(stateDir)).next();
await saveExpectation(stateDir, '{}');
const watcher = new Watcher({
  paths: [], canaryDir: stateDir, debounceMs: 10, maxWaitMs: 50, maxBatchPaths: 10, onBatch() {}, onError() {}, logger: silentLogger(),
});
await watcher.start();
await watcher.isAlive();
await watcher.close();
const lockMode = await withLock(lockPath(stateDir), async () => (await stat(lockPath(stateDir))).mode & 0o777);
process.stdout.write(`\n${JSON.stringify({ code, lockMode })}\n`);
