// Reads <v2 root>/deployments: the ongoing / previous-success /
// previous-failure links and the deployment_metadata.json of the folder each
// points at (DeploymentDirectoryManager). Links are read with lstat and
// readlink, never followed by the file system: a target is resolved by name
// inside deployments/ only, so a link cannot make us read anything else.
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { finding, type Finding } from '../../model/findings.js';
import {
  DEPLOYMENT_LINKS,
  type DeploymentLink,
  type DeploymentMetadata,
  type DeploymentPackage,
  type DeploymentRecord,
  type DeploymentsObservation,
} from '../../model/greengrass-v2.js';
import { parseStrictJson } from '../../model/strict-json.js';
import { readDeviceText } from '../files.js';

export const METADATA_FILE = 'deployment_metadata.json';
/** The metadata carries the whole deployment document (component configurations included). */
export const MAX_METADATA_BYTES = 16 * 1024 * 1024;

function codeOf(err: unknown): string {
  const c = (err as NodeJS.ErrnoException | null)?.code;
  return typeof c === 'string' ? c : 'EIO';
}

/** A single safe path segment: what the nucleus names a deployment folder (getSafeFileName). */
function isFolderName(s: string): boolean {
  return s !== '' && s !== '.' && s !== '..' && !s.includes('/') && !s.includes('\0');
}

/**
 * The deployment folder a link names, or a reason it names none. The Java
 * nucleus writes absolute targets (<rootPath>/deployments/<folder>), so an
 * absolute target must sit directly in the deployments folder as the device
 * sees it: `/<v2Root>/deployments`, or the folder we read when --root is the
 * device's own root. A relative target must be a bare folder name.
 */
export function linkFolder(target: string, deviceDeploymentsDirs: readonly string[]): { folder: string } | { reason: string } {
  if (target.includes('\0')) return { reason: 'link target holds a NUL' };
  if (!target.startsWith('/')) {
    const norm = posix.normalize(target).replace(/\/+$/, '');
    return isFolderName(norm) ? { folder: norm } : { reason: `link points outside deployments/: ${target}` };
  }
  const norm = posix.normalize(target).replace(/\/+$/, '');
  const dir = posix.dirname(norm);
  const base = posix.basename(norm);
  if (!isFolderName(base) || !deviceDeploymentsDirs.includes(dir)) {
    return { reason: `link points outside deployments/: ${target}` };
  }
  return { folder: base };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Record<string, unknown>, key: string, where: string): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new Error(`${where}.${key} is not a string`);
  return v;
}

