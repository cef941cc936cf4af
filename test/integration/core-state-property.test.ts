// The incremental road must lead where the full one does. Random sequences of
// what happens to a core (writes, renames, deletions, folders swapped, log
// appends and rotations, new regions, new group versions, a corrupt
// group.json, a FIFO) are applied to real files; after each step the core
// state that was only told the changed paths (as the watcher would) is
// judged, and so is a fresh full pass over the same files, against the same
// expectation and an equal baseline, at the same injected clock. The two reports must
// be equal but for sequence, generatedAt, checks and the hashed-byte counts.
//
// Seeded and reproducible: sequence i uses seed PROPERTY_SEED + i. A failure
// names its seed and steps; rerun it alone with
//   PROPERTY_SEED=<seed> PROPERTY_SEQUENCES=1 node --test dist/test/integration/core-state-property.test.js
// A few sequences run through the real watcher as well (its batches, not the
// test's): the paths it reports must be enough.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Watcher } from '../../src/agent/watcher.js';
import { applyConfig, defaultConfig, type Config } from '../../src/config/config.js';
import { CoreState } from '../../src/core-state/core-state.js';
import { assessFlow } from '../../src/health/flow.js';
import type { HealthProvider } from '../../src/health/provider.js';
import { silentLogger } from '../../src/log.js';
import { createHasher, type Hasher } from '../../src/observe/hash.js';
import type { Expectation } from '../../src/verify/expectation.js';
import type { Report } from '../../src/verify/report.js';
import { makeCore, type MadeCore } from '../../scripts/simulated-core.js';
import { expectationOf } from '../lib/core.js';
import { prng as rng } from '../lib/seeded.js';
import { comparable, exists, filesUnder, pickWeighted } from '../lib/property-steps.js';

const SEQUENCES = Number(process.env.PROPERTY_SEQUENCES ?? 200);
const SEED = Number(process.env.PROPERTY_SEED ?? 20_261_124);
const STEPS = Number(process.env.PROPERTY_STEPS ?? 8);
/** Sequences run side by side: most of a pass is waiting for the file system. */
const PARALLEL = Number(process.env.PROPERTY_PARALLEL ?? 2);
const WATCHER_SEQUENCES = Number(process.env.PROPERTY_WATCHER_SEQUENCES ?? 3);
const BASE = Date.parse('2026-11-24T10:00:00.000Z');


interface World {
  root: string;
  /** Outside the root: where folders are moved aside. */
  aside: string;
  core: MadeCore;
  random: () => number;
  /** The logical clock, ms: the core state's `now`, and the mtime given to every log written. */
  t: number;
  pick<T>(xs: readonly T[]): T;
  /** Original contents, to put back. */
  originals: Map<string, Buffer>;
  /** Group versions this sequence may land. */
  versions: string[];
}

const TG_REGIONS = ['us-east-1', 'eu-west-1', 'ap-south-1'];
const tgDir = (region: string) => `greengrass/ggc/var/log/user/${region}/ThingsGraph`;
const RUNTIME_DIR = 'greengrass/ggc/var/log/system';

const abs = (w: World, rel: string) => join(w.root, rel);

const stamp = (w: World, offsetMs = 0) => `[${new Date(w.t - offsetMs).toISOString()}]`;

