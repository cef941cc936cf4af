// Reads a configuration file (JSON or YAML) and the --expect input: files or
// pipes a person names, through the guarded reader (size cap while reading,
// a deadline, no devices).
import { parse as parseYaml } from 'yaml';
import { decodeUtf8, InputRefusedError, readNamedInput } from '../io/guarded-read.js';
import { ConfigError } from './config.js';

/** A configuration file or an expectation is small; a megabyte is far more than either needs. */
export const DEFAULT_INPUT_MAX_BYTES = 1024 * 1024;

/**
 * How long a named input may take to arrive and end. `<(aws ...)` waits for
 * the AWS CLI's start and its call; a FIFO nobody writes to ends in an error.
 */
export const DEFAULT_INPUT_TIMEOUT_MS = 30_000;

export interface InputOptions {
  /** Default DEFAULT_INPUT_TIMEOUT_MS. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function why(err: unknown): string {
  // A refusal says what is wrong in words; an I/O error by its code (ENOENT, EACCES).
  if (err instanceof InputRefusedError) return err.detail;
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

export async function readConfigFile(path: string, opts: InputOptions = {}): Promise<unknown> {
  let text: string;
  try {
    text = await readInput(path, DEFAULT_INPUT_MAX_BYTES, opts);
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${why(err)}`);
  }
  try {
    // YAML is a superset of JSON, so one parser reads both.
    return parseYaml(text, { maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON or YAML: ${(err as Error).message}`);
  }
}

/**
 * Reads a file, a pipe, or standard input for "-", as UTF-8 text (a leading
 * byte-order mark dropped), with a size cap enforced while reading and a
 * deadline. Rejects with InputRefusedError (its message says what is wrong)
 * or Node's I/O error (with its code).
 */
export async function readInput(path: string, maxBytes = DEFAULT_INPUT_MAX_BYTES, opts: InputOptions = {}): Promise<string> {
  const name = path === '-' ? 'standard input' : path;
  const buf = await readNamedInput(path, {
    maxBytes,
    timeoutMs: opts.timeoutMs ?? DEFAULT_INPUT_TIMEOUT_MS,
    name,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return decodeUtf8(buf, name);
}
