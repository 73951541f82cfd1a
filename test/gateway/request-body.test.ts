import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { limitedBody } from '../../gateway/proxy/request-body.js';

/** A request body stream (the parts limitedBody reads of an IncomingMessage). */
function bodyStream(): PassThrough {
  return new PassThrough();
}

/** Resolves on 'close'. Not events.once: it listens for 'error' too, which would hide an error nobody else hears. */
function closed(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

describe('limitedBody', () => {
  it('a body over the limit that nobody reads (no upstream was chosen) fails the limited stream without an unheard error', async () => {
    const req = bodyStream();
    const limited = limitedBody(req as unknown as IncomingMessage, 10);
    // Nobody consumes `limited`, as when no upstream server could be chosen. An 'error' event
    // without a listener would be thrown at the emitter: an uncaught exception that ends the process.
    req.write(Buffer.alloc(8));
    req.write(Buffer.alloc(8));
    await closed(limited);
    assert.equal((limited.errored as { code?: string } | null)?.code, 'NW_GW_BODY_TOO_LARGE');
    assert.ok(req.destroyed, 'the request body is let go too');
  });
});