function tgLines(w: World): string {
  const urn = w.core.ids.systemInstanceId;
  const other = 'urn:tdm:us-east-1/123456789012/default:deployment:Other_V007';
  const choices = [
    () => `${stamp(w, 5000)}[INFO]-bootstrapping DB\n${stamp(w, 4000)}[INFO]-bootstrapping DB done\n`,
    () => `${stamp(w, 3000)}[INFO]-FlowsBootstrap: registered SDC: ${urn}\n`,
    () => `${stamp(w, 3000)}[INFO]-FlowsBootstrap: registered SDC: ${other}\n`,
    () => `${stamp(w, 2000)}[INFO]-Initialized ThingsGraph Runtime v1.2.${Math.floor(w.random() * 9)}\n`,
    () =>
      `${stamp(w, 1000)}[INFO]-FlowSchedulerClientGreengrassImpl: StartFlowExecution:\n` +
      `${stamp(w, 1000)}[INFO]-flowInstanceId: tick-${w.t}\n${stamp(w, 1000)}[INFO]-flowType: urn:tdm:us-east-1/123456789012/default:workflow:MyExample01\n`,
    () => `${stamp(w, 500)}[ERROR]-StateTransition: step CameraCapture failed\n`,
    () => `${stamp(w, 500)}[INFO]-an unfinished li`, // no newline: not a line yet
    () => '\n',
  ];
  let out = '';
  for (let i = 0, n = 1 + Math.floor(w.random() * 3); i < n; i++) out += w.pick(choices)();
  return out;
}

function runtimeLines(w: World): string {
  const id = `dep-${Math.floor(w.random() * 3)}`;
  return w.pick([
    () => `${stamp(w)}[INFO]-Start deployment. {"deploymentId": "${id}"}\n`,
    () => `${stamp(w)}[INFO]-Deployment succeeded. {"deploymentId": "${id}"}\n`,
    () => `${stamp(w)}[ERROR]-Deployment failed. {"deploymentId": "${id}", "errorString": "boom"}\n`,
    () => `${stamp(w)}[ERROR]-Deployment failed.\n`,
  ])();
}

/** Region folders with a ThingsGraph.log, and the one holding the newest mtime. */
async function regions(w: World): Promise<string[]> {
  const out: string[] = [];
  for (const r of TG_REGIONS) if (await exists(abs(w, `${tgDir(r)}/ThingsGraph.log`))) out.push(r);
  return out;
}

type Op = { name: string; weight: number; run: (w: World) => Promise<string[]> };

