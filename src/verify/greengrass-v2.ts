// The Greengrass v2 verdict: a pure function of what was observed, the
// baseline and the expectation, built from one named function per concern.
// Statuses and their precedence are the v1 verdict's (statusOf): the same
// vocabulary serves both layouts.
//
// While a deployment is ongoing, component versions the nucleus does not yet
// run are in flux (it downloads artifacts to their final names, resuming by
// range), so their artifacts, unarchived folders and drift are not judged
// until it ends; DEPLOYMENT_IN_PROGRESS says why.
import { compareUnits, filePath } from '../model/digest.js';
import { finding, type Finding } from '../model/findings.js';
import {
  parseConfigurationArn,
  unarchiveStem,
  type ComponentVersionObservation,
  type DeploymentMetadata,
  type DeploymentRecord,
  type GreengrassV2Baseline,
  type GreengrassV2Observation,
  type RecipeArtifact,
  type ZipInspection,
} from '../model/greengrass-v2.js';
import type { FileDigest, UnitDigest } from '../model/observation.js';
import { entryKey, FindingCap } from '../observe/archive-safety.js';
import type { DeploymentExpectation, EffectiveDeploymentsExpectation, GreengrassV2Expectation } from './greengrass-v2-expectation.js';
import { sha256Hex } from './canonical.js';
import { statusOf, type Verdict } from './verdict.js';

export interface GreengrassV2VerdictInput {
  observation: GreengrassV2Observation;
  /** The baseline laid down for the newest finished deployment, if one was loaded. */
  baseline: GreengrassV2Baseline | null;
  expectation: GreengrassV2Expectation | null;
  /** Findings from outside the observation: the agent's own state, local health. */
  extra?: Finding[];
}

type OkRecord = Extract<DeploymentRecord, { state: 'ok' }>;

const TAMPER_CODES = new Set<Finding['code']>(['ARTIFACT_DIGEST_MISMATCH', 'ARTIFACT_MODIFIED', 'ARTIFACT_MISSING', 'ARTIFACT_ADDED']);

/** The records that matter: the ongoing one and the newest finished one. */
export function deploymentState(obs: GreengrassV2Observation): { ongoing: OkRecord | null; finished: OkRecord | null } {
  const ok = obs.deployments.records.filter((r): r is OkRecord => r.state === 'ok');
  const ongoing = ok.find((r) => r.link === 'ongoing') ?? null;
  // The nucleus removes both previous-* links before it writes one; if both exist anyway, the newer wins.
  const done = ok.filter((r) => r.link !== 'ongoing').sort((a, b) => (b.metadata.timestamp ?? 0) - (a.metadata.timestamp ?? 0));
  return { ongoing, finished: done[0] ?? null };
}

export function judgeGreengrassV2({ observation: obs, baseline, expectation: exp, extra }: GreengrassV2VerdictInput): Verdict {
  const out: Finding[] = [];
  const dep = deploymentState(obs);
  const settled = settledVersions(obs, dep.ongoing !== null);
  out.push(...deploymentRecordFindings(obs, dep));
  if (exp?.kind === 'deployment') out.push(...expectedDeploymentFindings(obs, dep, exp));
  if (exp?.kind === 'effective-deployments') out.push(...effectiveDeploymentFindings(dep, exp));
  out.push(...recipeFindings(obs));
  const unreadable = unreadablePaths(obs);
  const units: Units = new Map(obs.tree.units.map((u) => [u.path, u]));
  for (const c of obs.components) {
    if (!settled(c)) continue;
    out.push(...artifactFindings(obs, c, units, unreadable));
    out.push(...archiveFindings(obs, c, units, unreadable));
  }
  out.push(...componentStateFindings(obs));
  const key = baselineKey(obs);
  if (baseline && key !== null && baseline.deploymentId === key) {
    // A file the recipe or archive comparison already named is not named twice.
    const named = new Set(out.filter((f) => f.path && TAMPER_CODES.has(f.code)).map((f) => f.path!));
    out.push(...driftFindings(baseline, obs, unreadable).filter((f) => !named.has(f.path!)));
  }
  out.push(...obs.findings, ...(extra ?? []));
  return { status: statusOf(out), findings: out };
}

/**
 * Which baseline the store is judged against: the newest finished deployment's
 * ID (Java nucleus), or, where the deployment records cannot be read at all
 * (nucleus lite keeps them in SQLite), a key made of the stored component
 * versions. Null while a deployment is ongoing or when nothing identifies one.
 */
