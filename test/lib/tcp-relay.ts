// A TCP relay in front of a broker that a test can cut and restore: a device
// that loses its connection for a while, without stopping the broker for
// everyone else. While cut, open connections are dropped and new ones refused
// (accepted, then reset), so the client sees an outage and retries.
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpRelay {
  readonly port: number;
  readonly cut: boolean;
  /** Drops every connection and refuses new ones until restore(). */
  cutOff(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  let isCut = false;
  const server = createServer((client) => {
    if (isCut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: targetHost, port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return {
    port: addr.port,
    get cut() {
      return isCut;
    },
    cutOff() {
      isCut = true;
      for (const s of sockets) s.resetAndDestroy();
    },
    restore() {
      isCut = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
