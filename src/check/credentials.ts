// AWS credentials and region for MQTT over WebSockets, from the standard
// places in the standard order: the environment, then the shared profile
// files (~/.aws/credentials, ~/.aws/config; AWS_PROFILE picks the profile).
//
// The SDK's own default chain (aws-c-auth) reads the same places and then
// goes on to the container and EC2 instance metadata endpoints; on a laptop
// without credentials that ends, after timeouts, in an error that does not say
// what is missing. So static keys are resolved here, and a person without any
// is told at once what to set. A profile that gets its keys another way
// (role_arn, credential_process, SSO) is left to the SDK's chain.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AwsCredentials } from '../report/mqtt5.js';

export class CredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialsError';
  }
}

export interface ResolvedCredentials {
  credentials: AwsCredentials | 'sdk-default-chain';
  /** Where they came from, for the log (never the keys). */
  source: string;
}

type Ini = Map<string, Map<string, string>>;

/** The INI dialect of the AWS shared files: `[section]`, `key = value`, `#` and `;` comments. */
export function parseIni(text: string): Ini {
  const out: Ini = new Map();
  let section: Map<string, string> | null = null;
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (sec) {
      section = out.get(sec[1]!) ?? new Map();
      out.set(sec[1]!, section);
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    // Indented lines continue a nested setting (s3 = ...): not ours.
    if (kv && section && !/^\s/.test(raw)) section.set(kv[1]!.toLowerCase(), kv[2]!);
  }
  return out;
}

async function readIni(path: string): Promise<Ini | null> {
  try {
    return parseIni(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CredentialsError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function files(env: NodeJS.ProcessEnv): { credentials: string; config: string } {
  const home = env.HOME ?? homedir();
  return {
    credentials: env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials'),
    config: env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config'),
  };
}

const OTHER_WAYS = ['role_arn', 'credential_process', 'sso_session', 'sso_start_url', 'web_identity_token_file', 'credential_source'];

export async function resolveCredentials(env: NodeJS.ProcessEnv): Promise<ResolvedCredentials> {
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id || secret) {
    if (!id || !secret) throw new CredentialsError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
    const c: AwsCredentials = { accessKeyId: id, secretAccessKey: secret };
    if (env.AWS_SESSION_TOKEN) c.sessionToken = env.AWS_SESSION_TOKEN;
    return { credentials: c, source: 'environment' };
  }
  const profile = env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || 'default';
  const f = files(env);
  const creds = (await readIni(f.credentials))?.get(profile);
  const config = (await readIni(f.config))?.get(profile === 'default' ? 'default' : `profile ${profile}`);
  for (const [where, s] of [[f.credentials, creds], [f.config, config]] as const) {
    const key = s?.get('aws_access_key_id');
    const sec = s?.get('aws_secret_access_key');
    if (key && sec) {
      const c: AwsCredentials = { accessKeyId: key, secretAccessKey: sec };
      const token = s?.get('aws_session_token');
      if (token) c.sessionToken = token;
      return { credentials: c, source: `profile ${profile} in ${where}` };
    }
  }
  if ([creds, config].some((s) => s && OTHER_WAYS.some((k) => s.has(k)))) {
    return { credentials: 'sdk-default-chain', source: `profile ${profile} (through the SDK's credential chain)` };
  }
  const missing = creds || config ? `profile ${profile} has no aws_access_key_id and aws_secret_access_key` : 'none found';
  throw new CredentialsError(
    `no AWS credentials for MQTT over WebSockets (${missing}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
      'or configure a profile (aws configure; AWS_PROFILE picks one), or connect with a device certificate (--cert and --key)',
  );
}

/** The region for signing: --region, the environment, the profile, or the endpoint's name. */
export async function resolveRegion(flag: string | undefined, endpoint: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (flag) return flag;
  if (env.AWS_REGION) return env.AWS_REGION;
  if (env.AWS_DEFAULT_REGION) return env.AWS_DEFAULT_REGION;
  const profile = env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || 'default';
  const config = (await readIni(files(env).config))?.get(profile === 'default' ? 'default' : `profile ${profile}`);
  const fromProfile = config?.get('region');
  if (fromProfile) return fromProfile;
  // <prefix>-ats.iot.<region>.amazonaws.com
  const m = /\.iot\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/.exec(endpoint);
  if (m) return m[1]!;
  throw new CredentialsError(`no AWS region to sign the WebSocket connection to ${endpoint}: give --region or set AWS_REGION`);
}