export function baselineKey(obs: GreengrassV2Observation): string | null {
  const dep = deploymentState(obs);
  if (dep.ongoing) return null;
  if (obs.deployments.state === 'unsupported') {
    if (obs.recipeStore !== 'ok' || obs.components.length === 0) return null;
    const versions = obs.components.map((c) => `${c.name}@${c.version}`).sort();
    return `store-${sha256Hex(versions.join('\n')).slice(0, 32)}`;
  }
  return dep.finished?.metadata.deploymentId ?? null;
}

/** What keeps a baseline from being laid down: the store would not be what landed, or not all of it was seen. */
const BASELINE_BLOCKERS = new Set<Finding['code']>([
  'ARTIFACT_DIGEST_MISMATCH', 'ARTIFACT_MODIFIED', 'ARTIFACT_MISSING', 'ARTIFACT_ADDED', 'RECIPE_INVALID',
  'UNSAFE_ARCHIVE_ENTRY', 'RESOURCE_CORRUPT', 'DEPLOYMENT_RECORD_INVALID', 'FILE_UNREADABLE',
]);

/**
 * The baseline a pass would lay down ("what landed"), or null: only for a
 * settled store (nothing ongoing, a key) whose files all matched their recipes
 * and archives and could all be read. `findings`: the verdict without a baseline.
 */
export function baselineCandidate(obs: GreengrassV2Observation, findings: readonly Finding[]): GreengrassV2Baseline | null {
  const key = baselineKey(obs);
  if (key === null || findings.some((f) => f.severity === 'error' && BASELINE_BLOCKERS.has(f.code))) return null;
  return { schemaVersion: 1, layout: 'greengrass-v2', deploymentId: key, createdAt: obs.observedAt, treeDigest: obs.tree.treeDigest, units: obs.tree.units };
}

/** Whether a component version's files are settled: no deployment is ongoing, or the nucleus already runs that version. */
function settledVersions(obs: GreengrassV2Observation, ongoing: boolean): (c: { name: string; version: string }) => boolean {
  if (!ongoing) return () => true;
  const running = obs.runningVersions.state === 'ok' ? obs.runningVersions.versions : {};
  return (c) => Object.hasOwn(running, c.name) && running[c.name] === c.version;
}

function metadataPath(r: { folder?: string }): { path?: string } {
  return r.folder ? { path: `${r.folder}/deployment_metadata.json` } : {};
}

function describe(m: DeploymentMetadata): string {
  const why = m.errorStack.length > 0 ? m.errorStack.join(' > ') : m.stageDetails;
  return why ? `: ${why}` : '';
}

function deploymentRecordFindings(obs: GreengrassV2Observation, dep: ReturnType<typeof deploymentState>): Finding[] {
  const out: Finding[] = [];
  for (const r of obs.deployments.records) {
    if (r.state === 'invalid') {
      out.push(finding('DEPLOYMENT_RECORD_INVALID', `the ${r.link} deployment record is unusable: ${r.reason}`, {
        path: r.folder ?? `${obs.deployments.path}/${r.link}`,
        ...(r.target !== undefined ? { actual: r.target } : {}),
      }));
    }
  }
  if (dep.ongoing) {
    const m = dep.ongoing.metadata;
    out.push(finding('DEPLOYMENT_IN_PROGRESS', 'a deployment is ongoing and has not landed yet (the nucleus also leaves this link after a rejected or interrupted deployment, until the next one)', {
      ...metadataPath(dep.ongoing),
      actual: { deploymentId: m.deploymentId, stage: m.deploymentStage },
    }));
  }
  if (dep.finished?.link === 'previous-failure') {
    const m = dep.finished.metadata;
    out.push(finding('DEPLOYMENT_FAILED', `the device recorded its newest deployment as failed${describe(m)}`, {
      ...metadataPath(dep.finished),
      actual: { deploymentId: m.deploymentId, errorStack: m.errorStack, errorTypes: m.errorTypes },
    }));
  }
  return out;
}

function recordTarget(m: DeploymentMetadata): string | null {
  if (m.configurationArn) {
    const p = parseConfigurationArn(m.configurationArn);
    if (p) return p.target;
  }
  return m.groupName;
}

