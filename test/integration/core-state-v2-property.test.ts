// The incremental road must lead where the full one does, on a Greengrass v2
// root too. Seeded sequences of what happens to one (artifact edits, files
// added and removed, unarchived files changed, a zip artifact replaced, a new
// deployment landing, an ongoing link appearing and going, a recipe cut short
// or a new component version stored, log appends and rotations, config.tlog
// changes, a component folder moved aside, a FIFO) are applied to real files;
// after each step the core that was only told the changed paths (as the
// watcher would) is judged, and so is a fresh full pass over the same files,
// against the same expectation and an equal baseline, at the same injected
// clock. The two reports must be equal but for sequence, generatedAt, checks
// and the hashed-byte counts.
//
// Reproducible: sequence i uses seed V2_PROPERTY_SEED + i; a failure names
// its seed and steps. Rerun one alone with
//   V2_PROPERTY_SEED=<seed> V2_PROPERTY_SEQUENCES=1 node --test dist/test/integration/core-state-v2-property.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { applyConfig, defaultConfig, type Config } from '../../src/config/config.js';
import { Core } from '../../src/core-state/core.js';
import { silentLogger } from '../../src/log.js';
import { javaRecipeFileName } from '../../src/model/greengrass-v2.js';
import { createHasher, type Hasher } from '../../src/observe/hash.js';
import type { AnyExpectation } from '../../src/verify/expectations.js';
import { parseGreengrassV2Expectation } from '../../src/verify/greengrass-v2-expectation.js';
import type { AnyReport } from '../../src/verify/report.js';
import { deploymentMetadata, makeV2Core, recipeDoc, type MadeV2Core } from '../../scripts/simulated-v2-root.js';
import { buildZip } from '../../scripts/zip-writer.js';
import { prng as rng } from '../lib/seeded.js';
import { comparable, exists, filesUnder, pickWeighted } from '../lib/property-steps.js';

const SEQUENCES = Number(process.env.V2_PROPERTY_SEQUENCES ?? 40);
const SEED = Number(process.env.V2_PROPERTY_SEED ?? 20_261_201);
const STEPS = Number(process.env.V2_PROPERTY_STEPS ?? 8);
const PARALLEL = Number(process.env.V2_PROPERTY_PARALLEL ?? 2);
const BASE = Date.parse('2026-12-01T10:00:00.000Z');
const PLATFORM = { os: 'linux', architecture: 'aarch64' };
const V2 = 'greengrass/v2';
const DEPLOYMENTS = `${V2}/deployments`;
const SENSOR = 'com.example.Sensor';
const WEBAPP = 'com.example.WebApp';


interface World {
  root: string;
  aside: string;
  core: MadeV2Core;
  random: () => number;
  t: number;
  pick<T>(xs: readonly T[]): T;
  originals: Map<string, Buffer>;
  /** Deployment IDs this sequence may land. */
  deployments: string[];
  seedTag: string;
}

const abs = (w: World, rel: string) => join(w.root, rel);

const artifacts = (w: World, name: string) => w.core.paths.artifacts(name, w.core.components.find((c) => c.name === name)!.version);
const unarchived = (w: World) => `${w.core.paths.unarchived(WEBAPP, '2.0.1')}/webapp`;

function logLine(w: World, event: string, ctx: Record<string, string>): string {
  const kv = Object.entries(ctx).map(([k, v]) => `${k}=${v}`).join(', ');
  return `${new Date(w.t).toISOString()} [INFO] (main) com.aws.greengrass.lifecyclemanager.GenericExternalService: ${event}. {${kv}}\n`;
}

/** Points a deployment link at a folder, as the nucleus writes it (absolute, as the device sees it). */
async function link(w: World, name: string, folder: string): Promise<void> {
  await rm(abs(w, `${DEPLOYMENTS}/${name}`), { force: true });
  await symlink(`/${DEPLOYMENTS}/${folder}`, abs(w, `${DEPLOYMENTS}/${name}`));
}

async function writeRecord(w: World, id: string, failed = false): Promise<string> {
  const versions = w.core.components.filter((c) => c.root).map((c) => ({ name: c.name, version: c.version }));
  const meta = deploymentMetadata({ ids: w.core.ids, deploymentId: id, packages: versions, timestamp: w.t - 1000, ...(failed ? { errorStack: ['DEPLOYMENT_FAILURE'] } : {}) });
  const rel = `${DEPLOYMENTS}/${id}/deployment_metadata.json`;
  await mkdir(dirname(abs(w, rel)), { recursive: true });
  await writeFile(abs(w, rel), JSON.stringify(meta));
  return rel;
}

type Op = { name: string; weight: number; run: (w: World) => Promise<string[]> };

