// Credentials and region for check over WebSockets, from the standard places,
// in the standard order, with a clear word when there are none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialsError, parseIni, resolveCredentials, resolveRegion } from '../../src/check/credentials.js';

test('credentials: the environment first, then the profile files; a role-based profile goes to the SDK chain; none is a clear error', async () => {
  const home = await mkdtemp(join(tmpdir(), 'dw-creds-'));
  try {
    const base = { HOME: home };
    assert.deepEqual(await resolveCredentials({ ...base, AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' }),
      { credentials: { accessKeyId: 'AKID', secretAccessKey: 's', sessionToken: 't' }, source: 'environment' });
    await assert.rejects(resolveCredentials({ ...base, AWS_ACCESS_KEY_ID: 'AKID' }), /must be set together/);
    await assert.rejects(resolveCredentials(base), (err: unknown) => err instanceof CredentialsError && /none found\): set AWS_ACCESS_KEY_ID/.test(err.message));

    await writeFile(join(home, 'creds'), '\uFEFF# mine\n[default]\naws_access_key_id = AKDEF\naws_secret_access_key = sdef\n\n[work]\naws_access_key_id=AKWORK\naws_secret_access_key=swork\naws_session_token = tw\n');
    await writeFile(join(home, 'config'), '[default]\nregion = eu-west-1\n[profile sso]\nsso_session = corp\nregion = ap-south-1\n[profile inline]\naws_access_key_id = AKIN\naws_secret_access_key = sin\n');
    const env = { ...base, AWS_SHARED_CREDENTIALS_FILE: join(home, 'creds'), AWS_CONFIG_FILE: join(home, 'config') };
    assert.deepEqual((await resolveCredentials(env)).credentials, { accessKeyId: 'AKDEF', secretAccessKey: 'sdef' });
    assert.deepEqual((await resolveCredentials({ ...env, AWS_PROFILE: 'work' })).credentials, { accessKeyId: 'AKWORK', secretAccessKey: 'swork', sessionToken: 'tw' });
    assert.deepEqual((await resolveCredentials({ ...env, AWS_PROFILE: 'inline' })).credentials, { accessKeyId: 'AKIN', secretAccessKey: 'sin' });
    assert.equal((await resolveCredentials({ ...env, AWS_PROFILE: 'sso' })).credentials, 'sdk-default-chain');
    await assert.rejects(resolveCredentials({ ...env, AWS_PROFILE: 'nobody' }), /none found/);

    assert.equal(await resolveRegion('us-west-2', 'x', env), 'us-west-2');
    assert.equal(await resolveRegion(undefined, 'x', { ...env, AWS_REGION: 'ca-central-1' }), 'ca-central-1');
    assert.equal(await resolveRegion(undefined, 'x', env), 'eu-west-1');
    assert.equal(await resolveRegion(undefined, 'x', { ...env, AWS_PROFILE: 'sso' }), 'ap-south-1');
    assert.equal(await resolveRegion(undefined, 'a1b2c3-ats.iot.us-east-2.amazonaws.com', base), 'us-east-2');
    await assert.rejects(resolveRegion(undefined, 'localhost', base), /give --region or set AWS_REGION/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('the shared-file INI dialect: sections, comments, nested settings left alone', () => {
  const ini = parseIni('[default]\nregion=us-east-1\ns3 =\n  max_concurrent_requests = 20\n; note\n[profile x]\nAWS_ACCESS_KEY_ID = A\n');
  assert.deepEqual([...ini.get('default')!.entries()], [['region', 'us-east-1'], ['s3', '']]);
  assert.equal(ini.get('profile x')!.get('aws_access_key_id'), 'A');
});
