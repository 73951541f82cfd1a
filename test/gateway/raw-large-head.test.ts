import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { headWithBody } from '../../gateway/raw/head-fields.js';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient } from '../support/raw-http-client.js';

/**
 * A head and a small body piece go out as one buffer cut from a 128 KB slab (head-fields.ts). A
 * head can be larger than a slab: llhttp's 64 KB limit counts only names and values, so many short
 * lines (`x:y`, 2 bytes counted) come back from the rewrite as `x: y\r\n` (6 bytes), three times
 * as many.
 */
const LINES = 25_000;
const MANY_SHORT_LINES = 'x:y\r\n'.repeat(LINES);

describe('raw engine: a head larger than a slab', () => {
  it('headWithBody returns the whole head and body (length and chunked framing)', () => {
    const head = `HTTP/1.1 200 OK\r\n${'x: y\r\n'.repeat(LINES)}\r\n`;
    const plain = headWithBody(head, Buffer.from('hello'), false, true);
    assert.equal(plain?.toString('latin1'), `${head}hello`);
    const chunked = headWithBody(head, Buffer.from('hello'), true, true);
    assert.equal(chunked?.toString('latin1'), `${head}5\r\nhello\r\n0\r\n\r\n`);
  });

  let app: Server;
  let h: Harness;
  let client: RawHttpClient;

  before(async () => {
    app = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (d: Buffer) => {
        const chunked = d.toString('latin1').startsWith('GET /chunked ');
        socket.end(
          chunked
            ? `HTTP/1.1 200 OK\r\n${MANY_SHORT_LINES}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`
            : `HTTP/1.1 200 OK\r\n${MANY_SHORT_LINES}Content-Length: 5\r\n\r\nhello`,
        );
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    h = await startGatewayHarness({ config: { engine: 'raw' }, n1Urls: [url], n2Urls: [url], app: { n1: { retries: 0 } } });
    client = new RawHttpClient(Number(new URL(h.url).port));
  });
  after(async () => {
    client.destroyAll();
    await h.close();
    await new Promise<void>((r) => app.close(() => r()));
  });

  for (const path of ['/length', '/chunked']) {
    it(`passes a reply with ${LINES} short header lines and a small body whole (${path.slice(1)})`, async () => {
      const r = await client.exchange(`GET ${path} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`);
      assert.equal(r.responses.length, 1, r.raw.slice(-200));
      const res = r.responses[0]!;
      assert.equal(res.status, 200);
      assert.equal(res.body, 'hello');
      assert.equal(res.headers.x?.split(', ').length, LINES);
    });
  }
});
