// The systemd unit for v1-only cores, checked offline with systemd-analyze: a valid unit whose
// ExecStart is the launcher of the unpacked package, hardened (exposure scored by
// `systemd-analyze security --offline`), with an example configuration the agent accepts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { applyConfig, defaultConfig } from '../../src/config/config.js';
import { defaultClientId } from '../../src/report/mqtt5.js';
import { packageComponent, zipName, type Arch } from '../../scripts/package.js';
import { unzipTo } from '../lib/unzip.js';

const T = { timeout: 120_000 };
const UNIT = join(process.cwd(), 'packaging', 'systemd', 'deploy-witness.service');
const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).stdout.trim();
const arch: Arch = process.arch === 'arm64' ? 'arm64' : 'x64';

let scratch: string;
let install: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-systemd-'));
  const built = await packageComponent({ projectDir: process.cwd(), outDir: join(scratch, 'build'), arches: [arch], bucket: 'BUCKET' });
  install = join(scratch, 'opt', 'deploy-witness');
  await unzipTo(built.zips[0]!.file, install);
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** The unit as installed, with /opt/deploy-witness where this test unpacked the package. */
async function installedUnit(): Promise<string> {
  const dir = join(scratch, 'units');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'deploy-witness.service');
  await writeFile(file, (await readFile(UNIT, 'utf8')).replaceAll('/opt/deploy-witness', install));
  return file;
}

test('systemd-analyze verify: no error and no warning; ExecStart is the unpacked launcher', { ...T, skip: analyze ? false : 'systemd-analyze is not installed' }, async () => {
  const unit = await readFile(UNIT, 'utf8');
  assert.match(unit, /^ExecStart=\/opt\/deploy-witness\/bin\/deploy-witness run --config \/etc\/deploy-witness\/config\.yaml --state %S\/deploy-witness$/m);
  const r = spawnSync(analyze, ['verify', await installedUnit()], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'warnings (unknown keys, bad values) are errors to us');
  // The same check fails when the launcher is not where ExecStart says (the zip's layout changed).
  const moved = join(scratch, 'units', 'moved.service');
  await writeFile(moved, unit.replaceAll('/opt/deploy-witness', join(scratch, 'nowhere')));
  assert.notEqual(spawnSync(analyze, ['verify', moved], { encoding: 'utf8' }).status, 0);
});

test('hardening: a user of its own with only CAP_DAC_READ_SEARCH, read-only system, writable state folder', { ...T, skip: analyze ? false : 'systemd-analyze is not installed' }, async (t) => {
  const unit = await readFile(UNIT, 'utf8');
  const has = (line: string) => assert.ok(unit.split('\n').includes(line), line);
  for (const l of ['DynamicUser=yes', 'AmbientCapabilities=CAP_DAC_READ_SEARCH', 'CapabilityBoundingSet=CAP_DAC_READ_SEARCH', 'NoNewPrivileges=yes',
    'ProtectSystem=strict', 'ReadOnlyPaths=-/greengrass -/thingsgraph', 'StateDirectory=deploy-witness', 'ProtectHome=yes', 'PrivateTmp=yes',
    'Restart=on-failure', 'RestartPreventExitStatus=2']) has(l);
  assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=yes/m, 'V8 needs writable executable memory');
  assert.doesNotMatch(unit, /^ProcSubset=pid/m, 'the agent reads /proc/sys/fs/inotify/max_user_watches and /proc/meminfo');
  const r = spawnSync(analyze, ['security', '--offline=yes', await installedUnit()], { encoding: 'utf8' });
  if (r.status !== 0 && /offline/.test(r.stderr)) {
    t.skip('this systemd-analyze has no --offline security check');
    return;
  }
  const m = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout);
  assert.ok(m, r.stdout + r.stderr);
  t.diagnostic(`systemd-analyze security exposure: ${m[1]}`);
  assert.ok(Number(m[1]) <= 2.5, `exposure ${m[1]}`);
});

test('the example configuration: direct MQTT, accepted by the agent, its own client ID', async () => {
  const raw = parse(await readFile(join(process.cwd(), 'packaging', 'systemd', 'config.example.yaml'), 'utf8'));
  const c = applyConfig(defaultConfig({}), raw, 'config.example.yaml');
  assert.match(c.mqtt.endpoint!, /-ats\.iot\.[a-z0-9-]+\.amazonaws\.com$/);
  for (const k of ['cert', 'key', 'ca'] as const) assert.match(c.mqtt[k]!, /^\/etc\/deploy-witness\//);
  assert.equal(c.mqtt.clientId, undefined, 'the default: <thing>-deploy-witness');
  assert.equal(defaultClientId('MyCore'), 'MyCore-deploy-witness');
  assert.equal(zipName(arch), `deploy-witness-linux-${arch}`);
});
