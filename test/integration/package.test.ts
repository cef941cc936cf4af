// `npm run package` end to end: the zips (size, contents, native binary per architecture, digest
// in the built recipe), then this machine's zip unpacked where a nucleus would put it and the
// recipe's own run script, its variables filled in as each nucleus does, run against the local
// nucleus double in both profiles and a simulated core until a VERIFIED report is published.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { makeCore } from '../../scripts/simulated-core.js';
import { packageComponent, TARGETS, ZIP_BUDGET_BYTES, zipName, type Arch, type PackageResult } from '../../scripts/package.js';
import type { Report } from '../../src/verify/report.js';
import { keepFlowRunning } from '../lib/agent-process.js';
import { startIpcServer, type IpcMode } from '../lib/ipc-server.js';
import { onLines } from '../lib/lines.js';
import { liteProblems, substituteVariables } from '../lib/nucleus-rules.js';
import { forEachEntry, listEntries, unzipTo } from '../lib/unzip.js';

const T = { timeout: 180_000 };
const WAIT = 90_000;
const here: Arch | null = process.arch === 'x64' || process.arch === 'arm64' ? process.arch : null;

let scratch: string;
let built: PackageResult;
let recipeText: string;
let recipe: Record<string, any>;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'dw-package-'));
  built = await packageComponent({ projectDir: process.cwd(), outDir: join(scratch, 'greengrass-build'), arches: ['arm64', 'x64'], bucket: 'dw-test-bucket' });
  recipeText = await readFile(built.recipeFile, 'utf8');
  recipe = parse(recipeText) as Record<string, any>;
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

test('one zip per architecture under the budget; the built recipe carries each one\'s URI and SHA-256, version from package.json', T, async (t) => {
  const pkg = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
  assert.equal(built.version, pkg.version);
  assert.equal(recipe.ComponentVersion, pkg.version);
  assert.equal(built.zips.length, 2);
  const artifacts = recipe.Manifests.flatMap((m: any) => m.Artifacts);
  for (const z of built.zips) {
    assert.ok(z.bytes < ZIP_BUDGET_BYTES, `${z.file}: ${z.bytes} bytes`);
    const sha = createHash('sha256').update(await readFile(z.file)).digest('base64');
    const a = artifacts.find((x: any) => x.Uri.endsWith(`/${zipName(z.arch)}.zip`));
    assert.equal(a.Digest, sha, 'the digest in the recipe is the zip\'s');
    assert.equal(a.Algorithm, 'SHA-256');
    assert.equal(a.Uri, `s3://dw-test-bucket/${built.name}/${pkg.version}/${zipName(z.arch)}.zip`);
    assert.equal(dirname(z.file), join(scratch, 'greengrass-build', 'artifacts', built.name, pkg.version));
    t.diagnostic(`${zipName(z.arch)}.zip: ${(z.bytes / 2 ** 20).toFixed(2)} MiB, ${(z.unpackedBytes / 2 ** 20).toFixed(2)} MiB unpacked, ${z.entries} files`);
  }
  assert.deepEqual(liteProblems(recipe, ['aarch64', 'amd64'], Buffer.byteLength(recipeText)).problems, []);
  // The same recipe under the name `gdk component publish` looks for.
  assert.equal(await readFile(join(scratch, 'greengrass-build', 'recipes', 'recipe.yaml'), 'utf8'), recipeText);
  assert.deepEqual((await readdir(join(scratch, 'greengrass-build', 'recipes'))).sort(), [`${built.name}-${pkg.version}.yaml`, 'recipe.yaml']);
});

