// Nucleus lite's IPC daemon restarts and forgets the component's token: the real agent process
// keeps getting its handshake refused, exits non-zero (so the unit restarts it with a fresh
// token), and the restarted agent drains what piled up in the spool meanwhile.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { makeCore } from '../../scripts/simulated-core.js';
import type { SpoolRecord } from '../../src/report/spool.js';
import type { Report } from '../../src/verify/report.js';
import { keepFlowRunning, sequenceProblems, spooled, startAgentProcess, waitForDir } from '../lib/agent-process.js';
import { startIpcServer } from '../lib/ipc-server.js';

const T = { timeout: 240_000 };
const WAIT = 120_000;
const COMPONENT = 'com.deploywitness.Agent';
const ACCESS_CONTROL = (parse(readFileSync(join(process.cwd(), 'recipe.yaml'), 'utf8')) as { ComponentConfiguration: { DefaultConfiguration: { accessControl: unknown } } })
  .ComponentConfiguration.DefaultConfiguration.accessControl;

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-ipc-restart-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

test('lite: after the IPC daemon restarts, the agent exits non-zero on the refusals; restarted with a fresh token, it drains the spool', T, async (t) => {
  const core = await makeCore({ root: join(scratch, 'root') });
  const stateDir = join(scratch, 'state');
  const thing = 'LiteCore1';
  const base = `deploy-witness/${thing}`;
  const server = await startIpcServer({
    authToken: 'svcuid-first',
    componentName: COMPONENT,
    mode: 'lite',
    configuration: { root: core.root, hashRateLimitMBps: 0, debounceMs: 50, accessControl: ACCESS_CONTROL },
  });
  const stopFlow = keepFlowRunning(join(core.root, core.paths.thingsGraphLog), core.ids.flowName);
  const env = (token: string) => ({ AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: server.socketPath, SVCUID: token, AWS_IOT_THING_NAME: thing });
  const first = startAgentProcess({ args: ['--state', stateDir], env: env('svcuid-first') });
  let second: ReturnType<typeof startAgentProcess> | undefined;
  t.after(async () => {
    stopFlow();
    await first.term();
    await second?.term();
    await server.close();
  });
  const reports = () => server.publishes.filter((p) => p.topicName === `${base}/report`).map((p) => JSON.parse(p.payload.toString('utf8')) as Report);
  await server.waitFor(() => reports().length > 0, WAIT);
  await server.waitFor(() => server.activeSubscriptions().includes(`${base}/expected`), WAIT);
  server.deliver(`${base}/expected`, JSON.stringify(core.envelope));
  await server.waitFor(() => reports().some((r) => r.status === 'VERIFIED'), WAIT);

  // The daemon restarts: the token the agent holds is gone; a restarted component would get this one.
  const restartedAt = Date.now();
  server.restart('svcuid-second');
  await first.waitForLog((l) => l.message === 'IPC connection lost', WAIT);
  // While it is refused, the core changes: that verdict waits in the spool.
  await writeFile(join(core.root, core.paths.lambdaDir, 'config.json'), '{"handler":"changed"}\n');
  const statusOf = (name: string): string | undefined => {
    try {
      return (JSON.parse((JSON.parse(readFileSync(join(stateDir, 'spool', name), 'utf8')) as SpoolRecord).message.payload) as Report).status;
    } catch {
      return undefined; // renamed away, or being written
    }
  };
  await waitForDir(join(stateDir, 'spool'), (names) => names.some((n) => n.endsWith('.report.json') && statusOf(n) === 'TAMPERED'), WAIT);
  const waiting = await spooled(stateDir, 'report');
  const spooledReports = await Promise.all(waiting.map(async (n) => JSON.parse(await readFile(join(stateDir, 'spool', n), 'utf8')) as SpoolRecord));

  const exit = await first.exited;
  const took = Date.now() - restartedAt;
  assert.equal(exit.code, 1, first.dump());
  assert.ok(took >= 30_000, `not before the refusals span half a minute (${took} ms)`);
  assert.ok(server.rejectedConnections >= 3);
  assert.ok(first.logs.some((l) => l.message === 'IPC auth token refused for good' && /refused the IPC auth token \(SVCUID\) \d+ times in a row/.test(String(l.error))), first.dump());
  const ledger = JSON.parse(await readFile(join(stateDir, 'ipc-restarts.json'), 'utf8')) as { exits: number[] };
  assert.equal(ledger.exits.length, 1);
  t.diagnostic(`daemon restart to agent exit: ${took} ms, ${server.rejectedConnections} refused handshakes`);

  // The unit restarts the component; recipe-runner hands it the token the daemon now knows.
  const before = reports().length;
  second = startAgentProcess({ args: ['--state', stateDir], env: env('svcuid-second') });
  await server.waitFor(() => reports().slice(before).some((r) => r.status === 'TAMPERED'), WAIT);
  await waitForDir(join(stateDir, 'spool'), (names) => !names.some((n) => n.endsWith('.report.json')), WAIT);
  const drained = reports().slice(before);
  for (const r of spooledReports) {
    const seq = (JSON.parse(r.message.payload) as Report).sequence;
    assert.ok(drained.some((d) => d.sequence === seq), `spooled report ${seq} published after the restart`);
  }
  assert.deepEqual(sequenceProblems(server.publishes.filter((p) => p.topicName === `${base}/report`).map((p) => p.payload.toString('utf8'))), []);
  assert.equal(second.running, true);
});
