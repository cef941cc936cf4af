// The agent as a service: picks the transport (Greengrass IPC when the nucleus
// set us up, direct MQTT 5 when an endpoint is configured, JSON lines
// otherwise), reads configuration (component configuration < file < flags),
// keeps the expectation across restarts, answers the cloud's requests, tells
// the nucleus its state, and restarts the agent in-process when the
// component configuration changes.
import { join } from 'node:path';
import { applyConfig, ConfigError, defaultConfig, defaultStateDir, type Config } from '../config/config.js';
import { readConfigFile } from '../config/load.js';
import { rootProblem } from '../config/root.js';
import type { Logger } from '../log.js';
import { createHasher, type Hasher } from '../observe/hash.js';
import { readGroup } from '../observe/observe.js';
import { ipcAvailable } from '../report/ipc-env.js';
import type { IpcTransport } from '../report/ipc.js';
import { checkTlsFiles, defaultClientId, Mqtt5Transport, type ConnectNames } from '../report/mqtt5.js';
import { Outbox } from '../report/outbox.js';
import { classifyInbound, groupExpectedTopic, offlineHeartbeat, publishesTo, requestIdOf, thingGroupExpectedTopic, topicsFor, type Topics } from '../report/protocol.js';
import { ProtocolSink } from '../report/protocol-sink.js';
import type { ReportSink } from '../report/sink.js';
import { openSpool, type SpoolOptions } from '../report/spool.js';
import type { Transport } from '../report/transport.js';
import { loadStoredExpectations, saveExpectation } from '../state/expectation-store.js';
import { acquireLock, LockBusyError, type Lock } from '../state/lock.js';
import { prepareStateDir } from '../state/state-dir.js';
import { SequenceUnreadableError } from '../state/sequence.js';
import { GreengrassV2Logs } from '../observe/greengrass-v2/logs.js';
import { findGreengrassV2Roots } from '../observe/greengrass-v2/observe.js';
import { isOlderExpectation, layoutOfExpectation, parseAnyExpectation, type AnyExpectation } from '../verify/expectations.js';
import type { AnyReport, LayoutName } from '../verify/report.js';
import type { HealthProvider } from '../health/provider.js';
import { Agent } from './agent.js';
import { validateSchedules } from './schedule.js';

export type Mode = 'ipc' | 'mqtt' | 'local';

/** How long a refused group-topic subscription waits before it is tried again. */
const GROUP_RETRY_MS = 5 * 60_000;

/** The recipe's ComponentName: named in the accessControl hint when the nucleus refuses a topic. */
export const COMPONENT_NAME = 'com.deploywitness.Agent';

export interface ServiceOptions {
  env: NodeJS.ProcessEnv;
  /** Flags as raw configuration keys (they win over everything). */
  flags: Record<string, unknown>;
  /** The flag that sets each key (`hashRateLimitMBps` → `--hash-rate`), for messages about a bad one. */
  flagNames?: Readonly<Record<string, string>>;
  configFile?: string;
  /** How long `configFile` may take to arrive when it is a pipe (the loader's default otherwise). */
  inputTimeoutMs?: number;
  /** From --expect: wins over a stored expectation of its layout. */
  expectation: AnyExpectation | null;
  /** For local mode: where JSON lines go. */
  localSink: () => ReportSink;
  logger: Logger;
  agentVersion: string;
  health?: (config: Config) => HealthProvider;
  /** Defaults to COMPONENT_NAME. */
  componentName?: string;
  /** Options for the report spool (bounds, fault injection); the service's logger is used. */
  spool?: Omit<SpoolOptions, 'logger'>;
}

export function chooseMode(env: NodeJS.ProcessEnv, config: Config): Mode {
  if (ipcAvailable(env)) return 'ipc';
  if (config.mqtt.endpoint) return 'mqtt';
  return 'local';
}

