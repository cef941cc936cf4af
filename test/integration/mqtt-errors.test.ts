// The connection mistakes a person makes with direct MQTT, against a real
// mosquitto (mutual TLS) and the real SDK: each is said in a sentence that
// names the flag to fix, within a few seconds. What can be checked before
// connecting (a key that is not the certificate's, an expired certificate) is
// exit 2 before anything runs; what only the handshake shows (the broker's
// CA, the port) is said at once while `run` keeps trying, and ends `check`.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCore, type MadeCore } from '../../scripts/simulated-core.js';
import { AGENT_BIN, startAgentProcess, type AgentProcess, type LogLine } from '../lib/agent-process.js';
import { makeCerts, makeClientCertWithDates, type Certs } from '../lib/certs.js';
import { startMosquitto, type Broker } from '../lib/mosquitto.js';

const T = { timeout: 120_000 };
/**
 * aws-crt's TLS (s2n) reports an untrusted certificate only after a blinding
 * delay of 10 to 30 s: a sentence within this bound can only come from the
 * check before or beside the client's attempt.
 */
const FEW_SECONDS_MS = 9_000;

let broker: Broker;
let scratch: string;
let other: Certs;
let n = 0;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-mqtt-errors-'));
  broker = await startMosquitto();
  other = await makeCerts(join(scratch, 'other-ca'));
});

after(async () => {
  await broker?.stop();
  await rm(scratch, { recursive: true, force: true });
});

async function core(): Promise<{ core: MadeCore; state: string }> {
  n += 1;
  const dir = join(scratch, `t${n}`);
  return { core: await makeCore({ root: join(dir, 'root') }), state: join(dir, 'state') };
}

function runAgent(t: TestContext, c: { core: MadeCore; state: string }, connection: string[]): AgentProcess {
  const agent = startAgentProcess({ args: ['--root', c.core.root, '--state', c.state, '--thing', `Err${n}`, ...connection] });
  t.after(() => agent.term());
  return agent;
}

/** The first failed-connection sentence after the agent started, and how long after the start it came. */
async function firstFailure(agent: AgentProcess): Promise<{ line: LogLine; ms: number }> {
  await agent.waitForLog((l) => l.message === 'agent started', 60_000);
  const t0 = Date.now();
  const line = await agent.waitForLog((l) => l.message === 'mqtt5 connection failed', 60_000);
  return { line, ms: Date.now() - t0 };
}

const c = () => broker.certs;
const endpoint = () => ['--endpoint', broker.host, '--port', String(broker.port)];

test('run with the wrong --ca: the sentence names the CA file and --ca at once, and the agent keeps trying', T, async (t) => {
  const agent = runAgent(t, await core(), [...endpoint(), '--cert', c().clientCert, '--key', c().clientKey, '--ca', other.ca]);
  const { line, ms } = await firstFailure(agent);
  assert.match(String(line.error), new RegExp(
    `^the broker's certificate at localhost:${broker.port} is not signed by the CA in ${other.ca.replace(/[.]/g, '\\.')}: give the broker's CA certificate with --ca \\(mqtt\\.ca\\)`,
  ), agent.dump());
  assert.ok(ms < FEW_SECONDS_MS, `said after ${ms} ms`);
  assert.equal(agent.running, true, 'run keeps trying: the broker or the file may be fixed');
  assert.equal((await agent.term()).code, 0);
});

