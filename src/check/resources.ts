// --resource-file [SYSTEM_INSTANCE_ID=]PATH: a flow archive fetched from the
// deployment's bucket (aws s3 cp), hashed here, so the device proves it holds
// the very bytes that were deployed.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ResourceDigest } from './plan.js';

/** What Things Graph names the deployment artifact in the bucket. */
const FLOW_ARCHIVE = /^flow-.+\.tar\.gz$/;

export class ResourceFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResourceFileError';
  }
}

/** Splits `urn:tdm:...=path` (a URN holds no `=`) from a bare path. */
export function parseResourceArg(arg: string): { systemInstanceId?: string; path: string } {
  const m = /^(urn:tdm:[^=]+)=(.+)$/i.exec(arg);
  if (m) return { systemInstanceId: m[1]!, path: m[2]! };
  if (arg === '') throw new ResourceFileError('--resource-file is empty');
  return { path: arg };
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function readResourceFile(arg: string): Promise<ResourceDigest> {
  const { systemInstanceId, path } = parseResourceArg(arg);
  const name = basename(path);
  if (!FLOW_ARCHIVE.test(name)) {
    throw new ResourceFileError(`--resource-file ${arg}: the file name must be the flow archive's, flow-<name>.tar.gz (as in the deployment's S3 bucket), not ${name}`);
  }
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ResourceFileError(`--resource-file ${path} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof ResourceFileError) throw err;
    throw new ResourceFileError(`cannot read --resource-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (size === 0) throw new ResourceFileError(`--resource-file ${path} is empty`);
  let sha256: string;
  try {
    sha256 = await sha256File(path);
  } catch (err) {
    throw new ResourceFileError(`cannot read --resource-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { name, sha256, ...(systemInstanceId !== undefined ? { systemInstanceId } : {}) };
}
