// Structured JSON logs. The nucleus captures stdout, so that is the default;
// when stdout carries reports (run --report-file -), logs go to stderr.
import winston from 'winston';

export type Logger = winston.Logger;
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

const SECRET_KEYS = /(key|token|secret|password|svcuid|authorization)/i;

/** Replaces values of secret-looking fields so they never reach a log. */
const redact = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (SECRET_KEYS.test(k) && typeof info[k] === 'string') info[k] = '[redacted]';
  }
  return info;
});

export function createLogger(opts: { level?: LogLevel; stream?: 'stdout' | 'stderr' | 'silent' } = {}): Logger {
  const stream = opts.stream ?? 'stdout';
  return winston.createLogger({
    level: opts.level ?? 'info',
    format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
    transports: [
      new winston.transports.Console({
        silent: stream === 'silent',
        // winston's Console writes levels listed here to stderr.
        stderrLevels: stream === 'stderr' ? [...LOG_LEVELS] : [],
      }),
    ],
  });
}

/** A logger that drops everything: for tests and pure callers. */
export function silentLogger(): Logger {
  return createLogger({ stream: 'silent' });
}
