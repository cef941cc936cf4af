// Non-regular and oversized files wherever the command line and the agent
// read one: group.json (verify, and a running agent), --expect and --config
// (verify), logs. Each case must end promptly (a hang is killed and fails),
// never pass as VERIFIED, and cost the child less than 256 MB at its peak.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempCore, type TempCore } from '../lib/core.js';
import { EXPECT_MAX_BYTES } from '../../src/cli/verify.js';
import { DEFAULT_INPUT_MAX_BYTES } from '../../src/config/load.js';
import { runCli, SHELL_CMD, startCli, type CliResult } from '../lib/cli-child.js';

const MB = 1024 * 1024;
const PEAK_LIMIT_MB = 256;

function mkfifo(path: string): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn('mkfifo', [path], { stdio: 'inherit' });
    c.on('error', rej);
    c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`mkfifo exited ${code}`))));
  });
}

type Hostile = 'a FIFO' | 'a link to /dev/zero' | 'a link to /dev/urandom' | 'an oversized file';
const HOSTILE: Hostile[] = ['a FIFO', 'a link to /dev/zero', 'a link to /dev/urandom', 'an oversized file'];

/** Puts something hostile where a file was; an oversized file is `capBytes` and a megabyte more, sparse. */
async function makeHostile(path: string, kind: Hostile, capBytes: number): Promise<void> {
  await rm(path, { force: true });
  if (kind === 'a FIFO') await mkfifo(path);
  else if (kind === 'a link to /dev/zero') await symlink('/dev/zero', path);
  else if (kind === 'a link to /dev/urandom') await symlink('/dev/urandom', path);
  else {
    await writeFile(path, '{');
    await truncate(path, capBytes + MB);
  }
}

function bounded(r: CliResult, what: string): void {
  assert.equal(r.hung, false, `${what}: still running at the deadline (killed)\n${r.stderr}`);
  assert.ok(r.peakRssMB < PEAK_LIMIT_MB, `${what}: peak RSS ${r.peakRssMB.toFixed(0)} MB`);
}

async function withCore(fn: (core: TempCore) => Promise<void>): Promise<void> {
  const core = await tempCore();
  try {
    await fn(core);
  } finally {
    await core.cleanup();
  }
}

const codes = (report: { findings: { code: string }[] }) => report.findings.map((f) => f.code);

for (const kind of HOSTILE) {
  test(`verify: group.json as ${kind} is GROUP_DEFINITION_INVALID, promptly and in bounded memory`, async () => {
    await withCore(async (core) => {
      await makeHostile(join(core.root, core.paths.groupJson), kind, 16 * MB);
      const r = await runCli(['verify', '--root', core.root, '--state', core.stateDir, '--hash-rate', '0', '--json']);
      bounded(r, kind);
      assert.equal(r.code, 1, r.stderr);
      const report = JSON.parse(r.stdout) as { status: string; findings: { code: string; message: string }[] };
      assert.notEqual(report.status, 'VERIFIED');
      const f = report.findings.find((x) => x.code === 'GROUP_DEFINITION_INVALID');
      assert.ok(f, JSON.stringify(report.findings));
      assert.match(f.message, kind === 'an oversized file' ? /larger than/ : kind === 'a FIFO' ? /FIFO/ : /symbolic link/);
    });
  });
}

test('verify --expect: a FIFO nobody writes to is exit 2 after --input-timeout, naming the flag', async () => {
  await withCore(async (core) => {
    const fifo = join(core.root, '..', 'expect.fifo');
    await mkfifo(fifo);
    const r = await runCli(['verify', '--root', core.root, '--state', core.stateDir, '--expect', fifo, '--input-timeout', '1']);
    bounded(r, 'fifo');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read --expect .*expect\.fifo: did not end within 1 s: nothing arrived/);
    assert.ok(r.ms >= 1000);
  });
});

for (const kind of ['a link to /dev/zero', 'a link to /dev/urandom', 'an oversized file'] as const) {
  test(`verify --expect and --config: ${kind} is exit 2 at once, in bounded memory`, async () => {
    await withCore(async (core) => {
      const path = join(core.root, '..', 'input.json');
      // 300 MB: the size that cost 615-663 MB when the cap came after reading.
      await makeHostile(path, kind, 299 * MB);
      for (const flag of ['--expect', '--config']) {
        const r = await runCli(['verify', '--root', core.root, '--state', core.stateDir, flag, path]);
        bounded(r, `${flag} ${kind}`);
        assert.equal(r.code, 2, r.stderr);
        const what = flag === '--expect' ? 'cannot read --expect' : 'cannot read config file';
        assert.match(r.stderr, new RegExp(`${what} .*input\\.json: ${kind === 'an oversized file' ? `is larger than ${flag === '--expect' ? EXPECT_MAX_BYTES : DEFAULT_INPUT_MAX_BYTES} bytes` : 'is a character device'}`));
      }
    });
  });
}

