// The deploy-witness command line: a thin shell over the commands.
import { ConfigError } from '../config/config.js';
import { VERSION } from '../version.js';
import { UsageError, type CommandIO } from './io.js';
import { verifyCommand } from './verify.js';

const HELP = `Usage: deploy-witness <command> [options]

Proves, on an AWS IoT Greengrass core, that a Things Graph deployment landed
and is still intact.

Commands:
  verify    check the core once and print the verdict (exit 0 when VERIFIED)
  run       keep watching and report every change (the Greengrass component)
  check     ask the cores whether a deploy call really landed (exit 0 when all confirm)

Run 'deploy-witness help <command>' (or '<command> --help') for a command's
options and exit codes; 'deploy-witness version' prints the version (${VERSION}).
`;

/** Each command's --help, loaded only when asked for. */
async function helpOf(name: string): Promise<string | undefined> {
  switch (name) {
    case 'verify':
      return (await import('./verify.js')).VERIFY_HELP;
    case 'run':
      return (await import('./run.js')).RUN_HELP;
    case 'check':
      return (await import('./check.js')).CHECK_HELP;
    default:
      return undefined;
  }
}

type Command = (argv: string[], io: CommandIO) => Promise<number>;

async function loadCommand(name: string): Promise<Command | undefined> {
  switch (name) {
    case 'verify':
      return verifyCommand;
    case 'run':
      return (await import('./run.js')).runCommand;
    case 'check':
      return (await import('./check.js')).checkCommand;
    default:
      return undefined;
  }
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // Nothing asked: the overview, on stderr, since no command ran.
    io.stderr.write(HELP);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic === undefined) {
      io.stdout.write(HELP);
      return 0;
    }
    const text = await helpOf(topic);
    if (text === undefined) {
      io.stderr.write(`deploy-witness help: no command '${topic}'; the commands are verify, run and check\n`);
      return 2;
    }
    io.stdout.write(text);
    return 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd = await loadCommand(name);
  if (!cmd) {
    io.stderr.write(`deploy-witness: unknown command '${name}'\n\n${HELP}`);
    return 2;
  }
  try {
    return await cmd(rest, io);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.stderr.write(`deploy-witness ${name}: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`deploy-witness ${name}: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 2;
  }
}