/** defaults < component configuration < --config file < flags. */
export async function buildConfig(opts: {
  env: NodeJS.ProcessEnv;
  component?: unknown;
  configFile?: string;
  inputTimeoutMs?: number;
  flags: Record<string, unknown>;
  flagNames?: Readonly<Record<string, string>>;
}): Promise<Config> {
  let c = defaultConfig(opts.env);
  if (opts.component !== undefined) c = applyConfig(c, opts.component, 'component configuration');
  if (opts.configFile) {
    const raw = await readConfigFile(opts.configFile, opts.inputTimeoutMs !== undefined ? { timeoutMs: opts.inputTimeoutMs } : {});
    c = applyConfig(c, raw, opts.configFile);
  }
  c = applyConfig(c, opts.flags, 'flags', opts.flagNames ? { names: opts.flagNames } : {});
  validateSchedules(c);
  return c;
}

/** Direct MQTT's settings, named as both the flags and the configuration file spell them. */
const MQTT_NAMES: ConnectNames = {
  endpoint: '--endpoint (mqtt.endpoint)', port: '--port (mqtt.port)', cert: '--cert (mqtt.cert)',
  key: '--key (mqtt.key)', ca: '--ca (mqtt.ca)', clientId: 'mqtt.clientId',
};

/** Direct-MQTT settings given where no endpoint makes them count: named, so they are not silently ignored. */
function strayMqttSettings(config: Config, flags: Record<string, unknown>): string[] {
  const m = config.mqtt;
  const given = (flags.mqtt ?? {}) as Record<string, unknown>;
  const stray: string[] = [];
  for (const k of ['cert', 'key', 'ca', 'port', 'clientId'] as const) {
    if (k === 'port' ? given.port !== undefined : m[k] !== undefined) stray.push(MQTT_NAMES[k]);
  }
  return stray;
}

async function thingFor(mode: Mode, env: NodeJS.ProcessEnv, config: Config): Promise<string | null> {
  if (config.thingName) return config.thingName;
  if (mode === 'ipc' && env.AWS_IOT_THING_NAME) return env.AWS_IOT_THING_NAME;
  // A v1-only core: the agent speaks for the core thing group.json names.
  const g = await readGroup(config.root, config.layout);
  if (g.state === 'ok' && g.definition.coreThing) return g.definition.coreThing;
  // A v2 core run outside the nucleus: the thing the nucleus runs as (config.tlog's system.thingName).
  for (const site of await findGreengrassV2Roots(config.root, config.greengrassV2)) {
    const logs = new GreengrassV2Logs(config.root, site.v2Root, site.nucleus, config.greengrassV2);
    await logs.refresh();
    const rv = logs.runningVersions();
    if (rv.state === 'ok' && rv.thingName) return rv.thingName;
  }
  return null;
}

/**
 * Runs until stopped. Resolves the `stop` function once the first report is
 * out (or the service is waiting, ERRORED, for a configuration it can use).
 */
export class Service {
  private agent: Agent | null = null;
  private hasher: Hasher | null = null;
  private transport: Transport | null = null;
  private ipc: IpcTransport | null = null;
  private outbox: Outbox | null = null;
  private sink: ReportSink | null = null;
  private topics: Topics | null = null;
  private config: Config | null = null;
  private lock: Lock | null = null;
  private lastState: 'RUNNING' | 'ERRORED' | null = null;
  private stateChain: Promise<void> = Promise.resolve();
  /** Per layout, the newest valid expectation received and not yet stored and applied (newer ones replace it). */
  private readonly pendingExpectations = new Map<LayoutName, { text: string; expectation: AnyExpectation }>();
  private applyingExpectations: Promise<void> | null = null;
  private restarting: Promise<void> | null = null;
  private configTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** The transport is connected now (IPC connects before the first agent exists). */
  private transportUp = false;
  mode: Mode = 'local';
  /** Set by the runner: the agent cannot go on, the process should exit non-zero. */
  onFatal: ((err: Error) => void) | null = null;

  constructor(private readonly opts: ServiceOptions) {}

