// What to do about each kind of error, one line per finding code, for the
// summary a person reads at a terminal. Data, not logic: the report does not
// carry these (it is the device's word, not advice), so they live with the
// command line. `{baseline}` is filled in with the baseline file of the
// group version the core runs, when known.
import { FINDING_CODES, type FindingCode } from '../model/findings.js';
import type { LayoutName } from '../verify/report.js';

/** The codes of severity `error`: each must have a hint (the compiler and a test hold it to that). */
export type ErrorCode = { [K in FindingCode]: (typeof FINDING_CODES)[K]['severity'] extends 'error' ? K : never }[FindingCode];

const AFTER_INTENDED_CHANGE = 'after an intended change, lay down a fresh baseline: delete {baseline} and run verify again';

export const HINTS: Readonly<Record<ErrorCode, string>> = {
  GROUP_ID_MISMATCH:
    "check that --expect is the deploy output for this core's group; if it is, deploy the system instance to this core's group",
  GROUP_VERSION_MISMATCH:
    'a deployment may still be on its way, or a later one replaced it: check again in a minute, or redeploy from the Things Graph console (deploy-system-instance)',
  DEPLOYMENT_ID_MISMATCH:
    'runtime.log names a later deployment than the one expected: check against the output of the newest deploy call',
  RESOURCE_DIGEST_MISMATCH:
    "the flow archive on the core is not the bucket's: compare the envelope's sha256 with the bucket's file (aws s3 cp, sha256sum), then redeploy",
  DEPLOYMENT_FAILED:
    "read the lines around 'Deployment failed' in greengrass/ggc/var/log/system/runtime.log for the cause, fix it, then redeploy from the Things Graph console",
  SYSTEM_INSTANCE_NOT_REGISTERED:
    "look in ThingsGraph.log (greengrass/ggc/var/log/user/<region>/ThingsGraph/) for errors after the last 'bootstrapping DB'; a redeploy from the console registers the system instance again",
  GROUP_DEFINITION_MISSING:
    "no Greengrass group is deployed under this root: check --root (the core's file-system root), then deploy the group",
  GROUP_DEFINITION_INVALID:
    'group.json is damaged or not what Greengrass writes: redeploy the group so that the core writes it again',
  RESOURCE_MISSING:
    'check that flow-<name>.tar.gz is still in the deployment\'s S3 bucket (a deleted one breaks redeploys), then redeploy; a core that keeps it elsewhere needs layout.flowSearchPaths',
  RUNTIME_FILES_MISSING:
    'create /thingsgraph owned by ggc_user (mode 700), as the Things Graph guide says, then redeploy: the first deployment writes ThingsGraph.db and engine/',
  RUNTIME_NOT_INITIALIZED:
    "look for errors in ThingsGraph.log, and in runtime.log for the connector's Lambda (Java 8) failing to start",
  FLOW_NOT_RUNNING:
    "look in ThingsGraph.log for errors and check the flow's devices; a simulated core keeps its flow running only with make-core --live",
  RESOURCE_CORRUPT:
    'the flow archive is damaged or not a regular file: redeploy so that the core downloads it again',
  UNSAFE_ARCHIVE_ENTRY:
    'do not unpack this archive: find out where it came from, rebuild the flow and redeploy',
  ARTIFACT_MODIFIED: `if nobody meant to change it, redeploy (in an unpacked flow folder, redeploy in any case); ${AFTER_INTENDED_CHANGE}`,
  ARTIFACT_MISSING: `if nobody meant to remove it, redeploy; ${AFTER_INTENDED_CHANGE}`,
  ARTIFACT_ADDED: `if nobody meant to add it, find out who did and remove it; ${AFTER_INTENDED_CHANGE}`,
  FILE_UNREADABLE:
    'look at what sits at the path: an I/O error, or a FIFO, device or link where a file belongs; "permission denied" means run as root (or grant read access)',
  // Greengrass v2 only.
  COMPONENT_VERSION_MISMATCH:
    'a local deployment or a later one changed it: compare with greengrass-cli component list, then revise the deployment (or check against the newest get-deployment)',
  COMPONENT_MISSING:
    'the deployment has not installed it (yet): read logs/greengrass.log for the deployment, then redeploy or revise the deployment',
  COMPONENT_BROKEN:
    'read logs/<component>.log and logs/greengrass.log for why it failed three times, fix it, then redeploy or restart it (greengrass-cli component restart)',
  DEPLOYMENT_IN_PROGRESS:
    'wait for the deployment to finish and check again; if it stays, read logs/greengrass.log (a rejected deployment also leaves it until the next one)',
  DEPLOYMENT_RECORD_INVALID:
    'a deployment record under deployments/ was changed or points elsewhere: find out who did it, then redeploy so the nucleus writes it again',
  RECIPE_INVALID:
    'a stored recipe was changed or cut short: find out who did it, then redeploy (the nucleus stores the recipe again)',
  ARTIFACT_DIGEST_MISMATCH:
    "the file is not the one the recipe names: if nobody meant to change it, delete the component version's artifact folder and redeploy",
};

/** Where a Greengrass v2 core needs other words for a code both layouts use. */
export const V2_HINTS: Readonly<Partial<Record<ErrorCode, string>>> = {
  DEPLOYMENT_ID_MISMATCH:
    'the core applied another deployment last (a newer one, or a local one): check against get-deployment for the newest deployment of its thing group',
  DEPLOYMENT_FAILED:
    'read logs/greengrass.log (and the component logs) for why the deployment failed, fix it, then redeploy',
  RESOURCE_CORRUPT:
    "the zip artifact is damaged or not a regular file: delete the component version's artifact folder and redeploy so that the core downloads it again",
  UNSAFE_ARCHIVE_ENTRY:
    'do not unpack this zip artifact: find out where it came from, rebuild the component and publish a new version',
  ARTIFACT_MODIFIED: `if nobody meant to change it, delete the version's unarchived folder and redeploy; ${AFTER_INTENDED_CHANGE}`,
};

export function isErrorCode(code: FindingCode): code is ErrorCode {
  return FINDING_CODES[code].severity === 'error';
}

/** The hint for a code, `{baseline}` filled in; null for warnings. */
export function hintFor(code: FindingCode, ctx: { baseline: string; layout?: LayoutName }): string | null {
  if (!isErrorCode(code)) return null;
  const text = (ctx.layout === 'greengrass-v2' ? V2_HINTS[code] : undefined) ?? HINTS[code];
  return text.replaceAll('{baseline}', ctx.baseline);
}
