// The exchange: publish each envelope, paced under AWS IoT Core's limits,
// send it again now and then to whoever has not answered, feed every message
// on the report filter to the session, and stop when nothing is left to wait
// for or the time is up. Three timers in all (the deadline, the next round,
// the pacer), whatever the number of devices. The connection and the clock
// are passed in.
import type { Logger } from '../log.js';
import type { CheckSession, Outgoing, Progress } from './session.js';

/** AWS IoT Core allows 100 publishes per second per connection: stay under it, bursts included. */
export const DEFAULT_PUBLISH_RATE = 80;
export const MAX_PUBLISH_RATE = 100;
const BURST = 10;
/** QoS 1 publishes awaiting PUBACK at once (IoT Core allows 100 in flight). */
const MAX_IN_FLIGHT = 50;
/** Seconds between rounds of resending to the silent: soon at first, then every half minute. */
export const RESEND_AFTER_S = [3, 6, 12, 24, 30] as const;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface PublishLink {
  /** QoS 1; resolves on PUBACK. */
  publish(topic: string, payload: string): Promise<void>;
}

export interface ExchangeOptions {
  session: CheckSession;
  link: PublishLink;
  timeoutMs: number;
  clock?: Clock;
  publishRate?: number;
  logger?: Logger;
  /** Told after every change of answers, and after each round. */
  onProgress?: (p: ExchangeProgress) => void;
}

export interface ExchangeProgress extends Progress {
  remainingMs: number;
  published: number;
}

export interface ExchangeResult {
  /** Every device answered (nothing left to wait for) before the deadline. */
  complete: boolean;
  published: number;
  publishFailures: number;
  rounds: number;
}

export class Exchange {
  private readonly clock: Clock;
  private readonly rate: number;
  /** FIFO: items from `head` on are waiting (shift() on a thousand-item array would cost a pass each). */
  private queue: Outgoing[] = [];
  private head = 0;
  private readonly queued = new Set<string>();
  /** When each message was last sent: a round resends only what has had time to be answered. */
  private readonly lastSent = new Map<string, number>();
  private tokens = BURST;
  private lastRefill: number;
  private inFlight = 0;
  private pacerTimer: unknown = null;
  private roundTimer: unknown = null;
  private deadlineTimer: unknown = null;
  private rounds = 0;
  private published = 0;
  private publishFailures = 0;
  private readonly startedAt: number;
  private finished = false;
  private running = false;
  private resolve!: (r: ExchangeResult) => void;

  constructor(private readonly o: ExchangeOptions) {
    this.clock = o.clock ?? realClock;
    this.rate = Math.min(Math.max(1, o.publishRate ?? DEFAULT_PUBLISH_RATE), MAX_PUBLISH_RATE);
    this.startedAt = this.clock.now();
    this.lastRefill = this.startedAt;
  }

  /** Starts sending; resolves when every device answered, or at the deadline. */
  run(): Promise<ExchangeResult> {
    this.running = true;
    const done = new Promise<ExchangeResult>((res) => (this.resolve = res));
    if (this.o.session.done()) {
      this.finish();
      return done;
    }
    this.deadlineTimer = this.clock.setTimeout(() => this.finish(), this.o.timeoutMs);
    this.round();
    return done;
  }

  /** A message on the report filter (the transport's handler calls this). */
  deliver(topic: string, payload: Buffer | string): void {
    // Before run() nothing was sent, so nothing can be an answer (retained reports arrive at subscribe).
    if (this.finished || !this.running) return;
    const { changed, send } = this.o.session.onMessage(topic, payload);
    for (const m of send) this.enqueue(m);
    if (!changed) return;
    this.progress();
    if (this.o.session.done()) this.finish();
  }

  /** Stops early (a signal): the result says what was known by then. */
  stop(): void {
    this.finish();
  }

  /** Where the exchange stands now (for a progress line that also counts down). */
  snapshot(): ExchangeProgress {
    return {
      ...this.o.session.progress(),
      remainingMs: Math.max(0, this.startedAt + this.o.timeoutMs - this.clock.now()),
      published: this.published,
    };
  }

  private progress(): void {
    this.o.onProgress?.(this.snapshot());
  }

  private round(): void {
    if (this.finished) return;
    this.rounds++;
    const now = this.clock.now();
    const since = (RESEND_AFTER_S[Math.max(0, Math.min(this.rounds - 2, RESEND_AFTER_S.length - 1))]! * 1000) / 2;
    for (const m of this.o.session.pending()) {
      const at = this.lastSent.get(m.ref);
      if (at === undefined || now - at >= since) this.enqueue(m);
    }
    this.progress();
    const delayS = RESEND_AFTER_S[Math.min(this.rounds - 1, RESEND_AFTER_S.length - 1)]!;
    this.roundTimer = this.clock.setTimeout(() => this.round(), delayS * 1000);
  }

  private enqueue(m: Outgoing): void {
    // Still waiting from the previous round (a large fleet at the paced rate): once is enough.
    if (this.queued.has(m.ref)) return;
    this.queued.add(m.ref);
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.queue.push(m);
    this.drain();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(BURST, this.tokens + ((now - this.lastRefill) * this.rate) / 1000);
    this.lastRefill = now;
  }

  private drain(): void {
    if (this.finished) return;
    if (this.pacerTimer !== null) return; // a wake-up is already set
    this.refill();
    while (this.head < this.queue.length && this.tokens >= 1 && this.inFlight < MAX_IN_FLIGHT) {
      const m = this.queue[this.head++]!;
      this.queued.delete(m.ref);
      // Answered while it waited: sending it would only make the device answer again.
      if (!this.o.session.wanted(m)) continue;
      this.lastSent.set(m.ref, this.clock.now());
      this.tokens -= 1;
      this.inFlight++;
      this.o.link.publish(m.topic, m.payload).then(
        () => {
          this.published++;
        },
        (err: Error) => {
          // Offline for a moment or refused: the next round sends it again.
          this.publishFailures++;
          this.o.logger?.debug('publish failed', { topic: m.topic, error: err.message });
        },
      ).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
    if (this.head < this.queue.length && this.inFlight < MAX_IN_FLIGHT) {
      const wait = Math.ceil(((1 - this.tokens) * 1000) / this.rate);
      this.pacerTimer = this.clock.setTimeout(() => {
        this.pacerTimer = null;
        this.drain();
      }, Math.max(1, wait));
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const t of [this.deadlineTimer, this.roundTimer, this.pacerTimer]) if (t !== null) this.clock.clearTimeout(t);
    this.queue = [];
    this.head = 0;
    this.queued.clear();
    this.resolve({ complete: this.o.session.done(), published: this.published, publishFailures: this.publishFailures, rounds: this.rounds });
  }
}
