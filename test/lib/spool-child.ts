// A child process for kill tests: spools and sends messages, then dies by
// SIGKILL at a chosen point. It prints one JSON line per event on stdout
// (written synchronously, so a line printed before the kill is never lost).
//   node dist/test/lib/spool-child.js <dir> append-kill <n>      append n, then die before sending
//   node dist/test/lib/spool-child.js <dir> torn <n>             append n, die inside the write of entry n+1
//   node dist/test/lib/spool-child.js <dir> sent-kill <n> <k>    append n, send; die after the k-th accepted
//                                                                publish, before its entry is removed
import { writeSync } from 'node:fs';
import { openSpool, type Spool } from '../../src/report/spool.js';
import { Outbox } from '../../src/report/outbox.js';
import { silentLogger } from '../../src/log.js';
import type { OutboundMessage } from '../../src/report/transport.js';
import { FakeTransport } from './fake-transport.js';

function emit(event: Record<string, unknown>): void {
  writeSync(1, JSON.stringify(event) + '\n');
}

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

function childMessage(i: number): OutboundMessage {
  return { topic: 'dw/test/report', payload: JSON.stringify({ n: i }), qos: 1, kind: 'report' };
}

async function appendAll(spool: Spool, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const e = await spool.append(childMessage(i));
    emit({ event: 'appended', spoolSeq: e.spoolSeq, payload: childMessage(i).payload });
  }
}

async function main(): Promise<void> {
  const [dir, mode, a, b] = process.argv.slice(2);
  const n = Number(a);
  if (!dir || !mode || !Number.isInteger(n)) throw new Error('usage: spool-child <dir> <mode> <n> [k]');
  const logger = silentLogger();

  if (mode === 'append-kill') {
    const spool = await openSpool(dir, { logger });
    await appendAll(spool, n);
    die();
  }

  if (mode === 'torn') {
    let writes = 0;
    const spool = await openSpool(dir, {
      logger,
      faults: {
        beforeRename: () => {
          writes += 1;
          if (writes > n) {
            emit({ event: 'killing', at: 'beforeRename' });
            die();
          }
        },
      },
    });
    await appendAll(spool, n + 1);
    throw new Error('the fault hook should have killed this process');
  }

  if (mode === 'sent-kill') {
    const k = Number(b);
    const spool = await openSpool(dir, { logger });
    await appendAll(spool, n);
    let removes = 0;
    // The real spool, except that the k-th remove dies first: the transport
    // has accepted the message, the spool still holds it.
    const dying = new Proxy(spool, {
      get(target, prop) {
        if (prop === 'remove') {
          return async (spoolSeq: number) => {
            removes += 1;
            if (removes === k) {
              emit({ event: 'killing', at: 'beforeRemove', spoolSeq });
              die();
            }
            return target.remove(spoolSeq);
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const transport = new FakeTransport();
    const origPublish = transport.publish.bind(transport);
    transport.publish = async (m: OutboundMessage) => {
      await origPublish(m);
      emit({ event: 'published', payload: m.payload });
    };
    const outbox = new Outbox({ spool: dying, transport, logger, backoff: { minMs: 10, maxMs: 100 } });
    outbox.start();
    return; // the outbox runs until the k-th remove kills the process
  }

  throw new Error(`unknown mode ${mode}`);
}

main().catch((err) => {
  process.stderr.write(`spool-child: ${String(err)}\n`);
  process.exit(2);
});
