import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { eventually } from '../support/eventually.js';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient } from '../support/raw-http-client.js';

/**
 * The raw engine gives llhttp a response head alone when all of it is in one read and the parser
 * stands at a message's start, and counts the body itself (upstream-links.ts, `atStart`). These
 * replies come from a scripted app, one connection only, so every exchange reuses the link the
 * one before it left: heads split at every byte of their end, a 1xx and its final reply in one
 * read, a chunked reply before a counted one, and bytes after a reply that nobody asked for.
 */

/** A body that holds a whole response of its own: it must reach the client as body, never as a reply. */
const INNER = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil';
const BODY = `<<\r\n\r\n${INNER}\r\n\r\n>>`;
const HEAD = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nX-Split: yes\r\n\r\n`;

function replyFor(path: string, socket: Socket): void {
  const later = (s: string, ms = 25): void => void setTimeout(() => socket.write(s), ms);
  const split = /^\/split\/(\d+)$/.exec(path);
  if (split) {
    // The reply in two writes, the second well after the first: two reads at the gateway.
    const whole = `${HEAD}${BODY}`;
    const at = Number(split[1]);
    socket.write(whole.slice(0, at));
    later(whole.slice(at));
    return;
  }
  if (path === '/continue') {
    socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    return;
  }
  if (path === '/early-hints-apart') {
    socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n');
    later('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhints');
    return;
  }
  if (path === '/switch' || path === '/switch-split') {
    // A 101 to a request that asked for no upgrade, then bytes of the new protocol that read as a reply.
    const whole = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: upgrade\r\n\r\n${INNER}`;
    if (path === '/switch') socket.write(whole);
    else {
      socket.write(whole.slice(0, 40));
      later(whole.slice(40));
    }
    return;
  }
  if (path === '/chunked') {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nchunk\r\n0\r\n\r\n');
    return;
  }
  if (path === '/chunked-split') {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nchu');
    later('nk\r\n0\r\n\r\n');
    return;
  }
  if (path === '/chunked-junk') {
    // A chunked reply, then the start of one nobody asked for: the parser (which reads the chunked
    // body itself) has taken that start in when the exchange is over.
    socket.write(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nchunk\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Junk: ',
    );
    return;
  }
  if (path === '/no-content') {
    socket.write('HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n');
    return;
  }
  if (path === '/junk') {
    // A reply, then another one nobody asked for, in the same write.
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok${INNER}`);
    return;
  }
  if (path === '/junk-after-empty') {
    socket.write(`HTTP/1.1 204 No Content\r\n\r\n${INNER}`);
    return;
  }
  if (path === '/junk-after-empty-later') {
    later(`HTTP/1.1 204 No Content\r\n\r\n${INNER}`, 100);
    return;
  }
  socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${5 + path.length}\r\n\r\nplain${path}`);
}

/**
 * An app that answers one request at a time per connection, by path, once its Content-Length body
 * is whole; it counts its connections and records the requests it got (method, path and body).
 */
function scriptedApp(): { server: Server; connections: () => number; requests: string[] } {
  let connections = 0;
  const requests: string[] = [];
  const server = createServer((socket) => {
    connections++;
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const [method, path = '/'] = head.split(' ');
        requests.push(`${method} ${path} ${buf.slice(end + 4, end + 4 + length)}`);
        buf = buf.slice(end + 4 + length);
        replyFor(path, socket);
      }
    });
  });
  return { server, connections: () => connections, requests };
}

