// CLI: write a simulated Greengrass v1 core after a Things Graph deployment.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeCore, VARIANTS, type Variant } from './simulated-core.js';

const HELP = `Usage: make-core --root DIR [--variant NAME] [--lambda-files N] [--engine-files N] [--no-timestamps]

Writes a simulated Greengrass v1 core root after a Things Graph deployment,
plus DIR/expectation.json (what deploy-system-instance prints) and
DIR/envelope.json (the same with archive digests and a request ID).

Variants:
${Object.entries(VARIANTS).map(([k, v]) => `  ${k.padEnd(18)} ${v}`).join('\n')}
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        root: { type: 'string' },
        variant: { type: 'string', default: 'healthy' },
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
  const root = resolve(args.root);
  const core = await makeCore({
    root,
    variant: args.variant as Variant,
    ...(args['lambda-files'] ? { lambdaFiles: Number(args['lambda-files']) } : {}),
    ...(args['engine-files'] ? { engineFiles: Number(args['engine-files']) } : {}),
    timestamps: !args['no-timestamps'],
  });
  await writeFile(join(root, 'expectation.json'), JSON.stringify(core.expectation, null, 2) + '\n');
  await writeFile(join(root, 'envelope.json'), JSON.stringify(core.envelope, null, 2) + '\n');
  process.stdout.write(`simulated core (${args.variant}) written to ${root}\n`);
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`make-core: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
