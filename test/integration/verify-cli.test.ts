// `deploy-witness verify` as a user runs it: a real process, exit codes, output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { tempCore } from '../lib/core.js';

const BIN = join(process.cwd(), 'dist/src/cli/bin.js');

function run(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

async function schemaValidator() {
  const schema = JSON.parse(await readFile(join(process.cwd(), 'schema/report.schema.json'), 'utf8'));
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

test('verify: exit 0 and a readable summary on a healthy core', async () => {
  const core = await tempCore();
  try {
    const r = await run(['verify', '--root', core.root, '--state', core.stateDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^deploy-witness: VERIFIED/);
    assert.match(r.stdout, /MyGreengrassCore/);
    assert.equal(r.stderr, '');
  } finally {
    await core.cleanup();
  }
});

test('verify --json: the report validates against the schema, from an expectation on stdin', async () => {
  const core = await tempCore();
  const validate = await schemaValidator();
  try {
    const r = await run(['verify', '--root', core.root, '--state', core.stateDir, '--expect', '-', '--json'], JSON.stringify(core.envelope));
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(validate(report), true, JSON.stringify(validate.errors));
    assert.equal(report.status, 'VERIFIED');
    assert.equal(report.requestId, 'req-0001');
    assert.equal(report.expectation.systemInstanceId, core.ids.systemInstanceId);
    // The schema is a real check: a report with a made-up status fails it.
    assert.equal(validate({ ...report, status: 'FINE' }), false);
  } finally {
    await core.cleanup();
  }
});

test('verify: exit 1 with the findings when the device is not as expected', async () => {
  const core = await tempCore({ variant: 'deployment-failed' });
  const validate = await schemaValidator();
  try {
    const r = await run(['verify', '--root', core.root, '--state', core.stateDir, '--json', '--expect', '-'], JSON.stringify(core.expectation));
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout);
    assert.equal(validate(report), true, JSON.stringify(validate.errors));
    assert.equal(report.status, 'FAILED');
    assert.deepEqual(report.counts, { DEPLOYMENT_FAILED: 1 });
    const text = await run(['verify', '--root', core.root, '--state', core.stateDir]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /DEPLOYMENT_FAILED/);
  } finally {
    await core.cleanup();
  }
});

test('verify: a broken device file is a finding (exit 1), never a stack trace', async () => {
  const core = await tempCore();
  try {
    await writeFile(join(core.root, core.paths.groupJson), '{"Arn": "arn:aws:greengrass:us-east-1:1:/greengrass/gro');
    const r = await run(['verify', '--root', core.root, '--state', core.stateDir]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /GROUP_DEFINITION_INVALID/);
    assert.doesNotMatch(r.stdout + r.stderr, /at .*\.js:\d+/);
  } finally {
    await core.cleanup();
  }
});

test('verify: exit 2 with a clear message when the command cannot run', async () => {
  const core = await tempCore();
  try {
    const cases: [string[], string | undefined, RegExp][] = [
      [['verify', '--bogus'], undefined, /Unknown option '--bogus'/],
      [['verify', '--root', core.root, '--expect', join(core.root, 'nope.json')], undefined, /cannot read --expect .*ENOENT/],
      [['verify', '--root', core.root, '--expect', '-'], '{"summary": {"id": ', /--expect -: expectation is not valid JSON/],
      [['verify', '--root', core.root, '--expect', '-'], '{"summary": {}}', /summary.id is missing/],
      // The flag typed, not the configuration key behind it.
      [['verify', '--root', core.root, '--hash-rate', 'fast'], undefined, /^deploy-witness verify: --hash-rate must be a number from 0 to 100000, got "fast"\n$/],
      [['verify', '--root', core.root, '--config', join(core.root, 'nope.yaml')], undefined, /cannot read config file/],
      [['frobnicate'], undefined, /unknown command 'frobnicate'/],
    ];
    for (const [args, stdin, re] of cases) {
      const r = await run(args, stdin);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
  } finally {
    await core.cleanup();
  }
});

test('verify --help and --config YAML with flags winning', async () => {
  const help = await run(['verify', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit status:\n  0  VERIFIED \(every layout\)\n  1  any other device state .*\n  2  verify could not run/);
  const core = await tempCore();
  try {
    const cfg = join(core.root, 'witness.yaml');
    // The file points at a root that does not exist; the flag wins.
    await writeFile(cfg, `root: /nonexistent\nstateDir: ${core.stateDir}\nhashRateLimitMBps: "0"\n`);
    const r = await run(['verify', '--config', cfg, '--root', core.root]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await writeFile(cfg, 'hashRateLimitMBps: [1, 2]\n');
    const bad = await run(['verify', '--config', cfg, '--root', core.root]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /hashRateLimitMBps must be a number/);
  } finally {
    await core.cleanup();
  }
});