/** Each op changes the root and returns the root-relative paths a watcher would report (the least of them). */
const OPS: Op[] = [
  {
    name: 'edit an artifact, or put it back',
    weight: 6,
    run: async (w) => {
      const files = [...(await filesUnder(w.root, artifacts(w, SENSOR))), ...(await filesUnder(w.root, artifacts(w, WEBAPP)))].filter((f) => !f.endsWith('.zip'));
      if (files.length === 0) return [];
      const f = w.pick(files);
      const original = w.originals.get(f);
      await writeFile(abs(w, f), original && w.random() < 0.5 ? original : `changed ${w.t} ${w.random()}\n`);
      return [f];
    },
  },
  {
    name: 'a file added to an artifact folder, or taken away',
    weight: 3,
    run: async (w) => {
      const f = `${artifacts(w, SENSOR)}/extra-${Math.floor(w.random() * 2)}.py`;
      if (!(await exists(dirname(abs(w, f))))) return [];
      if (await exists(abs(w, f))) await unlink(abs(w, f));
      else await writeFile(abs(w, f), `print(${w.t})\n`);
      return [f];
    },
  },
  {
    name: 'edit, delete or add an unarchived file',
    weight: 5,
    run: async (w) => {
      const dir = unarchived(w);
      if (!(await exists(abs(w, dir)))) return [];
      const files = await filesUnder(w.root, dir);
      const r = w.random();
      if (r < 0.4 && files.length > 0) {
        const f = w.pick(files);
        const original = w.originals.get(f);
        await writeFile(abs(w, f), original && w.random() < 0.5 ? original : `edited ${w.t}\n`);
        return [f];
      }
      if (r < 0.7 && files.length > 0) {
        const f = w.pick(files);
        await unlink(abs(w, f));
        return [f];
      }
      const sub = w.pick(['', '/lib', '/new']);
      const fresh = sub === '/new' && !(await exists(abs(w, `${dir}${sub}`)));
      await mkdir(abs(w, `${dir}${sub}`), { recursive: true });
      const f = `${dir}${sub}/added-${Math.floor(w.random() * 3)}.js`;
      await writeFile(abs(w, f), `added ${w.t}\n`);
      return fresh ? [`${dir}${sub}`, f] : [f];
    },
  },
  {
    name: 'put a missing unarchived file back',
    weight: 2,
    run: async (w) => {
      const missing = [];
      for (const [p] of w.originals) if (p.startsWith(unarchived(w)) && !(await exists(abs(w, p)))) missing.push(p);
      if (missing.length === 0) return [];
      const f = w.pick(missing.sort());
      await mkdir(dirname(abs(w, f)), { recursive: true });
      await writeFile(abs(w, f), w.originals.get(f)!);
      return [f];
    },
  },
  {
    name: 'replace the zip artifact (another archive, a cut one, or the original)',
    weight: 3,
    run: async (w) => {
      const z = `${artifacts(w, WEBAPP)}/webapp.zip`;
      if (!(await exists(dirname(abs(w, z))))) return [];
      const r = w.random();
      const original = w.originals.get(z)!;
      if (r < 0.3) await writeFile(abs(w, z), buildZip([{ name: 'index.js', data: `console.log(${w.t});\n` }]));
      else if (r < 0.5) await truncate(abs(w, z), Math.floor(original.length / 2));
      else await writeFile(abs(w, z), original);
      return [z];
    },
  },
  {
    name: 'a new deployment lands (or fails)',
    weight: 3,
    run: async (w) => {
      const id = w.pick(w.deployments);
      const failed = w.random() < 0.25;
      const meta = await writeRecord(w, id, failed);
      const paths = [dirname(meta), meta];
      // persistLastSuccessfulDeployment / persistLastFailedDeployment: both links go, one comes, ongoing goes.
      for (const l of ['previous-success', 'previous-failure', 'ongoing']) {
        if (await exists(abs(w, `${DEPLOYMENTS}/${l}`)).catch(() => false)) paths.push(`${DEPLOYMENTS}/${l}`);
        await rm(abs(w, `${DEPLOYMENTS}/${l}`), { force: true });
      }
      await link(w, failed ? 'previous-failure' : 'previous-success', id);
      paths.push(`${DEPLOYMENTS}/${failed ? 'previous-failure' : 'previous-success'}`);
      return [...new Set(paths)];
    },
  },
  {
    name: 'an ongoing deployment appears, or goes',
    weight: 3,
    run: async (w) => {
      const ongoing = `${DEPLOYMENTS}/ongoing`;
      const there = await readdir(abs(w, DEPLOYMENTS)).then((n) => n.includes('ongoing'), () => false);
      if (there) {
        await unlink(abs(w, ongoing));
        return [ongoing];
      }
      const id = w.pick(w.deployments);
      const meta = await writeRecord(w, id);
      await link(w, 'ongoing', id);
      return [dirname(meta), meta, ongoing];
    },
  },
  {
    name: 'a link pointed outside deployments/, or back',
    weight: 1,
    run: async (w) => {
      const p = `${DEPLOYMENTS}/previous-success`;
      const there = await readdir(abs(w, DEPLOYMENTS)).then((n) => n.includes('previous-success'), () => false);
      if (!there) return [];
      await rm(abs(w, p), { force: true });
      if (w.random() < 0.5) await symlink('/etc', abs(w, p));
      else await symlink(`/${DEPLOYMENTS}/${w.core.ids.deploymentId}`, abs(w, p));
      return [p];
    },
  },
  {
    name: 'a recipe cut short, or put back',
    weight: 2,
    run: async (w) => {
      const r = w.core.paths.recipe(SENSOR, '1.2.0');
      const original = w.originals.get(r)!;
      const now = await readFile(abs(w, r)).catch(() => null);
      await writeFile(abs(w, r), now && now.equals(original) ? original.subarray(0, 40) : original);
      return [r];
    },
  },
  {
    name: 'a new component version stored, or removed',
    weight: 2,
    run: async (w) => {
      const spec = { name: SENSOR, version: '1.3.0', root: true, files: [{ name: 'sensor.py', data: Buffer.from(`# 1.3.0 ${w.seedTag}\n`) }], zips: [] };
      const recipe = `${V2}/packages/recipes/${javaRecipeFileName(spec.name, spec.version)}`;
      const art = w.core.paths.artifacts(spec.name, spec.version);
      if (await exists(abs(w, recipe))) {
        await unlink(abs(w, recipe));
        await rm(abs(w, art), { recursive: true, force: true });
        return [recipe, art];
      }
      await writeFile(abs(w, recipe), stringify(recipeDoc(spec, new Map())));
      await mkdir(abs(w, art), { recursive: true });
      await writeFile(abs(w, `${art}/sensor.py`), spec.files[0]!.data);
      return [recipe, art];
    },
  },
  {
    name: 'move a component version folder aside, or back',
    weight: 2,
    run: async (w) => {
      const unit = w.pick([artifacts(w, SENSOR), w.core.paths.unarchived(WEBAPP, '2.0.1')]);
      const away = join(w.aside, Buffer.from(unit).toString('hex').slice(-40));
      if (await exists(abs(w, unit))) {
        if (await exists(away)) await rm(away, { recursive: true, force: true });
        await rename(abs(w, unit), away);
      } else if (await exists(away)) {
        await mkdir(dirname(abs(w, unit)), { recursive: true });
        await rename(away, abs(w, unit));
      } else return [];
      return [unit];
    },
  },
  {
    name: 'component states in the nucleus log (a start, errors, recovery)',
    weight: 4,
    run: async (w) => {
      const f = w.core.paths.log;
      const r = w.random();
      const text = r < 0.15
        ? `${new Date(w.t).toISOString()} [INFO] (main) com.aws.greengrass.lifecyclemanager.KernelLifecycle: system-start. {main=main}\n`
        : logLine(w, 'service-set-state', { serviceName: w.pick([SENSOR, WEBAPP]), currentState: 'RUNNING', newState: w.pick(['ERRORED', 'BROKEN', 'RUNNING', 'RUNNING']) });
      await appendFile(abs(w, f), text);
      await utimes(abs(w, f), w.t / 1000, w.t / 1000);
      return [f];
    },
  },
  {
    name: 'rotate the nucleus log',
    weight: 1,
    run: async (w) => {
      const f = w.core.paths.log;
      const rotated = `${V2}/logs/greengrass_2026_12_01_10_${Math.floor(w.random() * 1000)}.log`;
      if (!(await exists(abs(w, f))) || (await exists(abs(w, rotated)))) return [];
      await rename(abs(w, f), abs(w, rotated));
      await writeFile(abs(w, f), logLine(w, 'service-set-state', { serviceName: SENSOR, currentState: 'STARTING', newState: 'RUNNING' }));
      await utimes(abs(w, f), w.t / 1000, w.t / 1000);
      return [rotated, f];
    },
  },
  {
    name: 'config.tlog: a version changes, or back',
    weight: 3,
    run: async (w) => {
      const f = w.core.paths.tlog;
      const v = w.pick(['1.2.0', '1.2.0', '1.1.9']);
      await appendFile(abs(w, f), `${JSON.stringify({ TS: w.t, TP: ['services', SENSOR, 'version'], W: 'changed', V: v })}\n`);
      return [f];
    },
  },
  {
    name: 'a FIFO in an artifact folder, or gone again',
    weight: 1,
    run: async (w) => {
      const dir = artifacts(w, SENSOR);
      if (!(await exists(abs(w, dir)))) return [];
      const p = `${dir}/pipe`;
      const there = await readdir(abs(w, dir)).then((n) => n.includes('pipe'));
      if (there) await unlink(abs(w, p));
      else execFileSync('mkfifo', [abs(w, p)]);
      return [p];
    },
  },
  {
    name: 'something the agent does not read (work/) changes',
    weight: 1,
    run: async (w) => {
      const f = `${V2}/work/${SENSOR}/state-${Math.floor(w.random() * 2)}`;
      await mkdir(dirname(abs(w, f)), { recursive: true });
      await writeFile(abs(w, f), `${w.t}\n`);
      return [f];
    },
  },
];

