// Writes a Greengrass v2 root as the nucleus leaves it after a deployment,
// healthy or with one fault: recipes with real digests (as the Java nucleus
// stores them: YAML, PascalCase keys, `Uri`), artifacts, real zip archives and
// their unarchived folders, deployment folders with their symbolic links,
// config/config.tlog and logs/greengrass.log; or nucleus lite's layout. Used
// by the tests and the benchmark. A tool, not an oracle: the tests check
// hand-written expectations.
import { createHash } from 'node:crypto';
import { appendFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { stringify } from 'yaml';
import { javaRecipeFileName, javaRecipeMetadataFileName, unarchiveStem } from '../src/model/greengrass-v2.js';
import { filler, put } from './simulated-core.js';
import { buildZip, type ZipEntrySpec } from './zip-writer.js';

export interface V2Ids {
  region: string;
  account: string;
  thing: string;
  thingGroup: string;
  deploymentId: string;
  revisionId: string;
  iotJobId: string;
  /** The deployment before this one, for the ongoing variant. */
  previousDeploymentId: string;
}

export const V2_IDS: V2Ids = {
  region: 'us-east-1',
  account: '123456789012',
  thing: 'MyV2Core',
  thingGroup: 'MyV2Fleet',
  deploymentId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  revisionId: '3',
  iotJobId: '0f8fad5b-d9cb-469f-a165-70867728950e',
  previousDeploymentId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
};

export const V2_VARIANTS = {
  healthy: 'a deployment that landed: every file matches its recipe and archive',
  lite: 'the same deployment under nucleus lite (var/lib/greengrass, recipes as <name>-<version>.json)',
  'hex-digest': 'healthy, with a hand-written recipe whose digest is hex',
  'deployment-ongoing': 'a newer deployment is still ongoing (DEPLOYMENT_IN_PROGRESS)',
  'deployment-failed': 'the device recorded the deployment as failed (DEPLOYMENT_FAILED)',
  'local-override': 'a local deployment replaced a component version (COMPONENT_VERSION_MISMATCH)',
  'artifact-tampered': 'an artifact no longer matches its recipe digest (ARTIFACT_DIGEST_MISMATCH)',
  'artifact-missing': 'an artifact named by a recipe is gone (ARTIFACT_MISSING)',
  'artifact-added': 'a file the recipe does not name sits in an artifact folder (ARTIFACT_ADDED)',
  'unarchived-modified': 'a file unpacked from a zip artifact was changed (ARTIFACT_MODIFIED)',
  'unarchived-missing': 'a file unpacked from a zip artifact is gone (ARTIFACT_MISSING)',
  'unarchived-added': 'a file was added to an unpacked zip folder (ARTIFACT_ADDED)',
  'component-broken': 'a component went BROKEN after the deployment (COMPONENT_BROKEN)',
  'component-errored': 'a component is ERRORED (COMPONENT_ERRORED, a warning)',
  'recipe-invalid': 'a stored recipe was cut short (RECIPE_INVALID)',
  'unsafe-zip': "a zip artifact holds a '..' entry (UNSAFE_ARCHIVE_ENTRY)",
  'record-escape': 'the previous-success link points outside deployments/ (DEPLOYMENT_RECORD_INVALID)',
} as const;
export type V2Variant = keyof typeof V2_VARIANTS;

export interface V2ComponentSpec {
  name: string;
  version: string;
  /** Plain artifacts. */
  files: { name: string; data: Buffer }[];
  /** Unarchive: ZIP artifacts. */
  zips: { name: string; entries: ZipEntrySpec[] }[];
  root: boolean;
  digest?: 'base64' | 'hex' | 'none';
}

export interface V2CoreSpec {
  /** --root. */
  root: string;
  variant?: V2Variant;
  ids?: Partial<V2Ids>;
  /** More components for benchmarks, each with its own files. */
  bulk?: { components: number; filesPerComponent: number; fileData: (component: number, file: number) => Buffer; zipEvery?: number };
  now?: Date;
}

export interface MadeV2Core {
  root: string;
  /** Root-relative v2 root. */
  v2Root: string;
  nucleus: 'java' | 'lite';
  ids: V2Ids;
  components: V2ComponentSpec[];
  /** What `aws greengrassv2 get-deployment` prints for this deployment. */
  getDeployment: Record<string, unknown>;
  /** The same in the envelope the device receives. */
  envelope: Record<string, unknown>;
  /** What `aws greengrassv2 list-effective-deployments` prints for the core. */
  effectiveDeployments: Record<string, unknown>;
  /** Root-relative paths of interest. */
  paths: {
    deployments: string;
    artifacts: (name: string, version: string) => string;
    unarchived: (name: string, version: string) => string;
    recipe: (name: string, version: string) => string;
    log: string;
    tlog: string;
  };
}


const sha = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

export function defaultComponents(): V2ComponentSpec[] {
  return [
    {
      name: 'com.example.Sensor',
      version: '1.2.0',
      root: true,
      files: [
        { name: 'sensor.py', data: Buffer.from('import time\nwhile True:\n    print("reading")\n    time.sleep(5)\n') },
        { name: 'calibration.json', data: Buffer.from('{"offset": 0.25, "scale": 1.01}\n') },
      ],
      zips: [],
    },
    {
      name: 'com.example.WebApp',
      version: '2.0.1',
      root: true,
      files: [{ name: 'README.txt', data: Buffer.from('The web app.\n') }],
      zips: [
        {
          name: 'webapp.zip',
          entries: [
            { name: 'index.js', data: "require('./lib/util');\nconsole.log('up');\n" },
            { name: 'lib/', data: '' },
            { name: 'lib/util.js', data: 'module.exports = { double: (x) => 2 * x };\n', method: 'deflate' },
            { name: 'public/style.css', data: filler('style', 3000), method: 'deflate' },
            { name: 'bin/start.sh', data: '#!/bin/sh\nexec node index.js\n', mode: 0o100755, method: 'store' },
          ],
        },
      ],
    },
    { name: 'aws.greengrass.Nucleus', version: '2.12.0', root: false, files: [], zips: [] },
  ];
}

function bulkComponents(b: NonNullable<V2CoreSpec['bulk']>): V2ComponentSpec[] {
  const out: V2ComponentSpec[] = [];
  for (let c = 0; c < b.components; c++) {
    const files: { name: string; data: Buffer }[] = [];
    const zips: V2ComponentSpec['zips'] = [];
    for (let f = 0; f < b.filesPerComponent; f++) files.push({ name: `file-${String(f).padStart(4, '0')}.bin`, data: b.fileData(c, f) });
    if (b.zipEvery && c % b.zipEvery === 0) {
      zips.push({ name: 'bundle.zip', entries: files.slice(0, 8).map((x, i) => ({ name: `d${i % 3}/${x.name}`, data: x.data, method: 'deflate' as const })) });
    }
    out.push({ name: `com.example.bulk.C${String(c).padStart(3, '0')}`, version: '1.0.0', root: true, files, zips });
  }
  return out;
}

function digestOf(data: Buffer, how: 'base64' | 'hex' | 'none'): Record<string, string> {
  if (how === 'none') return {};
  return { Digest: how === 'hex' ? sha(data).toString('hex') : sha(data).toString('base64'), Algorithm: 'SHA-256' };
}

/** The recipe the Java nucleus stores: its YAML serializer writes PascalCase keys, `Uri` included. */
export function recipeDoc(c: V2ComponentSpec, zipData: Map<string, Buffer>): Record<string, unknown> {
  const how = c.digest ?? 'base64';
  const artifacts = [
    ...c.files.map((f) => ({ Uri: `s3://my-artifacts-bucket/${c.name}/${c.version}/${f.name}`, ...digestOf(f.data, how), Unarchive: 'NONE', Permission: { Read: 'OWNER', Execute: 'NONE' } })),
    ...c.zips.map((z) => ({ Uri: `greengrass:${z.name}`, ...digestOf(zipData.get(z.name)!, how), Unarchive: 'ZIP', Permission: { Read: 'OWNER', Execute: 'NONE' } })),
  ];
  return {
    RecipeFormatVersion: '2020-01-25',
    ComponentName: c.name,
    ComponentVersion: c.version,
    ComponentType: 'aws.greengrass.generic',
    ComponentDescription: `Simulated ${c.name}`,
    ComponentPublisher: 'Example Corp',
    Manifests: [
      { Platform: { os: 'linux' }, Lifecycle: { Run: `echo ${c.name}` }, Artifacts: artifacts },
      { Platform: { os: 'windows' }, Lifecycle: { Run: `echo ${c.name}` }, Artifacts: artifacts.slice(0, 1) },
    ],
    Lifecycle: {},
  };
}

function configurationArn(ids: V2Ids): string {
  return `arn:aws:greengrass:${ids.region}:${ids.account}:configuration:thinggroup/${ids.thingGroup}:${ids.revisionId}`;
}

/** deployment_metadata.json as Jackson writes the Deployment object (DeploymentDirectoryManager.writeDeploymentMetadata). */
export function deploymentMetadata(o: {
  ids: V2Ids; deploymentId: string; type?: 'IOT_JOBS' | 'LOCAL'; groupName?: string; configurationArn?: string | null;
  packages: { name: string; version: string }[]; timestamp: number; stage?: string; errorStack?: string[];
}): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    DeploymentId: o.deploymentId,
    Packages: o.packages.map((p) => ({ Name: p.name, RootComponent: true, ResolvedVersion: p.version, ConfigurationUpdate: null, RunWith: null })),
    RequiredCapabilities: null,
    GroupName: o.groupName ?? `thinggroup/${o.ids.thingGroup}`,
    OnBehalfOf: null,
    ParentGroupName: null,
    Timestamp: o.timestamp,
    FailureHandlingPolicy: 'ROLLBACK',
    ComponentUpdatePolicy: { timeout: 60, componentUpdatePolicyAction: 'NOTIFY_COMPONENTS' },
    ConfigurationValidationPolicy: { timeoutInSeconds: 30 },
  };
  const arn = o.configurationArn === undefined ? configurationArn(o.ids) : o.configurationArn;
  if (arn !== null) doc.ConfigurationArn = arn;
  return {
    deploymentDocumentObj: doc,
    deploymentDocument: JSON.stringify({ deploymentId: o.deploymentId }),
    deploymentType: o.type ?? 'IOT_JOBS',
    id: o.type === 'LOCAL' ? o.deploymentId : o.ids.iotJobId,
    cancelled: false,
    deploymentStage: o.stage ?? 'DEFAULT',
    ...(o.errorStack ? { errorStack: o.errorStack, errorTypes: ['DEPENDENCY_ERROR'], stageDetails: 'Component com.example.Sensor is broken' } : {}),
    greengrassDeploymentId: o.deploymentId,
    ...(arn !== null ? { configurationArn: arn } : {}),
  };
}