function expectedDeploymentFindings(obs: GreengrassV2Observation, dep: ReturnType<typeof deploymentState>, exp: DeploymentExpectation): Finding[] {
  const out: Finding[] = [];
  // Still landing: DEPLOYMENT_IN_PROGRESS already says so; versions are not judged yet.
  if (dep.ongoing?.metadata.deploymentId === exp.deploymentId) return out;
  const f = dep.finished;
  if (f && f.metadata.deploymentId === exp.deploymentId) {
    const target = recordTarget(f.metadata);
    if (exp.target && target && target !== exp.target) {
      out.push(finding('DEPLOYMENT_ID_MISMATCH', 'the device records this deployment for another target', {
        ...metadataPath(f), expected: exp.target, actual: target,
      }));
    }
    out.push(...packageFindings(f, exp));
  } else if (f && exp.target && recordTarget(f.metadata) === exp.target) {
    out.push(finding('DEPLOYMENT_ID_MISMATCH', 'the newest deployment on the device for this target is another one', {
      ...metadataPath(f), expected: exp.deploymentId, actual: f.metadata.deploymentId,
    }));
  } else if (!f && !dep.ongoing && obs.deployments.state === 'ok' && obs.deployments.records.every((r) => r.state === 'ok')) {
    out.push(finding('DEPLOYMENT_ID_MISMATCH', 'the device has no finished deployment on record', {
      path: obs.deployments.path, expected: exp.deploymentId, actual: null,
    }));
  }
  out.push(...componentVersionFindings(obs, exp));
  return out;
}

/** The record of the expected deployment must list exactly the expected components and versions. */
function packageFindings(f: OkRecord, exp: DeploymentExpectation): Finding[] {
  const out: Finding[] = [];
  const at = metadataPath(f);
  const recorded = new Map(f.metadata.packages.filter((p) => p.rootComponent).map((p) => [p.name, p.resolvedVersion]));
  for (const c of exp.components) {
    const got = recorded.get(c.name);
    if (got !== c.version) {
      out.push(finding('COMPONENT_VERSION_MISMATCH', `the deployment record names ${c.name} ${got ?? '(absent)'}, the deployment ${c.version}`, {
        ...at, expected: { name: c.name, version: c.version }, actual: got === undefined ? null : { name: c.name, version: got },
      }));
    }
  }
  const wanted = new Set(exp.components.map((c) => c.name));
  for (const [name, version] of recorded) {
    if (!wanted.has(name)) {
      out.push(finding('COMPONENT_VERSION_MISMATCH', `the deployment record names ${name}, which the deployment does not`, {
        ...at, expected: null, actual: { name, version },
      }));
    }
  }
  return out;
}

/** The device must run exactly the expected versions: from the configuration log where readable, else from the store. */
function componentVersionFindings(obs: GreengrassV2Observation, exp: DeploymentExpectation): Finding[] {
  const out: Finding[] = [];
  const rv = obs.runningVersions;
  for (const c of exp.components) {
    // A recipe that is there but unusable is RECIPE_INVALID already, not missing.
    const stored = obs.components.filter((s) => s.name === c.name && s.recipe !== null);
    const hasRecipe = stored.some((s) => s.version === c.version);
    if (rv.state === 'ok') {
      const running = Object.hasOwn(rv.versions, c.name) ? rv.versions[c.name] : undefined;
      if (running === undefined) {
        out.push(finding('COMPONENT_MISSING', `${c.name} is not configured on the device`, { path: rv.path, expected: c }));
      } else if (running !== c.version) {
        out.push(finding('COMPONENT_VERSION_MISMATCH', `the device runs ${c.name} ${running}, not ${c.version}`, {
          path: rv.path, expected: c, actual: { name: c.name, version: running },
        }));
      } else if (!hasRecipe && obs.recipeStore !== 'unreadable') {
        out.push(finding('COMPONENT_MISSING', `${c.name} ${c.version} runs, but its recipe is not in the component store`, { expected: c }));
      }
    } else if (obs.recipeStore === 'unreadable') {
      continue; // FILE_UNREADABLE already says the store could not be seen
    } else if (stored.length === 0) {
      out.push(finding('COMPONENT_MISSING', `${c.name} is not in the component store`, { expected: c }));
    } else if (!hasRecipe) {
      out.push(finding('COMPONENT_VERSION_MISMATCH', `the component store holds ${c.name} ${stored.map((s) => s.version).join(', ')}, not ${c.version}`, {
        expected: c, actual: stored.map((s) => ({ name: s.name, version: s.version })),
      }));
    }
  }
  return out;
}

