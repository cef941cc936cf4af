// What observing a Greengrass v2 root yields, and the pure helpers both the
// observer and the judge need. Plain data: the verifier judges it without I/O.
// Every path and field here is taken from the nucleus source; the facts, with
// the source file and function for each, are in docs/greengrass-v2-layout.md.
//
// Names on disk (Java nucleus, ComponentStore / NucleusPaths):
//   recipe        packages/recipes/<H>@<version>.recipe.yaml
//   its metadata  packages/recipes/<H>@<version>.metadata.json   {"componentVersionArn": "..."}
//                 H = base64url without padding of SHA-256(UTF-8 component name)
//   artifacts     packages/artifacts/<name>/<version>/<file>       <file> = last segment of the URI
//   unarchived    packages/artifacts-unarchived/<name>/<version>/<stem>/
//                 stem = <file> up to its last '.', when that '.' is not the first character
// Names on disk (nucleus lite, ggdeploymentd / ggl-recipe):
//   recipe        packages/recipes/<name>-<version>.json | .yaml | .yml
//   unarchived    stem = <file> without a trailing ".zip" (case-sensitive), else <file>
//
// Recipe digests: `Digest` is the standard base64 (with padding) of the
// artifact's SHA-256 and `Algorithm` is "SHA-256"; a hand-written recipe may
// carry 64 hex digits instead. Both are normalised to lower-case hex here.
import { createHash } from 'node:crypto';
import type { Finding } from './findings.js';
import type { TreeObservation, UnitDigest } from './observation.js';

export const GREENGRASS_V2_LAYOUT = 'greengrass-v2';

/** Which nucleus laid the root out. */
export type NucleusKind = 'java' | 'lite';

/** The three links the Java nucleus keeps in deployments/ (DeploymentDirectoryManager). */
export type DeploymentLink = 'ongoing' | 'previous-success' | 'previous-failure';
export const DEPLOYMENT_LINKS: readonly DeploymentLink[] = ['ongoing', 'previous-success', 'previous-failure'];

/** One root component of a deployment (DeploymentPackageConfiguration). */
export interface DeploymentPackage {
  name: string;
  /** The version the cloud resolved (pinned); "*" for a local configuration-only entry. */
  resolvedVersion: string | null;
  rootComponent: boolean;
}

/** deployment_metadata.json: the Deployment object as Jackson wrote it. */
export interface DeploymentMetadata {
  /** Job ID (IoT jobs), configuration ARN (shadow) or request ID (local). */
  id: string | null;
  deploymentType: string | null;
  deploymentStage: string | null;
  stageDetails: string | null;
  /** DeploymentDocument.DeploymentId: the Greengrass deployment ID. */
  deploymentId: string | null;
  configurationArn: string | null;
  /** "thinggroup/<name>", "thing/<name>" or "LOCAL_DEPLOYMENT". */
  groupName: string | null;
  /** Creation time, epoch milliseconds. */
  timestamp: number | null;
  packages: DeploymentPackage[];
  errorStack: string[];
  errorTypes: string[];
}

export type DeploymentRecord =
  | {
      state: 'ok';
      link: DeploymentLink;
      /** What the link points at, as written. */
      target: string;
      /** Root-relative folder the link resolves to (inside deployments/). */
      folder: string;
      metadata: DeploymentMetadata;
    }
  | {
      state: 'invalid' | 'unreadable';
      link: DeploymentLink;
      target?: string;
      folder?: string;
      reason: string;
    };

export interface DeploymentsObservation {
  /** Root-relative deployments/ folder. */
  path: string;
  /**
   * ok: listed. missing: no folder (nothing deployed yet, or not this nucleus).
   * unreadable: exists, cannot be listed. unsupported: nucleus lite keeps
   * deployment state in its SQLite configuration database instead.
   */
  state: 'ok' | 'missing' | 'unreadable' | 'unsupported';
  records: DeploymentRecord[];
}

/** A recipe's digest, normalised. */
export interface ArtifactDigest {
  /** As written in the recipe (Algorithm), null when absent. */
  algorithm: string | null;
  /** As written in the recipe (Digest), null when absent. */
  raw: string | null;
  encoding: 'base64' | 'hex' | 'none' | 'invalid';
  /** Lower-case hex SHA-256; null unless the algorithm is SHA-256 and the digest decodes. */
  sha256: string | null;
}

export interface RecipeArtifact {
  uri: string;
  /** The file the nucleus stores it as; null for schemes without a file (docker:). */
  fileName: string | null;
  digest: ArtifactDigest;
  unarchive: 'NONE' | 'ZIP';
  /** Index of the manifest that declares it. */
  manifest: number;
}

export interface RecipeManifest {
  /** Platform keys as written (os, architecture, runtime, ...), values as strings. */
  platform: Record<string, string>;
  artifactCount: number;
}

