// Flags shared by the commands, and how they become a Config:
// defaults, then --config FILE, then flags (flags win).
import { resolve } from 'node:path';
import { applyConfig, CORE_LAYOUT_CHOICES, defaultConfig, type Config } from '../config/config.js';
import { DEFAULT_INPUT_TIMEOUT_MS, readConfigFile } from '../config/load.js';
import { UsageError } from './io.js';

export const COMMON_OPTIONS = {
  root: { type: 'string' },
  state: { type: 'string' },
  expect: { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'hash-rate': { type: 'string' },
  'input-timeout': { type: 'string' },
  layout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const COMMON_HELP = `  --root DIR         the core's file-system root (default /)
  --state DIR        state folder for baselines (default $XDG_STATE_HOME/deploy-witness
                     or ~/.local/state/deploy-witness)
  --expect FILE      the JSON that 'aws iotthingsgraph deploy-system-instance' printed,
                     bare or in an envelope {"expectation", "requestId", "resources"};
                     for Greengrass v2, what 'aws greengrassv2 get-deployment' (or
                     list-effective-deployments) printed; - reads standard input
  --config FILE      configuration file (JSON or YAML, camelCase keys)
  --log-level LEVEL  error, warn, info or debug
  --hash-rate MBPS   cap on hashing speed in MB/s (0 = no cap)
  --input-timeout S  how long --expect and --config may take to arrive when they
                     are pipes or standard input (default ${DEFAULT_INPUT_TIMEOUT_MS / 1000})
  --layout L         auto (default), thingsgraph-v1 or greengrass-v2: which layout to
                     verify; auto lets --expect's shape decide, and without --expect
                     verifies every layout found under --root
  -h, --help         this help`;

export interface CommonValues {
  root?: string | undefined;
  state?: string | undefined;
  config?: string | undefined;
  'log-level'?: string | undefined;
  'hash-rate'?: string | undefined;
  'input-timeout'?: string | undefined;
  layout?: string | undefined;
}

/** --input-timeout in milliseconds; exit 2 for what is not a positive number of seconds. */
export function inputTimeoutMs(values: CommonValues): number {
  const v = values['input-timeout'];
  if (v === undefined) return DEFAULT_INPUT_TIMEOUT_MS;
  const s = Number(v);
  if (v.trim() === '' || !Number.isFinite(s) || s <= 0 || s > 86_400) {
    throw new UsageError(`--input-timeout must be a number of seconds above 0 and at most 86400, got ${JSON.stringify(v)}`);
  }
  return Math.round(s * 1000);
}

/** The flag that sets each configuration key, so a bad value is said in the words typed. */
export const FLAG_NAMES: Readonly<Record<string, string>> = {
  root: '--root',
  stateDir: '--state',
  logLevel: '--log-level',
  hashRateLimitMBps: '--hash-rate',
  thingName: '--thing',
  'mqtt.endpoint': '--endpoint',
  'mqtt.port': '--port',
  'mqtt.cert': '--cert',
  'mqtt.key': '--key',
  'mqtt.ca': '--ca',
};

/** The common flags as raw configuration keys (paths made absolute). */
export function commonFlags(values: CommonValues): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  if (values.root !== undefined) flags.root = resolve(values.root);
  if (values.state !== undefined) flags.stateDir = resolve(values.state);
  if (values['log-level'] !== undefined) flags.logLevel = values['log-level'];
  if (values['hash-rate'] !== undefined) flags.hashRateLimitMBps = values['hash-rate'];
  if (values.layout !== undefined) {
    if (!(CORE_LAYOUT_CHOICES as readonly string[]).includes(values.layout)) {
      throw new UsageError(`--layout must be one of ${CORE_LAYOUT_CHOICES.join(', ')}, got ${JSON.stringify(values.layout)}`);
    }
    flags.coreLayout = values.layout;
  }
  return flags;
}

/**
 * Builds the configuration; throws ConfigError on a bad file or flag. `base`:
 * the command's defaults (verify hashes at full speed, the agent capped).
 */
export async function configFrom(values: CommonValues, env: NodeJS.ProcessEnv = process.env, base: Config = defaultConfig(env)): Promise<Config> {
  let c = base;
  if (values.config) c = applyConfig(c, await readConfigFile(values.config, { timeoutMs: inputTimeoutMs(values) }), values.config);
  return applyConfig(c, commonFlags(values), 'flags', { names: FLAG_NAMES });
}