const CLOUD_SUCCESS = new Set(['COMPLETED', 'SUCCEEDED']);

function effectiveDeploymentFindings(dep: ReturnType<typeof deploymentState>, exp: EffectiveDeploymentsExpectation): Finding[] {
  const out: Finding[] = [];
  const f = dep.finished;
  if (!f || f.metadata.deploymentType === 'LOCAL') return out;
  const m = f.metadata;
  const listed = exp.deployments.find((d) => d.deploymentId === m.deploymentId);
  if (!listed) {
    const target = recordTarget(m);
    const forTarget = exp.deployments.filter((d) => d.target === target).map((d) => d.deploymentId);
    out.push(finding('DEPLOYMENT_ID_MISMATCH', 'the newest deployment on the device is not among the deployments effective for this core', {
      ...metadataPath(f), expected: forTarget, actual: m.deploymentId,
    }));
  } else if (CLOUD_SUCCESS.has(listed.coreDeviceExecutionStatus) && f.link === 'previous-failure') {
    out.push(finding('DEPLOYMENT_FAILED', `the cloud lists the deployment as ${listed.coreDeviceExecutionStatus}, but the device recorded it as failed${describe(m)}`, {
      ...metadataPath(f), expected: listed.coreDeviceExecutionStatus, actual: 'previous-failure',
    }));
  }
  return out;
}

function recipeFindings(obs: GreengrassV2Observation): Finding[] {
  const out: Finding[] = [];
  for (const c of obs.components) {
    const r = c.recipe;
    if (r?.state === 'invalid') out.push(finding('RECIPE_INVALID', `recipe is unusable: ${r.reason}`, { path: r.path }));
    if (r?.state !== 'ok') continue;
    for (const a of r.artifacts) {
      if (a.digest.encoding === 'invalid') {
        out.push(finding('RECIPE_INVALID', `artifact digest is neither base64 nor hex SHA-256: ${a.uri}`, { path: r.path, actual: a.digest.raw }));
      }
    }
  }
  for (const p of obs.orphanFolders) out.push(finding('ARTIFACT_ADDED', 'component store folder with no recipe for its component version', { path: p }));
  for (const p of obs.strayEntries) out.push(finding('ARTIFACT_ADDED', 'not a folder where the component store holds only folders', { path: p }));
  return out;
}

/** Paths the agent could not read: nothing at or under them is called missing. */
function unreadablePaths(obs: GreengrassV2Observation): (p: string) => boolean {
  const set = new Set(obs.findings.filter((f) => f.code === 'FILE_UNREADABLE' && f.path).map((f) => f.path!));
  return (p) => {
    if (set.has(p)) return true;
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) if (set.has(p.slice(0, i))) return true;
    return false;
  };
}

/**
 * The manifest the nucleus would have picked: the first whose Platform the
 * device matches (os, architecture; "*" or absent matches anything, other
 * keys are not judged), else the one whose artifacts are most present on disk.
 */
