import { randomFillSync } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { acceptableRequestId } from './forward-headers.js';

/** Random bytes for this many ids are drawn at once (as node's randomUUID buffers 128). */
const BATCH = 256;
const random = Buffer.allocUnsafeSlow(16 * BATCH);
let used = BATCH;
const text = Buffer.allocUnsafeSlow(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A random (version 4) UUID, as crypto.randomUUID() makes one, but written into a buffer and read
 * back as one flat string: randomUUID builds it from 20 pieces, a tree of string pieces that every
 * request then copies again when the id goes into a header (about 1 % of the raw engine's CPU per
 * request).
 */
export function newRequestId(): string {
  if (used === BATCH) {
    randomFillSync(random);
    used = 0;
  }
  const at = used * 16;
  used += 1;
  random[at + 6] = (random[at + 6]! & 0x0f) | 0x40;
  random[at + 8] = (random[at + 8]! & 0x3f) | 0x80;
  let j = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[j++] = 0x2d;
    const b = random[at + i]!;
    text[j++] = HEX[b >> 4]!;
    text[j++] = HEX[b & 15]!;
  }
  return text.toString('latin1', 0, 36);
}

/** The request id of a request: a trusted proxy's well-formed X-Request-ID (tracing across tiers), else a new one. */
export function requestIdFor(incoming: IncomingHttpHeaders, trustedPeer: boolean): string {
  return (trustedPeer ? acceptableRequestId(incoming['x-request-id']) : undefined) ?? newRequestId();
}
