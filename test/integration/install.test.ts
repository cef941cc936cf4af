// Getting the command onto a machine as README says, with no network:
// `npx deploy-witness` in the built project, and the tarball `npm pack`
// makes (its prepack builds what it packs) installed and run from where npm
// put it.
//
// `npm install -g <tarball>` resolves each dependency's version range
// against the registry's package documents, and `npm ci` never stores those
// in the cache: offline, a global install cannot work here. The tarball is
// installed instead into a folder whose lockfile pins the very versions (and
// integrity hashes) of package-lock.json, so `npm ci --offline` takes every
// dependency from the cache `npm ci` filled: the same tarball, the same
// dependency tree, the same bin link a global install makes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCore } from '../../scripts/simulated-core.js';

const T = { timeout: 300_000 };
const project = process.cwd();

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** npm without the test's own hooks, and never asking a question. */
const npmEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_yes: 'false', npm_config_update_notifier: 'false' };
  delete env.NODE_OPTIONS;
  return env;
};

let scratch: string;
let pkg: { name: string; version: string; bin: Record<string, string>; dependencies: Record<string, string>; engines: Record<string, string>; license: string; scripts: Record<string, string> };

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-install-'));
  pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8'));
});
after(() => rm(scratch, { recursive: true, force: true }));

test('npx deploy-witness runs the built project\'s own command, offline', T, async () => {
  const r = await sh('npx', ['--offline', '--no', 'deploy-witness', 'version'], project, npmEnv());
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${pkg.version}\n`);
  const help = await sh('npx', ['--offline', '--no', 'deploy-witness', 'verify', '--help'], project, npmEnv());
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: deploy-witness verify /);
});

test('npm pack builds what it packs; the tarball installs offline and its command runs', T, async () => {
  // A copy of the sources with no dist at all: whatever compiled code the tarball holds, prepack built.
  const src = join(scratch, 'src');
  await mkdir(src);
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'recipe.yaml', 'schema', 'src', 'test', 'scripts']) {
    await cp(join(project, entry), join(src, entry), { recursive: true });
  }
  await symlink(join(project, 'node_modules'), join(src, 'node_modules'));
  assert.equal(pkg.scripts.prepack, 'npm run build');
  const out = join(scratch, 'out');
  await mkdir(out);
  const packed = await sh('npm', ['pack', '--pack-destination', out, '--json'], src, npmEnv());
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path);
  assert.ok(files.includes('dist/src/cli/bin.js'), 'the command is in the tarball');
  assert.ok(files.includes('dist/src/cli/verify.js'));
  assert.ok(!files.some((f) => f.startsWith('dist/test/') || f.startsWith('src/') || f.startsWith('test/')), 'only the compiled agent is packed');
  const tgz = join(out, info!.filename);

  // The install: the tarball, and the dependencies pinned as package-lock.json pins them, from the cache only.
  const lock = JSON.parse(await readFile(join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const inst = join(scratch, 'install');
  await mkdir(inst);
  const spec = `file:${tgz}`;
  const packages: Record<string, unknown> = {
    '': { name: 'dw-install', dependencies: { [pkg.name]: spec } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version, resolved: spec,
      integrity: `sha512-${createHash('sha512').update(await readFile(tgz)).digest('base64')}`,
      license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path.startsWith('node_modules/') && !entry.dev) packages[path] = entry;
  await writeFile(join(inst, 'package.json'), JSON.stringify({ name: 'dw-install', private: true, dependencies: { [pkg.name]: spec } }));
  await writeFile(join(inst, 'package-lock.json'), JSON.stringify({ name: 'dw-install', lockfileVersion: 3, requires: true, packages }));
  const installed = await sh('npm', ['ci', '--offline', '--omit=dev', '--no-audit', '--no-fund'], inst, npmEnv());
  assert.equal(installed.code, 0, `${installed.stdout}\n${installed.stderr}`);

  const bin = join(inst, 'node_modules', '.bin', 'deploy-witness');
  assert.ok((await stat(bin)).mode & 0o111, 'the bin link is executable');
  // Nothing of the project leaks in: the installed copy runs from its own folder, with no dev dependencies.
  const here = await readdir(join(inst, 'node_modules'));
  assert.ok(!here.includes('typescript'), 'dev dependencies are not installed');
  const env = { PATH: `${join(inst, 'node_modules', '.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: scratch };
  const version = await sh('deploy-witness', ['version'], scratch, env);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `${pkg.version}\n`);
  const help = await sh('deploy-witness', ['verify', '--help'], scratch, env);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: deploy-witness verify /);

  // And it does its job: a simulated core verified by the installed command.
  const core = await makeCore({ root: join(scratch, 'core') });
  const expect = join(scratch, 'expect.json');
  await writeFile(expect, JSON.stringify(core.expectation));
  const verified = await sh('deploy-witness', ['verify', '--root', core.root, '--state', join(scratch, 'state'), '--expect', expect, '--json'], scratch, env);
  assert.equal(verified.code, 0, verified.stderr);
  assert.equal((JSON.parse(verified.stdout) as { status: string }).status, 'VERIFIED');
});

test('the demo\'s last line names commands that work where it ran', T, async () => {
  const demo = await sh(process.execPath, [join(project, 'dist', 'scripts', 'demo.js')], project, npmEnv());
  assert.equal(demo.code, 0, demo.stderr);
  const last = demo.stdout.trimEnd().split('\n').at(-1) ?? '';
  const commands = [...last.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  assert.ok(commands.length >= 1 && last.startsWith('Done. Next: '), last);
  for (const command of commands) {
    const r = await sh('sh', ['-c', command.replace(/^npx /, 'npx --offline --no ')], project, npmEnv());
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: deploy-witness /, command);
  }
});
