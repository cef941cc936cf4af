// Flags shared by the commands, and how they become a Config:
// defaults, then --config FILE, then flags (flags win).
import { resolve } from 'node:path';
import { applyConfig, defaultConfig, type Config } from '../config/config.js';
import { readConfigFile } from '../config/load.js';

export const COMMON_OPTIONS = {
  root: { type: 'string' },
  state: { type: 'string' },
  expect: { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'hash-rate': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const COMMON_HELP = `  --root DIR         the core's file-system root (default /)
  --state DIR        state folder for baselines (default $XDG_STATE_HOME/deploy-witness
                     or ~/.local/state/deploy-witness)
  --expect FILE      the JSON that 'aws iotthingsgraph deploy-system-instance' printed,
                     bare or in an envelope {"expectation", "requestId", "resources"};
                     - reads standard input
  --config FILE      configuration file (JSON or YAML, camelCase keys)
  --log-level LEVEL  error, warn, info or debug
  --hash-rate MBPS   cap on hashing speed in MB/s (0 = no cap)
  -h, --help         this help`;

export interface CommonValues {
  root?: string | undefined;
  state?: string | undefined;
  config?: string | undefined;
  'log-level'?: string | undefined;
  'hash-rate'?: string | undefined;
}

/** Builds the configuration; throws ConfigError on a bad file or flag. */
/** The common flags as raw configuration keys (paths made absolute). */
export function commonFlags(values: CommonValues): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  if (values.root !== undefined) flags.root = resolve(values.root);
  if (values.state !== undefined) flags.stateDir = resolve(values.state);
  if (values['log-level'] !== undefined) flags.logLevel = values['log-level'];
  if (values['hash-rate'] !== undefined) flags.hashRateLimitMBps = values['hash-rate'];
  return flags;
}

export async function configFrom(values: CommonValues, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let c = defaultConfig(env);
  if (values.config) c = applyConfig(c, await readConfigFile(values.config), values.config);
  return applyConfig(c, commonFlags(values), 'flags');
}
