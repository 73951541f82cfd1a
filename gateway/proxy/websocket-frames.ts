import { randomFillSync } from 'node:crypto';

/**
 * Where WebSocket frames (RFC 6455 §5.2) begin and end in one direction of a
 * tunnelled byte stream, read from the frame headers alone (payloads are
 * skipped, never decoded or unmasked). The tunnel forwards raw bytes, so a
 * frame of its own (a close frame) may only go between two frames: written
 * into the middle of one it would be read as that frame's payload. `ws`
 * parses whole messages and does not say where they ended in the stream, so
 * it cannot answer this.
 */
export class FrameBoundaries {
  /** The longest header: 2 bytes, 8 of extended length, 4 of masking key. */
  private readonly header = Buffer.alloc(14);
  private headerBytes = 0;
  private payloadLeft = 0;

  get atBoundary(): boolean {
    return this.headerBytes === 0 && this.payloadLeft === 0;
  }

  /**
   * Reads `chunk`, or with `untilBoundary` only up to the first frame boundary
   * in it (0 bytes when already at one); returns how many bytes it read.
   */
  consume(chunk: Buffer, untilBoundary = false): number {
    let i = 0;
    while (i < chunk.length) {
      if (untilBoundary && this.atBoundary) return i;
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        i += n;
        this.payloadLeft -= n;
        continue;
      }
      this.header[this.headerBytes++] = chunk[i++]!;
      if (this.headerBytes === headerLength(this.header, this.headerBytes)) {
        this.payloadLeft = payloadLength(this.header);
        this.headerBytes = 0;
      }
    }
    return i;
  }
}

function headerLength(h: Buffer, have: number): number {
  if (have < 2) return 2;
  const len7 = h[1]! & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (h[1]! & 0x80 ? 4 : 0);
}

function payloadLength(h: Buffer): number {
  const len7 = h[1]! & 0x7f;
  if (len7 === 126) return h.readUInt16BE(2);
  if (len7 === 127) return Number(h.readBigUInt64BE(2));
  return len7;
}

/**
 * A close frame (RFC 6455 §5.5.1) with a status code and a short reason.
 * Frames a client sends must be masked, a server's must not (§5.1): `masked`
 * for one the gateway sends upstream in the client's place.
 */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  // A control frame's payload fits the 7-bit length (§5.5).
  if (payload.length > 125) throw new RangeError(`close reason too long: ${reason}`);
  if (!masked) return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
  const key = randomFillSync(Buffer.alloc(4));
  for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), key, payload]);
}
