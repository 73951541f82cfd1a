import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';

/**
 * A client still sending a body when the gateway answers early (413, an unknown host) and closes:
 * closing a socket with unread bytes makes the kernel send a reset, and a reset can take the reply
 * with it before the client has read it. The gateway must half-close and read (dropping) what
 * still comes for a while, as nginx's lingering_close does, so the client gets the reply.
 */
const BODY_PIECE = Buffer.alloc(64 * 1024, 120);

/**
 * Sends `head`, then body pieces as fast as the socket takes them, then ends its side; resolves
 * with what came back and the socket error the client saw, if any, once the connection closed.
 */
function sendWhileAnswered(port: number, head: string, pieces: number): Promise<{ got: string; error: string | undefined }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    let error: string | undefined;
    let sent = 0;
    const pump = (): void => {
      while (sent < pieces && !socket.destroyed) {
        sent++;
        if (!socket.write(BODY_PIECE)) return void socket.once('drain', pump);
      }
      socket.end();
    };
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('error', (e: Error & { code?: string }) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ got, error }));
  });
}

// The raw engine only: node:http closes its own way (docs/architecture.md, "Other limits").
for (const engine of ['raw'] as const) {
  describe(`gateway (${engine} engine): lingering close after an early reply`, function () {
    this.timeout(60_000);
    let h: Harness;
    before(async () => {
      h = await startGatewayHarness({ config: { engine, limits: { maxBodyBytes: 1024 } } });
    });
    after(async () => h.close());

    for (const [name, head, status] of [
      ['a Content-Length over limits.maxBodyBytes', 'POST /big HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 4194304\r\n\r\n', 413],
      ['an unknown host', 'POST /x HTTP/1.1\r\nHost: nobody.test\r\nContent-Length: 4194304\r\n\r\n', 421],
    ] as const) {
      it(`the client gets the reply to ${name} whole, every time, while its body is still coming`, async () => {
        const port = Number(new URL(h.url).port);
        for (let i = 0; i < Number(process.env.ATTEMPTS ?? 15); i++) {
          const { got, error } = await sendWhileAnswered(port, head, 64);
          // Not reset: the gateway read (and dropped) the whole body after its reply, then closed.
          assert.equal(error, undefined, `attempt ${i + 1}: the client saw ${error}`);
          assert.match(got, new RegExp(`^HTTP/1\\.1 ${status} `), `attempt ${i + 1}: ${JSON.stringify(got.slice(0, 120))}`);
          const [, body] = got.split('\r\n\r\n');
          assert.ok(body !== undefined && body.length > 0 && JSON.parse(body), `attempt ${i + 1}: the body came whole: ${got}`);
        }
      });
    }

    it('reads and drops a request pipelined behind a reply that closes the connection, and what follows it', async () => {
      // The reply (421) goes at the head, before the 5-byte body: the connection closes after it. The
      // next head is already in the same read; the client then sends more and ends its side.
      const head = 'POST /x HTTP/1.1\r\nHost: nobody.test\r\nContent-Length: 5\r\n\r\nhelloGET /y HTTP/1.1\r\nHost: nobody.test\r\n\r\n';
      const { got, error } = await sendWhileAnswered(Number(new URL(h.url).port), head, 64);
      // Not reset: the gateway kept reading (and dropping) until the client closed, then closed.
      assert.equal(error, undefined, `the client saw ${error}`);
      assert.match(got, /^HTTP\/1\.1 421 /);
      assert.equal(got.match(/HTTP\/1\.1 /g)?.length, 1, 'one reply, none to the request behind it');
    });
  });
}
