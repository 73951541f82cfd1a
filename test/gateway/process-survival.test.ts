import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { request } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { startRefusingPort } from '../support/faulty-upstreams.js';
import { eventually } from '../support/eventually.js';
import { spawnGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';
import { sampleValue, scrapeMetrics } from '../support/metrics-scrape.js';

const TOKEN = 'process-survival-token';
const MAX_BODY_BYTES = 4096;
/** How long a process is watched after a crash path was driven. */
const SETTLE_MS = 500;

/** An HTTP server on port 0 whose sockets are all destroyed on close. */
async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** Sends raw bytes on a new connection and resolves with everything received when the server closes it (or after `ms`). */
function rawExchange(url: string, chunks: readonly (string | Buffer)[], ms = 5000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let got = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => {
      for (const c of chunks) if (!socket.destroyed) socket.write(c);
    });
  });
}

/**
 * No request may kill the gateway process. Each case drives one crash path
 * against the real process (gateway/cli.ts), then checks that it is alive and
 * serving, and that nothing reached the last-resort handlers (a cause that
 * only the handler caught would still be a bug).
 */
describe('the gateway process survives requests that used to crash it', function () {
  this.timeout(60_000);
  let gw: GatewayProcess;
  let n1: EchoUpstream;
  let shadowBreaker: Awaited<ReturnType<typeof listen>>;
  let slowPrimary: Awaited<ReturnType<typeof listen>>;
  let refusing: { url: string };

  async function putState(app: string, state: Record<string, unknown>): Promise<void> {
    const res = await request(`${gw.adminUrl}/state/${app}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(state),
    });
    assert.equal(res.statusCode, 200, await res.body.text());
    await res.body.dump();
  }

  /**
   * A crash comes within a few ticks of the request that causes it, but may come after its reply
   * went out: the process is watched for a while (there is no event for "did not crash") before
   * it must still serve.
   */
  async function assertAliveAndServing(): Promise<void> {
    const exited = await Promise.race([gw.exited, new Promise<undefined>((r) => setTimeout(r, SETTLE_MS))]);
    assert.equal(exited, undefined, `the gateway exited (${exited}):\n${gw.output()}`);
    const res = await request(`${gw.url}/kv/alive`, { headers: { host: 'plain.test' } });
    assert.equal(res.statusCode, 404, 'the gateway still forwards requests');
    await res.body.dump();
    assert.equal(gw.child.exitCode, null, `the gateway exited:\n${gw.output()}`);
    assert.equal(gw.child.signalCode, null, `the gateway was killed:\n${gw.output()}`);
    assert.doesNotMatch(gw.output(), /NW_GW_UNHANDLED|Unhandled|uncaught/i, 'nothing reached the last-resort handlers');
  }

  before(async () => {
    n1 = await startEchoUpstream('n1');
    // The primary of the shadowed read answers late, so the shadow has failed before the gateway looks at it.
    slowPrimary = await listen((req, res) => {
      req.resume();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('primary');
      }, 150);
    });
    // The shadow sends headers and part of the body, then cuts the connection.
    shadowBreaker = await listen((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
      res.write('partial', () => res.socket?.destroy());
    });
    refusing = await startRefusingPort();
  });

  // A process per case: a crash in one must not fail the next.
  beforeEach(async () => {
    gw = await spawnGatewayProcess(
      {
        name: 'gw-survival',
        listeners: [{ host: '127.0.0.1', port: 0 }],
        admin: { host: '127.0.0.1', port: 0 },
        log: { level: 'warn' },
        limits: { maxBodyBytes: MAX_BODY_BYTES },
        apps: {
          plain: { hosts: ['plain.test'], n1: { servers: [{ url: n1.url }] }, n2: { servers: [{ url: n1.url }] } },
          shadowed: {
            hosts: ['shadowed.test'],
            n1: { servers: [{ url: slowPrimary.url }] },
            n2: { servers: [{ url: shadowBreaker.url }] },
          },
          down: {
            hosts: ['down.test'],
            n1: { servers: [{ url: refusing.url }], healthCheck: { intervalMs: 50, timeoutMs: 200, unhealthyThreshold: 1 } },
            n2: { servers: [{ url: refusing.url }], healthCheck: { intervalMs: 50, timeoutMs: 200, unhealthyThreshold: 1 } },
          },
        },
      },
      30_000,
      { ...process.env, NORTHWEST_ADMIN_TOKEN: TOKEN },
    );
    assert.ok(gw.adminUrl, gw.output());
  });

  afterEach(async () => {
    await gw?.stop();
  });

  after(async () => {
    await Promise.all([n1?.close(), shadowBreaker?.close(), slowPrimary?.close()]);
  });

  it('a shadow read whose body fails (mirror mode, shadowCompare) is counted as a mismatch; the process keeps serving', async () => {
    await putState('shadowed', { epoch: 1, mode: 'mirror', readFrom: 'n1', shadowCompare: true });
    for (let i = 0; i < 3; i++) {
      const res = await request(`${gw.url}/page/${i}`, { headers: { host: 'shadowed.test' } });
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'primary', 'the client gets the primary reply');
    }
    await assertAliveAndServing();
    const metrics = await scrapeMetrics(gw.adminUrl!);
    assert.equal(sampleValue(metrics, 'northwest_gateway_shadow_mismatches_total', { app: 'shadowed' }), 3, 'each failed shadow counts');
  });

  it('a chunked body over limits.maxBodyBytes for an app with no healthy upstream gets its error; the process keeps serving', async () => {
    await eventually(
      async () =>
        sampleValue(await scrapeMetrics(gw.adminUrl!), 'northwest_gateway_upstream_healthy', {
          app: 'down',
          deployment: 'n1',
          server: refusing.url,
        }) === 0,
      { timeoutMs: 5000, message: 'the health check takes the only N1 server of "down" out' },
    );
    for (const method of ['PUT', 'GET']) {
      const chunk = Buffer.alloc(1024, 'x');
      const head = `${method} /kv/big HTTP/1.1\r\nhost: down.test\r\ntransfer-encoding: chunked\r\n\r\n`;
      const body = Array.from({ length: 64 }, () => Buffer.concat([Buffer.from('400\r\n'), chunk, Buffer.from('\r\n')]));
      const got = await rawExchange(gw.url, [head, ...body, '0\r\n\r\n']);
      assert.match(got, /^HTTP\/1\.1 (503|413) /, `one error reply for the ${method}: ${got.slice(0, 200)}`);
    }
    await assertAliveAndServing();
  });
});
