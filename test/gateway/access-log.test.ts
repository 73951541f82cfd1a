// The access log (log.access): one line per request through each engine, JSON with the request id,
// app, mode, deployment, status, body bytes sent, upstream time and total time, or nginx's combined
// line; a reload turns it on and off.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { type AddressInfo, connect } from 'node:net';
import { request } from 'undici';
import { appOn, startFileGateway, testConfig, type FileGateway } from '../support/config-file-gateway.js';
import { eventually } from '../support/eventually.js';
import { ADMIN_TOKEN } from '../support/gateway-harness.js';

interface AccessLine {
  requestId: string;
  app: string;
  mode: string;
  epoch: number | null;
  deployment: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  upstreamMs: number | null;
  totalMs: number;
  engine: string;
  event: string;
}

/** N1's app: /slow-head answers after 150 ms, /slow-body sends its head at once and 3000 chunked bytes 150 ms later. */
async function startTimedApp(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    if (req.url === '/slow-head') {
      setTimeout(() => res.end('late head'), 150);
      return;
    }
    if (req.url === '/slow-body') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      setTimeout(() => {
        for (let i = 0; i < 3; i++) res.write(Buffer.alloc(1000, 'x'));
        res.end();
      }, 150);
      return;
    }
    const body = JSON.stringify({ path: req.url, method: req.method });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-served-by': 'n1' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('gateway access log', function () {
  this.timeout(20_000);
  let app: { url: string; server: Server };
  let g: FileGateway | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    app = await startTimedApp();
  });
  afterEach(async () => {
    await g?.close();
    g = undefined;
    app.server.closeAllConnections();
    await new Promise((r) => app.server.close(r));
    lines.length = 0;
  });

  const get = async (path: string, host = 'shop.test', headers: Record<string, string> = {}) => {
    const res = await request(g!.url + path, { headers: { host, ...headers } });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, requestId: String(res.headers['x-request-id']), bytes: body.length };
  };
  /** The access line of one request (the line is written when its response has closed, maybe after the client read it). */
  const lineOf = (requestId: string): Promise<AccessLine> =>
    eventually(
      () => {
        const found = lines.map((l) => JSON.parse(l) as AccessLine).find((l) => l.requestId === requestId);
        assert.ok(found, `no access line for ${requestId} in ${lines.length} lines`);
        return found;
      },
      { timeoutMs: 3000, message: 'the access line is written' },
    );

  for (const engine of ['raw', 'node'] as const) {
    describe(`${engine} engine`, () => {
      const start = async (log: Record<string, unknown> = { access: true }): Promise<FileGateway> =>
        startFileGateway(testConfig({ shop: appOn('shop.test', [app.url]) }, { engine, log: { level: 'silent', ...log } }), {
          accessLogSink: (l) => void lines.push(l),
        });

      it('writes one JSON line per request: id, app, mode, deployment, status, body bytes, upstream and total time', async () => {
        g = await start();
        const r = await get('/kv/a?x=1');
        const line = await lineOf(r.requestId);
        assert.equal(line.event, 'gateway.access');
        assert.equal(line.engine, engine);
        assert.deepEqual(
          [line.app, line.mode, line.epoch, line.deployment, line.method, line.path, line.status],
          ['shop', 'serve', 0, 'n1', 'GET', '/kv/a?x=1', 200],
        );
        assert.equal(line.bytes, r.bytes);
        assert.ok(line.upstreamMs !== null && line.upstreamMs >= 0 && line.upstreamMs <= line.totalMs, JSON.stringify(line));
        assert.equal(lines.length, 1, 'one line per request');
      });

      it('upstream time runs to the response head, total time to the end of the body; chunked bytes are body bytes', async () => {
        g = await start();
        const head = await lineOf((await get('/slow-head')).requestId);
        assert.ok(head.upstreamMs! >= 140, `upstreamMs ${head.upstreamMs}`);
        assert.equal(head.bytes, 'late head'.length);
        const body = await get('/slow-body');
        assert.equal(body.bytes, 3000);
        const line = await lineOf(body.requestId);
        assert.equal(line.bytes, 3000);
        assert.ok(line.upstreamMs! < 100, `upstreamMs ${line.upstreamMs}`);
        assert.ok(line.totalMs >= 140, `totalMs ${line.totalMs}`);
      });

      it("logs the gateway's own answers (no upstream time) and the mirror path's (node engine) bytes", async () => {
        g = await start();
        const unknown = await get('/x', 'nobody.test');
        assert.equal(unknown.status, 421);
        const line = await lineOf(unknown.requestId);
        assert.deepEqual([line.app, line.deployment, line.status, line.upstreamMs], ['-', 'none', 421, null]);
        assert.equal(line.bytes, unknown.bytes);

        const put = await request(`${g.adminUrl}/state/shop`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          body: JSON.stringify({ epoch: 1, mode: 'mirror', readFrom: 'n1' }),
        });
        assert.equal(put.statusCode, 200);
        await put.body.dump();
        const mirrored = await get('/kv/m');
        const m = await lineOf(mirrored.requestId);
        assert.deepEqual([m.mode, m.epoch, m.deployment, m.status, m.engine], ['mirror', 1, 'n1', 200, 'node']);
        assert.equal(m.bytes, mirrored.bytes);
        assert.ok(m.upstreamMs !== null && m.upstreamMs <= m.totalMs);
      });

      it('logs a request whose connection the gateway cut (a chunked body past maxBodyBytes) and keeps serving', async () => {
        g = await startFileGateway(
          testConfig(
            { shop: appOn('shop.test', [app.url]) },
            { engine, limits: { maxBodyBytes: 1024 }, log: { level: 'silent', access: true } },
          ),
          { accessLogSink: (l) => void lines.push(l) },
        );
        const { port } = new URL(g.url);
        const socket = connect(Number(port), '127.0.0.1');
        await once(socket, 'connect');
        socket.on('error', () => undefined);
        socket.resume();
        // The gateway answers 413 and ends its side, or cuts the connection.
        const over = new Promise((r) => {
          socket.once('end', r);
          socket.once('close', r);
        });
        socket.write('POST /kv/big HTTP/1.1\r\nHost: shop.test\r\nX-Request-Id: cut-1\r\nTransfer-Encoding: chunked\r\n\r\n');
        for (let i = 0; i < 8 && !socket.destroyed; i++) {
          socket.write(`400\r\n${'b'.repeat(1024)}\r\n`);
          await new Promise((r) => setImmediate(r));
        }
        await over;
        socket.destroy();
        await eventually(() => lines.length >= 1, { timeoutMs: 3000, message: 'the cut request is logged' });
        const line = JSON.parse(lines[0]!) as AccessLine & { peer: string };
        assert.ok(line.status === 413 || line.status === 499, JSON.stringify(line));
        assert.equal(line.peer, '127.0.0.1');
        assert.equal((await get('/kv/after')).status, 200, 'the gateway still serves');
      });

      it("writes nginx's combined line with log.accessFormat: combined; a reload turns the log off", async () => {
        g = await start({ access: true, accessFormat: 'combined' });
        const r = await get('/kv/c?q=1', 'shop.test', { referer: 'https://ref.example/', 'user-agent': 'test-agent/1.0 "quoted"' });
        await eventually(() => lines.length === 1, { timeoutMs: 3000, message: 'one combined line' });
        assert.match(
          lines[0]!,
          new RegExp(
            String.raw`^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] ` +
              String.raw`"GET /kv/c\?q=1 HTTP/1\.1" 200 ${r.bytes} ` +
              String.raw`"https://ref\.example/" "test-agent/1\.0 \\"quoted\\""\n$`,
          ),
        );
        g.write(testConfig({ shop: appOn('shop.test', [app.url]) }, { engine, log: { level: 'silent', access: false } }));
        await g.gw.reloadFromFile();
        await get('/kv/c');
        await new Promise((res) => setTimeout(res, 100));
        assert.equal(lines.length, 1, 'no line once the reload turned the access log off');
      });
    });
  }

  it('measures body bytes and upstream time on the http-proxy read path too', async () => {
    g = await startFileGateway(
      testConfig({ shop: appOn('shop.test', [app.url]) }, { engine: 'http-proxy', log: { level: 'silent', access: true } }),
      { accessLogSink: (l) => void lines.push(l) },
    );
    const body = await get('/slow-body');
    const line = await lineOf(body.requestId);
    assert.equal(line.bytes, 3000);
    assert.ok(line.upstreamMs !== null && line.upstreamMs < 100 && line.totalMs >= 140, JSON.stringify(line));
  });
});
