// The files for tools that cannot run here, checked for the shape those tools document:
// gdk-config.json for the Greengrass Development Kit, docker-compose.yml for Docker Compose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';

const read = (f: string) => readFile(join(process.cwd(), f), 'utf8');
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

test('gdk-config.json: one component, the recipe\'s name, a custom build that runs npm run package, a publish bucket', async () => {
  // GDK's documented shape: {component: {<name>: {author, version, build: {build_system,
  // custom_build_command}, publish: {bucket, region}}}, gdk_version}; `custom` needs the command.
  const gdk = JSON.parse(await read('gdk-config.json')) as Record<string, any>;
  const pkg = JSON.parse(await read('package.json')) as { version: string; scripts: Record<string, string> };
  const recipe = parse(await read('recipe.yaml')) as { ComponentName: string };
  assert.deepEqual(Object.keys(gdk).sort(), ['component', 'gdk_version']);
  assert.match(gdk.gdk_version, SEMVER);
  assert.deepEqual(Object.keys(gdk.component), [recipe.ComponentName]);
  const c = gdk.component[recipe.ComponentName];
  assert.deepEqual(Object.keys(c).sort(), ['author', 'build', 'publish', 'version']);
  assert.equal(typeof c.author, 'string');
  assert.equal(c.version, pkg.version, 'GDK looks for the artifacts under greengrass-build/artifacts/<name>/<this version>/');
  assert.equal(c.build.build_system, 'custom');
  assert.deepEqual(c.build.custom_build_command, ['npm', 'run', 'package']);
  assert.ok(pkg.scripts.package, 'the package script exists');
  assert.equal(typeof c.publish.bucket, 'string');
  assert.match(c.publish.region, /^[a-z]{2}(-[a-z]+)+-\d$/);
});

test('docker-compose.yml: the Greengrass image with Node.js, the dev tools, automatic provisioning, the core and the build mounted, the deploy', async () => {
  const compose = parse(await read('docker-compose.yml')) as Record<string, any>;
  const gg = compose.services.greengrass;
  assert.match(gg.build.dockerfile_inline, /^FROM amazon\/aws-iot-greengrass:/m);
  assert.match(gg.build.dockerfile_inline, /nodejs2[0-9]/, 'a Node.js of 20 or later');
  assert.equal(gg.init, true, 'signals reach the nucleus (the image runs under tini upstream too)');
  const env = gg.environment as Record<string, string>;
  assert.equal(env.PROVISION, 'true');
  assert.equal(env.DEPLOY_DEV_TOOLS, 'true');
  assert.equal(env.GGC_ROOT_PATH, '/greengrass/v2');
  for (const k of ['AWS_REGION', 'THING_NAME', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) assert.ok(k in env, k);
  assert.match(env.AWS_ACCESS_KEY_ID!, /^\$\{AWS_ACCESS_KEY_ID:-\}$/, 'taken from the environment, never written down');

  const volumes = Object.fromEntries((gg.volumes as string[]).map((v) => {
    const [from, to, mode] = v.split(':');
    return [to, { from, mode }];
  })) as Record<string, { from: string; mode?: string }>;
  assert.equal(volumes['/greengrass/v2']!.from, 'greengrass-root');
  assert.ok('greengrass-root' in compose.volumes);
  assert.deepEqual(volumes['/deploy-witness/greengrass-build'], { from: './greengrass-build', mode: 'ro' });
  assert.deepEqual(volumes['/deploy-witness/deploy-local.sh'], { from: './scripts/deploy-local.sh', mode: 'ro' });
  assert.ok(existsSync(join(process.cwd(), 'scripts', 'deploy-local.sh')));
  assert.deepEqual(volumes['/core'], { from: './.demo/core', mode: 'ro' });

  // The command: the image's own entrypoint, then the deploy once the CLI answers.
  assert.deepEqual(gg.entrypoint, ['/bin/sh', '-c']);
  const cmd = (gg.command as string[]).join('\n');
  assert.match(cmd, /^\/greengrass-entrypoint\.sh & nucleus=\$\$!$/m);
  assert.match(cmd, /until \/greengrass\/v2\/bin\/greengrass-cli component list/);
  const deploy = /sh \/deploy-witness\/deploy-local\.sh (.*)$/m.exec(cmd);
  assert.ok(deploy, cmd);
  assert.match(deploy[1]!, /--build \/deploy-witness\/greengrass-build /);
  assert.match(deploy[1]!, /--root \/greengrass\/v2 /);
  const update = JSON.parse(/--update-config '([^']+)'/.exec(deploy[1]!)![1]!) as Record<string, { MERGE: { root: string } }>;
  assert.deepEqual(update, { 'com.deploywitness.Agent': { MERGE: { root: '/core' } } });
  assert.match(cmd, /wait \$\$nucleus\s*$/);
  // Compose interpolates ${...} and $NAME in the file: the shell's own $ must be written $$.
  assert.deepEqual(cmd.match(/(?<!\$)\$(?!\$)[A-Za-z_{!]/g) ?? [], []);
});