function stringList(o: Record<string, unknown>, key: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${key} is not a list of strings`);
  return v as string[];
}

/**
 * Parses deployment_metadata.json: the Deployment object as Jackson writes it
 * (default property names from the getters, so `cancelled`, and the derived
 * `greengrassDeploymentId` / `configurationArn`), with `deploymentDocumentObj`
 * in the DeploymentDocument's own PascalCase names.
 */
export function parseDeploymentMetadata(text: string): DeploymentMetadata {
  // Strictly: a key written twice would leave which copy counts to the reader.
  const read = parseStrictJson(text);
  if (!read.ok) throw new Error(`not valid JSON: ${read.error}`);
  const doc: unknown = read.value;
  if (!isObject(doc)) throw new Error('not a JSON object');
  const ddo = doc.deploymentDocumentObj;
  if (ddo !== undefined && ddo !== null && !isObject(ddo)) throw new Error('deploymentDocumentObj is not an object');
  const d: Record<string, unknown> = isObject(ddo) ? ddo : {};
  const packages: DeploymentPackage[] = [];
  const pk = d.Packages;
  if (pk !== undefined && pk !== null) {
    if (!Array.isArray(pk)) throw new Error('deploymentDocumentObj.Packages is not a list');
    pk.forEach((p, i) => {
      const at = `deploymentDocumentObj.Packages[${i}]`;
      if (!isObject(p)) throw new Error(`${at} is not an object`);
      const name = optString(p, 'Name', at);
      if (!name) throw new Error(`${at}.Name is missing`);
      const root = p.RootComponent;
      if (root !== undefined && root !== null && typeof root !== 'boolean') throw new Error(`${at}.RootComponent is not a boolean`);
      packages.push({ name, resolvedVersion: optString(p, 'ResolvedVersion', at), rootComponent: root === true });
    });
  }
  const ts = d.Timestamp;
  if (ts !== undefined && ts !== null && (typeof ts !== 'number' || !Number.isFinite(ts))) {
    throw new Error('deploymentDocumentObj.Timestamp is not a number');
  }
  const deploymentId = optString(d, 'DeploymentId', 'deploymentDocumentObj') ?? optString(doc, 'greengrassDeploymentId', 'metadata');
  const configurationArn = optString(d, 'ConfigurationArn', 'deploymentDocumentObj') ?? optString(doc, 'configurationArn', 'metadata');
  return {
    id: optString(doc, 'id', 'metadata'),
    deploymentType: optString(doc, 'deploymentType', 'metadata'),
    deploymentStage: optString(doc, 'deploymentStage', 'metadata'),
    stageDetails: optString(doc, 'stageDetails', 'metadata'),
    deploymentId,
    configurationArn,
    groupName: optString(d, 'GroupName', 'deploymentDocumentObj'),
    timestamp: typeof ts === 'number' ? ts : null,
    packages: packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    errorStack: stringList(doc, 'errorStack'),
    errorTypes: stringList(doc, 'errorTypes'),
  };
}

export interface ReadDeploymentsOptions {
  /** --root, absolute. */
  root: string;
  /** The v2 root relative to --root. */
  v2Root: string;
}

/** Reads the three links and what they point at. Problems become records or findings, never throws for the disk. */
export async function readDeployments(opts: ReadDeploymentsOptions): Promise<{ deployments: DeploymentsObservation; findings: Finding[] }> {
  const rel = posix.join(opts.v2Root, 'deployments');
  const abs = join(opts.root, rel);
  const findings: Finding[] = [];
  const out: DeploymentsObservation = { path: rel, state: 'ok', records: [] };
  try {
    await readdir(abs);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      out.state = 'missing';
      return { deployments: out, findings };
    }
    out.state = 'unreadable';
    findings.push(finding('FILE_UNREADABLE', `cannot list the deployments folder (${code}); it is owner-only (700)`, { path: rel, actual: code }));
    return { deployments: out, findings };
  }
  const deviceDirs = [posix.join('/', opts.v2Root, 'deployments'), posix.normalize(abs)];
  for (const link of DEPLOYMENT_LINKS) {
    const rec = await readLink(opts.root, rel, link, deviceDirs, findings);
    if (rec) out.records.push(rec);
  }
  return { deployments: out, findings };
}

async function readLink(
  root: string,
  depRel: string,
  link: DeploymentLink,
  deviceDirs: string[],
  findings: Finding[],
): Promise<DeploymentRecord | null> {
  const linkRel = posix.join(depRel, link);
  const linkAbs = join(root, linkRel);
  let target: string;
  try {
    const st = await lstat(linkAbs);
    if (!st.isSymbolicLink()) return { state: 'invalid', link, reason: `${link} is not a symbolic link` };
    target = await readlink(linkAbs);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    findings.push(finding('FILE_UNREADABLE', `cannot read the ${link} link (${code})`, { path: linkRel, actual: code }));
    return { state: 'unreadable', link, reason: code };
  }
  const where = linkFolder(target, deviceDirs);
  if ('reason' in where) return { state: 'invalid', link, target, reason: where.reason };
  const folder = posix.join(depRel, where.folder);
  try {
    const st = await lstat(join(root, folder));
    if (!st.isDirectory()) return { state: 'invalid', link, target, folder, reason: 'the link target is not a folder' };
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'invalid', link, target, folder, reason: 'the link points at a folder that does not exist' };
    findings.push(finding('FILE_UNREADABLE', `cannot read the deployment folder (${code})`, { path: folder, actual: code }));
    return { state: 'unreadable', link, target, folder, reason: code };
  }
  const metaRel = posix.join(folder, METADATA_FILE);
  const read = await readDeviceText(join(root, metaRel), MAX_METADATA_BYTES);
  switch (read.state) {
    case 'missing':
      return { state: 'invalid', link, target, folder, reason: `${METADATA_FILE} is missing` };
    case 'unreadable':
      findings.push(finding('FILE_UNREADABLE', `cannot read ${METADATA_FILE} (${read.code})`, { path: metaRel, actual: read.code }));
      return { state: 'unreadable', link, target, folder, reason: read.code };
    case 'invalid':
      return { state: 'invalid', link, target, folder, reason: `${METADATA_FILE} ${read.reason}` };
    case 'ok':
      break;
  }
  try {
    return { state: 'ok', link, target, folder, metadata: parseDeploymentMetadata(read.text) };
  } catch (err) {
    return { state: 'invalid', link, target, folder, reason: `${METADATA_FILE} is unusable: ${(err as Error).message}` };
  }
}
