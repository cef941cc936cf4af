// The command-line shell the fuzz scripts share: strict flags, whole numbers
// with the flag named when one is wrong, --help, and the exit status a fuzz
// run's counts decide (0 clean, 1 something found, 2 bad flags).
import { parseArgs } from 'node:util';

export class FlagError extends Error {}

/** A flag that takes a whole number; `positive` refuses 0 (a count of cases or workers). */
export function wholeFlag(values: Record<string, unknown>, flag: string, dflt: number, positive = false): number {
  const v = values[flag];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || (positive && Number(v) === 0)) {
    throw new FlagError(`--${flag} takes a ${positive ? 'positive ' : ''}whole number, not ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/**
 * Runs `main` with the parsed flags (each takes a value; --help is added) and
 * sets the exit status it returns. A bad flag prints the help and exits 2.
 */
export function runFuzz(name: string, help: string, flags: readonly string[], main: (values: Record<string, string | undefined>) => Promise<number>): void {
  const run = async (): Promise<number> => {
    let values: Record<string, string | boolean | undefined>;
    try {
      values = parseArgs({
        options: { ...Object.fromEntries(flags.map((f) => [f, { type: 'string' as const }])), help: { type: 'boolean', short: 'h' } },
        strict: true,
      }).values;
    } catch (err) {
      console.error(`${name}: ${(err as Error).message}\n\n${help}`);
      return 2;
    }
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    try {
      return await main(values as Record<string, string | undefined>);
    } catch (err) {
      if (!(err instanceof FlagError)) throw err;
      console.error(`${name}: ${err.message}`);
      return 2;
    }
  };
  run().then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
