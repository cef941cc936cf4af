// Writes a realistic Greengrass v1 core root as a Things Graph deployment
// leaves it, healthy or with one fault. Used by the tests, the demo and the
// benchmarks. A tool, not an oracle: tests check hand-written expectations.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import { parseTriggerCadence } from '../src/observe/log-lines.js';

export interface CoreIds {
  region: string;
  account: string;
  groupId: string;
  groupVersionId: string;
  deploymentId: string;
  coreThing: string;
  flowName: string;
  systemInstanceId: string;
  mlResourceId: string;
}

export const DEFAULT_IDS: CoreIds = {
  region: 'us-east-1',
  account: '123456789012',
  groupId: '4f5d2d2c-7c2f-4c8e-9d1a-1b2c3d4e5f60',
  groupVersionId: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  deploymentId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
  coreThing: 'MyGreengrassCore',
  flowName: 'MyExample01',
  systemInstanceId: 'urn:tdm:us-east-1/123456789012/default:deployment:MyExample01_V001',
  mlResourceId: '3c0f1e2d-4b5a-4978-8e6d-5c4b3a291807',
};

/** Each fault and the finding it must produce. */
export const VARIANTS = {
  healthy: 'a Things Graph deployment that landed and runs',
  'group-missing': 'no group.json (GROUP_DEFINITION_MISSING)',
  'group-invalid': 'group.json cut off mid-write (GROUP_DEFINITION_INVALID)',
  'deployment-failed': 'runtime.log reports the deployment failed (DEPLOYMENT_FAILED)',
  'not-registered': 'the runtime restarted and registered nothing (SYSTEM_INSTANCE_NOT_REGISTERED)',
  'resource-missing': 'no flow archive nor folder on disk (RESOURCE_MISSING)',
  'resource-corrupt': 'the flow archive is truncated (RESOURCE_CORRUPT)',
  'unsafe-archive': 'the flow archive holds a symbolic link (UNSAFE_ARCHIVE_ENTRY)',
  'runtime-missing': 'no /thingsgraph folder (RUNTIME_FILES_MISSING)',
} as const;
export type Variant = keyof typeof VARIANTS;

export interface CoreSpec {
  root: string;
  variant?: Variant;
  ids?: Partial<CoreIds>;
  /** Files in the connector's Lambda folder and in engine/ (benchmarks raise them). */
  lambdaFiles?: number;
  engineFiles?: number;
  /** Lines carry `[<UTC timestamp>]` prefixes. */
  timestamps?: boolean;
  /** The flow's trigger period in seconds (the log's "every N seconds"); default 10. */
  cadenceSeconds?: number;
  /** group.json resources in the v1 API shape (default) or the {Type, Data} shape. */
  resourceShape?: 'api' | 'typeData';
  /** The flow archive's bytes, written as they are instead of the generated archive. */
  flowArchive?: Buffer;
  /** Lay down the unpacked flow folder next to the archive (default true). */
  unpacked?: boolean;
  now?: Date;
}

export interface MadeCore {
  root: string;
  ids: CoreIds;
  /** What `aws iotthingsgraph deploy-system-instance` prints for this deployment. */
  expectation: Record<string, unknown>;
  /** The same in the envelope that adds archive digests and a request ID. */
  envelope: Record<string, unknown>;
  /** Root-relative paths. */
  paths: { groupJson: string; archive: string; flowFolder: string; thingsGraphLog: string; runtimeLog: string; lambdaDir: string; engineDir: string };
  archiveSha256: string;
}

export const CONNECTOR_ARN = (ids: CoreIds) => `arn:aws:greengrass:${ids.region}::/connectors/ThingsGraph/versions/1`;
export const CONNECTOR_LAMBDA = (ids: CoreIds) =>
  `arn:aws:lambda:${ids.region}:${ids.account}:function:ThingsGraphConnector:3`;

/** Deterministic filler so digests are stable across runs. */
export function filler(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Writes a root-relative file, its folders first. */
export async function put(root: string, rel: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const p = join(root, rel);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, data, { mode });
}

