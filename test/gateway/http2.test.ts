import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { constants as h2, type ClientHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { eventually } from '../support/eventually.js';
import { rapidReset } from '../support/http2-rapid-reset.js';
import { h2call, neverEndingPut, startTlsHarness, type TlsHarness } from '../support/tls-gateway.js';

/** An app server whose replies the test shapes: /big/<bytes> streams that many bytes, /slow/<ms> answers after a delay. */
async function startShapedApp(): Promise<{ url: string; writes: string[]; close(): Promise<void> }> {
  const writes: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '/';
      if (req.method !== 'GET') writes.push(`${req.method} ${url} ${Buffer.concat(chunks).toString()}`);
      const big = /^\/big\/(\d+)/.exec(url);
      if (big) {
        const n = Number(big[1]);
        res.writeHead(200, { 'content-length': String(n) });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        let left = n;
        const pump = (): void => {
          while (left > 0) {
            const part = chunk.subarray(0, Math.min(left, chunk.length));
            left -= part.length;
            if (!res.write(part)) return void res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      if (url === '/headers') {
        // Repeated lines, the app's own Date and Via, and a header its Connection names (hop-by-hop).
        res.writeHead(200, [
          'Set-Cookie',
          'a=1',
          'Set-Cookie',
          'b=2',
          'Date',
          'Mon, 01 Jan 2024 00:00:00 GMT',
          'Via',
          '1.1 app',
          'X-Hop',
          'h',
          'Connection',
          'x-hop',
          'X-Kept',
          'k',
          'Content-Length',
          '2',
        ]);
        return res.end('ok');
      }
      const slow = /^\/slow\/(\d+)/.exec(url);
      setTimeout(() => res.end('done'), slow ? Number(slow[1]) : 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    writes,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('gateway: HTTP/2 on TLS listeners', () => {
  describe('requests', () => {
    let h: TlsHarness;
    let session: ClientHttp2Session;
    before(async () => {
      h = await startTlsHarness();
      session = await h.http2();
    });
    after(() => h.close());

    it('negotiates h2 by ALPN and advertises its limits (concurrent streams, header list size)', () => {
      assert.equal(session.alpnProtocol, 'h2');
      assert.equal(session.remoteSettings.maxConcurrentStreams, 128);
      assert.equal(session.remoteSettings.maxHeaderListSize, 16 * 1024);
    });

    it('routes by :authority and sends the app Host, X-Forwarded-Proto: https and no pseudo-headers', async () => {
      const r = await h2call(session, '/echo?q=1', { headers: { 'x-forwarded-proto': 'http', cookie: 'a=1' } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-northwest-deployment'], 'n1');
      assert.equal(JSON.parse(r.text).path, '/echo?q=1');
      const seen = h.n1[0]!.seen.at(-1)!;
      assert.equal(seen.headers.host, 'shop.test');
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.equal(seen.headers['x-forwarded-host'], 'shop.test');
      assert.equal(seen.headers.cookie, 'a=1');
      assert.deepEqual(
        Object.keys(seen.headers).filter((k) => k.startsWith(':')),
        [],
      );
    });

    it('forwards a body that comes without Content-Length (DATA frames), small and large', async () => {
      const w = await h2call(session, '/kv/small', { method: 'POST', body: 'no length' });
      assert.equal(w.status, 200);
      assert.equal(h.n1[0]!.store.get('small'), 'no length');
      const big = 'y'.repeat(300 * 1024);
      const w2 = await h2call(session, '/kv/big', { method: 'PUT', body: big });
      assert.equal(w2.status, 200);
      assert.equal(h.n1[0]!.store.get('big'), big);
    });

    it('refuses a Host that differs from :authority (400) and an unknown authority (421); nothing is forwarded', async () => {
      const before = h.n1[0]!.seen.length;
      const mismatch = await h2call(session, '/echo', { headers: { host: 'evil.test' } });
      assert.equal(mismatch.status, 400);
      assert.equal(mismatch.headers['x-northwest-error'], 'NW_GW_BAD_REQUEST');
      const unknown = await h2call(session, '/echo', { authority: 'nobody.test' });
      assert.equal(unknown.status, 421);
      assert.equal(h.n1[0]!.seen.length, before);
    });

    it('refuses CONNECT (405, from node:http2)', async () => {
      const r = await new Promise<number>((resolve, reject) => {
        const s = session.request({ ':method': 'CONNECT', ':authority': 'shop.test:443' });
        s.on('response', (hd) => resolve(Number(hd[':status'])));
        s.on('error', reject);
      });
      assert.equal(r, 405);
    });

    it('answers a body over limits.maxBodyBytes with 413 without waiting for the rest of it', async () => {
      const stream = session.request({
        ':method': 'PUT',
        ':path': '/kv/x',
        ':authority': 'shop.test',
        'content-length': String(64 * 1024 * 1024),
      });
      stream.on('error', () => undefined);
      stream.write(Buffer.alloc(16 * 1024));
      const [headers] = await once(stream, 'response');
      assert.equal(headers[':status'], 413);
      stream.close(h2.NGHTTP2_CANCEL);
      assert.equal(h.n1[0]!.store.has('x'), false);
    });

    it('refuses a header list over limits.maxHeaderBytes and keeps serving', async () => {
      const err = await h2call(session, '/echo', { headers: { 'x-big': 'z'.repeat(20 * 1024) } }).then(
        (r) => r.status,
        (e: Error & { code?: string }) => e.code,
      );
      assert.notEqual(err, 200);
      const fresh = await h.http2();
      assert.equal((await h2call(fresh, '/echo')).status, 200);
    });
  });

  describe('replies', () => {
    it('carry no Connection header over HTTP/2, not even the gateway’s own errors (node would warn and drop it)', async () => {
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
      process.on('warning', onWarning);
      const h = await startTlsHarness();
      try {
        const session = await h.http2();
        // The gateway's own replies to a request whose body it did not read: an unknown host, a Host mismatch, 413.
        assert.equal((await h2call(session, '/x', { method: 'POST', body: 'b', authority: 'nobody.test' })).status, 421);
        assert.equal((await h2call(session, '/x', { headers: { host: 'evil.test' } })).status, 400);
        const stream = session.request({ ':method': 'PUT', ':path': '/kv/x', ':authority': 'shop.test', 'content-length': '99999999' });
        stream.on('error', () => undefined);
        stream.write('partial');
        assert.equal((await once(stream, 'response'))[0][':status'], 413);
        stream.close(h2.NGHTTP2_CANCEL);
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        process.off('warning', onWarning);
        await h.close();
      }
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('UnsupportedWarning')),
        [],
      );
    });
  });

  describe('modes', () => {
    let h: TlsHarness;
    let session: ClientHttp2Session;
    beforeEach(async () => {
      h = await startTlsHarness();
      session = await h.http2();
    });
    afterEach(() => h.close());

    it('proxy: a write goes to N2 once proxy is applied', async () => {
      await h2call(session, '/kv/a', { method: 'PUT', body: 'on-n1' });
      await h.gw.applyState('shop', { epoch: 1, mode: 'proxy' });
      const w = await h2call(session, '/kv/a', { method: 'PUT', body: 'on-n2' });
      assert.equal(w.headers['x-northwest-deployment'], 'n2');
      assert.equal(h.n1[0]!.store.get('a'), 'on-n1');
      assert.equal(h.n2[0]!.store.get('a'), 'on-n2');
    });

    it('mirror: a write goes to both deployments', async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
      const w = await h2call(session, '/kv/m', { method: 'POST', body: 'both' });
      assert.equal(w.status, 200);
      assert.equal(w.headers['x-northwest-mirrored-to'], 'n2');
      assert.equal(h.n1[0]!.store.get('m'), 'both');
      assert.equal(h.n2[0]!.store.get('m'), 'both');
    });

    it('fence: a write is held, then goes to N2 when proxy is applied; reads go on meanwhile', async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'fence' });
      const held = h2call(session, '/kv/f', { method: 'PUT', body: 'held' });
      await eventually(() => h.gw.metrics.heldWrites.get(['shop']) === 1, { timeoutMs: 5000, message: 'the write is held' });
      assert.equal((await h2call(session, '/echo')).status, 200);
      assert.equal(h.n1[0]!.store.has('f'), false);
      await h.gw.applyState('shop', { epoch: 2, mode: 'proxy' });
      const w = await held;
      assert.equal(w.status, 200);
      assert.equal(w.headers['x-northwest-deployment'], 'n2');
      assert.equal(h.n2[0]!.store.get('f'), 'held');
      assert.equal(h.n1[0]!.store.has('f'), false);
    });

    it('fence: a held write whose client reset its stream is never sent', async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'fence' });
      const stream = session.request({ ':method': 'PUT', ':path': '/kv/gone', ':authority': 'shop.test' });
      stream.on('error', () => undefined);
      stream.end('never');
      await eventually(() => h.gw.metrics.heldWrites.get(['shop']) === 1, { timeoutMs: 5000, message: 'the write is held' });
      stream.close(h2.NGHTTP2_CANCEL);
      await once(stream, 'close');
      // Give the gateway the reset before the release.
      assert.equal((await h2call(session, '/echo')).status, 200);
      await h.gw.applyState('shop', { epoch: 2, mode: 'proxy' });
      await eventually(() => h.gw.metrics.heldWrites.get(['shop']) === 0, { timeoutMs: 5000, message: 'the hold is empty' });
      assert.equal((await h2call(session, '/kv/after', { method: 'PUT', body: 'x' })).status, 200);
      assert.equal(h.n2[0]!.store.has('gone'), false);
      assert.equal(h.n1[0]!.store.has('gone'), false);
    });

    it('redirect: the client gets N2’s origin', async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'redirect', status: 307 });
      const r = await h2call(session, '/page?x=1');
      assert.equal(r.status, 307);
      assert.equal(r.headers.location, 'https://shop-n2.example.com/page?x=1');
      assert.equal(r.headers['x-northwest-deployment'], 'n2');
    });
  });

  describe('streaming and shutdown', () => {
    let app: Awaited<ReturnType<typeof startShapedApp>>;
    let h: TlsHarness;
    before(async () => {
      app = await startShapedApp();
      h = await startTlsHarness({ n1Urls: [app.url], config: { timeouts: { shutdownMs: 3000 } } });
    });
    after(async () => {
      await h.close();
      await app.close();
    });

    it("passes the app's reply headers as over HTTP/1.1: repeated Set-Cookie, its Date, Via folded, hop-by-hop dropped", async () => {
      const r = await h2call(await h.http2(), '/headers');
      assert.equal(r.status, 200);
      assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
      assert.equal(r.headers.date, 'Mon, 01 Jan 2024 00:00:00 GMT');
      assert.equal(r.headers.via, '1.1 app, 1.1 northwest');
      assert.equal(r.headers['x-kept'], 'k');
      assert.equal(r.headers['x-hop'], undefined);
      assert.equal(r.headers['x-northwest-deployment'], 'n1');
      assert.equal(r.text, 'ok');
    });

    it('streams a reply many times the flow-control window whole, to several streams at once', async () => {
      const session = await h.http2();
      const replies = await Promise.all([1, 2, 3].map(() => h2call(session, `/big/${4 * 1024 * 1024}`)));
      for (const r of replies) {
        assert.equal(r.status, 200);
        assert.equal(r.text.length, 4 * 1024 * 1024);
      }
    });

    it('shutdown: a request in flight finishes, and the session gets GOAWAY', async () => {
      const session = await h.http2();
      const goaway = once(session, 'goaway');
      const slow = h2call(session, '/slow/300');
      await eventually(() => h.gw.pendingRequests === 1, { timeoutMs: 2000, message: 'the request is in flight' });
      const closing = h.gw.close();
      await goaway;
      const r = await slow;
      assert.equal(r.status, 200);
      assert.equal(r.text, 'done');
      await closing;
    });
  });

  describe('a slow request body on the node engine', () => {
    let h: TlsHarness | undefined;
    afterEach(() => h?.close());

    it('refuses a body that takes longer than timeouts.clientRequestMs with 408 and resets its stream; N1 stores nothing', async () => {
      // node:http's requestTimeout is HTTP/1.1 only: over h2 the gateway keeps the deadline itself.
      h = await startTlsHarness({ config: { engine: 'node', timeouts: { clientHeadersMs: 200, clientRequestMs: 400 } } });
      const session = await h.http2();
      const { headers, rstCode } = await neverEndingPut(session, '/kv/slow');
      assert.equal(headers[':status'], 408);
      assert.equal(headers['x-northwest-error'], 'NW_GW_CLIENT_TIMEOUT');
      assert.equal(rstCode, h2.NGHTTP2_CANCEL, 'the stream is reset: its body stops');
      assert.equal(h.gw.metrics.errors.get(['-', 'NW_GW_CLIENT_TIMEOUT']), 1);
      await eventually(() => h!.gw.pendingRequests === 0, { timeoutMs: 5000, message: 'the request is no longer in flight' });
      assert.equal(h.n1[0]!.store.has('slow'), false);
      const next = await h2call(session, '/kv/next', { method: 'PUT', body: 'whole' });
      assert.equal(next.status, 200);
      assert.equal(h.n1[0]!.store.get('next'), 'whole');
    });
  });

  describe('rapid reset', () => {
    let h: TlsHarness;
    before(async () => {
      h = await startTlsHarness();
    });
    after(() => h.close());

    it('opening and resetting thousands of streams does not take the gateway down; it serves a normal request after', async () => {
      const heapBefore = process.memoryUsage().heapUsed;
      for (let round = 0; round < 3; round++) {
        const attack = await rapidReset({ port: h.gw.listeners[0]!.port, ca: h.ca.certPem, servername: 'shop.test', streams: 10_000 });
        // node's reset-rate limit (streamResetBurst, streamResetRate) ends the attacking session with GOAWAY.
        assert.notEqual(attack.goawayCode, undefined, `round ${round}: the gateway ended the attacking connection`);
      }
      const fresh = await h.http2();
      const r = await h2call(fresh, '/echo');
      assert.equal(r.status, 200);
      assert.ok(process.memoryUsage().heapUsed - heapBefore < 200 * 1024 * 1024, 'memory stays bounded');
      await eventually(() => h.gw.pendingRequests === 0, { timeoutMs: 5000, message: 'no request is left counted in flight' });
    });
  });
});