export type RecipeObservation =
  | {
      state: 'ok';
      path: string;
      format: 'yaml' | 'json';
      name: string;
      version: string;
      manifests: RecipeManifest[];
      artifacts: RecipeArtifact[];
      /** Which spelling of the URI key the recipe uses (the Java nucleus writes "Uri"). */
      uriKeys: string[];
    }
  | { state: 'invalid' | 'unreadable'; path: string; reason: string };

export type ZipEntryType = 'file' | 'directory' | 'symlink' | 'device' | 'fifo' | 'other';

export interface ZipEntryInfo {
  /** The name as written in the central directory (decoded as UTF-8). */
  path: string;
  type: ZipEntryType;
  /** Uncompressed size from the central directory. */
  size: number;
  compressedSize: number;
  method: number;
  crc32: number;
  /** Unix mode when the entry was made on Unix, else null. */
  mode: number | null;
  /** SHA-256 (hex) of the inflated content, for files read in full and checked against their CRC-32. */
  sha256?: string;
  /** Why extracting this entry is unsafe (an UNSAFE_ARCHIVE_ENTRY names it too); such entries are not compared. */
  unsafe?: string;
}

export interface ZipInspection {
  /** Root-relative path of the archive. */
  path: string;
  size: number;
  /** SHA-256 (hex) of the whole archive as hashed for the tree, when known: lets a later pass reuse this inspection. */
  archiveSha256: string | null;
  /** Every entry was read and checked: the entry list is the archive's, whole. */
  complete: boolean;
  entryCount: number;
  /** Sum of declared uncompressed sizes. */
  totalBytes: number;
  entries: ZipEntryInfo[];
  /** RESOURCE_CORRUPT, UNSAFE_ARCHIVE_ENTRY, FILE_UNREADABLE. */
  findings: Finding[];
}

/** One component version in the component store. */
export interface ComponentVersionObservation {
  /** The component name; for a Java recipe that cannot be read, the hash prefix of its file name. */
  name: string;
  version: string;
  /** Java nucleus: the recipe file's name hash (componentNameHash of the name). */
  nameHash: string | null;
  recipe: RecipeObservation | null;
  /** From the recipe's .metadata.json sibling (Java nucleus, cloud components). */
  componentVersionArn: string | null;
  /** Root-relative packages/artifacts/<name>/<version>. */
  artifactsDir: string;
  /** Root-relative packages/artifacts-unarchived/<name>/<version>. */
  unarchivedDir: string;
  /** Archives inspected for Unarchive: ZIP artifacts found on disk, by root-relative path. */
  archives: ZipInspection[];
}

/**
 * What config/config.tlog says (Java nucleus), replayed: services.<name>.version,
 * system.thingName, and the targets the nucleus keeps root components for
 * (services.DeploymentService.GroupToRootComponents: "thinggroup/<name>",
 * "thing/<name>", "LOCAL_DEPLOYMENT"; a thing group the device left is removed there).
 */
export type RunningVersions =
  | { state: 'ok'; path: string; versions: Record<string, string>; thingName?: string | null; deploymentGroups?: string[] }
  | { state: 'missing' | 'unreadable' | 'unsupported'; path: string; reason?: string };

/** Lifecycle states (com.aws.greengrass.dependency.State). */
export type LifecycleState =
  | 'NEW' | 'INSTALLED' | 'STARTING' | 'RUNNING' | 'STOPPING' | 'ERRORED' | 'BROKEN' | 'FINISHED'
  | 'STATELESS' | 'UNINSTALLING' | 'UNINSTALLED';

export interface ComponentState {
  name: string;
  state: LifecycleState;
  /** ISO-8601 time of the transition, from the log line. */
  at: string | null;
}

export interface ComponentStatesObservation {
  /** Where the states came from: the nucleus log, an IPC ListComponents answer, or nowhere. */
  source: 'log' | 'ipc' | 'none';
  /** Log files read, oldest first, root-relative. */
  files: string[];
  /** When the nucleus last started (the newest system-start line), if seen. */
  startedAt: string | null;
  /** Newest state per component since the nucleus last started, sorted by name. */
  states: ComponentState[];
}

export interface GreengrassV2Observation {
  layout: typeof GREENGRASS_V2_LAYOUT;
  nucleus: NucleusKind;
  /** --root, as given. */
  root: string;
  /** The v2 root relative to --root ({kernel:rootPath}). */
  v2Root: string;
  observedAt: string;
  /** The platform manifests are selected for (os, architecture). */
  platform: { os: string; architecture: string };
  deployments: DeploymentsObservation;
  /** Whether packages/recipes could be listed: when not, no component can be called missing or orphaned. */
  recipeStore: 'ok' | 'missing' | 'unreadable';
  components: ComponentVersionObservation[];
  /** Root-relative artifact and unarchived folders with no recipe in the store. */
  orphanFolders: string[];
  /** Root-relative entries of the store listing that are not folders (files, links) where only folders belong. */
  strayEntries: string[];
  runningVersions: RunningVersions;
  componentStates: ComponentStatesObservation;
  /** One unit per packages/artifacts/<name>/<version> and packages/artifacts-unarchived/<name>/<version>. */
  tree: TreeObservation;
  /** I/O problems met while observing. */
  findings: Finding[];
}