export function groupJson(ids: CoreIds, shape: 'api' | 'typeData', flowFile: string): Record<string, unknown> {
  const s3Uri = `s3://my-thingsgraph-bucket/${flowFile}`;
  const resource =
    shape === 'api'
      ? {
          Id: ids.mlResourceId,
          Name: `${ids.flowName}-flow`,
          ResourceDataContainer: {
            S3MachineLearningModelResourceData: { S3Uri: s3Uri, DestinationPath: `/thingsgraph/${ids.flowName}` },
          },
        }
      : { Type: 'S3MachineLearningModelResourceData', Data: JSON.stringify({ S3Uri: s3Uri, DestinationPath: `/thingsgraph/${ids.flowName}` }) };
  return {
    Arn: `arn:aws:greengrass:${ids.region}:${ids.account}:/greengrass/groups/${ids.groupId}/versions/${ids.groupVersionId}`,
    Version: ids.groupVersionId,
    Region: ids.region,
    Cores: [{ thingArn: `arn:aws:iot:${ids.region}:${ids.account}:thing/${ids.coreThing}`, SyncShadow: true }],
    Devices: [{ thingArn: `arn:aws:iot:${ids.region}:${ids.account}:thing/MotionSensor1`, SyncShadow: false }],
    GroupDefinitions: {
      Lambdas: {
        Content: [
          {
            FunctionArn: CONNECTOR_LAMBDA(ids),
            DeploymentConfiguration: { CodeSize: 12_345_678, Runtime: 'java8' },
          },
        ],
      },
      Connectors: { Content: [{ ConnectorArn: CONNECTOR_ARN(ids), Id: 'ThingsGraphConnector', Parameters: { S3Uri: s3Uri } }] },
      Subscriptions: {
        Content: [{ Id: 'sub-1', Source: `arn:aws:iot:${ids.region}:${ids.account}:thing/MotionSensor1`, Subject: 'motion/#', Target: 'GGShadowService' }],
      },
      Resources: { Content: [resource] },
      Logging: { Content: [{ Component: 'GreengrassSystem', Level: 'INFO', Type: 'FileSystem', Space: 25600 }] },
    },
  };
}

function line(ts: boolean, at: Date, level: string, msg: string): string {
  return `${ts ? `[${at.toISOString()}]` : ''}[${level}]-${msg}\n`;
}

/** The simulated flow's trigger, as the runtime logs it: "every N seconds". */
export const DEFAULT_CADENCE_SECONDS = 10;

/** One flow execution's lines, as ThingsGraph.log shows them. */
export function executionText(ids: CoreIds, n: number, at: Date, timestamps: boolean): string {
  let out = line(timestamps, at, 'INFO', 'FlowSchedulerClientGreengrassImpl: StartFlowExecution:');
  out += line(timestamps, at, 'INFO', `flowInstanceId: ${ids.flowName}-exec-${n}`);
  out += line(timestamps, at, 'INFO', `flowType: urn:tdm:${ids.region}/${ids.account}/default:workflow:${ids.flowName}`);
  return out;
}

export function thingsGraphLogText(
  ids: CoreIds,
  opts: { timestamps: boolean; registered: boolean; start: Date; cadenceSeconds?: number },
): string {
  const cadence = opts.cadenceSeconds ?? DEFAULT_CADENCE_SECONDS;
  const t = (s: number) => new Date(opts.start.getTime() + s * 1000);
  const L = (s: number, level: string, m: string) => line(opts.timestamps, t(s), level, m);
  let out = '';
  out += L(0, 'INFO', 'bootstrapping DB');
  out += L(1, 'INFO', 'bootstrapping entities');
  out += L(2, 'INFO', 'bootstrapping entities done');
  out += L(3, 'INFO', 'bootstrapping DB done');
  if (opts.registered) out += L(4, 'INFO', `FlowsBootstrap: registered SDC: ${ids.systemInstanceId}`);
  out += L(5, 'INFO', 'Initialized ThingsGraph Runtime v1.2.3');
  if (opts.registered) {
    out += L(6, 'INFO', `Trigger expression condition: [every ${cadence} seconds]`);
    for (let i = 0; i < 3; i++) out += executionText(ids, i, t(10 + i * cadence), opts.timestamps);
  }
  return out;
}

export function runtimeLogText(ids: CoreIds, opts: { timestamps: boolean; failed: boolean; start: Date }): string {
  const at = opts.start;
  let out = line(opts.timestamps, at, 'INFO', 'Greengrass daemon started. {"version": "1.11.6"}');
  out += line(opts.timestamps, at, 'INFO', `Start deployment. {"deploymentId": "${ids.deploymentId}", "groupVersion": "${ids.groupVersionId}"}`);
  out += opts.failed
    ? line(opts.timestamps, at, 'ERROR', `Deployment failed. {"deploymentId": "${ids.deploymentId}", "errorString": "process start failed: ThingsGraphConnector"}`)
    : line(opts.timestamps, at, 'INFO', `Deployment succeeded. {"deploymentId": "${ids.deploymentId}"}`);
  return out;
}