test('the zips hold the agent and what runs, nothing else: no tests, maps, declarations, other platforms\' binaries', T, async () => {
  for (const z of built.zips) {
    const entries = await listEntries(z.file);
    const paths = entries.map((e) => e.path);
    const files = entries.filter((e) => !e.directory);
    assert.equal(files.length, z.entries);
    assert.ok(paths.includes('dist/src/cli/bin.js') && paths.includes('package.json') && paths.includes('bin/preflight.cjs'));
    assert.equal(entries.find((e) => e.path === 'bin/deploy-witness')!.mode, 0o755);
    assert.deepEqual(paths.filter((p) => /\.map$|\.d\.[cm]?ts$|\.ts$/.test(p)), []);
    assert.deepEqual(paths.filter((p) => /^dist\/(test|scripts)\//.test(p) || /\/(tests?|__tests__)\//.test(p) || /\.(spec|test)\.[cm]?js$/.test(p)), []);
    assert.deepEqual(paths.filter((p) => /darwin|win32|musl/.test(p) && p.includes('aws-crt')), []);
    assert.deepEqual(paths.filter((p) => p.startsWith('/') || p.split('/').includes('..')), []);
    // Nucleus lite's unzip writes entries in order: each folder comes before what it holds.
    const seen = new Set<string>();
    for (const e of entries) {
      const parent = e.path.replace(/\/$/, '').split('/').slice(0, -1).join('/');
      if (parent) assert.ok(seen.has(`${parent}/`), `${e.path} before its folder`);
      seen.add(e.path.endsWith('/') ? e.path : `${e.path}`);
    }
    const pkg = JSON.parse((await readEntry(z.file, 'package.json')).toString('utf8')) as Record<string, unknown>;
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.name, 'deploy-witness');
    assert.equal(pkg.dependencies, undefined);
    const natives = paths.filter((p) => p.endsWith('.node'));
    assert.deepEqual(natives, [`node_modules/aws-crt/dist/bin/linux-${z.arch}-glibc/aws-crt-nodejs.node`]);
    const elf = await readEntry(z.file, natives[0]!);
    assert.deepEqual([...elf.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'an ELF file');
    assert.equal(elf[4], 2, '64-bit');
    assert.equal(elf.readUInt16LE(18), TARGETS[z.arch].elfMachine, `e_machine of ${z.arch}`);
  }
});

async function readEntry(zip: string, path: string): Promise<Buffer> {
  let out: Buffer | undefined;
  await forEachEntry(zip, async (e, read) => {
    if (e.path === path) out = await read();
  });
  if (!out) throw new Error(`${path} not in ${zip}`);
  return out;
}

/** Runs a recipe script as the nucleus does: Java `sh -c`, nucleus lite a `#!/bin/sh` file given to /bin/sh. */
async function runScript(nucleus: IpcMode, script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  let child: ChildProcess;
  if (nucleus === 'java') {
    child = spawn('sh', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  } else {
    // recipe-runner/src/runner.c, runner: "#!/bin/sh\n", the step's script, then fexecve(/bin/sh).
    const file = join(cwd, '.phase-script');
    await writeFile(file, `#!/bin/sh\n${script}`);
    child = spawn('/bin/sh', [file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

for (const nucleus of ['java', 'lite'] as IpcMode[]) {
  test(`${nucleus}: the recipe's run script, from the unpacked zip, verifies a simulated core and publishes VERIFIED`, { ...T, skip: here ? false : `no package for ${process.arch}` }, async (t: TestContext) => {
    const arch = here!;
    const dir = join(scratch, `run-${nucleus}`);
    const ggRoot = join(dir, 'greengrass', 'v2');
    const core = await makeCore({ root: join(dir, 'core') });
    const thing = `PkgCore${nucleus}`;
    const name = recipe.ComponentName as string;
    const version = recipe.ComponentVersion as string;
    // Where the nucleus unpacks X.zip: {artifacts:decompressedPath}/X/ (lite writes every file 0755).
    const decompressed = join(ggRoot, 'packages', 'artifacts-unarchived', name, version);
    const zip = built.zips.find((z) => z.arch === arch)!;
    await unzipTo(zip.file, join(decompressed, zipName(arch)), nucleus === 'lite' ? 0o755 : undefined);
    const work = join(ggRoot, 'work', name);
    await mkdir(work, { recursive: true });

    const dc = structuredClone(recipe.ComponentConfiguration.DefaultConfiguration);
    // What a deployment merges: the core to watch, and no hashing cap so the test runs fast.
    const server = await startIpcServer({ authToken: 'svcuid-pkg-1', componentName: name, mode: nucleus, configuration: { ...dc, root: core.root, hashRateLimitMBps: 0 } });
    const stopFlow = keepFlowRunning(join(core.root, core.paths.thingsGraphLog), core.ids.flowName);
    const manifest = recipe.Manifests.find((m: any) => m.Platform.architecture === TARGETS[arch].greengrassArch);
    const script = substituteVariables(manifest.Lifecycle.run.Script, nucleus, { rootPath: ggRoot, componentName: name, componentVersion: version, thingName: thing });
    const env: NodeJS.ProcessEnv = {
      PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
      AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: server.socketPath,
      SVCUID: 'svcuid-pkg-1',
      AWS_IOT_THING_NAME: thing,
      AWS_REGION: 'us-east-1',
    };
    const output: string[] = [];
    const t0 = performance.now();
    const child = await runScript(nucleus, script, work, env);
    onLines(child.stdout!, (l) => output.push(l));
    onLines(child.stderr!, (l) => output.push(l));
    t.after(async () => {
      stopFlow();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await server.close();
    });
    const base = `deploy-witness/${thing}`;
    const reports = () => server.publishes.filter((p) => p.topicName === `${base}/report`).map((p) => JSON.parse(p.payload.toString('utf8')) as Report);
    await server.waitFor(() => reports().length > 0, WAIT).catch((err: Error) => {
      throw new Error(`${err.message}\n${output.join('\n')}`);
    });
    t.diagnostic(`${nucleus}: run script start to first report ${(performance.now() - t0).toFixed(0)} ms`);
    await server.waitFor(() => server.activeSubscriptions().includes(`${base}/expected`), WAIT);
    server.deliver(`${base}/expected`, JSON.stringify(core.envelope));
    await server.waitFor(() => reports().some((r) => r.requestId === 'req-0001' && r.status === 'VERIFIED'), WAIT).catch((err: Error) => {
      throw new Error(`${err.message}\n${JSON.stringify(reports().map((r) => [r.status, r.findings.map((f) => f.code)]))}\n${output.join('\n')}`);
    });
    assert.deepEqual(server.unauthorized, [], 'the recipe\'s accessControl allowed every topic the agent used');
    assert.ok(server.states.includes('RUNNING'));
    // `exec` all the way down: the process the nucleus started is node itself, and stops on SIGTERM.
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output.join('\n'));
  });
}

test('the launcher: a clear message and exit 2 when node is missing, too old, or has no aws-crt binary here', { ...T, skip: here ? false : `no package for ${process.arch}` }, async () => {
  const arch = here!;
  const other: Arch = arch === 'x64' ? 'arm64' : 'x64';
  const dirs: Record<string, string> = {};
  for (const a of [arch, other]) {
    dirs[a] = join(scratch, `launch-${a}`);
    await unzipTo(built.zips.find((z) => z.arch === a)!.file, dirs[a]!);
  }
  const launcher = join(dirs[arch]!, 'bin', 'deploy-witness');
  const noNode = spawnSync('/bin/sh', [launcher, 'run'], { env: { PATH: '/nonexistent' }, encoding: 'utf8' });
  assert.equal(noNode.status, 2);
  assert.match(noNode.stderr, /Node\.js \(node\) is not on the PATH \(\/nonexistent\)\. Install Node\.js 20\.19 or newer/);

  const node = process.execPath;
  const asIf = (preflight: string, patch: string, args: string[]) =>
    spawnSync(node, ['-e', `${patch}; process.argv.splice(1, 0, ${JSON.stringify(preflight)}); require(${JSON.stringify(preflight)})`, ...args], { encoding: 'utf8' });
  const old = asIf(join(dirs[arch]!, 'bin', 'preflight.cjs'), "Object.defineProperty(process.versions, 'node', { value: '20.18.3' })", ['verify', '--help']);
  assert.equal(old.status, 2, old.stderr);
  assert.match(old.stderr, /Node\.js 20\.19 or newer is needed; .* is 20\.18\.3/);

  const armhf = asIf(join(dirs[arch]!, 'bin', 'preflight.cjs'), "Object.defineProperty(process, 'arch', { value: 'arm' })", ['run']);
  assert.equal(armhf.status, 2, armhf.stderr);
  assert.match(armhf.stderr, /cannot run on linux-arm-glibc: this is 32-bit ARM, for which aws-crt .* ships no binary: use a 64-bit OS/);

  const wrong = spawnSync('/bin/sh', [join(dirs[other]!, 'bin', 'deploy-witness'), 'run'], { env: { PATH: dirname(node) }, encoding: 'utf8' });
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, new RegExp(`cannot run on linux-${arch}-glibc: this package carries the aws-crt binary for linux-${other}-glibc only`));

  // verify needs no MQTT client: it runs from the other architecture's package too.
  const v = spawnSync('/bin/sh', [join(dirs[other]!, 'bin', 'deploy-witness'), '--version'], { env: { PATH: dirname(node) }, encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout.trim(), recipe.ComponentVersion);
});