  async start(): Promise<void> {
    const { env, logger } = this.opts;
    if (ipcAvailable(env)) {
      this.mode = 'ipc';
      // Loaded only here: the SDK and its native library cost ~20 MB of memory.
      const { IpcTransport } = await import('../report/ipc.js');
      const { fileExitLedger } = await import('../report/ipc-restart.js');
      // Restarts for a refused token are rationed across processes: the ledger lives in the state folder.
      const stateDir = typeof this.opts.flags.stateDir === 'string' ? this.opts.flags.stateDir : defaultStateDir(env);
      const ipc = new IpcTransport({ logger, componentName: this.opts.componentName ?? COMPONENT_NAME, exitLedger: fileExitLedger(join(stateDir, 'ipc-restarts.json')) });
      this.ipc = ipc;
      this.transport = ipc;
      await ipc.start(this.handlers());
      await ipc.onConfigurationUpdate(() => this.onConfigurationChanged());
    }
    await this.startAgent();
  }

  private handlers() {
    return {
      onMessage: (topic: string, payload: Buffer) => void this.onMessage(topic, payload),
      onConnected: () => {
        this.transportUp = true;
        // Sending starts with the first connection: an attempt before it can only fail.
        this.outbox?.start();
        this.outbox?.transportConnected();
        // An agent started later is told when it starts.
        this.agent?.connected();
      },
      onDisconnected: (reason?: Error) => {
        this.transportUp = false;
        this.opts.logger.warn('transport disconnected', { reason: reason?.message });
      },
      onFatal: (reason: Error) => this.onFatal?.(reason),
    };
  }

  private async componentConfiguration(): Promise<unknown> {
    if (!this.ipc) return undefined;
    return this.ipc.getConfiguration([]);
  }

  /**
   * One UpdateState at a time, in call order: two verdicts in quick succession
   * must leave the nucleus with the newer one, not whichever answer came last.
   */
  private setState(state: 'RUNNING' | 'ERRORED'): Promise<void> {
    if (!this.ipc) return Promise.resolve();
    this.stateChain = this.stateChain.then(async () => {
      if (!this.ipc || state === this.lastState) return;
      try {
        await this.ipc.updateState(state);
        this.lastState = state;
      } catch (err) {
        this.opts.logger.warn('UpdateState failed', { state, error: (err as Error).message });
      }
    });
    return this.stateChain;
  }

  /**
   * The agent cannot work. Without a nucleus, the runner says so once and exits
   * 2. As a component it stays, ERRORED, until the configuration changes:
   * exiting would only spend the nucleus' restarts on the same mistake.
   */
  private async cannotWork(why: string): Promise<void> {
    if (!this.ipc) throw new ConfigError(why);
    this.opts.logger.error('the agent cannot work', { reason: why, waiting: 'for a configuration change' });
    await this.setState('ERRORED');
  }

