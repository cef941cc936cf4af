// `deploy-witness run`: the long-running agent (what the Greengrass recipe starts).
import { open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Service, type ServiceOptions } from '../agent/service.js';
import { createLogger, type LogLevel } from '../log.js';
import { JsonLinesSink } from '../report/sink.js';
import { VERSION } from '../version.js';
import { COMMON_HELP, COMMON_OPTIONS, commonFlags, FLAG_NAMES, inputTimeoutMs } from './options.js';
import { loadExpectation } from './verify.js';
import { UsageError, whenDead, type CommandIO } from './io.js';
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
  --report-file FILE
                     JSON lines to FILE instead of stdout (local mode)
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

Exit status:
  0  stopped by SIGTERM or SIGINT; or, with reports on standard output, its
     reader went away (nobody reads them)
  1  the agent failed and cannot go on (a nucleus restarts it)
  2  it could not start: bad flags or configuration, an unusable --root or
     --state, a certificate or key that cannot work. As a Greengrass component
     it reports ERRORED instead and waits for a configuration change.
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
  const reportFile = values['report-file'];
  // When reports go to stdout, logs go to stderr so the two never mix.
  const reportsOnStdout = reportFile === undefined || reportFile === '-';
  if (!reportsOnStdout) await checkReportFile(resolve(reportFile));
  const expectation = await loadExpectation(values.expect, { timeoutMs, stderr: io.stderr, command: 'deploy-witness run', config: { coreLayout } });
  const logger = createLogger({ level: (flags.logLevel as LogLevel | undefined) ?? 'info', stream: reportsOnStdout ? 'stderr' : 'stdout' });
  const service = new Service({
    env: io.env,
    flags,
    flagNames: FLAG_NAMES,
    ...(values.config ? { configFile: values.config, inputTimeoutMs: timeoutMs } : {}),
    expectation,
    localSink: () => (reportsOnStdout ? new JsonLinesSink({ stream: io.stdout }) : new JsonLinesSink({ file: resolve(reportFile) })),
    logger,
    agentVersion: VERSION,
    health: healthProvider,
    ...parts,
  });
  return runUntilStopped(service, logger, io, { logs: reportsOnStdout ? process.stderr : process.stdout, reportsOnStdout });
}

/**
 * --report-file, tried as the sink will use it (opened for appending, made if
 * missing), so a missing folder or a read-only place is said now, exit 2, and
 * not as a failure of the first report.
 */
async function checkReportFile(path: string): Promise<void> {
  const say = (why: string) => new UsageError(`--report-file ${path}${why.startsWith('is ') ? ' ' : ': '}${why}`);
  const existing = await stat(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : err));
  if (existing instanceof Error) {
    throw say(existing.code === 'ENOTDIR' ? `${dirname(path)} is not a folder` : `cannot be used (${existing.code ?? existing.message})`);
  }
  // Reports are appended and the file is rotated by renaming it: a FIFO or a device cannot be.
  if (existing && !existing.isFile()) throw say(`is not a regular file: give a file path (or - for standard output)`);
  try {
    await (await open(path, 'a', 0o600)).close();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw say(`folder ${dirname(path)} does not exist`);
    if (code === 'ENOTDIR') throw say(`${dirname(path)} is not a folder`);
    if (code === 'EACCES' || code === 'EPERM') throw say(`${existing ? 'the file' : `folder ${dirname(path)}`} is not writable by this user (uid ${process.getuid?.() ?? '?'})`);
    if (code === 'EROFS') throw say('is on a read-only file system');
    throw say(`cannot be written (${code ?? (err as Error).message})`);
  }
}

/** Runs the service until a signal or a fatal error; resolves with the exit code. */
async function runUntilStopped(
  service: Service,
  logger: ReturnType<typeof createLogger>,
  io: CommandIO,
  streams: { logs: NodeJS.WritableStream; reportsOnStdout: boolean },
): Promise<number> {
  let finish!: (code: number) => void;
  const done = new Promise<number>((res) => (finish = res));
  let exitCode = 0;
  let stopping = false;
  const shutdown = async (why: string, code: number, opts: { quiet?: boolean } = {}) => {
    exitCode = Math.max(exitCode, code);
    if (stopping) return;
    stopping = true;
    if (!opts.quiet) logger.info('stopping', { reason: why });
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
  // A standard stream whose reader is gone is never written again: the agent
  // keeps working without its log, and a write to a dead stream never becomes
  // an error that is logged, to the same dead stream, again and again.
  const other = streams.logs === process.stderr ? process.stdout : process.stderr;
  const unwatch = [
    whenDead(streams.logs, () => {
      logger.silent = true;
    }),
    whenDead(other, () => {}),
    // Local mode with the reports on stdout: a dead stdout means nobody reads them, and there is nothing left to do.
    whenDead(io.stdout, (err) => {
      if (streams.reportsOnStdout && service.mode === 'local') void shutdown(`standard output closed (${err?.code ?? 'closed'}): nobody reads the reports`, 0);
    }),
  ];
  const onSignal = (sig: NodeJS.Signals) => void shutdown(sig, 0);
  let crashed = false;
  const onCrash = (err: unknown) => {
    // Said once: whatever fails while it is being said (the log's own stream, say) is not said again.
    if (crashed) return;
    crashed = true;
    const e = err instanceof Error ? err : new Error(String(err));
    try {
      logger.error('unexpected error', { error: e.message, stack: e.stack });
    } catch {
      /* nowhere to say it */
    }
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
      // Said once, on stderr, where a person or the journal sees it.
      io.stderr.write(`deploy-witness run: ${(err as Error).message}\n`);
      void shutdown('bad configuration', 2, { quiet: true });
    } else {
      onCrash(err);
    }
  });
  const code = await done;
  for (const off of unwatch) off();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  return code;
}
