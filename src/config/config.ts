// The agent's configuration: defaults, then a file (or the Greengrass
// component configuration), then flags. Keys are camelCase and the same as the
// recipe's DefaultConfiguration. Values may arrive as strings (nucleus lite
// returns every scalar from its config file as a string), so parsing coerces.
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { validate as validCron } from 'node-cron';
import {
  DEFAULT_ARCHIVE_LIMITS, DEFAULT_GREENGRASS_V2_LAYOUT, DEFAULT_LAYOUT, DEFAULT_LOG_PATTERNS,
  type ArchiveLimits, type GreengrassV2LayoutConfig, type LayoutConfig, type LogPatterns,
} from './layout.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';

export interface MqttConfig {
  endpoint?: string;
  port: number;
  cert?: string;
  key?: string;
  ca?: string;
  clientId?: string;
}

export interface Config {
  root: string;
  stateDir: string;
  thingName?: string;
  topicPrefix: string;
  heartbeatCron: string;
  rescanCron: string;
  fullRehashCron: string;
  /** Cap on hashing speed in MB/s so a full rehash never starves the device; 0 = no cap. */
  hashRateLimitMBps: number;
  hashConcurrency: number;
  logLevel: LogLevel;
  /** Most inotify watches the agent may use; past it, it falls back to scheduled scans. */
  watchBudget: number;
  /** Quiet time that closes a burst of file events into one re-verification. */
  debounceMs: number;
  /** Also report ERRORED to Greengrass while the deployment is not VERIFIED. */
  erroredWhenUnverified: boolean;
  mqtt: MqttConfig;
  /**
   * Which layout to verify: Things Graph on Greengrass v1, Greengrass v2, or
   * auto (the expectation's shape decides; without one, every layout on disk).
   */
  coreLayout: CoreLayoutChoice;
  layout: LayoutConfig;
  /** Where the Greengrass v2 root is under root, and the nucleus log's name. */
  greengrassV2: GreengrassV2LayoutConfig;
  logPatterns: LogPatterns;
  archiveLimits: ArchiveLimits;
  health: { flowWindowMinutes: number; diskLowPercent: number };
}

export const CORE_LAYOUT_CHOICES = ['auto', 'thingsgraph-v1', 'greengrass-v2'] as const;
export type CoreLayoutChoice = (typeof CORE_LAYOUT_CHOICES)[number];

export class ConfigError extends Error {
  /** Every problem found, one sentence each: a file with three wrong values says all three. */
  readonly problems: readonly string[];