describe('raw engine: response heads given to llhttp alone, bodies counted', () => {
  let app: ReturnType<typeof scriptedApp>;
  let h: Harness;
  let client: RawHttpClient;

  before(async () => {
    app = scriptedApp();
    await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    h = await startGatewayHarness({
      config: { engine: 'raw' },
      n1Urls: [url],
      n2Urls: [url],
      app: { n1: { retries: 0, connectionsPerServer: 1 } },
    });
    client = new RawHttpClient(Number(new URL(h.url).port));
  });
  after(async () => {
    client.destroyAll();
    await h.close();
    await new Promise<void>((r) => app.server.close(() => r()));
  });

  async function get(path: string): Promise<{ status: number; body: string; headers: Record<string, string> }> {
    const r = await client.exchange(`GET ${path} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`);
    assert.equal(r.responses.length, 1, `${path}: ${r.raw.slice(0, 300)}`);
    return r.responses[0]!;
  }

  it('passes a reply whose head ends at any byte of a read, its body (holding a response) intact', async () => {
    const whole = HEAD.length + BODY.length;
    const cuts = [1, 17, HEAD.length - 5, HEAD.length - 4, HEAD.length - 3, HEAD.length - 2, HEAD.length - 1, HEAD.length];
    cuts.push(HEAD.length + 1, HEAD.length + 5, HEAD.length + 6, whole - 1);
    for (const at of cuts) {
      const res = await get(`/split/${at}`);
      assert.equal(res.status, 200, `cut at ${at}`);
      assert.equal(res.body, BODY, `cut at ${at}`);
      assert.equal(res.headers['x-split'], 'yes');
      // The same connection carries the next exchange, its parser where a message starts.
      const next = await get(`/after-${at}`);
      assert.equal(next.body, `plain/after-${at}`, `after the cut at ${at}`);
    }
    assert.equal(app.connections(), 1, 'one connection carried every exchange');
  });

  it('passes the final reply that follows a 1xx in the same read, or in a later one', async () => {
    assert.equal((await get('/continue')).body, 'hello');
    assert.equal((await get('/early-hints-apart')).body, 'hints');
    assert.equal((await get('/plain-after-1xx')).body, 'plain/plain-after-1xx');
  });

  it('serves counted replies on a link whose last reply was chunked (in one read, split, or with stray bytes after it)', async () => {
    for (const path of ['/chunked', '/chunked-split', '/chunked-junk']) {
      const res = await get(path);
      assert.equal(res.status, 200);
      assert.equal(res.body, 'chunk', path);
      assert.equal((await get(`/after${path}`)).body, `plain/after${path}`);
    }
    assert.equal((await get('/no-content')).status, 204);
    assert.equal((await get('/after-204')).body, 'plain/after-204');
  });

  it('gives a write waiting for the connection a new one when a reply ends with bytes nobody asked for: sent once', async () => {
    const before = app.connections();
    const first = get('/junk-after-empty-later');
    await eventually(() => app.requests.includes('GET /junk-after-empty-later '), { timeoutMs: 5000, message: 'the app has the GET' });
    // The one connection is busy: the write waits for it, and would get it in the read that holds the stray reply.
    const write = client.exchange('POST /write HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc');
    assert.equal((await first).status, 204);
    const res = (await write).responses[0];
    assert.equal(res?.status, 200, JSON.stringify(res?.headers));
    assert.equal(res.body, 'plain/write');
    assert.equal(app.requests.filter((r) => r === 'POST /write abc').length, 1);
    assert.equal(app.connections(), before + 1, 'the write went on a new connection');
    assert.equal(await h.gw.writesEnded(0), true, 'nothing in flight, no unknown outcome');
  });

  for (const path of ['/switch', '/switch-split']) {
    it(`answers 502 NW_GW_UPSTREAM_PROTOCOL to a 101 nobody asked for, and passes none of what follows (${path.slice(1)})`, async () => {
      const before = app.connections();
      const res = await get(path);
      assert.equal(res.status, 502);
      assert.equal(res.headers['x-northwest-error'], 'NW_GW_UPSTREAM_PROTOCOL');
      assert.equal((await get(`/after${path}`)).body, `plain/after${path}`);
      assert.equal(app.connections(), before + 1, 'the switched connection was closed');
    });
  }

  for (const path of ['/junk', '/junk-after-empty']) {
    it(`closes a link that sent a reply nobody asked for after the one asked for (${path.slice(1)})`, async () => {
      const before = app.connections();
      const res = await get(path);
      assert.equal(res.status, path === '/junk' ? 200 : 204);
      if (path === '/junk') assert.equal(res.body, 'ok');
      // The next exchange never sees the stray reply ('evil'): it goes on a new connection.
      const next = await get(`/after${path}`);
      assert.equal(next.body, `plain/after${path}`);
      assert.equal(app.connections(), before + 1, 'the out-of-step connection was closed');
    });
  }
});