function logLine(at: Date, thread: string, logger: string, event: string, ctx: Record<string, string>): string {
  const kv = Object.entries(ctx).map(([k, v]) => `${k}=${v}`).join(', ');
  return `${at.toISOString()} [INFO] (${thread}) ${logger}: ${event}. {${kv}}\n`;
}

export async function makeV2Core(spec: V2CoreSpec): Promise<MadeV2Core> {
  const variant = spec.variant ?? 'healthy';
  const ids: V2Ids = { ...V2_IDS, ...spec.ids };
  const now = spec.now ?? new Date('2024-03-01T12:00:00.000Z');
  const nucleus = variant === 'lite' ? 'lite' : 'java';
  const v2Root = nucleus === 'lite' ? 'var/lib/greengrass' : 'greengrass/v2';
  const { root } = spec;
  const components = [...defaultComponents(), ...(spec.bulk ? bulkComponents(spec.bulk) : [])];
  if (variant === 'hex-digest') components[0]!.digest = 'hex';
  if (variant === 'unsafe-zip') components[1]!.zips[0]!.entries.push({ name: '../escape.sh', data: 'rm -rf /\n' });

  const pk = posix.join(v2Root, 'packages');
  const paths: MadeV2Core['paths'] = {
    deployments: posix.join(v2Root, 'deployments'),
    artifacts: (n, v) => posix.join(pk, 'artifacts', n, v),
    unarchived: (n, v) => posix.join(pk, 'artifacts-unarchived', n, v),
    recipe: (n, v) => posix.join(pk, 'recipes', nucleus === 'lite' ? `${n}-${v}.json` : javaRecipeFileName(n, v)),
    log: posix.join(v2Root, 'logs', 'greengrass.log'),
    tlog: posix.join(v2Root, 'config', 'config.tlog'),
  };
  await rm(join(root, v2Root), { recursive: true, force: true });

  // The component store.
  const stored = [...components];
  if (variant === 'local-override') {
    stored.push({ ...components[0]!, version: '1.1.0', files: components[0]!.files.map((f) => ({ ...f, data: Buffer.concat([f.data, Buffer.from('# 1.1.0\n')]) })) });
  }
  for (const c of stored) {
    const zipData = new Map(c.zips.map((z) => [z.name, buildZip(z.entries)]));
    const recipe = recipeDoc(c, zipData);
    const text = nucleus === 'lite' ? `${JSON.stringify(recipe, null, 2)}\n` : stringify(recipe);
    await put(root, paths.recipe(c.name, c.version), text);
    if (nucleus === 'java') {
      const arn = `arn:aws:greengrass:${ids.region}:${ids.account}:components:${c.name}:versions:${c.version}`;
      await put(root, posix.join(pk, 'recipes', javaRecipeMetadataFileName(c.name, c.version)), JSON.stringify({ componentVersionArn: arn }));
    }
    const art = paths.artifacts(c.name, c.version);
    await mkdir(join(root, art), { recursive: true });
    for (const f of c.files) await put(root, posix.join(art, f.name), f.data, 0o600);
    for (const z of c.zips) {
      await put(root, posix.join(art, z.name), zipData.get(z.name)!, 0o600);
      const into = posix.join(paths.unarchived(c.name, c.version), unarchiveStem(z.name, nucleus));
      await mkdir(join(root, into), { recursive: true });
      for (const e of z.entries) {
        if (e.name.endsWith('/') || e.name.split('/').includes('..')) continue; // the nucleus refuses to write outside
        const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
        await put(root, posix.join(into, e.name), data, e.mode ? e.mode & 0o777 : 0o644);
      }
    }
  }

  const roots = components.filter((c) => c.root).map((c) => ({ name: c.name, version: c.version }));
  const created = now.getTime() - 3_600_000;

  if (nucleus === 'java') {
    const dep = paths.deployments;
    const device = (folder: string) => posix.join('/', v2Root, 'deployments', folder);
    const writeRecord = async (id: string, meta: Record<string, unknown>) => {
      await put(root, posix.join(dep, id, 'deployment_metadata.json'), JSON.stringify(meta));
      await put(root, posix.join(dep, id, 'rollback_snapshot.tlog'), '');
    };
    const main = deploymentMetadata({
      ids, deploymentId: ids.deploymentId, packages: roots, timestamp: created,
      ...(variant === 'deployment-failed' ? { errorStack: ['DEPLOYMENT_FAILURE', 'COMPONENT_UPDATE_ERROR', 'COMPONENT_BROKEN'] } : {}),
    });
    if (variant === 'local-override') {
      const localId = 'a3bb189e-8bf9-3888-9912-ace4e6543002';
      await writeRecord(localId, deploymentMetadata({
        ids, deploymentId: localId, type: 'LOCAL', groupName: 'LOCAL_DEPLOYMENT', configurationArn: null,
        packages: [{ name: components[0]!.name, version: '1.1.0' }], timestamp: created + 600_000,
      }));
      await symlink(device(localId), join(root, dep, 'previous-success'));
    } else if (variant === 'deployment-ongoing') {
      await writeRecord(ids.previousDeploymentId, deploymentMetadata({ ids, deploymentId: ids.previousDeploymentId, packages: roots, timestamp: created - 86_400_000 }));
      await symlink(device(ids.previousDeploymentId), join(root, dep, 'previous-success'));
      await writeRecord(ids.deploymentId, main);
      await symlink(device(ids.deploymentId), join(root, dep, 'ongoing'));
    } else if (variant === 'record-escape') {
      await writeRecord(ids.deploymentId, main);
      await mkdir(join(root, v2Root, 'work', 'elsewhere'), { recursive: true });
      await symlink(posix.join('/', v2Root, 'work', 'elsewhere'), join(root, dep, 'previous-success'));
    } else {
      await writeRecord(ids.deploymentId, main);
      await symlink(device(ids.deploymentId), join(root, dep, variant === 'deployment-failed' ? 'previous-failure' : 'previous-success'));
    }

    // config/config.tlog: what the nucleus runs.
    const tlog: string[] = [];
    let ts = created;
    for (const c of components) {
      const version = variant === 'local-override' && c === components[0] ? '1.1.0' : c.version;
      tlog.push(JSON.stringify({ TS: ts++, TP: ['services', c.name, 'componentType'], W: 'changed', V: 'GENERIC' }));
      tlog.push(JSON.stringify({ TS: ts++, TP: ['services', c.name, 'version'], W: 'changed', V: version }));
      tlog.push(JSON.stringify({ TS: ts++, TP: ['services', c.name, 'lifecycle', 'Run'], W: 'changed', V: `echo ${c.name}` }));
    }
    tlog.push(JSON.stringify({ TS: ts++, TP: ['services', 'com.example.Removed', 'version'], W: 'changed', V: '0.9.0' }));
    tlog.push(JSON.stringify({ TS: ts++, TP: ['services', 'com.example.Removed'], W: 'removed', V: null }));
    tlog.push(JSON.stringify({ TS: ts++, TP: ['system', 'thingName'], W: 'changed', V: ids.thing }));
    // After a successful deployment the nucleus records its target's root components (persistGroupToRootComponents);
    // a thing group the device has left is removed there.
    const groups: [string, { name: string; version: string }[]][] = [[`thinggroup/${ids.thingGroup}`, roots]];
    if (variant === 'local-override') groups.push(['LOCAL_DEPLOYMENT', [{ name: components[0]!.name, version: '1.1.0' }]]);
    for (const [group, list] of groups) {
      for (const r of list) {
        const g = ['services', 'DeploymentService', 'GroupToRootComponents', group, r.name];
        tlog.push(JSON.stringify({ TS: ts++, TP: [...g, 'version'], W: 'changed', V: r.version }));
        tlog.push(JSON.stringify({ TS: ts++, TP: [...g, 'groupConfigName'], W: 'changed', V: group }));
      }
    }
    tlog.push(JSON.stringify({ TS: ts++, TP: ['services', 'DeploymentService', 'GroupToRootComponents', 'thinggroup/FormerFleet', 'com.example.Old', 'version'], W: 'changed', V: '0.1.0' }));
    tlog.push(JSON.stringify({ TS: ts++, TP: ['services', 'DeploymentService', 'GroupToRootComponents', 'thinggroup/FormerFleet'], W: 'removed', V: null }));
    await put(root, paths.tlog, `${tlog.join('\n')}\n`, 0o600);

    // logs/greengrass.log: the nucleus started, then every component ran.
    let t = created + 60_000;
    const at = () => new Date((t += 250));
    let log = logLine(at(), 'main', 'com.aws.greengrass.lifecyclemanager.KernelLifecycle', 'system-start', { main: 'main' });
    for (const c of components) {
      let cur = 'NEW';
      for (const next of ['INSTALLED', 'STARTING', 'RUNNING']) {
        log += logLine(at(), `${c.name}-lifecycle`, 'com.aws.greengrass.lifecyclemanager.GenericExternalService', 'service-set-state', {
          serviceName: c.name, currentState: cur, newState: next,
        });
        cur = next;
      }
    }
    const sensor = components[0]!.name;
    if (variant === 'component-broken' || variant === 'component-errored') {
      const steps = variant === 'component-broken' ? ['ERRORED', 'STARTING', 'ERRORED', 'STARTING', 'ERRORED', 'BROKEN'] : ['ERRORED'];
      let cur = 'RUNNING';
      for (const next of steps) {
        log += logLine(at(), `${sensor}-lifecycle`, 'com.aws.greengrass.lifecyclemanager.GenericExternalService', 'service-set-state', {
          serviceName: sensor, currentState: cur, newState: next,
        });
        cur = next;
      }
    }
    await put(root, paths.log, log, 0o600);
  }

  // One fault per variant, applied to what the nucleus wrote.
  const web = components[1]!;
  const unzipped = posix.join(paths.unarchived(web.name, web.version), unarchiveStem(web.zips[0]!.name, nucleus));
  switch (variant) {
    case 'artifact-tampered':
      await appendFile(join(root, paths.artifacts(components[0]!.name, components[0]!.version), 'sensor.py'), 'import os; os.system("curl evil")\n');
      break;
    case 'artifact-missing':
      await rm(join(root, paths.artifacts(components[0]!.name, components[0]!.version), 'calibration.json'));
      break;
    case 'artifact-added':
      await put(root, posix.join(paths.artifacts(components[0]!.name, components[0]!.version), 'backdoor.py'), 'print("hi")\n');
      break;
    case 'unarchived-modified':
      await writeFile(join(root, unzipped, 'lib', 'util.js'), 'module.exports = { double: (x) => 3 * x };\n');
      break;
    case 'unarchived-missing':
      await rm(join(root, unzipped, 'public', 'style.css'));
      break;
    case 'unarchived-added':
      await put(root, posix.join(unzipped, 'lib', 'extra.js'), 'steal();\n');
      break;
    case 'recipe-invalid': {
      const p = join(root, paths.recipe(components[0]!.name, components[0]!.version));
      await writeFile(p, 'RecipeFormatVersion: "2020-01-25"\nComponentName: "com.example.Sen');
      break;
    }
    default:
      break;
  }

  const getDeployment: Record<string, unknown> = {
    targetArn: `arn:aws:iot:${ids.region}:${ids.account}:thinggroup/${ids.thingGroup}`,
    revisionId: ids.revisionId,
    deploymentId: ids.deploymentId,
    deploymentName: `Deployment for ${ids.thingGroup}`,
    deploymentStatus: 'ACTIVE',
    iotJobId: ids.iotJobId,
    iotJobArn: `arn:aws:iot:${ids.region}:${ids.account}:job/${ids.iotJobId}`,
    components: Object.fromEntries(roots.map((r) => [r.name, { componentVersion: r.version, configurationUpdate: { merge: '{}' }, runWith: {} }])),
    deploymentPolicies: {
      failureHandlingPolicy: 'ROLLBACK',
      componentUpdatePolicy: { timeoutInSeconds: 60, action: 'NOTIFY_COMPONENTS' },
      configurationValidationPolicy: { timeoutInSeconds: 60 },
    },
    iotJobConfiguration: {},
    creationTimestamp: new Date(created).toISOString(),
    isLatestForTarget: true,
    tags: {},
  };
  const effectiveDeployments = {
    effectiveDeployments: [
      {
        deploymentId: ids.deploymentId,
        deploymentName: `Deployment for ${ids.thingGroup}`,
        iotJobId: ids.iotJobId,
        iotJobArn: `arn:aws:iot:${ids.region}:${ids.account}:job/${ids.iotJobId}`,
        targetArn: `arn:aws:iot:${ids.region}:${ids.account}:thinggroup/${ids.thingGroup}`,
        coreDeviceExecutionStatus: 'SUCCEEDED',
        reason: 'SUCCESSFUL',
        creationTimestamp: new Date(created).toISOString(),
        modifiedTimestamp: new Date(created + 120_000).toISOString(),
      },
    ],
  };
  return {
    root,
    v2Root,
    nucleus,
    ids,
    components,
    getDeployment,
    envelope: { expectation: getDeployment, requestId: 'req-v2-1' },
    effectiveDeployments,
    paths,
  };
}
