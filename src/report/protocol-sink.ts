// The cloud protocol as a ReportSink: each report becomes its messages (the
// report, numbered parts when findings do not fit, the shadow summary), each
// heartbeat one message, all through the durable outbox, in order.
import type { AnyReport } from '../verify/report.js';
import type { Outbox } from './outbox.js';
import { reportMessages, type Heartbeat, type Topics } from './protocol.js';
import type { ReportSink } from './sink.js';

export class ProtocolSink implements ReportSink {
  readonly name = 'mqtt';

  constructor(
    private readonly outbox: Outbox,
    private readonly topics: Topics,
    private readonly onReport?: (r: AnyReport) => void,
  ) {}

  async report(report: AnyReport): Promise<void> {
    // Spooled (and fsynced) before this resolves; sending happens in the background.
    for (const m of reportMessages(report, this.topics)) await this.outbox.enqueue(m);
    this.onReport?.(report);
  }

  async heartbeat(beat: Heartbeat): Promise<void> {
    // Retained, so the newest heartbeat replaces the offline last will once the agent is back.
    await this.outbox.enqueue({ topic: this.topics.heartbeat, payload: JSON.stringify(beat), qos: 1, retain: true, kind: 'heartbeat' });
  }

  async close(): Promise<void> {
    await this.outbox.stop();
  }
}
