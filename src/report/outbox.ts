// The ordered sender: drains the spool through a transport, oldest first, one
// message in flight at a time. An entry leaves the spool only after the
// transport accepted it, so a kill at any point re-sends (with the same
// spoolSeq) rather than loses. It sleeps until something can change: an
// enqueue, a reconnect, or the end of a backoff.
import type { Logger } from '../log.js';
import type { OutboundMessage, Transport } from './transport.js';
import type { Spool, SpoolEntry } from './spool.js';
import { nextDelay } from './backoff.js';

export interface RetryInfo {
  spoolSeq: number | undefined;
  /** 0 for the first retry. */
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface OutboxOptions {
  spool: Spool;
  transport: Transport;
  logger: Logger;
  backoff?: { minMs?: number; maxMs?: number };
  /** Uniform in [0, 1); defaults to Math.random. */
  random?: () => number;
  /** Called after an entry was accepted by the transport and removed from the spool. */
  onSent?: (entry: SpoolEntry) => void;
  /** Called when a send failed and the outbox is about to wait. */
  onRetry?: (info: RetryInfo) => void;
}

type WaitKind = 'idle' | 'backoff';

export class Outbox {
  private readonly spool: Spool;
  private readonly transport: Transport;
  private readonly logger: Logger;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private inPublish = false;
  private attempt = 0;
  /** Bumped by transportConnected(); a publish that fails across a reconnect is retried at once. */
  private connectEpoch = 0;
  private waiting: { kind: WaitKind; wake: () => void } | undefined;

  constructor(private readonly opts: OutboxOptions) {
    this.spool = opts.spool;
    this.transport = opts.transport;
    this.logger = opts.logger;
    this.minMs = opts.backoff?.minMs ?? 1000;
    this.maxMs = opts.backoff?.maxMs ?? 60_000;
    this.random = opts.random ?? Math.random;
  }

  /** Entries not yet accepted by the transport (including one in flight). */
  get depth(): number {
    return this.spool.size.entries;
  }

  /** Spools the message durably, then wakes the sender. Rejects if the spool write failed. */
  async enqueue(message: OutboundMessage): Promise<SpoolEntry> {
    const entry = await this.spool.append(message);
    // Only an idle sender wakes: during a backoff, new messages wait their turn.
    this.wake('idle');
    return entry;
  }

  /**
   * Drops spooled messages `keep` refuses: messages for topics the agent no
   * longer uses (a new topic prefix or thing name). The nucleus refuses them
   * for good once accessControl follows, and one such message at the head of
   * the queue would hold back every message after it. Returns how many went.
   */
  async discardUnless(keep: (m: OutboundMessage) => boolean): Promise<number> {
    let dropped = 0;
    for (const e of this.spool.entries()) {
      const r = await this.spool.read(e.spoolSeq);
      if (r && !keep(r.message)) {
        await this.spool.remove(e.spoolSeq);
        dropped += 1;
      }
    }
    if (dropped > 0) {
      // The head of the queue may have been one of them, waiting out a backoff.
      this.attempt = 0;
      this.wake('backoff');
    }
    return dropped;
  }

  /** Starts draining, beginning with whatever a previous process left in the spool. */
  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run();
  }

  /** The transport is (again) connected: retry now, with the backoff reset. */
  transportConnected(): void {
    this.connectEpoch += 1;
    this.attempt = 0;
    this.wake('idle', 'backoff');
  }

  /**
   * Stops sending; leaves no timer behind. A publish already in flight is not
   * waited for (it may never settle while offline); if it succeeds, its entry
   * is still removed, and nothing else is sent.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting?.wake();
    if (this.loop && !this.inPublish) await this.loop;
  }

  private wake(...kinds: WaitKind[]): void {
    if (this.waiting && kinds.includes(this.waiting.kind)) this.waiting.wake();
  }

  private wait(kind: WaitKind, delayMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = () => {
        if (timer) clearTimeout(timer);
        if (this.waiting?.wake === wake) this.waiting = undefined;
        resolve();
      };
      this.waiting = { kind, wake };
      if (delayMs !== undefined) timer = setTimeout(wake, delayMs);
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.step();
      } catch (err) {
        // A spool read/remove failed (disk trouble): wait as for a failed send.
        this.logger.error('outbox: spool error', { error: String(err) });
        if (!this.stopped) await this.backoff(undefined, err);
      }
    }
  }

  private async step(): Promise<void> {
    const entry = this.spool.peek();
    if (!entry) {
      await this.wait('idle');
      return;
    }
    const record = await this.spool.read(entry.spoolSeq);
    if (!record || this.stopped) return; // vanished: the spool forgot it, go on
    const epoch = this.connectEpoch;
    this.inPublish = true;
    try {
      await this.transport.publish(record.message);
    } catch (err) {
      this.inPublish = false;
      if (this.stopped || this.connectEpoch !== epoch) return;
      await this.backoff(entry.spoolSeq, err);
      return;
    }
    this.inPublish = false;
    this.attempt = 0;
    try {
      await this.spool.remove(entry.spoolSeq);
    } catch (err) {
      // Already forgotten in memory; after a restart it is re-sent with the same spoolSeq.
      this.logger.error('outbox: could not remove a sent entry', { spoolSeq: entry.spoolSeq, error: String(err) });
    }
    try {
      this.opts.onSent?.(entry);
    } catch (err) {
      this.logger.error('outbox: onSent failed', { error: String(err) });
    }
  }

  private async backoff(spoolSeq: number | undefined, error: unknown): Promise<void> {
    const attempt = this.attempt;
    const delayMs = nextDelay(attempt, { minMs: this.minMs, maxMs: this.maxMs, random: this.random });
    this.attempt += 1;
    // One warning per outage, then quiet: a long outage must not fill the log.
    const level = attempt === 0 ? 'warn' : 'debug';
    this.logger.log(level, 'outbox: send failed, retrying', {
      spoolSeq,
      attempt,
      delayMs,
      depth: this.depth,
      error: String(error),
    });
    try {
      this.opts.onRetry?.({ spoolSeq, attempt, delayMs, error });
    } catch (err) {
      this.logger.error('outbox: onRetry failed', { error: String(err) });
    }
    await this.wait('backoff', delayMs);
  }
}