/** Each op changes the core and returns the root-relative paths a watcher would report (the least of them). */
const OPS: Op[] = [
  {
    name: 'write a deployed file',
    weight: 6,
    run: async (w) => {
      const files = [
        ...(await filesUnder(w.root, w.core.paths.lambdaDir)),
        ...(await filesUnder(w.root, w.core.paths.engineDir)),
        ...(await filesUnder(w.root, w.core.paths.flowFolder)),
      ];
      if (files.length === 0) return [];
      const f = w.pick(files);
      const original = w.originals.get(f);
      const data = original && w.random() < 0.5 ? original : Buffer.from(`changed ${w.t} ${w.random()}\n`);
      await writeFile(abs(w, f), data);
      return [f];
    },
  },
  {
    name: 'add a file (maybe in a new folder)',
    weight: 3,
    run: async (w) => {
      const base = w.pick([w.core.paths.lambdaDir, `${w.core.paths.lambdaDir}/lib`, w.core.paths.engineDir, w.core.paths.flowFolder]);
      if (!(await exists(abs(w, base)))) return [];
      const nested = w.random() < 0.3;
      const dir = nested ? `${base}/new-${Math.floor(w.random() * 3)}` : base;
      const f = `${dir}/added-${Math.floor(w.random() * 4)}.bin`;
      const fresh = nested && !(await exists(abs(w, dir)));
      await mkdir(abs(w, dir), { recursive: true });
      await writeFile(abs(w, f), `added ${w.t}\n`);
      return fresh ? [dir, f] : [f];
    },
  },
  {
    name: 'delete a deployed file',
    weight: 3,
    run: async (w) => {
      const files = [...(await filesUnder(w.root, w.core.paths.lambdaDir)), ...(await filesUnder(w.root, w.core.paths.engineDir))];
      if (files.length === 0) return [];
      const f = w.pick(files);
      await unlink(abs(w, f));
      return [f];
    },
  },
  {
    name: 'rename a file',
    weight: 2,
    run: async (w) => {
      const files = await filesUnder(w.root, w.core.paths.lambdaDir);
      if (files.length === 0) return [];
      const f = w.pick(files);
      const to = w.random() < 0.5 ? `${dirname(f)}/renamed-${Math.floor(w.random() * 3)}` : `${w.core.paths.engineDir}/moved-${Math.floor(w.random() * 3)}`;
      if (!(await exists(abs(w, dirname(to))))) return [];
      await rename(abs(w, f), abs(w, to));
      return [f, to];
    },
  },
  {
    name: 'rename a folder inside a unit',
    weight: 2,
    run: async (w) => {
      const a = `${w.core.paths.lambdaDir}/lib`;
      const b = `${w.core.paths.lambdaDir}/lib2`;
      const [from, to] = (await exists(abs(w, a))) ? [a, b] : [b, a];
      if (!(await exists(abs(w, from))) || (await exists(abs(w, to)))) return [];
      await rename(abs(w, from), abs(w, to));
      return [from, to];
    },
  },
  {
    name: 'move a whole unit aside, or back',
    weight: 2,
    run: async (w) => {
      const unit = w.pick([w.core.paths.lambdaDir, w.core.paths.engineDir, dirname(w.core.paths.archive)]);
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
    name: 'swap a folder for an edited copy (a unit, a folder of units, /thingsgraph)',
    weight: 2,
    run: async (w) => {
      const dep = 'greengrass/ggc/deployment';
      const folder = w.pick([w.core.paths.lambdaDir, w.core.paths.engineDir, dirname(w.core.paths.archive), `${dep}/lambda`, `${dep}/mlmodel`, 'thingsgraph']);
      if (!(await exists(abs(w, folder)))) return [];
      const copy = join(w.aside, `copy-${w.t}`);
      execFileSync('cp', ['-a', abs(w, folder), copy]); // FIFOs included, which fs.cp refuses
      const files: string[] = [];
      const walk = async (d: string) => {
        for (const e of await readdir(d, { withFileTypes: true })) {
          if (e.isDirectory()) await walk(join(d, e.name));
          else if (e.isFile()) files.push(join(d, e.name));
        }
      };
      await walk(copy);
      if (files.length > 0) {
        const f = w.pick(files.sort());
        const b = await readFile(f);
        if (b.length > 0) b[Math.floor(w.random() * b.length)]! ^= 0x01;
        await writeFile(f, b.length > 0 ? b : 'x');
      }
      await rename(abs(w, folder), join(w.aside, `old-${w.t}`));
      await rename(copy, abs(w, folder));
      return [folder];
    },
  },
  {
    name: 'a new Lambda folder, or one taken away',
    weight: 1,
    run: async (w) => {
      const dir = `greengrass/ggc/deployment/lambda/arn:aws:lambda:us-east-1:123456789012:function:Extra:${Math.floor(w.random() * 2)}`;
      if (await exists(abs(w, dir))) {
        await rm(abs(w, dir), { recursive: true });
        return [dir];
      }
      await mkdir(abs(w, dir), { recursive: true });
      await writeFile(abs(w, `${dir}/handler.py`), 'def handle(): pass\n');
      // Sometimes it carries a flow archive of its own.
      if (w.random() < 0.3) await writeFile(abs(w, `${dir}/flow-Extra.tar.gz`), w.originals.get(w.core.paths.archive)!);
      return [dir];
    },
  },
  {
    name: 'tamper with the flow archive, or put it back',
    weight: 2,
    run: async (w) => {
      const a = w.core.paths.archive;
      if (!(await exists(abs(w, dirname(a))))) return [];
      const original = w.originals.get(a)!;
      const r = w.random();
      if (r < 0.3) await truncate(abs(w, a), Math.floor(original.length / 2)).catch(() => writeFile(abs(w, a), original.subarray(0, 10)));
      else if (r < 0.5) {
        const b = Buffer.from(original);
        b[b.length - 20] = b[b.length - 20]! ^ 0xff;
        await writeFile(abs(w, a), b);
      } else await writeFile(abs(w, a), original);
      return [a];
    },
  },
  {
    name: 'a flow archive outside the deployment, or gone again',
    weight: 1,
    run: async (w) => {
      const p = 'thingsgraph/flow-Other.tar.gz';
      if (!(await exists(abs(w, 'thingsgraph')))) return [];
      if (await exists(abs(w, p))) await unlink(abs(w, p));
      else await writeFile(abs(w, p), w.originals.get(w.core.paths.archive)!);
      return [p];
    },
  },
  {
    name: 'append to ThingsGraph.log',
    weight: 6,
    run: async (w) => {
      const rs = await regions(w);
      if (rs.length === 0) return [];
      const f = `${tgDir(w.pick(rs))}/ThingsGraph.log`;
      await appendFile(abs(w, f), tgLines(w));
      await utimes(abs(w, f), w.t / 1000, w.t / 1000);
      return [f];
    },
  },
  {
    name: 'append to runtime.log',
    weight: 3,
    run: async (w) => {
      const f = `${RUNTIME_DIR}/runtime.log`;
      await appendFile(abs(w, f), runtimeLines(w));
      await utimes(abs(w, f), w.t / 1000, w.t / 1000);
      return [f];
    },
  },
  {
    name: 'rotate a log',
    weight: 2,
    run: async (w) => {
      const rs = await regions(w);
      const dir = w.random() < 0.6 && rs.length > 0 ? tgDir(w.pick(rs)) : RUNTIME_DIR;
      const name = dir === RUNTIME_DIR ? 'runtime.log' : 'ThingsGraph.log';
      const cur = `${dir}/${name}`;
      const paths = [cur, `${cur}.1`];
      if (await exists(abs(w, `${cur}.1`))) {
        await rename(abs(w, `${cur}.1`), abs(w, `${cur}.2`));
        paths.push(`${cur}.2`);
      }
      await rename(abs(w, cur), abs(w, `${cur}.1`));
      await writeFile(abs(w, cur), dir === RUNTIME_DIR ? runtimeLines(w) : tgLines(w));
      await utimes(abs(w, cur), w.t / 1000, w.t / 1000);
      return paths;
    },
  },
  {
    name: 'ThingsGraph.log in a new region (the group moved)',
    weight: 1,
    run: async (w) => {
      const free = [];
      for (const r of TG_REGIONS) if (!(await exists(abs(w, tgDir(r))))) free.push(r);
      if (free.length === 0) return [];
      const region = w.pick(free);
      const dir = tgDir(region);
      await mkdir(abs(w, dir), { recursive: true });
      const f = `${dir}/ThingsGraph.log`;
      await writeFile(abs(w, f), `${stamp(w, 9000)}[INFO]-bootstrapping DB\n${tgLines(w)}`);
      await utimes(abs(w, f), w.t / 1000, w.t / 1000);
      return [dirname(dir), dir, f];
    },
  },
  {
    name: 'a new group version lands (or an earlier one again)',
    weight: 2,
    run: async (w) => {
      const p = w.core.paths.groupJson;
      if (!(await exists(abs(w, dirname(p))))) return [];
      const gj = JSON.parse(w.originals.get(p)!.toString('utf8')) as { Arn: string; Version: string };
      const v = w.pick(w.versions);
      gj.Arn = gj.Arn.replace(w.core.ids.groupVersionId, v);
      gj.Version = v;
      // As a deployment writes it: a temporary file renamed over the old one.
      const tmp = `${p}.new`;
      await writeFile(abs(w, tmp), JSON.stringify(gj));
      await rename(abs(w, tmp), abs(w, p));
      return [tmp, p];
    },
  },
  {
    name: 'group.json cut off mid-write',
    weight: 1,
    run: async (w) => {
      const p = w.core.paths.groupJson;
      if (!(await exists(abs(w, p)))) return [];
      await truncate(abs(w, p), 40);
      return [p];
    },
  },
  {
    name: 'the Things Graph database goes, or comes back',
    weight: 1,
    run: async (w) => {
      const p = 'thingsgraph/ThingsGraph.db';
      if (!(await exists(abs(w, 'thingsgraph')))) return [];
      if (await exists(abs(w, p))) await unlink(abs(w, p));
      else await writeFile(abs(w, p), 'db');
      return [p];
    },
  },
  {
    name: 'a FIFO in a deployed folder, or gone again',
    weight: 1,
    run: async (w) => {
      const p = `${w.core.paths.lambdaDir}/pipe`;
      if (!(await exists(abs(w, w.core.paths.lambdaDir)))) return [];
      const there = await readdir(abs(w, w.core.paths.lambdaDir)).then((n) => n.includes('pipe'));
      if (there) await unlink(abs(w, p));
      else execFileSync('mkfifo', [abs(w, p)]);
      return [p];
    },
  },
];

/** Flow health only: the machine's disks and memory differ from one read to the next. */
function flowHealth(config: Config): HealthProvider {
  return {
    async evaluate(obs, now) {
      const f = assessFlow(obs.thingsGraphLog, now, { windowMinutes: config.health.flowWindowMinutes });
      return { section: f.health, findings: f.findings, ...(f.health.nextCheckAt ? { nextCheckAt: f.health.nextCheckAt } : {}) };
    },
  };
}

interface Shared {
  template: string;
  core: MadeCore;
  hasher: Hasher;
}

async function freshReport(shared: Shared, config: Config, stateDir: string, expectation: Expectation | null, now: () => Date): Promise<Report> {
  const state = new CoreState({ config: { ...config, stateDir }, hasher: shared.hasher, agentVersion: 'property', expectation, now, health: flowHealth(config) });
  await state.fullPass('full');
  return (await state.judge({ watcher: 'property' })).report({ sequence: null, requestId: null });
}

async function world(shared: Shared, seed: number, dir: string): Promise<World> {
  const root = join(dir, 'root');
  await cp(shared.template, root, { recursive: true });
  const aside = join(dir, 'aside');
  await mkdir(aside);
  const random = rng(seed);
  const originals = new Map<string, Buffer>();
  for (const p of [shared.core.paths.archive, shared.core.paths.groupJson, ...(await filesUnder(root, shared.core.paths.lambdaDir))]) {
    originals.set(p, await readFile(join(root, p)));
  }
  for (const p of [...(await filesUnder(root, shared.core.paths.engineDir)), ...(await filesUnder(root, shared.core.paths.flowFolder))]) {
    originals.set(p, await readFile(join(root, p)));
  }
  return {
    root,
    aside,
    core: shared.core,
    random,
    t: BASE,
    pick: <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!,
    originals,
    versions: [shared.core.ids.groupVersionId, '11111111-2222-4333-8444-555555555555', '66666666-7777-4888-9999-000000000000'],
  };
}

/**
 * Runs one sequence. `batches` turns an op's paths into the batches the core
 * state is given: the test's own paths, or what the real watcher reported.
 */
async function runSequence(
  shared: Shared,
  seed: number,
  steps: number,
  batches?: (w: World, paths: string[]) => Promise<{ paths: Set<string>; rewatch: boolean }[]>,
  watching?: (root: string, stateDir: string) => Promise<{ close(): Promise<void> }>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-property-'));
  let stopWatching: { close(): Promise<void> } | undefined;
  const log: string[] = [];
  try {
    const w = await world(shared, seed, dir);
    const stateDir = join(dir, 'state');
    const config = applyConfig(defaultConfig({}), { root: w.root, stateDir, hashRateLimitMBps: 0 }, 'property');
    const expectation = w.pick([null, expectationOf(shared.core.envelope), expectationOf(shared.core.expectation)]);
    const now = () => new Date(w.t);
    const inc = new CoreState({ config, hasher: shared.hasher, agentVersion: 'property', expectation, now, health: flowHealth(config), logger: silentLogger() });
    // The fresh passes keep a state folder of their own: each lays down a group
    // version's baseline from the same files at the same step and clock as the
    // incremental state does, so the two judge against the same baseline.
    const freshState = join(dir, 'fresh-state');
    for (let step = 0; step <= steps; step++) {
      if (step === 0) {
        await inc.fullPass('start');
        stopWatching = await watching?.(w.root, stateDir);
      } else {
        w.t += 10_000 + Math.floor(w.random() * 110_000);
        if (w.random() < 0.08) {
          log.push('rescan (as scheduled)');
          await inc.fullPass('rescan');
        } else {
          const op = pickWeighted(OPS, w.random);
          const paths = await op.run(w);
          log.push(`${op.name}: ${paths.join(', ') || '(nothing to do)'}`);
          const given = batches ? await batches(w, paths) : [{ paths: new Set(paths.map((p) => join(w.root, p))), rewatch: false }];
          for (const b of given) {
            await inc.applyBatch(b.paths);
            // What the agent does when a folder was renamed into place: a rescan after watching afresh.
            if (b.rewatch) await inc.fullPass('rescan');
          }
        }
      }
      const got = (await inc.judge({ watcher: 'property' })).report({ sequence: null, requestId: null });
      const want = await freshReport(shared, config, freshState, expectation, now);
      assert.deepEqual(
        comparable(got),
        comparable(want),
        `seed ${seed}, after step ${step}: the incremental state differs from a fresh full pass\n  ${log.map((l, i) => `${i + 1}. ${l}`).join('\n  ')}`,
      );
    }
  } finally {
    await stopWatching?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function shared(): Promise<Shared & { cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-property-template-'));
  const template = join(dir, 'root');
  const core = await makeCore({ root: template, lambdaFiles: 2, engineFiles: 1, now: new Date(BASE) });
  await utimes(join(template, core.paths.runtimeLog), BASE / 1000, BASE / 1000);
  const hasher = createHasher({ concurrency: 1, rateLimitMBps: 0 });
  return { template, core, hasher, cleanup: async () => { await hasher.close(); await rm(dir, { recursive: true, force: true }); } };
}

test(`incremental = full pass: ${SEQUENCES} random sequences of ${STEPS} steps (seeds ${SEED}..${SEED + SEQUENCES - 1})`, { timeout: 600_000 }, async () => {
  const s = await shared();
  try {
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < SEQUENCES; i = next++) await runSequence(s, SEED + i, STEPS);
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, SEQUENCES) }, lane));
  } finally {
    await s.cleanup();
  }
});