  private async startAgent(): Promise<void> {
    const { env, logger } = this.opts;
    let config: Config;
    try {
      config = await buildConfig({
        env,
        component: await this.componentConfiguration(),
        ...(this.opts.configFile ? { configFile: this.opts.configFile } : {}),
        ...(this.opts.inputTimeoutMs !== undefined ? { inputTimeoutMs: this.opts.inputTimeoutMs } : {}),
        flags: this.opts.flags,
        ...(this.opts.flagNames ? { flagNames: this.opts.flagNames } : {}),
      });
    } catch (err) {
      return this.cannotWork((err as Error).message);
    }
    logger.level = config.logLevel;
    const unusable = await rootProblem(config.root);
    if (unusable) return this.cannotWork(unusable);
    if (this.mode !== 'ipc') this.mode = chooseMode(env, config);
    this.config = config;
    const stray = strayMqttSettings(config, this.opts.flags);
    if (this.mode === 'ipc' && (stray.length > 0 || config.mqtt.endpoint)) {
      logger.warn('direct MQTT settings are ignored as a Greengrass component: reports go through the nucleus', {
        settings: [...(config.mqtt.endpoint ? [MQTT_NAMES.endpoint] : []), ...stray],
      });
    }
    if (this.mode === 'local' && stray.length > 0) {
      return this.cannotWork(`${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} for direct MQTT and need an endpoint (--endpoint, or mqtt.endpoint); without one, reports go to standard output or --report-file`);
    }

    const stateProblem = await prepareStateDir(config.stateDir);
    if (stateProblem) return this.cannotWork(stateProblem);
    // verify and a running agent share the state folder; two agents must not.
    if (!this.lock) {
      try {
        this.lock = await acquireLock(join(config.stateDir, 'agent.lock'), { waitMs: 0 });
      } catch (err) {
        if (!(err instanceof LockBusyError)) return this.cannotWork(`state folder ${config.stateDir} cannot be locked: ${(err as Error).message}`);
        return this.cannotWork(`another agent (process ${err.holder}) is running on state folder ${config.stateDir}: stop it, or give this one its own --state`);
      }
    }

    let sink: ReportSink;
    if (this.mode === 'local') {
      sink = this.opts.localSink();
    } else {
      const thing = await thingFor(this.mode, env, config);
      if (!thing) {
        return this.cannotWork('no thing name: set thingName (or --thing), or deploy a group.json that names its core thing');
      }
      config = { ...config, thingName: thing };
      this.config = config;
      this.topics = topicsFor(config.topicPrefix, thing);
      if (this.mode === 'mqtt' && !this.transport) {
        const m = config.mqtt;
        if (!m.cert || !m.key) return this.cannotWork('direct MQTT needs mqtt.cert and mqtt.key (--cert, --key)');
        // A missing or wrong certificate is a configuration error, said before a whole verification runs.
        try {
          await checkTlsFiles({ cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) }, MQTT_NAMES);
        } catch (err) {
          return this.cannotWork((err as Error).message);
        }
        const will = { topic: this.topics.heartbeat, payload: JSON.stringify(offlineHeartbeat(thing)), qos: 1 as const, retain: true, kind: 'heartbeat' as const };
        this.transport = new Mqtt5Transport({
          endpoint: m.endpoint!, port: m.port, certPath: m.cert, keyPath: m.key, ...(m.ca ? { caPath: m.ca } : {}),
          clientId: m.clientId ?? defaultClientId(thing), will, logger,
          // Capped like the IPC transport: after an outage the report is at most a minute late.
          maxReconnectDelayMs: 60_000,
          // A certificate the broker's side cannot trust is said at once, not after aws-crt's 10 to 30 s.
          names: MQTT_NAMES,
          probeTls: true,
        });
      }
      if (!this.outbox) {
        const spool = await openSpool(join(config.stateDir, 'spool'), { ...this.opts.spool, logger });
        this.outbox = new Outbox({ spool, transport: this.transport!, logger });
      }
      const topics = this.topics;
      const dropped = await this.outbox.discardUnless((m) => publishesTo(topics, m.topic));
      if (dropped > 0) logger.info('dropped spooled messages for topics no longer used', { dropped, prefix: config.topicPrefix, thing });
      sink = new ProtocolSink(this.outbox, this.topics, (r) => void this.onReport(r));
    }
    this.sink = sink;

