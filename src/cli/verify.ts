// `deploy-witness verify`: one pass, a summary or the JSON report, an exit code.
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.js';
import { verifyCore } from '../core-state/core.js';
import { createHasher } from '../observe/hash.js';
import { parseExpectations, type Expectation } from '../verify/expectation.js';
import { layoutOfExpectation, layoutOfText, type AnyExpectation } from '../verify/expectations.js';
import { parseGreengrassV2Expectation } from '../verify/greengrass-v2-expectation.js';
import { selectForGroup } from '../verify/deploy-response.js';
import { readGroup } from '../observe/observe.js';
import { readInput } from '../config/load.js';
import { rootProblem } from '../config/root.js';
import { prepareStateDir } from '../state/state-dir.js';
import { defaultConfig, ONE_SHOT_MAX_WORKERS, oneShotConfig } from '../config/config.js';
import { InputRefusedError } from '../io/guarded-read.js';
import { VERSION } from '../version.js';
import { COMMON_HELP, COMMON_OPTIONS, configFrom, inputTimeoutMs } from './options.js';
import { progressLine } from './progress.js';
import { formatSummary } from './summary.js';
import { healthProvider } from '../health/provider.js';
import { UsageError, type CommandIO } from './io.js';

const AGENT = defaultConfig({});

export const VERIFY_HELP = `Usage: deploy-witness verify [options]

Observes the core once, checks the deployment (Things Graph on Greengrass v1,
or Greengrass v2) against the expectation (if given) and the stored baseline,
and prints the verdict. The first run for a group version (v2: a deployment)
lays down its baseline.

Options:
${COMMON_HELP}
  --json             print the report as JSON instead of a summary (with several
                     layouts verified, a JSON array of one report each)

Hashing runs at full speed, one worker per core (at most ${ONE_SHOT_MAX_WORKERS}): a person is
waiting. --hash-rate caps it (hashRateLimitMBps and hashConcurrency in --config
set both). The agent (run) keeps its background defaults: ${AGENT.hashRateLimitMBps} MB/s, ${AGENT.hashConcurrency} worker.

--expect also takes what get-system-instance or search-system-instances
printed: of several system instances, the one for the group this core runs
(the newest if several are). Their output has no deployment ID: it is then
not compared. For Greengrass v2 (under greengrass/v2, or var/lib/greengrass
for nucleus lite): what get-deployment printed (the core must run exactly its
component versions from exactly that deployment), or list-effective-deployments.

Exit status:
  0  VERIFIED (every layout)
  1  any other device state (MISMATCH, FAILED, TAMPERED, INCOMPLETE)
  2  verify could not run: bad flags or input (--expect, --config), a --root
     that is not a folder, a --state folder that cannot be used
`;

/** Person-named input: a get-system-instance output carries a definition of up to about 1 MB. */
export const EXPECT_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Reads --expect: an envelope, or what deploy-system-instance, get-system-instance
 * or search-system-instances printed. Of several system instances, the one for
 * the group the core observes (`observedGroup`), the newest if several are.
 * `timeoutMs`: how long a pipe may stay silent.
 */