test(`incremental = full pass through the real watcher: ${WATCHER_SEQUENCES} sequences`, { timeout: 300_000 }, async () => {
  const s = await shared();
  // Batches as the watcher closes them; after each step, a marker written into a
  // watched log folder (not a log) says every event before it has been heard.
  let pending: { paths: Set<string>; rewatch: boolean }[] = [];
  let marker = '';
  let heard: (() => void) | null = null;
  let watcher: Watcher | null = null;
  const start = async (root: string, stateDir: string) => {
    const paths = ['greengrass/ggc/deployment', 'thingsgraph', 'greengrass/ggc/var/log/user', RUNTIME_DIR].map((p) => join(root, p));
    watcher = new Watcher({
      paths, canaryDir: stateDir, debounceMs: 30, maxWaitMs: 500, maxBatchPaths: 2000, logger: silentLogger(),
      onError: (err) => assert.fail(err),
      onBatch: (b) => {
        assert.equal(b.overflow, false);
        pending.push({ paths: new Set([...b.paths].filter((p) => !p.endsWith('.marker'))), rewatch: b.rewatch });
        if (b.paths.has(marker)) heard?.();
      },
    });
    await watcher.start();
    return { close: () => watcher!.close() };
  };
  const viaWatcher = async (w: World) => {
    marker = join(w.root, RUNTIME_DIR, `${w.t}.marker`);
    const seen = new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('the watcher never reported the marker')), 30_000);
      heard = () => {
        clearTimeout(timer);
        res();
      };
    });
    await writeFile(marker, '');
    await seen;
    const got = pending;
    pending = [];
    return got;
  };
  try {
    for (let i = 0; i < WATCHER_SEQUENCES; i++) await runSequence(s, SEED + 1_000_000 + i, 8, viaWatcher, start);
  } finally {
    await s.cleanup();
  }
});
