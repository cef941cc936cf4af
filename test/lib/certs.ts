// Throwaway PKI for TLS tests: a CA, a server certificate for localhost and a
// client certificate, made with the openssl command line.
import { execFile } from 'node:child_process';
import { access, mkdir, writeFile, chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Certs {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

// One generation per folder per process: openssl is slow on a Pi.
const cache = new Map<string, Promise<Certs>>();

/** Paths of a fresh CA, server and client certificate under dir (created if needed). */
export function makeCerts(dir: string): Promise<Certs> {
  const key = resolve(dir);
  const cached = cache.get(key);
  if (cached) {
    return cached.then(async (certs) => {
      if (await allExist(certs)) return certs;
      cache.delete(key); // the folder was cleaned up; make new ones
      return makeCerts(dir);
    });
  }
  const made = generate(key);
  cache.set(key, made);
  made.catch(() => cache.delete(key));
  return made;
}

async function allExist(certs: Certs): Promise<boolean> {
  try {
    await Promise.all(Object.values(certs).map((p) => access(p)));
    return true;
  } catch {
    return false;
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl is not installed (apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

// P-256 keys: quick to make, and accepted by both mosquitto (OpenSSL) and aws-crt (s2n).
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function generate(dir: string): Promise<Certs> {
  await mkdir(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const certs: Certs = {
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
  };
  const caKey = p('ca.key');
  const tag = Math.random().toString(36).slice(2, 8);

  await openssl([
    'req', '-x509', ...EC_KEY, '-keyout', caKey, '-out', certs.ca, '-days', '2',
    '-subj', `/CN=deploy-witness test CA ${tag}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await writeFile(p('server.ext'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '',
  ].join('\n'));
  await writeFile(p('client.ext'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
    '',
  ].join('\n'));

  for (const [name, cn, cert, key] of [
    ['server', 'localhost', certs.serverCert, certs.serverKey],
    ['client', `deploy-witness-test-${tag}`, certs.clientCert, certs.clientKey],
  ] as const) {
    const csr = p(`${name}.csr`);
    await openssl(['req', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
    await openssl([
      'x509', '-req', '-in', csr, '-CA', certs.ca, '-CAkey', caKey, '-CAcreateserial',
      '-out', cert, '-days', '2', '-extfile', p(`${name}.ext`),
    ]);
  }
  await Promise.all([caKey, certs.serverKey, certs.clientKey].map((k) => chmod(k, 0o600)));
  return certs;
}

/** OpenSSL's time format for `ca -startdate/-enddate`: YYYYMMDDHHMMSSZ. */
function asn1Time(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * A client certificate signed by the CA of `certs` with the validity dates
 * given (one that expired, or one not valid yet), through `openssl ca`, the
 * one command of OpenSSL 3.0 that takes both dates. Returns its path and its
 * key's.
 */
export async function makeClientCertWithDates(
  certs: Certs,
  dir: string,
  dates: { notBefore: Date; notAfter: Date },
): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const caDir = resolve(certs.ca, '..');
  await writeFile(p('index.txt'), '');
  await writeFile(p('serial'), `${randomSerial()}\n`);
  await mkdir(p('new'), { recursive: true });
  await writeFile(p('ca.cnf'), [
    '[ca]', 'default_ca = test',
    '[test]', `database = ${p('index.txt')}`, `new_certs_dir = ${p('new')}`, `serial = ${p('serial')}`,
    'default_md = sha256', 'policy = any', 'unique_subject = no', 'copy_extensions = none',
    '[any]', 'commonName = supplied',
    '',
  ].join('\n'));
  const key = p('client.key');
  const csr = p('client.csr');
  const cert = p('client.crt');
  await openssl(['req', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=deploy-witness-dated-${Math.random().toString(36).slice(2, 8)}`]);
  await openssl([
    'ca', '-batch', '-config', p('ca.cnf'), '-cert', certs.ca, '-keyfile', join(caDir, 'ca.key'), '-in', csr, '-out', cert,
    '-startdate', asn1Time(dates.notBefore), '-enddate', asn1Time(dates.notAfter), '-notext',
    '-extfile', join(caDir, 'client.ext'),
  ]);
  await chmod(key, 0o600);
  return { cert, key };
}

function randomSerial(): string {
  return Array.from({ length: 8 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join('').toUpperCase();
}
