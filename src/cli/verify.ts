// `deploy-witness verify`: one pass, a summary or the JSON report, an exit code.
import { parseArgs } from 'node:util';
import { verifyPass } from '../agent/pass.js';
import { createHasher } from '../observe/hash.js';
import { parseExpectation, type Expectation } from '../verify/expectation.js';
import { readInput } from '../config/load.js';
import { InputRefusedError } from '../io/guarded-read.js';
import { VERSION } from '../version.js';
import { COMMON_HELP, COMMON_OPTIONS, configFrom, inputTimeoutMs } from './options.js';
import { progressLine } from './progress.js';
import { formatSummary } from './summary.js';
import { healthProvider } from '../health/provider.js';
import { UsageError, type CommandIO } from './io.js';

export const VERIFY_HELP = `Usage: deploy-witness verify [options]

Observes the core once, checks the Things Graph deployment against the
expectation (if given) and the stored baseline, and prints the verdict.
The first run for a group version lays down its baseline.

Options:
${COMMON_HELP}
  --json             print the report as JSON instead of a summary

Exit status: 0 VERIFIED, 1 any other device state, 2 the command could not run.
`;

export async function loadExpectation(path: string | undefined, timeoutMs?: number): Promise<Expectation | null> {
  if (path === undefined) return null;
  let text: string;
  try {
    text = await readInput(path, undefined, timeoutMs !== undefined ? { timeoutMs } : {});
  } catch (err) {
    const why = err instanceof InputRefusedError ? err.detail : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    throw new UsageError(`cannot read --expect ${path}: ${why}`);
  }
  const parsed = parseExpectation(text);
  if (!parsed.ok) throw new UsageError(`--expect ${path}: ${parsed.error}`);
  return parsed.expectation;
}

export async function verifyCommand(argv: string[], io: CommandIO): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, json: { type: 'boolean' } }, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    io.stdout.write(VERIFY_HELP);
    return 0;
  }
  const config = await configFrom(values, io.env);
  const expectation = await loadExpectation(values.expect, inputTimeoutMs(values));
  const hasher = createHasher({ concurrency: config.hashConcurrency, rateLimitMBps: config.hashRateLimitMBps });
  const progress = progressLine(io.stderr);
  const health = healthProvider(config);
  try {
    const { report } = await verifyPass({
      config,
      hasher,
      expectation,
      agentVersion: VERSION,
      requestId: expectation?.requestId ?? null,
      onProgress: (p) => progress.update(p),
      health,
    });
    progress.done();
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatSummary(report));
    return report.status === 'VERIFIED' ? 0 : 1;
  } finally {
    health.close();
    await hasher.close();
  }
}