const FLOW_FILES: Record<string, string> = {
  'manifest.json': '{"format":"thingsgraph-deployment","version":1}\n',
  'flows/MyExample01.json': '{"type":"workflow","name":"MyExample01","activities":["detectMotion","captureImage"]}\n',
  'systems/MyExample01System.json': '{"type":"system","devices":["MotionSensor1","Camera1"]}\n',
  'devices/MotionSensor1.json': '{"model":"urn:tdm:aws/examples:deviceModel:MotionSensor"}\n',
  'devices/Camera1.json': '{"model":"urn:tdm:aws/examples:deviceModel:Camera"}\n',
};

async function writeFlowArchive(abs: string, opts: { unsafe: boolean }): Promise<void> {
  const src = await mkdtemp(join(tmpdir(), 'dw-flow-'));
  try {
    for (const [p, c] of Object.entries(FLOW_FILES)) await put(src, p, c);
    const list = Object.keys(FLOW_FILES);
    if (opts.unsafe) {
      await symlink('/etc/passwd', join(src, 'devices', 'escape'));
      list.push('devices/escape');
    }
    await mkdir(dirname(abs), { recursive: true });
    // Fixed mtimes and portable headers: the same archive bytes on every run.
    const fixed = new Date('2020-01-01T00:00:00Z');
    await tar.c({ gzip: true, file: abs, cwd: src, portable: true, mtime: fixed, noDirRecurse: true }, list);
  } finally {
    await rm(src, { recursive: true, force: true });
  }
}

export async function makeCore(spec: CoreSpec): Promise<MadeCore> {
  const ids: CoreIds = { ...DEFAULT_IDS, ...spec.ids };
  const variant = spec.variant ?? 'healthy';
  const ts = spec.timestamps ?? true;
  const now = spec.now ?? new Date();
  const root = spec.root;
  const flowFile = `flow-${ids.flowName}.tar.gz`;
  const dep = 'greengrass/ggc/deployment';
  const paths = {
    groupJson: `${dep}/group/group.json`,
    archive: `${dep}/mlmodel/${ids.mlResourceId}/${flowFile}`,
    flowFolder: `${dep}/mlmodel/${ids.mlResourceId}/flow-${ids.flowName}`,
    thingsGraphLog: `greengrass/ggc/var/log/user/${ids.region}/ThingsGraph/ThingsGraph.log`,
    runtimeLog: 'greengrass/ggc/var/log/system/runtime.log',
    lambdaDir: `${dep}/lambda/${CONNECTOR_LAMBDA(ids)}`,
    engineDir: 'thingsgraph/engine',
  };
  await mkdir(root, { recursive: true });

  const gj = JSON.stringify(groupJson(ids, spec.resourceShape ?? 'api', flowFile), null, 2);
  if (variant === 'group-invalid') await put(root, paths.groupJson, gj.slice(0, Math.floor(gj.length / 2)));
  else if (variant !== 'group-missing') await put(root, paths.groupJson, gj);

  // The connector's Lambda folder: a jar, its config, some libraries.
  await put(root, `${paths.lambdaDir}/ThingsGraphConnector.jar`, filler('connector-jar', 64 * 1024));
  await put(root, `${paths.lambdaDir}/config.json`, '{"handler":"com.amazonaws.thingsgraph.Connector::handle"}\n');
  for (let i = 0; i < (spec.lambdaFiles ?? 4); i++) {
    await put(root, `${paths.lambdaDir}/lib/dep-${String(i).padStart(4, '0')}.jar`, filler(`lib-${i}`, 2048 + (i % 7) * 1024));
  }

  if (variant !== 'resource-missing') {
    if (spec.flowArchive) await put(root, paths.archive, spec.flowArchive);
    else await writeFlowArchive(join(root, paths.archive), { unsafe: variant === 'unsafe-archive' });
    if (spec.unpacked !== false) {
      for (const [p, c] of Object.entries(FLOW_FILES)) await put(root, `${paths.flowFolder}/${p}`, c);
    }
  }
  const archiveSha256 =
    variant === 'resource-missing' ? '' : createHash('sha256').update(await readFile(join(root, paths.archive))).digest('hex');
  if (variant === 'resource-corrupt') {
    const size = (await readFile(join(root, paths.archive))).length;
    await truncate(join(root, paths.archive), Math.floor(size / 2));
  }

  if (variant !== 'runtime-missing') {
    await put(root, 'thingsgraph/ThingsGraph.db', filler('db', 32 * 1024), 0o600);
    await put(root, `${paths.engineDir}/engine.properties`, 'engine.mode=greengrass\n');
    for (let i = 0; i < (spec.engineFiles ?? 3); i++) {
      await put(root, `${paths.engineDir}/models/model-${String(i).padStart(4, '0')}.json`, `{"model":${i}}\n`);
    }
  }

  const start = new Date(now.getTime() - 60_000);
  const cadence = spec.cadenceSeconds !== undefined ? { cadenceSeconds: spec.cadenceSeconds } : {};
  await put(root, paths.thingsGraphLog, thingsGraphLogText(ids, { timestamps: ts, registered: variant !== 'not-registered', start, ...cadence }));
  if (variant === 'not-registered') {
    // The runtime restarted later and registered nothing this time.
    const again = thingsGraphLogText(ids, { timestamps: ts, registered: false, start: new Date(start.getTime() + 30_000) });
    await appendFile(join(root, paths.thingsGraphLog), again);
  }
  await put(root, paths.runtimeLog, runtimeLogText(ids, { timestamps: ts, failed: variant === 'deployment-failed', start }));
  await utimes(join(root, paths.thingsGraphLog), now, now);

  const expectation = {
    summary: systemInstanceSummary(ids),
    greengrassDeploymentId: ids.deploymentId,
  };
  const envelope = {
    expectation,
    requestId: 'req-0001',
    resources: archiveSha256 ? [{ name: flowFile, sha256: archiveSha256 }] : [],
  };
  return { root, ids, expectation, envelope, paths, archiveSha256 };
}

