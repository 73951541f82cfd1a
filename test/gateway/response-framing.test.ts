import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient } from '../support/raw-http-client.js';

/**
 * Responses framed every way an app may frame them, through each engine: the client gets each
 * one whole (and nothing more), and the connection stays in step for the next request.
 */
const LENGTH_5 = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
const FORTY_LINES = Array.from({ length: 40 }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
const REPLIES: Record<string, string | ((s: Socket) => void)> = {
  '/length': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  '/chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n',
  '/close-delimited': (s) => {
    s.write('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhel');
    setTimeout(() => s.end('lo'), 20);
  },
  '/length-in-pieces': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nh');
    setTimeout(() => s.write('el'), 10);
    setTimeout(() => s.write('lo'), 20);
  },
  // Bytes after a whole reply that no request asked for: the upstream connection is out of step.
  '/length-then-extra': `${LENGTH_5}hello${LENGTH_5}extra`,
  // More header lines than llhttp's binding hands over at once (32): the first ones come before the head completes.
  '/many-headers': `HTTP/1.1 200 OK\r\n${FORTY_LINES}Content-Length: 5\r\n\r\nhello`,
  '/head': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n',
  '/no-content': 'HTTP/1.1 204 No Content\r\n\r\n',
  '/not-modified': 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
  '/interim': 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  '/garbage': 'HTTP/1.1 2OO OK\r\n\r\n',
  '/cut': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello');
    setTimeout(() => s.destroy(), 20);
  },
};

/** A hand-written app: answers each request (one per connection read) by its path, as REPLIES says. */
async function startFramingApp(): Promise<{ server: Server; url: string }> {
  const server = createServer((socket) => {
    let buf = '';
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const path = buf.slice(0, end).split(' ')[1] ?? '';
        buf = buf.slice(end + 4);
        const reply = REPLIES[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
        if (typeof reply === 'string') socket.write(reply);
        else reply(socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

for (const engine of ['raw', 'node'] as const) {
  describe(`gateway (${engine} engine): response framing from the app`, () => {
    let app: Awaited<ReturnType<typeof startFramingApp>>;
    let h: Harness;
    let client: RawHttpClient;

    before(async () => {
      app = await startFramingApp();
      h = await startGatewayHarness({ config: { engine }, n1Urls: [app.url], n2Urls: [app.url], app: { n1: { retries: 0 } } });
      client = new RawHttpClient(Number(new URL(h.url).port));
    });
    after(async () => {
      client.destroyAll();
      await h.close();
      await new Promise<void>((r) => app.server.close(() => r()));
    });

    /** `method path`, then a GET /length on the same connection: both answers, as parsed by the client. */
    async function twoOnOneConnection(method: string, path: string) {
      const conn = await client.open();
      conn.write(`${method} ${path} HTTP/1.1\r\nHost: shop.test\r\n\r\n`);
      // (A reply to HEAD has a Content-Length and no body: the test client cannot parse it, so a short wait stands in.)
      const enough = (): boolean => conn.received().length > 0 || (method === 'HEAD' && conn.socket.bytesRead > 0);
      for (let i = 0; i < 400 && !enough() && !conn.isGone; i++) await new Promise((r) => setTimeout(r, 5));
      conn.write('GET /length HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n');
      return conn.closed;
    }

    for (const [path, body] of [
      ['/length', 'hello'],
      ['/chunked', 'hello'],
      ['/close-delimited', 'hello'],
      ['/interim', 'hello'],
      ['/length-in-pieces', 'hello'],
      ['/length-then-extra', 'hello'],
      ['/many-headers', 'hello'],
    ] as const) {
      it(`passes ${path.slice(1)} on whole and keeps the connection in step`, async () => {
        const r = await twoOnOneConnection('GET', path);
        assert.deepEqual(
          r.responses.map((x) => [x.status, x.body]),
          [
            [200, body],
            [200, 'hello'],
          ],
          r.raw,
        );
      });
    }

    it('passes every header line of a reply with more of them than llhttp hands over at once', async () => {
      const r = await twoOnOneConnection('GET', '/many-headers');
      const headers = r.responses[0]?.headers ?? {};
      for (let i = 0; i < 40; i++) assert.equal(headers[`x-h${i}`], `v${i}`, r.raw);
      assert.equal(headers['content-length'], '5', r.raw);
    });

    it('passes a reply to HEAD on without a body, Content-Length as the app sent it', async () => {
      const r = await twoOnOneConnection('HEAD', '/head');
      assert.ok(r.raw.startsWith('HTTP/1.1 200'), r.raw);
      assert.match(r.raw, /content-length: 5\r\n/i);
      const second = r.raw.indexOf('HTTP/1.1', 5);
      assert.ok(second > 0 && r.raw.slice(second).startsWith('HTTP/1.1 200'), r.raw);
      assert.ok(r.raw.endsWith('hello'), r.raw);
    });

    for (const [path, status] of [
      ['/no-content', 204],
      ['/not-modified', 304],
    ] as const) {
      it(`passes ${status} on with no body`, async () => {
        const r = await twoOnOneConnection('GET', path);
        assert.deepEqual(
          r.responses.map((x) => [x.status, x.body]),
          [
            [status, ''],
            [200, 'hello'],
          ],
          r.raw,
        );
      });
    }

    it('answers an invalid reply with 502 NW_GW_UPSTREAM_PROTOCOL', async () => {
      const conn = await client.open();
      conn.write('GET /garbage HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n');
      const res = await conn.closed;
      assert.equal(res.responses[0]?.status, 502, res.raw);
      assert.equal(res.responses[0]?.headers['x-northwest-error'], 'NW_GW_UPSTREAM_PROTOCOL');
    });

    it('cuts the client connection when the app cuts a reply midway (no complete response, nothing made up)', async () => {
      const conn = await client.open();
      conn.write('GET /cut HTTP/1.1\r\nHost: shop.test\r\n\r\n');
      const res = await conn.closed;
      assert.equal(res.responses.length, 0, res.raw);
      assert.ok(res.raw.startsWith('HTTP/1.1 200'), res.raw);
    });
  });
}

describe('gateway (raw engine): an app that answers before reading the whole body', () => {
  it('gets no more of the body, and the client gets the answer with connection: close', async () => {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nbig!'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const h = await startGatewayHarness({ config: { engine: 'raw' }, n1Urls: [url], n2Urls: [url] });
    try {
      const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
      conn.write('POST /big HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 100000\r\n\r\n');
      conn.write(Buffer.alloc(1000, 97));
      for (let i = 0; i < 400 && conn.received().length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      conn.write(Buffer.alloc(1000, 98));
      const r = await conn.closed;
      assert.equal(r.responses[0]?.status, 413, r.raw);
      assert.equal(r.responses[0]?.headers.connection, 'close');
      assert.equal(h.gw.listeners.length, 1);
    } finally {
      await h.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