test('verify --config: a FIFO nobody writes to is exit 2 after --input-timeout', async () => {
  await withCore(async (core) => {
    const fifo = join(core.root, '..', 'config.fifo');
    await mkfifo(fifo);
    const r = await runCli(['verify', '--root', core.root, '--state', core.stateDir, '--config', fifo, '--input-timeout', '0.5']);
    bounded(r, 'config fifo');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read config file .*config\.fifo: did not end within 0.5 s/);
  });
});

test('verify --expect: pipes work (a FIFO with a writer, <(cmd), standard input); endless or silent ones end in exit 2', async () => {
  await withCore(async (core) => {
    const common = ['verify', '--root', core.root, '--state', core.stateDir, '--hash-rate', '0'];
    const envelope = join(core.root, '..', 'envelope.json');
    await writeFile(envelope, JSON.stringify(core.envelope));

    const fifo = join(core.root, '..', 'expect.fifo');
    await mkfifo(fifo);
    const w = spawn('sh', ['-c', `cat '${envelope}' > '${fifo}'`], { stdio: 'ignore' });
    const written = new Promise((res) => w.on('exit', res));
    const viaFifo = await runCli([...common, '--expect', fifo]);
    bounded(viaFifo, 'fifo with a writer');
    assert.equal(viaFifo.code, 0, viaFifo.stderr);
    await written;

    const viaSubst = await runCli([], { shell: `${SHELL_CMD} ${common.join(' ')} --expect <(cat '${envelope}')`, interpreter: 'bash' });
    bounded(viaSubst, '<(cmd)');
    assert.equal(viaSubst.code, 0, viaSubst.stderr);

    const viaStdin = await runCli([...common, '--expect', '-'], { stdin: JSON.stringify(core.envelope) });
    assert.equal(viaStdin.code, 0, viaStdin.stderr);

    const endless = await runCli([], { shell: `yes | ${SHELL_CMD} ${common.join(' ')} --expect -` });
    bounded(endless, 'endless stdin');
    assert.equal(endless.code, 2);
    assert.match(endless.stderr, new RegExp(`cannot read --expect -: is larger than ${EXPECT_MAX_BYTES} bytes`));

    const silent = await runCli([...common, '--expect', '-', '--input-timeout', '0.5'], { stdin: 'keep-open' });
    bounded(silent, 'silent stdin');
    assert.equal(silent.code, 2);
    assert.match(silent.stderr, /cannot read --expect -: did not end within 0.5 s/);

    const zero = await runCli([...common, '--expect', '-'], { stdin: openSync('/dev/zero', 'r') });
    bounded(zero, 'stdin from /dev/zero');
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /cannot read --expect -: is a character device/);

    await writeFile(envelope, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(core.envelope))]));
    const bom = await runCli([...common, '--expect', envelope]);
    assert.equal(bom.code, 0, `a byte-order mark is not an error: ${bom.stderr}`);
  });
});

test('verify: a log that is a FIFO or a link to /dev/zero does not hang and does not verify: each is FILE_UNREADABLE', async () => {
  await withCore(async (core) => {
    await makeHostile(join(core.root, core.paths.thingsGraphLog), 'a FIFO', 0);
    await makeHostile(join(core.root, core.paths.runtimeLog), 'a link to /dev/zero', 0);
    const r = await runCli(['verify', '--root', core.root, '--state', core.stateDir, '--hash-rate', '0', '--json']);
    bounded(r, 'logs');
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as { status: string; findings: { code: string; path?: string }[] };
    assert.notEqual(report.status, 'VERIFIED');
    const unreadable = report.findings.filter((f) => f.code === 'FILE_UNREADABLE').map((f) => f.path).sort();
    assert.deepEqual(unreadable, [core.paths.runtimeLog, core.paths.thingsGraphLog].sort());
  });
});

