// AWS event-stream framing for the test nucleus: encode, decode, and cut a byte stream into frames.
import { EventStreamCodec } from '@smithy/eventstream-codec';

export const MessageType = {
  application: 0,
  error: 1,
  ping: 2,
  pingResponse: 3,
  connect: 4,
  connectAck: 5,
  protocolError: 6,
  internalError: 7,
} as const;

export const Flags = { accepted: 1, terminate: 2 } as const;

/** Prelude (12) + message CRC (4): the smallest legal frame. */
const MIN_FRAME = 16;
/** The event-stream spec's own ceiling; a larger length field means a broken or hostile peer. */
export const MAX_FRAME = 16 * 1024 * 1024;

const codec = new EventStreamCodec(
  (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'),
  (s: string) => new Uint8Array(Buffer.from(s, 'utf8')),
);

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  /** String headers other than the three int32 ones. */
  strings: Record<string, string>;
  body: Buffer;
}

export function encodeFrame(f: {
  type: number;
  flags: number;
  streamId: number;
  strings?: Record<string, string>;
  body?: Buffer | string;
}): Buffer {
  const headers: Record<string, { type: 'integer'; value: number } | { type: 'string'; value: string }> = {
    ':message-type': { type: 'integer', value: f.type },
    ':message-flags': { type: 'integer', value: f.flags },
    ':stream-id': { type: 'integer', value: f.streamId },
  };
  for (const [k, v] of Object.entries(f.strings ?? {})) headers[k] = { type: 'string', value: v };
  const body = typeof f.body === 'string' ? Buffer.from(f.body, 'utf8') : (f.body ?? Buffer.alloc(0));
  return Buffer.from(codec.encode({ headers, body: new Uint8Array(body) }));
}

/** Decodes one whole frame; throws on a bad CRC or malformed headers. */
export function decodeFrame(bytes: Uint8Array): Frame {
  const m = codec.decode(bytes);
  const int = (name: string): number => {
    const h = m.headers[name];
    return h && h.type === 'integer' ? h.value : 0;
  };
  const strings: Record<string, string> = {};
  for (const [k, h] of Object.entries(m.headers)) if (h.type === 'string') strings[k] = h.value;
  return {
    type: int(':message-type'),
    flags: int(':message-flags'),
    streamId: int(':stream-id'),
    strings,
    body: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength),
  };
}

/**
 * Cuts socket data into whole frames by the leading total-length field.
 * Holds at most one partial frame; an impossible length throws so the caller drops the peer.
 */
export class FrameSplitter {
  private chunks: Buffer[] = [];
  private size = 0;

  push(data: Buffer): Buffer[] {
    this.chunks.push(data);
    this.size += data.length;
    const out: Buffer[] = [];
    while (this.size >= 4) {
      // Join chunks only when a whole frame is there, so a big frame arriving in pieces costs one copy.
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.flatten();
      const total = head.readUInt32BE(0);
      if (total < MIN_FRAME || total > MAX_FRAME) throw new Error(`bad event-stream frame length ${total}`);
      if (this.size < total) break;
      const all = this.flatten();
      out.push(all.subarray(0, total));
      const rest = all.subarray(total);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.size = rest.length;
    }
    return out;
  }

  private flatten(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0]!;
  }
}