    const given = this.opts.expectation;
    const kept = await loadStoredExpectations(config.stateDir);
    const stored = kept.expectations.filter((e) => !given || layoutOfExpectation(e) !== layoutOfExpectation(given));
    const expectations = [...(given ? [given] : []), ...stored];
    // stop() came while we were getting here: it found no agent to stop, so start none.
    if (this.stopped) return;
    this.held.clear();
    for (const e of expectations) this.held.set(layoutOfExpectation(e), e);
    this.hasher = createHasher({ concurrency: config.hashConcurrency, rateLimitMBps: config.hashRateLimitMBps });
    const agent = new Agent({
      config, logger, sink, hasher: this.hasher, agentVersion: this.opts.agentVersion, expectations,
      thing: config.thingName ?? null,
      spoolDepth: () => this.outbox?.depth ?? 0,
      ...(this.opts.health ? { health: this.opts.health(config) } : {}),
      onFatal: (err) => {
        this.opts.logger.error('agent failed repeatedly; exiting so the nucleus restarts it', { error: err.message });
        this.onFatal?.(err);
      },
    });
    this.agent = agent;
    // Connected already (IPC, or a restart with a new configuration): the first report and a heartbeat say so.
    if (this.transportUp) agent.connected();
    try {
      await agent.start();
    } catch (err) {
      if (!(err instanceof SequenceUnreadableError)) throw err;
      await agent.stop();
      this.agent = null;
      return this.cannotWork(err.message);
    }
    // A lost expectation weakens every verdict after it: said in the log and, as a warning, to the cloud.
    for (const d of kept.damaged) {
      if (given && layoutOfExpectation(given) === d.layout) continue;
      logger.warn('stored expectation cannot be used; judging without it until one is sent again', { file: d.file, error: d.why });
      agent.rejectExpectation(`the one kept in ${d.file} (${d.why}); judged without it until one is sent again`, null, d.layout);
    }

