// A hand-written observation of a healthy core, for verdict unit tests.
import type { Observation, UnitDigest } from '../../src/model/observation.js';
import type { Expectation } from '../../src/verify/expectation.js';

export const URN = 'urn:tdm:us-east-1/123456789012/default:deployment:Door_V001';
export const ARCHIVE_SHA = 'a'.repeat(64);

export function unit(path: string, files: Record<string, string>): UnitDigest {
  return {
    path,
    digest: 'd'.repeat(64),
    files: Object.fromEntries(
      Object.entries(files).map(([k, sha]) => [k, { sha256: sha, size: 10, mode: 0o644, mtimeMs: 1, ctimeMs: 1, ino: 1 }]),
    ),
  };
}

export function healthyObservation(): Observation {
  return {
    root: '/core',
    observedAt: '2026-11-24T10:00:00.000Z',
    group: {
      state: 'ok',
      path: 'greengrass/ggc/deployment/group/group.json',
      definition: {
        arn: 'arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/g-111/versions/v-222',
        groupId: 'g-111',
        groupVersionId: 'v-222',
        coreThing: 'PiCore',
        lambdas: [],
        connectors: [{ connectorArn: 'arn:aws:greengrass:us-east-1::/connectors/ThingsGraph/versions/1' }],
        resources: [],
        hasThingsGraphConnector: true,
        flowResourceNames: ['flow-Door.tar.gz'],
      },
    },
    flowResources: [
      {
        name: 'flow-Door',
        archive: {
          path: 'greengrass/ggc/deployment/mlmodel/u1/flow-Door.tar.gz',
          size: 100, sha256: ARCHIVE_SHA, entryCount: 1, totalBytes: 10, entries: [], findings: [],
        },
        folderFindings: [],
      },
    ],
    runtimeFiles: { dir: true, db: true, engine: true },
    thingsGraphLog: { files: ['tg.log'], bootstrapped: true, initialized: true, registered: [URN] },
    runtimeLog: { files: ['runtime.log'], deploymentId: 'd-333' },
    tree: { units: [unit('greengrass/ggc/deployment/group', { 'group.json': '1'.repeat(64) })], treeDigest: 't'.repeat(64), filesHashed: 1, bytesHashed: 10 },
    findings: [],
  };
}

export function expectation(over: Partial<Expectation> = {}): Expectation {
  return {
    systemInstanceId: URN,
    greengrassGroupId: 'g-111',
    greengrassGroupVersionId: 'v-222',
    greengrassDeploymentId: 'd-333',
    resources: [{ name: 'flow-Door.tar.gz', sha256: ARCHIVE_SHA }],
    sha256: 'e'.repeat(64),
    ...over,
  };
}