// ---- a flow that keeps running ----
//
// A simulated core's log is written once: a minute later its flow has not run
// within the window and verify says FLOW_NOT_RUNNING, as it must for a real
// core. keepFlowRunning appends an execution at the cadence the log's trigger
// line says, as the Things Graph runtime would, until stopped.

export interface LiveFlow {
  /** Executions appended so far. */
  readonly appended: number;
  readonly cadenceMs: number;
  /** Stops appending; resolves once a write under way has finished. */
  stop(): Promise<void>;
}

export async function keepFlowRunning(
  core: Pick<MadeCore, 'root' | 'ids' | 'paths'>,
  opts: { onAppend?: (n: number, at: Date) => void; onError?: (err: Error) => void } = {},
): Promise<LiveFlow> {
  const path = join(core.root, core.paths.thingsGraphLog);
  const text = await readFile(path, 'utf8');
  const trigger = [...text.matchAll(/Trigger expression condition: \[([^\]]*)\]/g)].at(-1)?.[1];
  const cadenceMs = (trigger !== undefined ? parseTriggerCadence(trigger) : null) ?? DEFAULT_CADENCE_SECONDS * 1000;
  // Go on with the log's own style and numbering.
  const timestamps = /^\[\d{4}-/.test(text);
  let next = (text.match(/StartFlowExecution:/g) ?? []).length;
  let appended = 0;
  let writing: Promise<void> = Promise.resolve();
  const tick = () => {
    const at = new Date();
    const n = next++;
    writing = writing
      .then(() => appendFile(path, executionText(core.ids, n, at, timestamps)))
      .then(() => {
        appended++;
        opts.onAppend?.(n, at);
      }, (err: Error) => opts.onError?.(err));
  };
  tick();
  const timer = setInterval(tick, cadenceMs);
  return {
    get appended() {
      return appended;
    },
    cadenceMs,
    async stop() {
      clearInterval(timer);
      await writing;
    },
  };
}

/** The system instance summary the AWS CLI prints for the simulated core's deployment. */
export function systemInstanceSummary(ids: CoreIds): Record<string, unknown> {
  return {
    id: ids.systemInstanceId,
    arn: `arn:aws:iotthingsgraph:${ids.region}:${ids.account}:Deployment/default/${ids.flowName}_V001`,
    status: 'DEPLOYED_IN_TARGET',
    target: 'GREENGRASS',
    greengrassGroupName: `${ids.flowName}Group`,
    createdAt: '2026-11-20T10:00:00.000Z',
    updatedAt: '2026-11-20T10:05:00.000Z',
    greengrassGroupId: ids.groupId,
    greengrassGroupVersionId: ids.groupVersionId,
  };
}
