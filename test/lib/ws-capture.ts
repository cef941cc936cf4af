// A TLS front for mosquitto's WebSockets listener that keeps the HTTP upgrade
// request of every connection, so a test can check what a client signed
// (mosquitto itself ignores the SigV4 query). After the request head the bytes
// pass through untouched, both ways.
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { createHash, createHmac } from 'node:crypto';

export interface CapturedRequest {
  method: string;
  /** Path and query as sent. */
  target: string;
  headers: Record<string, string>;
}

export interface CaptureProxy {
  readonly port: number;
  readonly requests: readonly CapturedRequest[];
  close(): Promise<void>;
}

const MAX_HEAD = 64 * 1024;

function parseHead(head: string): CapturedRequest {
  const [first, ...lines] = head.split('\r\n');
  const [method, target] = (first ?? '').split(' ');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { method: method ?? '', target: target ?? '', headers };
}

export async function startCaptureProxy(o: { targetPort: number; certFile: string; keyFile: string }): Promise<CaptureProxy> {
  const requests: CapturedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ cert: readFileSync(o.certFile), key: readFileSync(o.keyFile) }, (client: TLSSocket) => {
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => sockets.delete(client));
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD) client.destroy();
        return;
      }
      client.off('data', onData);
      requests.push(parseHead(buf.subarray(0, end).toString('latin1')));
      const upstream = connect({ host: '127.0.0.1', port: o.targetPort });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
      upstream.write(buf);
      client.pipe(upstream);
      upstream.pipe(client);
    };
    client.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return {
    port: addr.port,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

// ---- SigV4, written here from the published algorithm, to check a captured request ----

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

export interface SigV4Check {
  ok: boolean;
  accessKeyId: string;
  region: string;
  service: string;
  expected: string;
  actual: string;
}

/**
 * Recomputes the query-string SigV4 signature of a captured GET with the
 * secret key, and says whether the one sent matches.
 */
export function verifyQuerySignature(r: CapturedRequest, secretAccessKey: string, payloadHash = sha256('')): SigV4Check {
  const q = r.target.indexOf('?');
  const path = q < 0 ? r.target : r.target.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : r.target.slice(q + 1));
  const actual = params.get('X-Amz-Signature') ?? '';
  const credential = params.get('X-Amz-Credential') ?? '';
  const [accessKeyId = '', date = '', region = '', service = '', term = ''] = credential.split('/');
  const amzDate = params.get('X-Amz-Date') ?? '';
  const signedHeaders = (params.get('X-Amz-SignedHeaders') ?? '').split(';').filter(Boolean);
  const query = [...params.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headers = signedHeaders.map((h) => `${h}:${(r.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [r.method, path, query, headers, signedHeaders.join(';'), payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/${term}`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), term);
  const expected = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  return { ok: expected === actual && actual !== '', accessKeyId, region, service, expected, actual };
}
