// What to do about each kind of error, one line per finding code, for the
// summary a person reads at a terminal. Data, not logic: the report does not
// carry these (it is the device's word, not advice), so they live with the
// command line. `{baseline}` is filled in with the baseline file of the
// group version the core runs, when known.
import { FINDING_CODES, type FindingCode } from '../model/findings.js';

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
};

export function isErrorCode(code: FindingCode): code is ErrorCode {
  return FINDING_CODES[code].severity === 'error';
}

/** The hint for a code, `{baseline}` filled in; null for warnings. */
export function hintFor(code: FindingCode, ctx: { baseline: string }): string | null {
  if (!isErrorCode(code)) return null;
  return HINTS[code].replaceAll('{baseline}', ctx.baseline);
}