export function selectManifest(obs: GreengrassV2Observation, c: ComponentVersionObservation, present: (name: string) => boolean): number | null {
  if (c.recipe?.state !== 'ok' || c.recipe.manifests.length === 0) return null;
  const r = c.recipe;
  const want: Record<string, string> = { os: obs.platform.os, architecture: obs.platform.architecture };
  const fits = (p: Record<string, string>): boolean =>
    Object.entries(want).every(([k, v]) => {
      const got = p[k];
      return got === undefined || got === '*' || got.toLowerCase() === v.toLowerCase();
    });
  const first = r.manifests.findIndex((m) => fits(m.platform));
  if (first !== -1) return first;
  let best = 0;
  let bestCount = -1;
  r.manifests.forEach((_, i) => {
    const n = r.artifacts.filter((a) => a.manifest === i && a.fileName !== null && present(a.fileName)).length;
    if (n > bestCount) {
      best = i;
      bestCount = n;
    }
  });
  return best;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const isRegular = (f: FileDigest): boolean => (f.mode & S_IFMT) === S_IFREG;

type Units = Map<string, UnitDigest>;

/** Every file in packages/artifacts/<name>/<version>/ against its recipe. */
function artifactFindings(obs: GreengrassV2Observation, c: ComponentVersionObservation, units: Units, unreadable: (p: string) => boolean): Finding[] {
  const r = c.recipe;
  if (r?.state !== 'ok') return [];
  const files = units.get(c.artifactsDir)?.files ?? {};
  const declared = new Map<string, RecipeArtifact[]>();
  for (const a of r.artifacts) {
    if (a.fileName === null) continue;
    const l = declared.get(a.fileName) ?? [];
    l.push(a);
    declared.set(a.fileName, l);
  }
  const mismatch = new FindingCap('ARTIFACT_DIGEST_MISMATCH', c.artifactsDir, 'artifacts that differ from their recipe');
  const modified = new FindingCap('ARTIFACT_MODIFIED', c.artifactsDir, 'artifacts that are not files');
  const added = new FindingCap('ARTIFACT_ADDED', c.artifactsDir, 'files not named by the recipe');
  const missing = new FindingCap('ARTIFACT_MISSING', c.artifactsDir, 'missing artifacts');
  const unverifiable = new FindingCap('ARTIFACT_UNVERIFIABLE', c.artifactsDir, 'artifacts that cannot be verified');
  for (const key of Object.keys(files).sort()) {
    const path = filePath(c.artifactsDir, key);
    const f = files[key]!;
    const candidates = declared.get(key);
    if (!candidates) {
      added.add(`file not named by the recipe of ${c.name} ${c.version}: ${path}`, { path });
      continue;
    }
    if (!isRegular(f)) {
      modified.add(`not a regular file where the recipe names an artifact: ${path}`, { path });
      continue;
    }
    const digests = candidates.map((a) => a.digest).filter((d) => d.sha256 !== null);
    if (digests.length === 0) {
      const odd = candidates.find((a) => a.digest.encoding !== 'none' && a.digest.encoding !== 'invalid');
      if (odd) unverifiable.add(`recipe digest uses ${odd.digest.algorithm}, which is not checked: ${path}`, { path, expected: odd.digest.algorithm });
      continue; // no digest in the recipe (a local deployment): the baseline covers the file
    }
    if (!digests.some((d) => d.sha256 === f.sha256)) {
      mismatch.add(`artifact differs from the digest in its recipe: ${path}`, {
        path,
        expected: { sha256: digests[0]!.sha256, recipe: digests[0]!.raw },
        actual: { sha256: f.sha256, base64: Buffer.from(f.sha256, 'hex').toString('base64') },
      });
    }
  }
  const sel = selectManifest(obs, c, (name) => Object.hasOwn(files, name));
  if (sel !== null) {
    const seen = new Set<string>();
    for (const a of r.artifacts) {
      if (a.manifest !== sel || a.fileName === null || seen.has(a.fileName)) continue;
      seen.add(a.fileName);
      const path = filePath(c.artifactsDir, a.fileName);
      if (!Object.hasOwn(files, a.fileName) && !unreadable(path)) {
        missing.add(`artifact named by the recipe is not on the device: ${path}`, { path, expected: a.digest.sha256 ?? a.uri });
      }
    }
  }
  return [...mismatch.findings(), ...modified.findings(), ...missing.findings(), ...added.findings(), ...unverifiable.findings()];
}

/** Whether the archive on disk is the one its recipe names (or the recipe names no digest). */
function archiveVerified(c: ComponentVersionObservation, z: ZipInspection): boolean {
  if (c.recipe?.state !== 'ok' || z.archiveSha256 === null) return false;
  const name = z.path.slice(c.artifactsDir.length + 1);
  const digests = c.recipe.artifacts.filter((a) => a.fileName === name).map((a) => a.digest);
  if (digests.every((d) => d.encoding === 'none')) return true;
  return digests.some((d) => d.sha256 === z.archiveSha256);
}

/** Archive findings, and each unarchived folder against the entries of its verified archive. */
function archiveFindings(obs: GreengrassV2Observation, c: ComponentVersionObservation, units: Units, unreadable: (p: string) => boolean): Finding[] {
  const out: Finding[] = [];
  const files = units.get(c.unarchivedDir)?.files ?? {};
  const keys = Object.keys(files).sort();
  const claimed = new Set<string>();
  const r = c.recipe;
  const zipNames = new Set(r?.state === 'ok' ? r.artifacts.filter((a) => a.unarchive === 'ZIP' && a.fileName).map((a) => a.fileName!) : []);
  let allInspected = zipNames.size === c.archives.length;
  for (const z of c.archives) {
    out.push(...z.findings);
    const name = z.path.slice(c.artifactsDir.length + 1);
    const stem = unarchiveStem(name, obs.nucleus);
    const prefix = `${stem}/`;
    for (const k of keys) if (k.startsWith(prefix)) claimed.add(k);
    if (!archiveVerified(c, z)) {
      allInspected = false;
      continue;
    }
    out.push(...compareUnarchived(c, z, stem, files, unreadable));
  }
  if (!allInspected || r?.state !== 'ok') return out;
  const added = new FindingCap('ARTIFACT_ADDED', c.unarchivedDir, 'files from no archive');
  for (const k of keys) {
    if (!claimed.has(k)) added.add(`file from no archive of ${c.name} ${c.version}: ${filePath(c.unarchivedDir, k)}`, { path: filePath(c.unarchivedDir, k) });
  }
  return [...out, ...added.findings()];
}

function compareUnarchived(
  c: ComponentVersionObservation,
  z: ZipInspection,
  stem: string,
  files: Record<string, FileDigest>,
  unreadable: (p: string) => boolean,
): Finding[] {
  const folder = filePath(c.unarchivedDir, stem);
  const expected = new Map<string, string | null>();
  const skip = new Set<string>();
  for (const e of z.entries) {
    const key = entryKey(e.path);
    if (key === '' || e.type === 'directory') continue;
    if (e.unsafe || e.type !== 'file') {
      skip.add(key);
      continue;
    }
    expected.set(key, e.sha256 ?? null);
  }
  const modified = new FindingCap('ARTIFACT_MODIFIED', folder, 'unarchived files that differ from their archive');
  const missing = new FindingCap('ARTIFACT_MISSING', folder, 'unarchived files missing');
  const added = new FindingCap('ARTIFACT_ADDED', folder, 'files not in the archive');
  const prefix = `${stem}/`;
  for (const [key, sha] of expected) {
    const path = filePath(folder, key);
    const f = Object.hasOwn(files, prefix + key) ? files[prefix + key] : undefined;
    if (!f) {
      if (!unreadable(path)) missing.add(`archive file missing from the unarchived folder: ${path}`, { path, ...(sha ? { expected: sha } : {}) });
    } else if (sha === null) {
      continue; // not read in full from the archive: nothing to compare with
    } else if (!isRegular(f)) {
      modified.add(`not a regular file where the archive has one: ${path}`, { path });
    } else if (f.sha256 !== sha) {
      modified.add(`unarchived file differs from its archive: ${path}`, { path, expected: sha, actual: f.sha256 });
    }
  }
  // Only an archive read whole says what does not belong.
  if (z.complete) {
    for (const k of Object.keys(files).sort()) {
      if (!k.startsWith(prefix)) continue;
      const key = k.slice(prefix.length);
      if (expected.has(key) || skip.has(key)) continue;
      added.add(`file not in the archive: ${filePath(folder, key)}`, { path: filePath(folder, key) });
    }
  }
  return [...modified.findings(), ...missing.findings(), ...added.findings()];
}

function componentStateFindings(obs: GreengrassV2Observation): Finding[] {
  const cs = obs.componentStates;
  const at = cs.files.length > 0 ? { path: cs.files[cs.files.length - 1]! } : {};
  const out: Finding[] = [];
  for (const s of cs.states) {
    if (s.state === 'BROKEN') {
      out.push(finding('COMPONENT_BROKEN', `${s.name} is BROKEN: the nucleus gave up restarting it`, { ...at, actual: s }));
    } else if (s.state === 'ERRORED') {
      out.push(finding('COMPONENT_ERRORED', `${s.name} is ERRORED (the nucleus retries it, and calls it BROKEN after three errors in an hour)`, { ...at, actual: s }));
    }
  }
  return out;
}

function driftFindings(baseline: GreengrassV2Baseline, obs: GreengrassV2Observation, unreadable: (p: string) => boolean): Finding[] {
  const d = compareUnits(baseline.units, obs.tree.units);
  return [
    ...d.modified.map((m) => finding('ARTIFACT_MODIFIED', 'stored file changed since the baseline', { path: m.path, expected: m.expected, actual: m.actual })),
    ...d.missing.filter((m) => !unreadable(m.path)).map((m) => finding('ARTIFACT_MISSING', 'stored file is gone since the baseline', { path: m.path, expected: m.expected })),
    ...d.added.map((m) => finding('ARTIFACT_ADDED', 'file appeared in the component store since the baseline', { path: m.path, actual: m.actual })),
  ];
}
