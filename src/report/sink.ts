// Where the agent's reports and heartbeats go. The protocol sink
// (protocol-sink.ts) speaks the cloud protocol over MQTT; the JSON-lines sink
// here is for development and for cores that ship reports some other way.
import { appendFile, rename, stat } from 'node:fs/promises';
import type { AnyReport } from '../verify/report.js';
import type { Heartbeat } from './protocol.js';

export interface ReportSink {
  readonly name: string;
  report(report: AnyReport): Promise<void>;
  heartbeat(beat: Heartbeat): Promise<void>;
  close(): Promise<void>;
}

/** One JSON document per line, to a stream or to a file that rotates at maxBytes (one old copy kept). */
export class JsonLinesSink implements ReportSink {
  readonly name = 'json-lines';
  private size = -1;

  constructor(private readonly target: { stream: NodeJS.WritableStream } | { file: string; maxBytes?: number }) {}

  private async write(doc: unknown): Promise<void> {
    const line = `${JSON.stringify(doc)}\n`;
    if ('stream' in this.target) {
      const stream = this.target.stream;
      await new Promise<void>((res, rej) => stream.write(line, (err) => (err ? rej(err) : res())));
      return;
    }
    const { file, maxBytes = 10 * 1024 * 1024 } = this.target;
    if (this.size < 0) this.size = await stat(file).then((s) => s.size, () => 0);
    if (this.size + line.length > maxBytes && this.size > 0) {
      await rename(file, `${file}.1`);
      this.size = 0;
    }
    await appendFile(file, line, { mode: 0o600 });
    this.size += Buffer.byteLength(line);
  }

  report(report: AnyReport): Promise<void> {
    return this.write(report);
  }

  heartbeat(beat: Heartbeat): Promise<void> {
    return this.write(beat);
  }

  async close(): Promise<void> {}
}