export async function loadExpectation(
  path: string | undefined,
  opts: { observedGroup?: () => Promise<string | null>; timeoutMs?: number; config?: Pick<Config, 'coreLayout'>; stderr?: NodeJS.WritableStream; command?: string } = {},
): Promise<AnyExpectation | null> {
  if (path === undefined) return null;
  // On a terminal, a silent wait looks like a hang: say what is awaited and how to end it.
  if (path === '-' && process.stdin.isTTY && opts.stderr) {
    opts.stderr.write(`${opts.command ?? 'deploy-witness'}: reading the expectation from standard input (paste it, then Ctrl-D)\n`);
  }
  let text: string;
  try {
    text = await readInput(path, EXPECT_MAX_BYTES, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
  } catch (err) {
    const why = err instanceof InputRefusedError ? err.detail : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    throw new UsageError(`cannot read --expect ${path}: ${why}`);
  }
  const e = layoutOfText(text) === 'greengrass-v2' ? greengrassV2Expectation(path, text) : await thingsGraphExpectation(path, text, opts);
  const chosen = opts.config?.coreLayout;
  if (chosen !== undefined && chosen !== 'auto' && chosen !== layoutOfExpectation(e)) {
    const what = layoutOfExpectation(e) === 'greengrass-v2' ? 'Greengrass v2 output (aws greengrassv2 ...)' : 'Things Graph output (aws iotthingsgraph ...)';
    throw new UsageError(`--expect ${path} is ${what}, but the layout to verify is ${chosen}: drop --layout, or give the other command's output`);
  }
  return e;
}

function greengrassV2Expectation(path: string, text: string): AnyExpectation {
  const parsed = parseGreengrassV2Expectation(text, { maxBytes: EXPECT_MAX_BYTES });
  if (!parsed.ok) throw new UsageError(`--expect ${path}: ${parsed.error}`);
  return parsed.expectation;
}

async function thingsGraphExpectation(path: string, text: string, opts: { observedGroup?: () => Promise<string | null> }): Promise<Expectation> {
  const { observedGroup } = opts;
  const parsed = parseExpectations(text, { maxBytes: EXPECT_MAX_BYTES });
  if (!parsed.ok) throw new UsageError(`--expect ${path}: ${parsed.error}`);
  const list = parsed.expectations;
  if (list.length === 0) {
    const why = parsed.skipped.map((s) => `${s.where || s.summary.id}: ${s.reason}`).join('; ');
    throw new UsageError(`--expect ${path}: names no system instance a core can confirm${why ? ` (${why})` : ''}`);
  }
  if (list.length === 1) return list[0]!;
  if (!observedGroup) throw new UsageError(`--expect ${path} names ${list.length} system instances: give the one for this core`);
  const group = await observedGroup();
  if (group === null) {
    throw new UsageError(`--expect ${path} names ${list.length} system instances and the core's group.json names no group to choose by: give the one for this core`);
  }
  const chosen = selectForGroup(list.map((e) => ({ summary: { greengrassGroupId: e.greengrassGroupId, ...(e.updatedAt ? { updatedAt: e.updatedAt } : {}) }, e })), group);
  if (!chosen) {
    throw new UsageError(`--expect ${path}: none of its ${list.length} system instances is for group ${group}, which this core runs`);
  }
  return chosen.e;
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
  const config = await configFrom(values, io.env, oneShotConfig(io.env));
  // A root or state folder that cannot work is a mistake in the command, not a finding about the core.
  const rootWrong = await rootProblem(config.root);
  if (rootWrong) throw new UsageError(rootWrong);
  const stateWrong = await prepareStateDir(config.stateDir);
  if (stateWrong) throw new UsageError(stateWrong);
  const expectation = await loadExpectation(values.expect, {
    stderr: io.stderr,
    command: 'deploy-witness verify',
    observedGroup: async () => {
      const g = await readGroup(config.root, config.layout);
      return g.state === 'ok' ? g.definition.groupId : null;
    },
    config,
    ...(inputTimeoutMs(values) !== undefined ? { timeoutMs: inputTimeoutMs(values) } : {}),
  });
  const hasher = createHasher({ concurrency: config.hashConcurrency, rateLimitMBps: config.hashRateLimitMBps });
  const progress = progressLine(io.stderr);
  const health = healthProvider(config);
  try {
    const { reports } = await verifyCore({
      config,
      hasher,
      expectations: expectation ? [expectation] : [],
      agentVersion: VERSION,
      requestId: expectation?.requestId ?? null,
      onProgress: (p) => progress.update(p),
      health,
    });
    progress.done();
    // One layout: its report, as always; several: one report each (an array, or a summary each).
    const json = reports.length === 1 ? reports[0] : reports;
    const ctx = { root: config.root, stateDir: config.stateDir, hashing: { rateLimitMBps: config.hashRateLimitMBps, workers: config.hashConcurrency } };
    io.stdout.write(values.json ? `${JSON.stringify(json, null, 2)}\n` : reports.map((r) => formatSummary(r, ctx)).join('\n'));
    return reports.every((r) => r.status === 'VERIFIED') ? 0 : 1;
  } finally {
    health.close();
    await hasher.close();
  }
}