test('run without --ca against a private broker: the sentence says the system store does not know it, and to give --ca', T, async (t) => {
  const agent = runAgent(t, await core(), [...endpoint(), '--cert', c().clientCert, '--key', c().clientKey]);
  const { line, ms } = await firstFailure(agent);
  assert.match(String(line.error), /is not signed by any CA in the system store: give the broker's CA certificate with --ca \(mqtt\.ca\) \(for AWS IoT Core: AmazonRootCA1\.pem/, agent.dump());
  assert.ok(ms < FEW_SECONDS_MS, `said after ${ms} ms`);
  assert.equal(agent.running, true);
});

test('run with a port where nothing listens: "nothing accepts connections", naming --endpoint and --port', T, async (t) => {
  // The broker's port with the broker gone is a port nobody listens on.
  const gone = await startMosquitto();
  const port = gone.port;
  await gone.stop();
  const agent = runAgent(t, await core(), ['--endpoint', broker.host, '--port', String(port), '--cert', c().clientCert, '--key', c().clientKey, '--ca', c().ca]);
  const { line, ms } = await firstFailure(agent);
  assert.equal(line.error, `nothing accepts connections at localhost:${port}: check --endpoint (mqtt.endpoint) and --port (mqtt.port) (AWS_IO_SOCKET_CONNECTION_REFUSED)`, agent.dump());
  assert.ok(ms < FEW_SECONDS_MS, `said after ${ms} ms`);
});

test('run with a key that is not the certificate\'s, or a certificate that expired: exit 2 before anything is verified', T, async (t) => {
  const expired = await makeClientCertWithDates(c(), join(scratch, 'expired'), { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-01-02T00:00:00Z') });
  const future = await makeClientCertWithDates(c(), join(scratch, 'future'), { notBefore: new Date('2099-01-01T00:00:00Z'), notAfter: new Date('2099-01-02T00:00:00Z') });
  const cases: [string[], RegExp][] = [
    [['--cert', c().clientCert, '--key', c().serverKey],
      /^deploy-witness run: --key \(mqtt\.key\): \S+server\.key is not the private key of --cert \(mqtt\.cert\) \S+client\.crt: give the key that was made with that certificate$/],
    [['--cert', expired.cert, '--key', expired.key],
      /^deploy-witness run: --cert \(mqtt\.cert\): \S+expired\/client\.crt expired on 2020-01-02T00:00:00\.000Z \(this device's clock says 20\d\d-.*\): make or download a new certificate/],
    [['--cert', future.cert, '--key', future.key],
      /^deploy-witness run: --cert \(mqtt\.cert\): \S+future\/client\.crt is not valid before 2099-01-01T00:00:00\.000Z, and this device's clock says .*: set the clock/],
    [['--cert', c().clientCert, '--key', c().clientKey, '--ca', c().clientKey], /^deploy-witness run: --ca \(mqtt\.ca\): \S+client\.key is not a PEM certificate$/],
  ];
  for (const [files, why] of cases) {
    const t0 = Date.now();
    const agent = runAgent(t, await core(), [...endpoint(), ...files]);
    const exit = await agent.exited;
    assert.equal(exit.code, 2, agent.dump());
    assert.ok(agent.text.some((l) => why.test(l)), `${why}\n${agent.dump()}`);
    assert.equal(agent.text.filter((l) => l.startsWith('deploy-witness run:')).length, 1, 'said once');
    assert.ok(!agent.logs.some((l) => l.message === 'report'), 'nothing verified with a certificate that cannot work');
    assert.ok(!agent.text.some((l) => /\bat .*\.js:\d+/.test(l)), 'no stack trace');
    assert.ok(Date.now() - t0 < 30_000);
  }
});

test('run with --cert and --key but no --endpoint: exit 2 naming them, not silently ignored', T, async (t) => {
  const agent = runAgent(t, await core(), ['--cert', c().clientCert, '--key', c().clientKey]);
  assert.equal((await agent.exited).code, 2, agent.dump());
  assert.ok(agent.text.some((l) => l === 'deploy-witness run: --cert (mqtt.cert), --key (mqtt.key) are for direct MQTT and need an endpoint (--endpoint, or mqtt.endpoint); without one, reports go to standard output or --report-file'), agent.dump());
  assert.ok(!agent.logs.some((l) => l.message === 'report'));
});

function check(args: string[], stdin: string): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [AGENT_BIN, 'check', '--response', '-', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, ms: Date.now() - t0 }));
    child.stdin.end(stdin);
  });
}

test('check with the wrong --ca ends at once, exit 2, with the sentence; a mismatched key before connecting', T, async () => {
  const { core: made } = await core();
  const input = JSON.stringify(made.expectation);
  const wrongCa = await check([...endpoint(), '--cert', c().clientCert, '--key', c().clientKey, '--ca', other.ca, '--connect-timeout', '60'], input);
  assert.equal(wrongCa.code, 2, wrongCa.stderr);
  assert.match(wrongCa.stderr, /^deploy-witness check: cannot connect: the broker's certificate at localhost:\d+ is not signed by the CA in \S+other-ca\/ca\.crt: give the broker's CA certificate with --ca /m);
  assert.ok(wrongCa.ms < 20_000, `check took ${wrongCa.ms} ms; its --connect-timeout was 60 s`);

  const mismatched = await check([...endpoint(), '--cert', c().clientCert, '--key', other.clientKey, '--ca', c().ca], input);
  assert.equal(mismatched.code, 2, mismatched.stderr);
  assert.match(mismatched.stderr, /--key: \S+other-ca\/client\.key is not the private key of --cert \S+client\.crt/);
});

test('run against a broker that refuses the client as not authorized: the sentence names the certificate and the policy', T, async (t) => {
  const strict = await startMosquitto({ allowAnonymous: false });
  t.after(() => strict.stop());
  const agent = runAgent(t, await core(), ['--endpoint', strict.host, '--port', String(strict.port), '--cert', strict.certs.clientCert, '--key', strict.certs.clientKey, '--ca', strict.certs.ca]);
  const { line, ms } = await firstFailure(agent);
  assert.match(String(line.error), new RegExp(
    `^the broker at localhost:${strict.port} refused the connection as not authorized: the certificate --cert \\(mqtt\\.cert\\) must be active and attached to a policy that allows iot:Connect on client/\\S+ \\(CONNACK NotAuthorized\\)$`,
  ), agent.dump());
  assert.ok(ms < FEW_SECONDS_MS, `said after ${ms} ms`);
  assert.equal(agent.running, true);
});

test('run with an endpoint that does not resolve: "cannot resolve", naming --endpoint', T, async (t) => {
  // .invalid never resolves (RFC 6761), with or without a network.
  const agent = runAgent(t, await core(), ['--endpoint', 'deploy-witness.invalid', '--port', String(broker.port), '--cert', c().clientCert, '--key', c().clientKey, '--ca', c().ca]);
  // No bound on the time: how soon the resolver gives up is the resolver's, not ours.
  const { line } = await firstFailure(agent);
  assert.match(String(line.error), /^cannot resolve deploy-witness\.invalid: check --endpoint \(mqtt\.endpoint\) \(for AWS IoT Core: aws iot describe-endpoint --endpoint-type iot:Data-ATS\) and the DNS settings \(AWS_IO_DNS_\w+\)$/, agent.dump());
  assert.equal(agent.running, true);
});
