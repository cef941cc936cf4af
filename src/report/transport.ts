// One interface for every way a report leaves the device.

export type MessageKind = 'report' | 'part' | 'heartbeat' | 'shadow';

export interface OutboundMessage {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain?: boolean;
  kind: MessageKind;
}

export interface TransportHandlers {
  /** A message arrived on a subscribed topic. */
  onMessage(topic: string, payload: Buffer): void;
  /** The transport is (again) connected; the agent republishes its report. */
  onConnected(): void;
  onDisconnected(reason?: Error): void;
  /**
   * The transport cannot recover by itself (the nucleus refuses our token for good): the process
   * should exit non-zero, so that the nucleus restarts it. Without this handler the transport
   * keeps retrying.
   */
  onFatal?(reason: Error): void;
}

export interface Transport {
  readonly name: string;
  start(handlers: TransportHandlers): Promise<void>;
  /** Resolves once the other side accepted the message (PUBACK, or the nucleus' reply). */
  publish(message: OutboundMessage): Promise<void>;
  subscribe(topic: string): Promise<void>;
  /** Drops a subscription; a transport without it keeps its subscriptions to the end. */
  unsubscribe?(topic: string): Promise<void>;
  stop(): Promise<void>;
}
