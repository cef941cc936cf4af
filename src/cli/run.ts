// `deploy-witness run`: the long-running agent (what the Greengrass recipe starts).
import { parseArgs } from 'node:util';
import { Agent } from '../agent/agent.js';
import { createLogger, type Logger } from '../log.js';
import { createHasher } from '../observe/hash.js';
import { JsonLinesSink, type ReportSink } from '../report/sink.js';
import { VERSION } from '../version.js';
import { COMMON_HELP, COMMON_OPTIONS, configFrom } from './options.js';
import { loadExpectation } from './verify.js';
import { UsageError, type CommandIO } from './io.js';
import { validateSchedules } from '../agent/agent.js';

export const RUN_HELP = `Usage: deploy-witness run [options]

Verifies the core at start, then keeps the verdict current: file events
re-verify what changed, scheduled rescans catch what events missed, a daily
full rehash reads every byte (rate-capped), and a heartbeat says it is alive.
Each change of verdict is reported; logs are JSON.

Options:
${COMMON_HELP}
  --report-file FILE reports and heartbeats as JSON lines to FILE (- for stdout,
                     the default; logs then go to stderr)

Stops cleanly on SIGTERM or SIGINT.
`;

export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, 'report-file': { type: 'string' } }, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    io.stdout.write(RUN_HELP);
    return 0;
  }
  const config = await configFrom(values, io.env);
  validateSchedulesOrUsage(config);
  const expectation = await loadExpectation(values.expect);
  const reportFile = values['report-file'] ?? '-';
  const logger = createLogger({ level: config.logLevel, stream: reportFile === '-' ? 'stderr' : 'stdout' });
  const sink: ReportSink = reportFile === '-' ? new JsonLinesSink({ stream: io.stdout }) : new JsonLinesSink({ file: reportFile });
  return runAgent({ config, expectation, sink, logger });
}

function validateSchedulesOrUsage(config: Parameters<typeof validateSchedules>[0]): void {
  try {
    validateSchedules(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Runs until a signal or a fatal error; resolves with the exit code. */
export async function runAgent(opts: {
  config: Parameters<typeof validateSchedules>[0];
  expectation: Awaited<ReturnType<typeof loadExpectation>>;
  sink: ReportSink;
  logger: Logger;
}): Promise<number> {
  const { config, logger, sink } = opts;
  const hasher = createHasher({ concurrency: config.hashConcurrency, rateLimitMBps: config.hashRateLimitMBps });
  let fatal: Error | null = null;
  let finish!: (code: number) => void;
  const done = new Promise<number>((res) => (finish = res));
  const agent = new Agent({
    config,
    logger,
    sink,
    hasher,
    agentVersion: VERSION,
    expectation: opts.expectation,
    onFatal: (err) => {
      fatal = err;
      logger.error('agent cannot go on; exiting so the nucleus restarts it', { error: err.message });
      void shutdown('fatal');
    },
  });
  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { reason: why });
    // Never hang on the way out: the nucleus expects us gone promptly.
    const deadline = setTimeout(() => finish(fatal ? 1 : 0), 1800);
    deadline.unref();
    try {
      await agent.stop();
      await hasher.close();
      await sink.close();
    } catch (err) {
      logger.error('error while stopping', { error: (err as Error).message });
    }
    clearTimeout(deadline);
    finish(fatal ? 1 : 0);
  };
  const onSignal = (sig: NodeJS.Signals) => void shutdown(sig);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const onCrash = (err: unknown) => {
    fatal = err instanceof Error ? err : new Error(String(err));
    logger.error('unexpected error', { error: fatal.message, stack: fatal.stack });
    void shutdown('unexpected error');
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  try {
    await agent.start();
  } catch (err) {
    logger.error('agent could not start', { error: (err as Error).message, stack: (err as Error).stack });
    fatal = err as Error;
    await shutdown('start failed');
  }
  const code = await done;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  return code;
}
