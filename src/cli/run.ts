// `deploy-witness run`: the long-running agent (what the Greengrass recipe starts).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Service, type ServiceOptions } from '../agent/service.js';
import { createLogger, type LogLevel } from '../log.js';
import { JsonLinesSink } from '../report/sink.js';
import { VERSION } from '../version.js';
import { COMMON_HELP, COMMON_OPTIONS, commonFlags, inputTimeoutMs } from './options.js';
import { loadExpectation } from './verify.js';
import { UsageError, type CommandIO } from './io.js';
import { ConfigError, defaultConfig, type CoreLayoutChoice } from '../config/config.js';
import { healthProvider } from '../health/provider.js';

const AGENT_DEFAULTS = defaultConfig({});

export const RUN_HELP = `Usage: deploy-witness run [options]

Verifies the core at start, then keeps the verdict current: file events
re-verify what changed, scheduled rescans catch what events missed, a daily
full rehash reads every byte (rate-capped), and a heartbeat says it is alive.
Each change of verdict is reported; logs are JSON.

Where reports go:
  - Greengrass IPC when run as a component (AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT
    and SVCUID set): topics ${'<prefix>/<thing>/...'} through the nucleus, configuration
    from the component's configuration, applied live;
  - direct MQTT 5 with mutual TLS when an endpoint is configured (--endpoint);
  - otherwise JSON lines to stdout or --report-file.

Options:
${COMMON_HELP}
  --report-file FILE JSON lines to FILE instead of stdout (local mode)
  --endpoint HOST    AWS IoT Core (or broker) endpoint for direct MQTT 5
  --port N           MQTT port (default 8883)
  --cert FILE        client certificate (PEM)
  --key FILE         client private key (PEM)
  --ca FILE          CA certificate for the broker (default: system store)
  --thing NAME       thing name for topics (default: AWS_IOT_THING_NAME, else the
                     core thing in group.json); the client ID is <thing>-deploy-witness

Hashing is capped for the background: ${AGENT_DEFAULTS.hashRateLimitMBps} MB/s and ${AGENT_DEFAULTS.hashConcurrency} worker by default
(--hash-rate, or hashRateLimitMBps and hashConcurrency in --config); verify,
a one-shot command, runs uncapped.

Stops cleanly on SIGTERM or SIGINT.
`;

const RUN_OPTIONS = {
  ...COMMON_OPTIONS,
  'report-file': { type: 'string' },
  endpoint: { type: 'string' },
  port: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  thing: { type: 'string' },
} as const;

/** `parts`: what the service is built with beyond the flags (the report spool's options). */
export async function runCommand(argv: string[], io: CommandIO, parts: Pick<ServiceOptions, 'spool'> = {}): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: RUN_OPTIONS, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    io.stdout.write(RUN_HELP);
    return 0;
  }
  const flags = commonFlags(values);
  if (values.thing !== undefined) flags.thingName = values.thing;
  const mqtt: Record<string, unknown> = {};
  if (values.endpoint !== undefined) mqtt.endpoint = values.endpoint;
  if (values.port !== undefined) mqtt.port = values.port;
  if (values.cert !== undefined) mqtt.cert = resolve(values.cert);
  if (values.key !== undefined) mqtt.key = resolve(values.key);
  if (values.ca !== undefined) mqtt.ca = resolve(values.ca);
  if (Object.keys(mqtt).length > 0) flags.mqtt = mqtt;

  const timeoutMs = inputTimeoutMs(values);
  const coreLayout = (flags.coreLayout as CoreLayoutChoice | undefined) ?? 'auto';
  const expectation = await loadExpectation(values.expect, { ...(timeoutMs !== undefined ? { timeoutMs } : {}), config: { coreLayout } });
  const reportFile = values['report-file'];
  // When reports go to stdout, logs go to stderr so the two never mix.
  const reportsOnStdout = reportFile === undefined || reportFile === '-';
  const logger = createLogger({ level: (flags.logLevel as LogLevel | undefined) ?? 'info', stream: reportsOnStdout ? 'stderr' : 'stdout' });
  const service = new Service({
    env: io.env,
    flags,
    ...(values.config ? { configFile: values.config } : {}),
    expectation,
    localSink: () => (reportsOnStdout ? new JsonLinesSink({ stream: io.stdout }) : new JsonLinesSink({ file: resolve(reportFile) })),
    logger,
    agentVersion: VERSION,
    health: healthProvider,
    ...parts,
  });
  return runUntilStopped(service, logger);
}

/** Runs the service until a signal or a fatal error; resolves with the exit code. */
async function runUntilStopped(service: Service, logger: ReturnType<typeof createLogger>): Promise<number> {
  let finish!: (code: number) => void;
  const done = new Promise<number>((res) => (finish = res));
  let exitCode = 0;
  let stopping = false;
  const shutdown = async (why: string, code: number) => {
    exitCode = Math.max(exitCode, code);
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { reason: why });
    // Never hang on the way out: the nucleus expects us gone promptly.
    const deadline = setTimeout(() => finish(exitCode), 1800);
    deadline.unref();
    try {
      await service.stop();
    } catch (err) {
      logger.error('error while stopping', { error: (err as Error).message });
    }
    clearTimeout(deadline);
    finish(exitCode);
  };
  const onSignal = (sig: NodeJS.Signals) => void shutdown(sig, 0);
  const onCrash = (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    logger.error('unexpected error', { error: e.message, stack: e.stack });
    void shutdown('unexpected error', 1);
  };
  service.onFatal = (err) => void shutdown(`agent failed: ${err.message}`, 1);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  // Not awaited: a signal during a long first pass must end the wait on `done`, not queue behind start.
  service.start().catch((err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError) {
      logger.error('cannot start', { error: (err as Error).message });
      process.stderr.write(`deploy-witness run: ${(err as Error).message}\n`);
      void shutdown('bad configuration', 2);
    } else {
      onCrash(err);
    }
  });
  const code = await done;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  return code;
}
