import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Gateway, parseGatewayConfig, type GatewayConfigInput } from '../../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { createLogger } from '../../platform/logger.js';
import { eventually } from '../support/eventually.js';
import { RawHttpClient } from '../support/raw-http-client.js';

const HEADERS_TIMEOUT_MS = 1000;

/** An app server that reads requests and never answers; it counts the connections the gateway closes. */
async function startSilentApp(): Promise<{ close: () => Promise<void>; url: string; received: () => string; closed: () => number }> {
  let received = '';
  let closed = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      received += d.toString('latin1');
    });
    s.on('close', () => {
      sockets.delete(s);
      closed += 1;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => received,
    closed: () => closed,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

function configWith(n1: string, n2: string): GatewayConfigInput {
  return {
    name: 'retired-links',
    engine: 'raw',
    listeners: [{ host: '127.0.0.1', port: 0 }],
    log: { level: 'info' },
    timeouts: { upstreamHeadersMs: HEADERS_TIMEOUT_MS, unknownWriteOutcomeMs: 1 },
    apps: { shop: { hosts: ['shop.test'], n1: { servers: [{ url: n1 }], retries: 0 }, n2: { servers: [{ url: n2 }] } } },
  };
}

/**
 * The raw engine checks upstream silence on its tick, pool by pool. A reload that takes a server out
 * of service closes its pool once no request is bound to the old runtime, but a write whose client
 * left goes on without it (the in-flight count waits for the app): its connection must keep its
 * headers timeout, or a silent app keeps the write in flight, and every fence of the app waiting, forever.
 */
describe('raw engine: a write on a server a reload retired', () => {
  let app: Awaited<ReturnType<typeof startSilentApp>>;
  let echo: EchoUpstream;
  let gw: Gateway | undefined;
  const logLines: string[] = [];

  before(async () => {
    app = await startSilentApp();
    echo = await startEchoUpstream('echo', '127.0.0.1', 0, new Map());
  });
  after(async () => {
    await gw?.close();
    await echo.close();
    await app.close();
  });

  it('still times out when the app never answers, after its client left and the reload closed the pool', async () => {
    const logger = createLogger('info', {}, (l) => void logLines.push(l));
    gw = await Gateway.start({ config: parseGatewayConfig(configWith(app.url, echo.url), 'test'), logger });
    const client = new RawHttpClient(Number(new URL(gw.listeners[0]!.url).port));
    const conn = await client.open();
    conn.write('POST /w HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\n\r\nhello');
    await eventually(() => app.received().endsWith('hello'), { timeoutMs: 5000, message: 'the app got the whole write' });
    // The client leaves: the write goes on without it (its runtime is let go).
    conn.socket.destroy();
    const g = gw;
    await eventually(() => g.pendingRequests === 0, { timeoutMs: 5000, message: 'the request is over at the client side' });
    await gw.reload(parseGatewayConfig(configWith(echo.url, echo.url), 'test'));
    await eventually(() => logLines.some((l) => l.includes('gateway.reload.pool_closed')), {
      timeoutMs: 5000,
      message: 'the old pool closed',
    });
    assert.equal(app.closed(), 0, 'the timeout fired before the pool closed: the test proves nothing');
    await eventually(() => app.closed() === 1, {
      timeoutMs: HEADERS_TIMEOUT_MS + 4000,
      message: 'the gateway closed its connection to the silent app (upstream headers timeout)',
    });
    assert.equal(await gw.writesEnded(2000), true, 'the write is no longer counted in flight');
  });
});