interface Shared {
  template: string;
  core: MadeV2Core;
  hasher: Hasher;
}

async function report(core: Core): Promise<AnyReport> {
  return (await core.judge('greengrass-v2', { watcher: 'property' })).report({ sequence: null, requestId: null });
}

async function freshReport(shared: Shared, config: Config, stateDir: string, expectation: AnyExpectation | null, now: () => Date): Promise<AnyReport> {
  const core = new Core({ config: { ...config, stateDir }, hasher: shared.hasher, agentVersion: 'property', expectations: expectation ? [expectation] : [], now, platform: PLATFORM });
  await core.fullPass('full');
  return report(core);
}

function expectationOf(doc: unknown): AnyExpectation {
  const r = parseGreengrassV2Expectation(JSON.stringify(doc));
  if (!r.ok) throw new Error(r.error);
  return r.expectation;
}

async function runSequence(shared: Shared, seed: number, steps: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-v2-property-'));
  const log: string[] = [];
  try {
    const root = join(dir, 'root');
    await cp(shared.template, root, { recursive: true, verbatimSymlinks: true });
    const aside = join(dir, 'aside');
    await mkdir(aside);
    const random = rng(seed);
    const originals = new Map<string, Buffer>();
    const w: World = {
      root, aside, core: shared.core, random, t: BASE, originals,
      pick: <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!,
      deployments: [shared.core.ids.deploymentId, '5a1d7e4c-0c1b-4e0e-9d0a-2b7c1f3e9a01', '9f86d081-884c-4d63-8e5e-5f2a3b6c7d80'],
      seedTag: String(seed),
    };
    for (const p of [
      ...(await filesUnder(w.root, artifacts(w, SENSOR))), ...(await filesUnder(w.root, artifacts(w, WEBAPP))), ...(await filesUnder(w.root, unarchived(w))),
      w.core.paths.recipe(SENSOR, '1.2.0'),
    ]) originals.set(p, await readFile(abs(w, p)));
    const stateDir = join(dir, 'state');
    const config = applyConfig(defaultConfig({}), { root, stateDir, hashRateLimitMBps: 0, coreLayout: 'greengrass-v2' }, 'property');
    const expectation = w.pick([null, expectationOf(shared.core.envelope), expectationOf(shared.core.effectiveDeployments)]);
    const now = () => new Date(w.t);
    const inc = new Core({ config, hasher: shared.hasher, agentVersion: 'property', expectations: expectation ? [expectation] : [], now, platform: PLATFORM, logger: silentLogger() });
    const freshState = join(dir, 'fresh-state');
    for (let step = 0; step <= steps; step++) {
      if (step === 0) await inc.fullPass('start');
      else {
        w.t += 10_000 + Math.floor(w.random() * 110_000);
        if (w.random() < 0.08) {
          log.push('rescan (as scheduled)');
          await inc.fullPass('rescan');
        } else {
          const op = pickWeighted(OPS, w.random);
          const paths = await op.run(w);
          log.push(`${op.name}: ${paths.join(', ') || '(nothing to do)'}`);
          await inc.applyBatch(new Set(paths.map((p) => join(w.root, p))));
        }
      }
      const got = await report(inc);
      const want = await freshReport(shared, config, freshState, expectation, now);
      assert.deepEqual(
        comparable(got),
        comparable(want),
        `seed ${seed}, after step ${step}: the incremental state differs from a fresh full pass\n  ${log.map((l, i) => `${i + 1}. ${l}`).join('\n  ')}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test(`v2 incremental = full pass: ${SEQUENCES} seeded sequences of ${STEPS} steps (seeds ${SEED}..${SEED + SEQUENCES - 1})`, { timeout: 600_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-v2-property-template-'));
  const hasher = createHasher({ concurrency: 1, rateLimitMBps: 0 });
  try {
    const template = join(dir, 'root');
    const core = await makeV2Core({ root: template, now: new Date(BASE) });
    await utimes(join(template, core.paths.log), BASE / 1000, BASE / 1000);
    const shared: Shared = { template, core, hasher };
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < SEQUENCES; i = next++) await runSequence(shared, SEED + i, STEPS);
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, SEQUENCES) }, lane));
  } finally {
    await hasher.close();
    await rm(dir, { recursive: true, force: true });
  }
});