  /** `source` (a file, "component configuration") leads the message when given. */
  constructor(problems: string | readonly string[], source?: string) {
    const list = typeof problems === 'string' ? [problems] : [...problems];
    const lead = source ? `${source}: ` : '';
    super(list.length === 1 ? `${lead}${list[0]}` : `${lead}${list.length} problems:\n  ${list.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = list;
  }
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  return xdg && xdg.startsWith('/') ? join(xdg, 'deploy-witness') : join(homedir(), '.local', 'state', 'deploy-witness');
}

export function defaultConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    root: '/',
    stateDir: defaultStateDir(env),
    topicPrefix: 'deploy-witness',
    heartbeatCron: '*/5 * * * *',
    rescanCron: '0 * * * *',
    fullRehashCron: '30 3 * * *',
    hashRateLimitMBps: 50,
    hashConcurrency: 1,
    logLevel: 'info',
    watchBudget: 16384,
    debounceMs: 200,
    erroredWhenUnverified: false,
    mqtt: { port: 8883 },
    coreLayout: 'auto',
    layout: { ...DEFAULT_LAYOUT },
    greengrassV2: { ...DEFAULT_GREENGRASS_V2_LAYOUT },
    logPatterns: { ...DEFAULT_LOG_PATTERNS },
    archiveLimits: { ...DEFAULT_ARCHIVE_LIMITS },
    health: { flowWindowMinutes: 15, diskLowPercent: 10 },
  };
}

/**
 * How many hashing workers a one-shot `verify` uses: one per core, at most 4.
 * Hashing is CPU-bound once files are in the page cache. Measured with the
 * command line on the 1 GiB bench tree on 2 busy cores (best of 3): 1 worker
 * 2.9 s, 2 workers 2.2 s, 3 workers 2.6 s, 4 workers 3.3 s: workers beyond the
 * cores only contend. 4 is a Pi 4's cores; more was not measured.
 */
export const ONE_SHOT_MAX_WORKERS = 4;

/**
 * Defaults for `verify`, a person waiting at a prompt: hashing uncapped, with
 * as many workers as help. The agent (`run`, the component) keeps the
 * background defaults of defaultConfig: capped, one worker. Flags and the
 * file still win over either.
 */
export function oneShotConfig(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): Config {
  return { ...defaultConfig(env), hashRateLimitMBps: 0, hashConcurrency: Math.max(1, Math.min(cores, ONE_SHOT_MAX_WORKERS)) };
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function num(v: unknown, key: string, min: number, max: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
    throw new ConfigError(`${key} must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function int(v: unknown, key: string, min: number, max: number): number {
  const n = num(v, key, min, max);
  if (!Number.isInteger(n)) throw new ConfigError(`${key} must be a whole number, got ${JSON.stringify(v)}`);
  return n;
}

function bool(v: unknown, key: string): boolean {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new ConfigError(`${key} must be true or false, got ${JSON.stringify(v)}`);
}

function text(v: unknown, key: string): string {
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`${key} must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function strList(v: unknown, key: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ConfigError(`${key} must be a list of strings`);
  return v as string[];
}

function regex(v: unknown, key: string): string {
  const s = text(v, key);
  try {
    new RegExp(s);
  } catch (err) {
    throw new ConfigError(`${key} is not a valid regular expression: ${(err as Error).message}`);
  }
  return s;
}

/** Checked here, with the other keys, so a file with a bad schedule says so beside its other problems. */
function cron(v: unknown, key: string): string {
  const s = text(v, key);
  if (!validCron(s)) throw new ConfigError(`${key} ${JSON.stringify(s)} is not a valid cron expression (e.g. "*/5 * * * *")`);
  return s;
}

/** Root-relative layout paths must stay inside the root. */
function relPath(v: unknown, key: string): string {
  const s = text(v, key);
  if (s.startsWith('/') || s.split('/').includes('..')) throw new ConfigError(`${key} must be a path relative to root without "..": ${s}`);
  return s;
}

const KNOWN = new Set([
  'root', 'stateDir', 'thingName', 'topicPrefix', 'heartbeatCron', 'rescanCron', 'fullRehashCron', 'hashRateLimitMBps',
  'hashConcurrency', 'logLevel', 'watchBudget', 'debounceMs', 'erroredWhenUnverified', 'mqtt', 'layout', 'logPatterns',
  'archiveLimits', 'health', 'coreLayout', 'greengrassV2',
  // Greengrass keeps these beside the component's own keys.
  'accessControl',
]);

/** Runs one key's check, keeping its problems with the others instead of stopping at the first. */
function collect(problems: string[], check: () => void): void {
  try {
    check();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
}

export interface ApplyOptions {
  /**
   * What a person typed for each key (`hashRateLimitMBps` → `--hash-rate`,
   * `mqtt.port` → `--port`): messages name that, and no source, since a flag
   * names itself.
   */
  names?: Readonly<Record<string, string>>;
}

/**
 * Applies a partial raw configuration (from a file, IPC or flags) over `base`.
 * Throws ConfigError with every problem found, not only the first.
 */
export function applyConfig(base: Config, raw: unknown, source: string, opts: ApplyOptions = {}): Config {
  if (raw === undefined || raw === null) return base;
  if (!isObj(raw)) throw new ConfigError('configuration must be an object', source);
  const c: Config = structuredClone(base);
  const names = opts.names;
  const k = (key: string) => names?.[key] ?? key;
  const problems: string[] = [];
  const unknown = Object.keys(raw).filter((key) => !KNOWN.has(key));
  if (unknown.length > 0) problems.push(`unknown key(s) ${unknown.join(', ')}`);
  for (const [key, v] of Object.entries(raw)) {
    if (v === undefined || v === null) continue;
    collect(problems, () => applyKey(c, key, v, k));
  }
  if (problems.length > 0) throw new ConfigError(problems, names ? undefined : source);
  return c;
}

function applyKey(c: Config, key: string, v: unknown, k: (key: string) => string): void {
  {
    switch (key) {
      case 'root': c.root = text(v, k(key)); break;
      case 'stateDir': c.stateDir = text(v, k(key)); break;
      case 'thingName': c.thingName = text(v, k(key)); break;
      case 'topicPrefix': {
        const t = text(v, k(key));
        if (/[#+]|^\/|\/$|^\$/.test(t)) throw new ConfigError(`${k(key)} must be a plain topic prefix (no wildcards, no leading $ or /)`);
        c.topicPrefix = t;
        break;
      }
      case 'heartbeatCron': c.heartbeatCron = cron(v, k(key)); break;
      case 'rescanCron': c.rescanCron = cron(v, k(key)); break;
      case 'fullRehashCron': c.fullRehashCron = cron(v, k(key)); break;
      case 'hashRateLimitMBps': c.hashRateLimitMBps = num(v, k(key), 0, 100_000); break;
      case 'hashConcurrency': c.hashConcurrency = int(v, k(key), 1, 64); break;
      case 'logLevel': {
        const l = text(v, k(key));
        if (!LOG_LEVELS.includes(l as LogLevel)) throw new ConfigError(`${k(key)} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(v)}`);
        c.logLevel = l as LogLevel;
        break;
      }
      case 'watchBudget': c.watchBudget = int(v, k(key), 0, 10_000_000); break;
      case 'debounceMs': c.debounceMs = int(v, k(key), 0, 60_000); break;
      case 'erroredWhenUnverified': c.erroredWhenUnverified = bool(v, k(key)); break;
      case 'mqtt': c.mqtt = applyMqtt(c.mqtt, v, k); break;
      case 'layout': c.layout = applyLayout(c.layout, v, k(key)); break;
      case 'coreLayout': {
        const l = text(v, k(key));
        if (!(CORE_LAYOUT_CHOICES as readonly string[]).includes(l)) throw new ConfigError(`${k(key)} must be one of ${CORE_LAYOUT_CHOICES.join(', ')}, got ${JSON.stringify(l)}`);
        c.coreLayout = l as CoreLayoutChoice;
        break;
      }
      case 'greengrassV2': c.greengrassV2 = applyGreengrassV2(c.greengrassV2, v, k(key)); break;
      case 'logPatterns': {
        if (!isObj(v)) throw new ConfigError(`${k(key)} must be an object`);
        const problems: string[] = [];
        for (const [pk, pv] of Object.entries(v)) {
          collect(problems, () => {
            if (!(pk in c.logPatterns)) throw new ConfigError(`${k(key)}: unknown pattern ${pk}`);
            (c.logPatterns as unknown as Raw)[pk] = regex(pv, `${k(key)}.${pk}`);
          });
        }
        if (problems.length > 0) throw new ConfigError(problems);
        break;
      }
      case 'archiveLimits': {
        if (!isObj(v)) throw new ConfigError(`${k(key)} must be an object`);
        const problems: string[] = [];
        for (const [ak, av] of Object.entries(v)) {
          collect(problems, () => {
            if (!(ak in c.archiveLimits)) throw new ConfigError(`${k(key)}: unknown limit ${ak}`);
            (c.archiveLimits as unknown as Raw)[ak] = num(av, `${k(key)}.${ak}`, 1, Number.MAX_SAFE_INTEGER);
          });
        }
        if (problems.length > 0) throw new ConfigError(problems);
        break;
      }
      case 'health': {
        if (!isObj(v)) throw new ConfigError(`${k(key)} must be an object`);
        const problems: string[] = [];
        for (const [hk, hv] of Object.entries(v)) {
          collect(problems, () => {
            if (hk === 'flowWindowMinutes') c.health.flowWindowMinutes = num(hv, `${k(key)}.${hk}`, 1, 100_000);
            else if (hk === 'diskLowPercent') c.health.diskLowPercent = num(hv, `${k(key)}.${hk}`, 0, 100);
            else throw new ConfigError(`${k(key)}: unknown key ${hk}`);
          });
        }
        if (problems.length > 0) throw new ConfigError(problems);
        break;
      }
      default: break; // accessControl: the nucleus' business, not ours
    }
  }
}

function applyMqtt(base: MqttConfig, v: unknown, k: (key: string) => string): MqttConfig {
  if (!isObj(v)) throw new ConfigError(`${k('mqtt')} must be an object`);
  const m = { ...base };
  const problems: string[] = [];
  for (const [mk, mv] of Object.entries(v)) {
    if (mv === undefined || mv === null || mv === '') continue;
    collect(problems, () => {
      switch (mk) {
        case 'port': m.port = int(mv, k(`mqtt.${mk}`), 1, 65535); break;
        case 'endpoint': case 'cert': case 'key': case 'ca': case 'clientId':
          m[mk] = text(mv, k(`mqtt.${mk}`));
          break;
        default: throw new ConfigError(`${k('mqtt')}: unknown key ${mk}`);
      }
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return m;
}

function applyLayout(base: LayoutConfig, v: unknown, key: string): LayoutConfig {
  if (!isObj(v)) throw new ConfigError(`${key} must be an object`);
  const l = { ...base };
  const problems: string[] = [];
  for (const [lk, lv] of Object.entries(v)) {
    const kk = `${key}.${lk}`;
    collect(problems, () => applyLayoutKey(l, lk, lv, kk, key));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return l;
}

function applyLayoutKey(l: LayoutConfig, lk: string, lv: unknown, kk: string, key: string): void {
  {
    switch (lk) {
      case 'flowSearchPaths': l.flowSearchPaths = strList(lv, kk).map((p) => relPath(p, kk)); break;
      case 'runtimeVolatile': l.runtimeVolatile = strList(lv, kk); break;
      case 'flowArchivePattern': case 'thingsGraphLogPattern': case 'runtimeLogPattern':
        l[lk] = regex(lv, kk);
        break;
      case 'groupJson': case 'deploymentDir': case 'thingsGraphDir': case 'userLogDir': case 'systemLogDir':
        l[lk] = relPath(lv, kk);
        break;
      default: throw new ConfigError(`${key}: unknown key ${lk}`);
    }
  }
}

function applyGreengrassV2(base: GreengrassV2LayoutConfig, v: unknown, key: string): GreengrassV2LayoutConfig {
  if (!isObj(v)) throw new ConfigError(`${key} must be an object`);
  const l = { ...base };
  for (const [lk, lv] of Object.entries(v)) {
    const kk = `${key}.${lk}`;
    switch (lk) {
      case 'rootPath': case 'liteRootPath': l[lk] = relPath(lv, kk); break;
      case 'nucleusLogPattern': l[lk] = regex(lv, kk); break;
      default: throw new ConfigError(`${key}: unknown key ${lk}`);
    }
  }
  return l;
}