test('run: group.json turned into a FIFO, device links or a huge file; the agent keeps reporting and heartbeating, and stops on SIGTERM within 2 s', async () => {
  await withCore(async (core) => {
    const cfg = join(core.root, '..', 'agent.yaml');
    // A heartbeat every second: proof the agent is alive between the changes.
    await writeFile(cfg, "heartbeatCron: '* * * * * *'\n");
    const agent = await startCli(['run', '--root', core.root, '--state', core.stateDir, '--hash-rate', '0', '--config', cfg]);
    let stopped = false;
    try {
      const isReport = (d: Record<string, unknown>) => d.schema === 'deploy-witness/report';
      const isBeat = (d: Record<string, unknown>) => d.schema === 'deploy-witness/heartbeat';
      const invalid = (d: Record<string, unknown>) => isReport(d) && codes(d as never).includes('GROUP_DEFINITION_INVALID');
      let at = (await agent.waitFor(isReport, 'the first report')).index;
      const groupJson = join(core.root, core.paths.groupJson);
      const original = await readFile(groupJson);
      for (const kind of HOSTILE) {
        await makeHostile(groupJson, kind, 16 * MB);
        at = (await agent.waitFor(invalid, `a report of group.json as ${kind}`, at + 1)).index;
        at = (await agent.waitFor(isBeat, `a heartbeat after group.json became ${kind}`, at + 1)).index;
        await rm(groupJson);
        await writeFile(groupJson, original);
        at = (await agent.waitFor((d) => isReport(d) && !invalid(d), `a report after group.json came back (after the ${kind})`, at + 1)).index;
      }
      const stop = await agent.term();
      stopped = true;
      assert.equal(stop.code, 0, agent.dump());
      assert.ok(stop.stopMs < 2000, `stopped in ${stop.stopMs.toFixed(0)} ms`);
      assert.ok(stop.peakRssMB < PEAK_LIMIT_MB, `peak RSS ${stop.peakRssMB.toFixed(0)} MB`);
    } finally {
      if (!stopped) await agent.term();
    }
  });
});

test('state files that are FIFOs (baseline, lock, stored expectation, sequence): verify and run neither hang nor pass', async () => {
  await withCore(async (core) => {
    const baselineDir = join(core.stateDir, 'baselines', core.ids.groupId);
    await mkdir(baselineDir, { recursive: true });
    for (const p of [join(baselineDir, `${core.ids.groupVersionId}.json`), join(core.stateDir, 'state.lock'), join(core.stateDir, 'expectation.json'), join(core.stateDir, 'sequence')]) {
      await mkfifo(p);
    }
    const r = await runCli(['verify', '--root', core.root, '--state', core.stateDir, '--hash-rate', '0', '--json']);
    bounded(r, 'state FIFOs');
    const report = JSON.parse(r.stdout) as { status: string; findings: { code: string; message: string }[] };
    // The baseline that could not be read is laid down again, and says so.
    const replaced = report.findings.find((f) => f.code === 'BASELINE_REPLACED');
    assert.ok(replaced, JSON.stringify(report.findings));
    assert.match(replaced.message, /FIFO/);
    const again = await runCli(['verify', '--root', core.root, '--state', core.stateDir, '--hash-rate', '0', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).status, 'VERIFIED');

    // The sequence is the high-water mark of the numbers handed out: a FIFO in its place (and no
    // copy) is refused at once with a message naming it, never read as a fresh count.
    const refused = await runCli(['run', '--root', core.root, '--state', core.stateDir, '--hash-rate', '0']);
    bounded(refused, 'sequence FIFO');
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /the report sequence cannot be read \(.*sequence: is a FIFO, not a regular file/);
    await rm(join(core.stateDir, 'sequence'));
    await writeFile(join(core.stateDir, 'sequence'), '1000\n');
    // The stored expectation is read at start too: a FIFO there reads as none.
    const agent = await startCli(['run', '--root', core.root, '--state', core.stateDir, '--hash-rate', '0']);
    let stopped = false;
    try {
      const first = await agent.waitFor((d) => d.schema === 'deploy-witness/report', 'the first report');
      assert.equal(first.doc.status, 'VERIFIED', agent.dump());
      assert.ok((first.doc.sequence as number) > 1000, 'counting goes on above the mark put back');
      const stop = await agent.term();
      stopped = true;
      assert.equal(stop.code, 0, agent.dump());
      assert.ok(stop.peakRssMB < PEAK_LIMIT_MB, `peak RSS ${stop.peakRssMB.toFixed(0)} MB`);
    } finally {
      if (!stopped) await agent.term();
    }
  });
});
