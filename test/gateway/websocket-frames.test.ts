import assert from 'node:assert/strict';
import { closeFrame, FrameBoundaries } from '../../gateway/proxy/websocket-frames.js';

/** One frame as RFC 6455 §5.2 lays it out: 7-bit, 16-bit or 64-bit length, optionally masked. */
function frame(opcode: number, payloadLength: number, masked: boolean): Buffer {
  const payload = Buffer.alloc(payloadLength, 0x61);
  let head: Buffer;
  if (payloadLength < 126) head = Buffer.from([0x80 | opcode, payloadLength]);
  else if (payloadLength < 65536) {
    head = Buffer.alloc(4);
    head.writeUInt16BE(payloadLength, 2);
    head[1] = 126;
  } else {
    head = Buffer.alloc(10);
    head.writeBigUInt64BE(BigInt(payloadLength), 2);
    head[1] = 127;
  }
  head[0] = 0x80 | opcode;
  if (masked) head[1]! |= 0x80;
  return Buffer.concat([head, masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0), payload]);
}

describe('gateway: WebSocket frame boundaries', () => {
  const frames = [
    frame(1, 5, false),
    frame(2, 300, false),
    frame(9, 0, false),
    frame(2, 70_000, false),
    frame(1, 7, true),
    frame(2, 200, true),
  ];
  const stream = Buffer.concat(frames);
  const ends = new Set<number>();
  let offset = 0;
  for (const f of frames) {
    offset += f.length;
    ends.add(offset);
  }

  it('is at a boundary exactly where each frame ends, whatever the chunking', () => {
    for (const size of [1, 2, 3, 7, 13, 1000, stream.length]) {
      const b = new FrameBoundaries();
      assert.equal(b.atBoundary, true);
      for (let at = 0; at < stream.length; at += size) {
        const chunk = stream.subarray(at, Math.min(at + size, stream.length));
        assert.equal(b.consume(chunk), chunk.length);
        // Only a chunk that ends on a frame end leaves it at a boundary.
        assert.equal(b.atBoundary, ends.has(at + chunk.length), `chunks of ${size}, after byte ${at + chunk.length}`);
      }
    }
  });

  it('with untilBoundary reads only up to the end of the frame it is in', () => {
    const b = new FrameBoundaries();
    assert.equal(b.consume(stream.subarray(0, 3)), 3);
    // In the first frame (7 bytes): 4 more finish it; the next frame is left alone.
    assert.equal(b.consume(stream.subarray(3, 100), true), 4);
    assert.equal(b.atBoundary, true);
    assert.equal(b.consume(stream.subarray(7, 100), true), 0, 'already at a boundary');
    // The 64-bit-length frame, read in pieces until it ends.
    const start = frames[0]!.length + frames[1]!.length + frames[2]!.length;
    const b2 = new FrameBoundaries();
    b2.consume(stream.subarray(0, start + 5));
    let read = 0;
    for (let at = start + 5; !b2.atBoundary; at += 4096) read += b2.consume(stream.subarray(at, at + 4096), true);
    assert.equal(start + 5 + read, start + frames[3]!.length);
  });

  it('builds close frames: unmasked to the client, masked to the upstream, each one whole frame', () => {
    const toClient = closeFrame(1012, 'the app moved', false);
    assert.deepEqual([...toClient.subarray(0, 2)], [0x88, 15]);
    assert.equal(toClient.readUInt16BE(2), 1012);
    assert.equal(toClient.subarray(4).toString(), 'the app moved');

    const toUpstream = closeFrame(1013, 'later', true);
    assert.deepEqual([...toUpstream.subarray(0, 2)], [0x88, 0x80 | 7]);
    const key = toUpstream.subarray(2, 6);
    const payload = Buffer.from(toUpstream.subarray(6));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
    assert.equal(payload.readUInt16BE(0), 1013);
    assert.equal(payload.subarray(2).toString(), 'later');

    for (const f of [toClient, toUpstream]) {
      const b = new FrameBoundaries();
      assert.equal(b.consume(f.subarray(0, f.length - 1)), f.length - 1);
      assert.equal(b.atBoundary, false);
      b.consume(f.subarray(f.length - 1));
      assert.equal(b.atBoundary, true);
    }
    assert.throws(() => closeFrame(1000, 'x'.repeat(124), false), RangeError);
  });
});