    if (this.transport && this.topics) {
      if (this.mode === 'mqtt' && !this.transportStarted) {
        this.transportStarted = true;
        await this.transport.start(this.handlers());
      }
      for (const t of [this.topics.expected, this.topics.reportGet]) {
        if (this.subscribed.has(t)) continue;
        await this.transport.subscribe(t);
        this.subscribed.add(t);
      }
      // IPC is connected by now; direct MQTT starts sending on its first connection.
      if (this.mode === 'ipc') this.outbox!.start();
    }
    await this.setState(config.erroredWhenUnverified && !this.allVerified() ? 'ERRORED' : 'RUNNING');
  }

  /** Every layout's newest report says VERIFIED (`r`: one just made, in case the agent does not hold it yet). */
  private allVerified(r?: AnyReport): boolean {
    const reports = this.agent?.reports ?? [];
    return (r ? r.status === 'VERIFIED' : reports.length > 0) && reports.every((x) => x.status === 'VERIFIED' || x.layout === r?.layout);
  }

  private transportStarted = false;
  private readonly subscribed = new Set<string>();

  private async onReport(r: AnyReport): Promise<void> {
    if (!this.config) return;
    if (r.layout === 'greengrass-v2') this.followThingGroups(r.observed.targets);
    else this.followGroup(r.observed.groupId);
    // Optionally, fleet status shows a device whose deployment is not verified as unhealthy (any layout).
    if (this.config.erroredWhenUnverified) await this.setState(this.allVerified(r) ? 'RUNNING' : 'ERRORED');
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    if (!this.topics || !this.agent || !this.config) return;
    const groups = new Set(this.thingGroupTopics);
    if (this.groupTopic !== null) groups.add(this.groupTopic);
    const msg = classifyInbound(topic, payload, this.topics, groups);
    if (msg.kind === 'get') {
      this.agent.requestReport(msg.requestId);
    } else if (msg.kind === 'expected-unreadable') {
      this.opts.logger.warn('expectation rejected', { topic, error: msg.error });
      this.agent.rejectExpectation(msg.error, msg.requestId);
    } else if (msg.kind === 'expected') {
      const parsed = parseAnyExpectation(msg.text);
      if (!parsed.ok) {
        // Answered with a warning; the valid expectation held is kept and still judged by.
        this.opts.logger.warn('expectation rejected', { topic, error: parsed.error });
        this.agent.rejectExpectation(parsed.error, requestIdOf(msg.text), parsed.layout);
        return;
      }
      const layout = layoutOfExpectation(parsed.expectation);
      const held = this.pendingExpectations.get(layout)?.expectation ?? this.held.get(layout);
      if (held && isOlderExpectation(parsed.expectation, held)) {
        this.answerOnly(parsed.expectation, held);
        return;
      }
      // Stored before it is applied, one at a time, in arrival order: a slow save must not let an
      // older expectation overtake a newer one. A newer arrival replaces one of its layout still waiting.
      this.pendingExpectations.set(layout, { text: msg.text, expectation: parsed.expectation });
      this.applyingExpectations ??= this.applyExpectations().finally(() => (this.applyingExpectations = null));
    }
  }

  /** Per layout, the valid expectation the agent judges by (what is stored). */
  private readonly held = new Map<LayoutName, AnyExpectation>();

  /**
   * An expectation older (summary.updatedAt) than the one held: the answer to
   * its request is judged by it, so the sender learns what it asked, and the
   * agent stays with the newer one. It is never stored: checking an old
   * response must not leave the device judging by it.
   */
  private answerOnly(e: AnyExpectation, held: AnyExpectation): void {
    const when = (x: AnyExpectation) => ('updatedAt' in x ? x.updatedAt : 'creationTimestamp' in x ? x.creationTimestamp : undefined);
    this.opts.logger.info('expectation older than the one held: answered, not adopted', {
      requestId: e.requestId ?? null, updatedAt: when(e), heldUpdatedAt: when(held),
    });
    this.agent?.answerWith(e, e.requestId ?? null);
  }

  // ---- the group topic: one publish per deployment reaches the group's core ----

  private groupTopic: string | null = null;
  private groupFollowing: Promise<void> = Promise.resolve();

  /**
   * Subscribes to the expected topic of the group the core observes, dropping
   * the former group's when it changes. One change at a time, in order; a failed
   * subscription is tried again with the next report.
   */
  private followGroup(groupId: string | null): void {
    const transport = this.transport;
    const config = this.config;
    if (!transport || !config || !this.topics || groupId === null) return;
    let topic: string;
    try {
      topic = groupExpectedTopic(config.topicPrefix, groupId);
    } catch (err) {
      this.opts.logger.warn('group ID cannot name a topic; not following it', { groupId, error: (err as Error).message });
      return;
    }
    if (topic === this.wantedGroupTopic) return;
    // A refused subscription (an accessControl without the group topic) is tried again now and then, not at every report.
    if (topic === this.refusedGroupTopic?.topic && Date.now() < this.refusedGroupTopic.retryAt) return;
    this.wantedGroupTopic = topic;
    this.groupFollowing = this.groupFollowing.then(async () => {
      if (this.stopped || this.wantedGroupTopic !== topic) return;
      const former = this.groupTopic;
      try {
        await transport.subscribe(topic);
        this.groupTopic = topic;
        this.opts.logger.info('following the group topic', { topic });
      } catch (err) {
        if (this.wantedGroupTopic === topic) this.wantedGroupTopic = null;
        this.refusedGroupTopic = { topic, retryAt: Date.now() + GROUP_RETRY_MS };
        this.opts.logger.warn('cannot subscribe to the group topic; the thing topic still works', { topic, error: (err as Error).message });
        return;
      }
      this.refusedGroupTopic = null;
      if (former !== null && former !== topic && transport.unsubscribe) {
        await transport.unsubscribe(former).catch((err: Error) => this.opts.logger.warn('cannot unsubscribe from the former group topic', { topic: former, error: err.message }));
      }
    });
  }

  private wantedGroupTopic: string | null = null;
  private refusedGroupTopic: { topic: string; retryAt: number } | null = null;

  private async applyExpectations(): Promise<void> {
    for (let [layout, next] = this.nextPending(); next; [layout, next] = this.nextPending()) {
      this.pendingExpectations.delete(layout);
      if (!this.config || !this.agent) return;
      try {
        await saveExpectation(this.config.stateDir, next.text, layout);
      } catch (err) {
        this.opts.logger.error('could not store the expectation', { error: (err as Error).message });
      }
      this.held.set(layout, next.expectation);
      this.agent?.setExpectation(next.expectation, next.expectation.requestId ?? null);
    }
  }

  private nextPending(): [LayoutName, { text: string; expectation: AnyExpectation } | undefined] {
    const first = this.pendingExpectations.entries().next();
    return first.done ? ['thingsgraph-v1', undefined] : first.value;
  }

  // ---- the thing group topics: one publish per v2 deployment reaches every core of the group ----

  /** Thing group topics subscribed to now. */
  private readonly thingGroupTopics = new Set<string>();
  private wantedThingGroupTopics: string[] = [];
  private readonly refusedThingGroupTopics = new Map<string, number>();
  private thingGroupFollowing: Promise<void> = Promise.resolve();

  /**
   * Subscribes to the expected topic of every thing group the core's v2
   * deployments name (`thinggroup/<name>` targets), and drops those of thing
   * groups it no longer names. One change at a time; a refused subscription
   * is tried again now and then.
   */
  private followThingGroups(targets: readonly string[]): void {
    const transport = this.transport;
    const config = this.config;
    if (!transport || !config || !this.topics) return;
    const topics: string[] = [];
    for (const t of targets) {
      if (!t.startsWith('thinggroup/')) continue;
      try {
        topics.push(thingGroupExpectedTopic(config.topicPrefix, t.slice('thinggroup/'.length)));
      } catch {
        // A thing group name cannot hold + # or /: one that does is not followed.
      }
    }
    topics.sort();
    const now = Date.now();
    const same = topics.length === this.wantedThingGroupTopics.length && topics.every((t, i) => t === this.wantedThingGroupTopics[i]);
    const retryDue = topics.some((t) => !this.thingGroupTopics.has(t) && (this.refusedThingGroupTopics.get(t) ?? 0) <= now);
    if (same && !retryDue) return;
    this.wantedThingGroupTopics = topics;
    this.thingGroupFollowing = this.thingGroupFollowing.then(async () => {
      if (this.stopped) return;
      const want = new Set(this.wantedThingGroupTopics);
      for (const topic of want) {
        if (this.thingGroupTopics.has(topic) || (this.refusedThingGroupTopics.get(topic) ?? 0) > Date.now()) continue;
        try {
          await transport.subscribe(topic);
          this.thingGroupTopics.add(topic);
          this.refusedThingGroupTopics.delete(topic);
          this.opts.logger.info('following the thing group topic', { topic });
        } catch (err) {
          this.refusedThingGroupTopics.set(topic, Date.now() + GROUP_RETRY_MS);
          this.opts.logger.warn('cannot subscribe to the thing group topic; the thing topic still works', { topic, error: (err as Error).message });
        }
      }
      for (const topic of [...this.thingGroupTopics]) {
        if (want.has(topic)) continue;
        this.thingGroupTopics.delete(topic);
        if (transport.unsubscribe) {
          await transport.unsubscribe(topic).catch((err: Error) => this.opts.logger.warn('cannot unsubscribe from a former thing group topic', { topic, error: err.message }));
        }
      }
    });
  }

  /** Component configuration changed: re-read it and restart the agent with it (debounced). */
  private onConfigurationChanged(): void {
    if (this.stopped) return;
    if (this.configTimer) clearTimeout(this.configTimer);
    this.configTimer = setTimeout(() => {
      this.configTimer = null;
      this.restarting ??= this.restart().finally(() => (this.restarting = null));
    }, 500);
  }

  private async restart(): Promise<void> {
    this.opts.logger.info('component configuration changed; applying it');
    await this.stopAgent();
    if (this.stopped) return;
    try {
      await this.startAgent();
    } catch (err) {
      await this.cannotWork((err as Error).message).catch(() => {});
    }
  }

  private async stopAgent(): Promise<void> {
    await this.agent?.stop();
    this.agent = null;
    await this.hasher?.close();
    this.hasher = null;
    if (this.mode === 'local') await this.sink?.close();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.configTimer) clearTimeout(this.configTimer);
    await this.restarting;
    await this.stopAgent();
    await this.outbox?.stop();
    await this.transport?.stop();
    await this.lock?.release();
    this.lock = null;
  }
}
