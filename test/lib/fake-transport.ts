// An in-memory Transport for outbox tests: it can be offline, fail the next
// publishes, or hold publishes open. The real transports have their own tests.
import type { OutboundMessage, Transport, TransportHandlers } from '../../src/report/transport.js';

export class FakeTransport implements Transport {
  readonly name = 'fake';
  /** Messages accepted, in order. */
  readonly accepted: OutboundMessage[] = [];
  /** Every publish call, accepted or not. */
  attempts = 0;
  private handlers: TransportHandlers | undefined;
  private online: boolean;
  private failures = 0;
  private held: (() => void)[] | undefined;
  private listeners: (() => void)[] = [];

  constructor(opts: { online?: boolean } = {}) {
    this.online = opts.online ?? true;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
    if (this.online) handlers.onConnected();
  }

  async stop(): Promise<void> {
    this.handlers = undefined;
  }

  async subscribe(): Promise<void> {}

  /** Going online calls onConnected, as a real transport does after a reconnect. */
  setOnline(online: boolean): void {
    if (online === this.online) return;
    this.online = online;
    if (online) this.handlers?.onConnected();
    else this.handlers?.onDisconnected(new Error('fake: offline'));
  }

  /** The next `n` publishes reject even while online. */
  failNext(n: number): void {
    this.failures = n;
  }

  /** Publishes stay pending until release() (to test a stop with a send in flight). */
  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const go of held) go();
  }

  /** Publishes waiting for release(). */
  get pending(): number {
    return this.held?.length ?? 0;
  }

  /** Resolves at the next publish call. */
  nextAttempt(): Promise<void> {
    return new Promise((resolve) => this.listeners.push(resolve));
  }

  async publish(message: OutboundMessage): Promise<void> {
    this.attempts += 1;
    const listeners = this.listeners;
    this.listeners = [];
    for (const l of listeners) l();
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    if (!this.online) throw new Error('fake: offline');
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('fake: publish failed');
    }
    this.accepted.push({ ...message });
    return;
  }
}