/** The v2 baseline: digests of the component store for one deployment, as the state folder keeps it. */
export interface GreengrassV2Baseline {
  schemaVersion: 1;
  layout: typeof GREENGRASS_V2_LAYOUT;
  /** The newest finished deployment when the baseline was laid down. */
  deploymentId: string;
  createdAt: string;
  treeDigest: string;
  units: UnitDigest[];
}

// --- Pure helpers -------------------------------------------------------

const HEX64 = /^[0-9a-fA-F]{64}$/;
/** Standard base64 of 32 bytes: 43 characters and one '=' of padding. */
const B64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** Whether a recipe's Algorithm names SHA-256 (the Java nucleus hands it to MessageDigest). */
export function isSha256Algorithm(alg: string | null): boolean {
  return alg === null || /^sha-?256$/i.test(alg);
}

/**
 * Normalises a recipe digest. The nucleus compares base64 strings, so only the
 * canonical 44-character form is "base64"; 64 hex digits are accepted for
 * hand-written recipes. An absent Algorithm means SHA-256 (nucleus lite assumes it too).
 */
export function normalizeDigest(algorithm: string | null, raw: string | null): ArtifactDigest {
  if (raw === null || raw === '') return { algorithm, raw, encoding: 'none', sha256: null };
  const sha = isSha256Algorithm(algorithm);
  if (B64_SHA256.test(raw)) {
    const hex = Buffer.from(raw, 'base64').toString('hex');
    // Re-encoding must give the same text: rejects non-canonical trailing bits.
    if (Buffer.from(hex, 'hex').toString('base64') === raw) {
      return { algorithm, raw, encoding: 'base64', sha256: sha ? hex : null };
    }
  }
  if (HEX64.test(raw)) return { algorithm, raw, encoding: 'hex', sha256: sha ? raw.toLowerCase() : null };
  return { algorithm, raw, encoding: 'invalid', sha256: null };
}

/** base64url, no padding, of SHA-256 of the name: the Java nucleus's recipe file prefix. */
export function componentNameHash(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('base64url');
}

/** The Java nucleus's recipe file name for a component version. */
export function javaRecipeFileName(name: string, version: string): string {
  return `${componentNameHash(name)}@${version}.recipe.yaml`;
}

/** The Java nucleus's recipe metadata file name. */
export function javaRecipeMetadataFileName(name: string, version: string): string {
  return `${componentNameHash(name)}@${version}.metadata.json`;
}

/** Where each nucleus unpacks an archive artifact, relative to artifacts-unarchived/<name>/<version>. */
export function unarchiveStem(fileName: string, nucleus: NucleusKind): string {
  if (nucleus === 'lite') return fileName.endsWith('.zip') ? fileName.slice(0, -4) : fileName;
  const dot = fileName.lastIndexOf('.');
  return dot > 0 ? fileName.slice(0, dot) : fileName;
}

/**
 * The file an artifact URI is stored as: the last path segment for s3: and
 * greengrass: URIs (S3Downloader, GreengrassRepositoryDownloader), none for
 * docker: images, null for a URI nothing can download.
 */
export function artifactFileName(uri: string): string | null {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/.exec(uri);
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 's3' && scheme !== 'greengrass') return null;
  let path = m[2]!.split(/[?#]/)[0]!;
  if (scheme === 's3') {
    // s3://<bucket>/<key>: the file is the key's last segment; a bucket alone names no object.
    const k = /^\/\/[^/]+\/(.*)$/.exec(path);
    if (!k) return null;
    path = k[1]!;
  }
  const segs = path.split('/').filter((s) => s !== '');
  const last = segs[segs.length - 1];
  if (!last || last === '.' || last === '..') return null;
  return last;
}

/** "thinggroup/<name>" from arn:aws:greengrass:<region>:<account>:configuration:thinggroup/<name>:<revision>. */
export function parseConfigurationArn(arn: string): { target: string; revision: string | null } | null {
  const m = /^arn:[^:]*:greengrass:[^:]*:[^:]*:configuration:((?:thinggroup|thing)\/[^:]+)(?::([^:]+))?$/.exec(arn);
  if (!m) return null;
  return { target: m[1]!, revision: m[2] ?? null };
}

/** "thinggroup/<name>" or "thing/<name>" from an IoT target ARN. */
export function targetOfIotArn(arn: string): string | null {
  const m = /^arn:[^:]*:iot:[^:]*:[^:]*:((?:thinggroup|thing)\/.+)$/.exec(arn);
  return m ? m[1]! : null;
}
