// `deploy-witness check` and `verify --expect` as a user meets them when the
// input is wrong: a real process, exit 2, a message that names the problem.
// The input is read before any connection is tried, so no broker is needed
// here; a connection nobody answers is one case too. Then the other CLI
// shapes verify accepts: search-system-instances, get-system-instance, a BOM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_BIN } from '../lib/agent-process.js';
import { tempCore } from '../lib/core.js';

function run(args: string[], stdin = '', env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const summary = {
  id: 'urn:tdm:us-east-1/123456789012/default:deployment:Door_V001',
  arn: 'arn:aws:iotthingsgraph:us-east-1:123456789012:Deployment/default/Door_V001',
  status: 'DEPLOYED_IN_TARGET',
  target: 'GREENGRASS',
  greengrassGroupName: 'DoorGroup',
  createdAt: 1574171690.0,
  updatedAt: 1574171690.0,
  greengrassGroupId: 'g-111',
  greengrassGroupVersionId: 'v-222',
};
const deploy = { summary, greengrassDeploymentId: 'd-333' };
const CONN = ['--endpoint', '127.0.0.1', '--port', '1', '--cert', '/nonexistent.pem', '--key', '/nonexistent.key'];

test('check: each malformed response and each bad flag is exit 2 and a message naming the problem, before connecting', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-check-cli-'));
  try {
    const good = join(dir, 'good.json');
    await writeFile(good, JSON.stringify(deploy));
    const archive = join(dir, 'flow-Door.tar.gz');
    await writeFile(archive, 'not really gzip, but bytes to hash');
    const badName = join(dir, 'Door.tar.gz');
    await writeFile(badName, 'x');
    const cases: [string[], string, RegExp][] = [
      [['check', ...CONN], '', /--response FILE is needed/],
      [['check', '--response', good], '', /--endpoint HOST is needed/],
      [['check', '--response', join(dir, 'nope.json'), ...CONN], '', /cannot read --response .*nope.json: ENOENT/],
      [['check', '--response', '-', ...CONN], '', /--response standard input: the input is empty/],
      [['check', '--response', '-', ...CONN], '{"summary": {"id": ', /--response standard input: not valid JSON: unexpected end of the document at line 1/],
      [['check', '--response', '-', ...CONN], '[]', /is an empty array/],
      [['check', '--response', '-', ...CONN], '{"summary": {"id": "a", "id": "b"}}', /duplicate key "id" in \$\.summary at line 1/],
      [['check', '--response', '-', ...CONN], JSON.stringify({ summary: { ...summary, greengrassGroupVersionId: undefined } }), /summary.greengrassGroupVersionId is missing/],
      [['check', '--response', '-', ...CONN], JSON.stringify({ summary: { ...summary, greengrassGroupId: '' } }), /summary.greengrassGroupId is empty/],
      [['check', '--response', '-', ...CONN], JSON.stringify({ summary: { ...summary, GreengrassGroupVersionId: 'v' } }), /did you mean "greengrassGroupVersionId"/],
      [['check', '--response', '-', ...CONN], JSON.stringify({ summaries: 'all' }), /summaries must be an array/],
      [['check', '--response', '-', ...CONN], JSON.stringify({ description: { summary: { ...summary, status: 'OK' } } }), /description.summary.status is "OK"/],
      [['check', '--response', '-', ...CONN], JSON.stringify({ summaries: [{ ...summary, target: 'CLOUD' }] }), /names no system instance deployed to a Greengrass group, so no device to ask \(.*target CLOUD/],
      [['check', '--response', '-', ...CONN], `${JSON.stringify(deploy)}\n{"summary": 4}`, /document 2 \(line 2\).summary must be an object/],
      [['check', '--response', good, ...CONN, '--resource-file', badName], '', /must be the flow archive's, flow-<name>.tar.gz/],
      [['check', '--response', good, ...CONN, '--resource-file', join(dir, 'flow-Nope.tar.gz')], '', /cannot read --resource-file .*ENOENT/],
      [['check', '--response', good, ...CONN, '--resource-file', `urn:tdm:us-east-1/1/default:deployment:Other=${archive}`], '', /no deployment in the input is for that system instance/],
      [['check', '--response', good, ...CONN, '--thing', 'a/b'], '', /thing name "a\/b" cannot be used in a topic/],
      [['check', '--response', good, ...CONN, '--timeout', 'soon'], '', /--timeout soon: give a number of seconds/],
      [['check', '--response', good, ...CONN, '--publish-rate', '500'], '', /--publish-rate 500: give a whole number from 1 to 100/],
      [['check', '--response', good, ...CONN, '--topic-prefix', 'a/#'], '', /--topic-prefix a\/#/],
      [['check', '--response', good, ...CONN], '', /--cert: \/nonexistent.pem does not exist/],
      [['check', '--response', good, '--endpoint', 'h', '--cert', archive], '', /--cert and --key go together/],
      [['check', '--bogus'], '', /Unknown option '--bogus'/],
    ];
    for (const [args, stdin, re] of cases) {
      const r = await run(args, stdin);
      assert.equal(r.code, 2, `${args.join(' ')} <<< ${stdin.slice(0, 60)}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.match(r.stderr, /^deploy-witness check: /);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
      assert.equal(r.stdout, '');
    }
    const help = await run(['check', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit status:\n {2}0 {2}every device confirmed/);
    assert.match(help.stdout, /3 {2}a device did not answer in time, and none answered badly/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('check: a broker that does not answer is exit 2 within --connect-timeout, with what to check', { timeout: 60_000 }, async () => {
  // A port that accepts TCP and never speaks: the TLS handshake cannot finish.
  const server = createServer(() => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const core = await tempCore();
  try {
    const t0 = Date.now();
    const r = await run(['check', '--response', '-', '--endpoint', '127.0.0.1', '--port', String(port), '--connect-timeout', '3',
      '--region', 'us-east-1'], JSON.stringify(core.expectation), { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x' });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /could not connect within 3 s \(--connect-timeout\)/);
    assert.ok(Date.now() - t0 < 20_000, `${Date.now() - t0} ms`);
  } finally {
    server.close();
    await core.cleanup();
  }
});

test('verify --expect takes search-system-instances (the summary of the group the core runs, the newest), get-system-instance and a BOM', { timeout: 120_000 }, async () => {
  const core = await tempCore();
  try {
    const mine = (core.expectation as { summary: Record<string, unknown> }).summary;
    const older = { ...mine, greengrassGroupVersionId: 'old-version', updatedAt: '2020-01-01T00:00:00Z' };
    const other = { ...mine, id: 'urn:tdm:us-east-1/123456789012/default:deployment:Other', greengrassGroupId: 'another-group' };
    const listing = JSON.stringify({ summaries: [older, other, mine, { ...mine, target: 'CLOUD', greengrassGroupId: 'cloud' }] }, null, 4);
    const base = ['verify', '--root', core.root, '--state', core.stateDir, '--json', '--expect', '-'];
    const r = await run(base, listing);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.expectation.greengrassGroupVersionId, core.ids.groupVersionId);
    assert.equal(report.expectation.greengrassDeploymentId, null, 'a listing has no deployment ID: unknown, not a mismatch');

    const described = JSON.stringify({ description: { summary: mine, definition: { language: 'GRAPHQL', text: `# ${'x'.repeat(1_000_000)}` }, s3BucketName: 'b' } });
    const g = await run(base, described);
    assert.equal(g.code, 0, g.stderr);
    assert.equal(JSON.parse(g.stdout).status, 'VERIFIED');

    const bom = await run(base, `\uFEFF${JSON.stringify(core.expectation)}`);
    assert.equal(bom.code, 0, bom.stderr);

    const none = await run(base, JSON.stringify({ summaries: [other, { ...other, id: `${other.id}2`, greengrassGroupId: 'g3' }] }));
    assert.equal(none.code, 2);
    assert.match(none.stderr, new RegExp(`none of its 2 system instances is for group ${core.ids.groupId}, which this core runs`));
    const dup = await run(base, '{"summary": {"greengrassGroupVersionId": "a", "greengrassGroupVersionId": "b"}}');
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /--expect -: expectation is not valid JSON: duplicate key "greengrassGroupVersionId" in \$\.summary at line 1/);
    const miss = await run(base, JSON.stringify({ summary: { ...mine, greengrassGroupVersionID: mine.greengrassGroupVersionId, greengrassGroupVersionId: undefined } }));
    assert.equal(miss.code, 2);
    assert.match(miss.stderr, /"greengrassGroupVersionID".*did you mean "greengrassGroupVersionId"/);
  } finally {
    await core.cleanup();
  }
});
