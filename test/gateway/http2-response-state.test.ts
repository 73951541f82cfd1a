import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { addResponseState } from '../../gateway/http2/response-state.js';
import { eventually } from '../support/eventually.js';

describe('HTTP/2 compatibility response: destroyed and errored', () => {
  it("node's own response class answers them from its stream (the handler's client-gone checks), no subclass needed", async () => {
    addResponseState();
    const seen: { res: Http2ServerResponse; destroyedAtStart: unknown; erroredAtStart: unknown }[] = [];
    const server = createServer((_req: Http2ServerRequest, res: Http2ServerResponse) => {
      const r = res as Http2ServerResponse & { destroyed?: boolean; errored?: Error | null };
      seen.push({ res, destroyedAtStart: r.destroyed, erroredAtStart: r.errored });
      // No reply: the client resets the stream.
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const stream = session.request({ ':path': '/' });
      stream.on('error', () => undefined);
      await eventually(() => assert.equal(seen.length, 1), { timeoutMs: 5000, message: 'request reached the server' });
      const { res, destroyedAtStart, erroredAtStart } = seen[0]!;
      assert.equal(Object.getPrototypeOf(res), Http2ServerResponse.prototype);
      assert.equal(destroyedAtStart, false);
      assert.equal(erroredAtStart, null);
      stream.close();
      await eventually(() => assert.equal((res as unknown as { destroyed: boolean }).destroyed, true), {
        timeoutMs: 5000,
        message: 'the reset stream shows as destroyed',
      });
    } finally {
      session.destroy();
      server.close();
    }
  });
});
