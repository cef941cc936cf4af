// CLI: write a simulated Greengrass v1 core after a Things Graph deployment.
import { lstat, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CADENCE_SECONDS, keepFlowRunning, makeCore, VARIANTS, type Variant } from './simulated-core.js';

/** Written into every core make-core makes: only such a folder (or an empty one) is written over. */
const MARKER = '.deploy-witness-simulated-core';

const HELP = `Usage: make-core --root DIR [--variant NAME] [--live] [--cadence S] [--force]
                 [--lambda-files N] [--engine-files N] [--no-timestamps]

Writes a simulated Greengrass v1 core root after a Things Graph deployment,
plus DIR/expectation.json (what deploy-system-instance prints) and
DIR/envelope.json (the same with archive digests and a request ID).

DIR must be empty, missing, or a core make-core wrote before (it holds
${MARKER}; it is then cleared first). --force writes into any
other folder, over what is there: never point it at a real core's root.

The simulated flow log is written once: like a real core whose flow stopped,
the core turns FAILED (FLOW_NOT_RUNNING) about a minute later. --live stays in
the foreground and appends a flow execution at the cadence the log's trigger
says, so the core stays healthy until you stop it (Ctrl-C).

Options:
  --root DIR         where to write the core
  --variant NAME     which fault to simulate (default healthy)
  --live             keep the flow running until stopped
  --cadence S        the flow's trigger period in seconds (default ${DEFAULT_CADENCE_SECONDS})
  --force            write into a folder that is not empty and not make-core's
  --lambda-files N   files in the connector's Lambda folder (default 4)
  --engine-files N   files in thingsgraph/engine/models (default 3)
  --no-timestamps    log lines without timestamps

Variants:
${Object.entries(VARIANTS).map(([k, v]) => `  ${k.padEnd(18)} ${v}`).join('\n')}

Exit status: 0 written (and, with --live, stopped cleanly), 2 bad options or a folder refused.
`;

class Refused extends Error {}

/** Refuses a folder that is not ours to write; clears one make-core wrote before. */
async function prepare(root: string, force: boolean): Promise<void> {
  let names: string[];
  try {
    if (!(await lstat(root)).isDirectory()) throw new Refused(`${root} is not a folder`);
    names = await readdir(root);
  } catch (err) {
    if (err instanceof Refused) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Refused(`cannot use ${root}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (names.length === 0) return;
  if (names.includes(MARKER) && (await lstat(join(root, MARKER))).isFile()) {
    // Ours: cleared, so that a variant written over another leaves nothing of it behind.
    for (const n of names) await rm(join(root, n), { recursive: true, force: true });
    return;
  }
  if (force) return;
  throw new Refused(
    `${root} is not empty and was not made by make-core (no ${MARKER}): refusing to write a simulated core over it ` +
      '(on a real core that would overwrite its group.json); use an empty folder, or --force',
  );
}

function count(v: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new Refused(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        root: { type: 'string' },
        variant: { type: 'string', default: 'healthy' },
        live: { type: 'boolean', default: false },
        cadence: { type: 'string' },
        force: { type: 'boolean', default: false },
        'lambda-files': { type: 'string' },
        'engine-files': { type: 'string' },
        'no-timestamps': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`make-core: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!args.root) {
    process.stderr.write(`make-core: --root is required\n\n${HELP}`);
    return 2;
  }
  if (!(args.variant! in VARIANTS)) {
    process.stderr.write(`make-core: unknown variant ${args.variant}; one of ${Object.keys(VARIANTS).join(', ')}\n`);
    return 2;
  }
  const variant = args.variant as Variant;
  if (args.live && variant === 'not-registered') {
    process.stderr.write('make-core: --live runs a flow, and the not-registered variant has none\n');
    return 2;
  }
  const root = resolve(args.root);
  let sizes;
  try {
    sizes = {
      lambdaFiles: count(args['lambda-files'], '--lambda-files', 0, 1_000_000),
      engineFiles: count(args['engine-files'], '--engine-files', 0, 1_000_000),
      cadenceSeconds: count(args.cadence, '--cadence', 1, 86_400),
    };
    await prepare(root, args.force === true);
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    process.stderr.write(`make-core: ${err.message}\n`);
    return 2;
  }
  const core = await makeCore({
    root,
    variant,
    ...(sizes.lambdaFiles !== undefined ? { lambdaFiles: sizes.lambdaFiles } : {}),
    ...(sizes.engineFiles !== undefined ? { engineFiles: sizes.engineFiles } : {}),
    ...(sizes.cadenceSeconds !== undefined ? { cadenceSeconds: sizes.cadenceSeconds } : {}),
    timestamps: !args['no-timestamps'],
  });
  await writeFile(join(root, MARKER), `${JSON.stringify({ madeBy: 'deploy-witness make-core', variant, at: new Date().toISOString() })}\n`);
  await writeFile(join(root, 'expectation.json'), JSON.stringify(core.expectation, null, 2) + '\n');
  await writeFile(join(root, 'envelope.json'), JSON.stringify(core.envelope, null, 2) + '\n');
  process.stdout.write(`simulated core (${variant}) written to ${root}\n`);
  if (!args.live) {
    process.stdout.write('its flow log does not grow: verify says FLOW_NOT_RUNNING in about a minute (--live keeps the flow running)\n');
    return 0;
  }
  const flow = await keepFlowRunning(core, {
    onError: (err) => process.stderr.write(`make-core: cannot append to the flow log: ${err.message}\n`),
  });
  process.stdout.write(`flow running: an execution every ${flow.cadenceMs / 1000} s appended to ${join(root, core.paths.thingsGraphLog)} until stopped (Ctrl-C)\n`);
  await new Promise<void>((done) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => done());
  });
  await flow.stop();
  process.stdout.write(`flow stopped after ${flow.appended} executions\n`);
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`make-core: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
