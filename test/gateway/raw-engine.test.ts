import assert from 'node:assert/strict';
import { request } from 'undici';
import { llhttpBinding } from '../../gateway/raw/llhttp-binding.js';
import { createLogger } from '../../platform/logger.js';
import { eventually } from '../support/eventually.js';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient } from '../support/raw-http-client.js';

/** What only the raw engine does: its parser binding and fallback, the held write parked before its body, the hand-over to node:http. */
describe('gateway raw engine', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("loads node's llhttp binding and passes its self-test on this Node", () => {
    const v = llhttpBinding();
    assert.ok(v.ok, v.ok ? '' : v.reason);
  });

  it('falls back to the node engine, with a logged NW_GW_ENGINE_FALLBACK, when the binding fails its self-test', async () => {
    const lines: string[] = [];
    const { Gateway, parseGatewayConfig } = await import('../../gateway/index.js');
    const { startEchoUpstream } = await import('../../loadgen/reference-app/echo-upstream.js');
    const up = await startEchoUpstream('n1-0');
    const gw = await Gateway.start({
      config: parseGatewayConfig(
        {
          engine: 'raw',
          listeners: [{ host: '127.0.0.1', port: 0 }],
          log: { level: 'warn' },
          apps: { shop: { hosts: ['shop.test'], n1: { servers: [{ url: up.url }] }, n2: { servers: [{ url: up.url }] } } },
        },
        'test',
      ),
      logger: createLogger('warn', {}, (l) => void lines.push(l)),
      llhttp: () => ({ ok: false, reason: 'llhttp self-test failed: a chunked POST did not parse as expected' }),
    });
    try {
      assert.equal(gw.engine, 'undici');
      const res = await request(`${gw.listeners[0]!.url}/x`, { headers: { host: 'shop.test' } });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
      const warning = lines
        .map((l) => JSON.parse(l) as { event: string; code?: string })
        .find((l) => l.event === 'gateway.engine.raw_unavailable');
      assert.equal(warning?.code, 'NW_GW_ENGINE_FALLBACK', lines.join(''));
    } finally {
      await gw.close();
      await up.close();
    }
  });

  it('serves with the raw engine by default', async () => {
    h = await startGatewayHarness({ config: { engine: 'raw' } });
    assert.equal(h.gw.engine, 'raw');
  });

  it('forwards a request header named constructor as it came; __proto__ is dropped, as node:http drops it', async () => {
    h = await startGatewayHarness({ config: { engine: 'raw' } });
    const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
    conn.write('GET /names HTTP/1.1\r\nHost: shop.test\r\nconstructor: c\r\n__proto__: p\r\nConnection: close\r\n\r\n');
    const r = await conn.closed;
    assert.equal(r.responses[0]?.status, 200, r.raw);
    const seen = h.n1[0]!.seen[0]!.headers;
    assert.equal(Object.getOwnPropertyDescriptor(seen, 'constructor')?.value, 'c');
    assert.equal(Object.hasOwn(seen, '__proto__'), false);
  });

  it('parks a fenced write before its body: the body sent during the hold reaches N2 whole once proxy lets it go', async () => {
    h = await startGatewayHarness({ config: { engine: 'raw' } });
    await h.gw.applyState('shop', { epoch: 1, mode: 'fence', readFrom: 'n1' });
    const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
    conn.write('POST /held HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n');
    await eventually(() => assert.equal(h!.gw.metrics.heldWrites.get(['shop']), 1), { timeoutMs: 5000, message: 'the write is held' });
    conn.write('6\r\n world\r\n');
    conn.write('0\r\n\r\n');
    assert.equal(h.n1[0]!.seen.length + h.n2[0]!.seen.length, 0, 'a held write reached an app');
    await h.gw.applyState('shop', { epoch: 2, mode: 'proxy' });
    const r = await conn.closed;
    assert.equal(r.responses[0]?.status, 200, r.raw);
    assert.equal(r.responses[0]?.headers['x-northwest-deployment'], 'n2');
    assert.equal((JSON.parse(r.responses[0]!.body) as { bytes: number }).bytes, 11);
    assert.deepEqual(
      h.n2[0]!.seen.map((s) => s.path),
      ['/held'],
    );
    assert.equal(h.n1[0]!.seen.length, 0);
  });

  it('hands a held write to the node engine when the fence lets it go into mirror (a rollback): both sides get its body', async () => {
    h = await startGatewayHarness({ config: { engine: 'raw' } });
    await h.gw.applyState('shop', { epoch: 1, mode: 'fence', readFrom: 'n1' });
    const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
    conn.write('PUT /k HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabcde');
    await eventually(() => assert.equal(h!.gw.metrics.heldWrites.get(['shop']), 1), { timeoutMs: 5000, message: 'the write is held' });
    await h.gw.applyState('shop', { epoch: 2, mode: 'mirror', primary: 'n1', readFrom: 'n1' });
    conn.write('fghij');
    const r = await conn.closed;
    assert.equal(r.responses[0]?.status, 200, r.raw);
    assert.equal(r.responses[0]?.headers['x-northwest-mirrored-to'], 'n2');
    for (const side of [h.n1[0]!, h.n2[0]!])
      assert.deepEqual(
        side.seen.map((s) => s.path),
        ['/k'],
      );
  });

  it('hands a connection to node:http mid-body without reordering its bytes (a mirrored write whose body trickles in)', async () => {
    h = await startGatewayHarness({ config: { engine: 'raw' } });
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror', primary: 'n1', readFrom: 'n1' });
    const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
    const body = Array.from({ length: 20 }, (_, i) => `part-${String(i).padStart(2, '0')};`).join('');
    conn.write(`POST /trickle HTTP/1.1\r\nHost: shop.test\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    for (let i = 0; i < body.length; i += 16) {
      conn.write(body.slice(i, i + 16));
      await new Promise((r) => setTimeout(r, 2));
    }
    const r = await conn.closed;
    assert.equal(r.responses[0]?.status, 200, r.raw);
    const echoed = JSON.parse(r.responses[0]!.body) as { bytes: number; deployment: string };
    assert.equal(echoed.bytes, body.length);
    assert.deepEqual(
      h.n2[0]!.seen.map((s) => s.path),
      ['/trickle'],
    );
  });

  it('closes a connection handed over for a mirror once the app leaves mirror, so the client comes back to the raw engine', async () => {
    h = await startGatewayHarness({ config: { engine: 'raw' } });
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror', primary: 'n1', readFrom: 'n1' });
    const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
    conn.write('GET /m1 HTTP/1.1\r\nHost: shop.test\r\n\r\n');
    await eventually(() => assert.equal(conn.received().length, 1), { timeoutMs: 5000, message: 'the mirror read' });
    assert.equal(conn.received()[0]!.headers.connection, 'keep-alive');
    await h.gw.applyState('shop', { epoch: 2, mode: 'serve' });
    conn.write('GET /m2 HTTP/1.1\r\nHost: shop.test\r\n\r\n');
    const r = await conn.closed;
    assert.deepEqual(
      r.responses.map((x) => [x.status, x.headers.connection]),
      [
        [200, 'keep-alive'],
        [200, 'close'],
      ],
    );
  });

  it('keeps a pipelining connection on node:http (closing it would drop the requests it has in flight)', async () => {
    h = await startGatewayHarness({ config: { engine: 'raw' } });
    const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
    conn.write('GET /a HTTP/1.1\r\nHost: shop.test\r\n\r\nGET /b HTTP/1.1\r\nHost: shop.test\r\n\r\n');
    await eventually(() => assert.equal(conn.received().length, 2), { timeoutMs: 5000, message: 'both answers' });
    conn.write('GET /c HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n');
    const r = await conn.closed;
    assert.deepEqual(
      r.responses.map((x) => x.headers.connection),
      ['keep-alive', 'keep-alive', 'close'],
    );
  });

  it('closes an idle keep-alive connection after timeouts.clientKeepAliveMs (checked on the engine tick)', async () => {
    h = await startGatewayHarness({ config: { engine: 'raw', timeouts: { clientKeepAliveMs: 300, clientHeadersMs: 200 } } });
    const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
    conn.write('GET /idle HTTP/1.1\r\nHost: shop.test\r\n\r\n');
    const r = await conn.closed;
    assert.equal(r.responses.length, 1, r.raw);
    assert.equal(r.responses[0]!.headers['keep-alive'], 'timeout=0');
  });

  it('answers pipelined requests in order, the ones after the first through node:http', async () => {
    h = await startGatewayHarness({ config: { engine: 'raw' } });
    const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
    conn.write(
      'GET /p1 HTTP/1.1\r\nHost: shop.test\r\n\r\nGET /p2 HTTP/1.1\r\nHost: shop.test\r\n\r\n' +
        'GET /p3 HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n',
    );
    const r = await conn.closed;
    assert.deepEqual(
      r.responses.map((x) => (JSON.parse(x.body) as { path: string }).path),
      ['/p1', '/p2', '/p3'],
    );
  });
});
