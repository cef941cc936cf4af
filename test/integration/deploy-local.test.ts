// scripts/deploy-local.sh against stand-in CLIs that record what they were asked: the Java
// nucleus' greengrass-cli and nucleus lite's ggl-cli (neither nucleus runs here). For nucleus
// lite the script also unpacks this device's zip where the recipe's run script looks for it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { parse } from 'yaml';
import { packageComponent, zipName, type Arch, type PackageResult } from '../../scripts/package.js';
import { substituteVariables } from '../lib/nucleus-rules.js';

const T = { timeout: 120_000 };
const SCRIPT = join(process.cwd(), 'scripts', 'deploy-local.sh');
const here: Arch | null = process.arch === 'x64' || process.arch === 'arm64' ? process.arch : null;
const haveUnzip = ['unzip', 'python3'].some((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);

let scratch: string;
let built: PackageResult;
let build: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-deploy-local-'));
  build = join(scratch, 'greengrass-build');
  built = await packageComponent({ projectDir: process.cwd(), outDir: build, arches: [here ?? 'x64'], bucket: 'BUCKET' });
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A stand-in CLI: records its arguments, one per line, and what the folders it got held then. */
async function standIn(name: string): Promise<{ bin: string; record: string }> {
  const bin = join(scratch, `bin-${name}`);
  const record = join(scratch, `record-${name}`);
  await mkdir(bin, { recursive: true });
  await writeFile(
    join(bin, name),
    `#!/bin/sh
: > "${record}.args"
for a in "$@"; do printf '%s\\n' "$a" >> "${record}.args"; done
while [ $# -gt 0 ]; do
  case $1 in --recipeDir|--recipe-dir) ls -A "$2" > "${record}.recipes"; cat "$2"/* > "${record}.recipe" ;; esac
  shift
done
`,
  );
  await chmod(join(bin, name), 0o755);
  return { bin, record };
}

function run(args: string[], path: string, extraEnv: Record<string, string> = {}) {
  return spawnSync('/bin/sh', [SCRIPT, ...args], { encoding: 'utf8', env: { PATH: path, TMPDIR: scratch, ...extraEnv } });
}

test('Java nucleus: greengrass-cli deployment create with only this recipe, the artifacts and the configuration merge', T, async () => {
  const cli = await standIn('greengrass-cli');
  const config = '{"com.deploywitness.Agent":{"MERGE":{"root":"/core"}}}';
  const r = run(['--build', build, '--update-config', config], `${cli.bin}:/usr/bin:/bin`);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const args = (await readFile(`${cli.record}.args`, 'utf8')).trimEnd().split('\n');
  const staged = join(scratch, `deploy-witness-recipes-${built.version}`);
  assert.deepEqual(args, [
    'deployment', 'create', '--recipeDir', staged, '--artifactDir', join(build, 'artifacts'),
    '--merge', `${built.name}=${built.version}`, '--update-config', config,
  ]);
  assert.deepEqual((await readFile(`${cli.record}.recipes`, 'utf8')).trim().split('\n'), [`${built.name}-${built.version}.yaml`]);
  assert.equal(await readFile(`${cli.record}.recipe`, 'utf8'), await readFile(built.recipeFile, 'utf8'));
  // The nucleus reads the recipe folder when the deployment runs: it is still there.
  assert.ok((await stat(staged)).isDirectory());
  assert.match(r.stdout, /queued/);
});

test('nucleus lite: ggl-cli deploy, and this device\'s zip unpacked where the run script looks', { ...T, skip: !here ? `no package for ${process.arch}` : !haveUnzip ? 'neither unzip nor python3' : false }, async () => {
  const cli = await standIn('ggl-cli');
  const root = join(scratch, 'lite-root');
  const r = run(['--build', build, '--root', root], `${cli.bin}:/usr/bin:/bin`);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const args = (await readFile(`${cli.record}.args`, 'utf8')).trimEnd().split('\n');
  assert.deepEqual(args, [
    'deploy', '--recipe-dir', join(scratch, `deploy-witness-recipes-${built.version}`), '--artifacts-dir', join(build, 'artifacts'),
    '--add-component', `${built.name}=${built.version}`,
  ]);
  const recipe = parse(await readFile(built.recipeFile, 'utf8')) as { Manifests: { Platform: { architecture: string }; Lifecycle: { run: { Script: string } } }[] };
  const manifest = recipe.Manifests.find((m) => m.Platform.architecture === (here === 'arm64' ? 'aarch64' : 'amd64'))!;
  const script = substituteVariables(manifest.Lifecycle.run.Script, 'lite', { rootPath: root, componentName: built.name, componentVersion: built.version, thingName: 'T' });
  const launcher = /sh "([^"]+)"/.exec(script)![1]!.replace(/\\(.)/g, '$1');
  assert.equal(normalize(launcher), join(root, 'packages', 'artifacts-unarchived', built.name, built.version, zipName(here!), 'bin', 'deploy-witness'));
  assert.ok((await stat(launcher)).isFile());
  assert.ok((await stat(join(launcher, '..', '..', 'dist', 'src', 'cli', 'bin.js'))).isFile());
});

test('clear errors: no build, no CLI, a configuration merge for nucleus lite, an unknown flag', T, async () => {
  const noBuild = run(['--build', join(scratch, 'nope')], '/usr/bin:/bin');
  assert.equal(noBuild.status, 2);
  assert.match(noBuild.stderr, /is not a folder: run npm run package first/);
  const noCli = run(['--build', build, '--root', join(scratch, 'no-root')], '/usr/bin:/bin');
  assert.equal(noCli.status, 2);
  assert.match(noCli.stderr, /no Greengrass CLI found/);
  const lite = await standIn('ggl-cli');
  const cfg = run(['--build', build, '--nucleus', 'lite', '--update-config', '{}'], `${lite.bin}:/usr/bin:/bin`);
  assert.equal(cfg.status, 2);
  assert.match(cfg.stderr, /ggl-cli takes no configuration/);
  const bad = run(['--bogus'], '/usr/bin:/bin');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown argument: --bogus/);
  const help = run(['--help'], '/usr/bin:/bin');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: deploy-local\.sh/);
});
