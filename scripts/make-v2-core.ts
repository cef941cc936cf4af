// CLI: write a simulated Greengrass v2 root after a deployment.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeV2Core, V2_VARIANTS, type V2Variant } from './simulated-v2-root.js';

const HELP = `Usage: make-v2-core --root DIR [--variant NAME]

Writes a simulated Greengrass v2 root under DIR (DIR/greengrass/v2, or
DIR/var/lib/greengrass for nucleus lite) after a deployment, plus
DIR/get-deployment.json (what aws greengrassv2 get-deployment prints),
DIR/envelope.json (the same with a request ID) and
DIR/effective-deployments.json (what list-effective-deployments prints).

Variants:
${Object.entries(V2_VARIANTS).map(([k, v]) => `  ${k.padEnd(20)} ${v}`).join('\n')}
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        root: { type: 'string' },
        variant: { type: 'string', default: 'healthy' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`make-v2-core: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!args.root) {
    process.stderr.write(`make-v2-core: --root is required\n\n${HELP}`);
    return 2;
  }
  if (!(args.variant! in V2_VARIANTS)) {
    process.stderr.write(`make-v2-core: unknown variant ${args.variant}; one of ${Object.keys(V2_VARIANTS).join(', ')}\n`);
    return 2;
  }
  const root = resolve(args.root);
  const core = await makeV2Core({ root, variant: args.variant as V2Variant });
  await writeFile(join(root, 'get-deployment.json'), `${JSON.stringify(core.getDeployment, null, 2)}\n`);
  await writeFile(join(root, 'envelope.json'), `${JSON.stringify(core.envelope, null, 2)}\n`);
  await writeFile(join(root, 'effective-deployments.json'), `${JSON.stringify(core.effectiveDeployments, null, 2)}\n`);
  process.stdout.write(`simulated Greengrass v2 root (${args.variant}) written to ${join(root, core.v2Root)}\n`);
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`make-v2-core: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
