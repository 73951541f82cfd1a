import assert from 'node:assert/strict';
import { eventually } from '../support/eventually.js';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient } from '../support/raw-http-client.js';

/** A complete request sent as the body of another: if any parser frames it as a request, an app logs this path. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: shop.test\r\n\r\n';

/** What the apps received, as `METHOD path`, N1's then N2's. */
const seen = (h: Harness): string[] => [...h.n1, ...h.n2].flatMap((u) => u.seen.map((s) => `${s.method} ${s.path}`));

/** The raw engine's client side under pipelining: what the apps receive is what the client sent, request by request. */
describe('raw engine: pipelined requests behind a held or early-answered one', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const pipelinedBehindHeld = 'a request pipelined behind a held write keeps its body a body when the fence lets the write go on here';
  for (const closing of [false, true])
    it(`${pipelinedBehindHeld} (${closing ? 'its' : 'a later'} request closes)`, async () => {
      // A body that never comes is a 408 soon, not a hang until mocha's timeout.
      h = await startGatewayHarness({ config: { engine: 'raw', timeouts: { clientHeadersMs: 1000, clientRequestMs: 2000 } } });
      await h.gw.applyState('shop', { epoch: 1, mode: 'fence', readFrom: 'n1' });
      const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
      conn.write(
        'POST /held HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\n\r\nhello' +
          `POST /next HTTP/1.1\r\nHost: shop.test\r\nContent-Length: ${SMUGGLED.length}\r\n${closing ? 'Connection: close\r\n' : ''}\r\n`,
      );
      await eventually(() => assert.equal(h!.gw.metrics.heldWrites.get(['shop']), 1), { timeoutMs: 5000, message: 'the write is held' });
      // The pipelined request's body comes in a read of its own, after its head was parked.
      conn.write(SMUGGLED);
      await h.gw.applyState('shop', { epoch: 2, mode: 'proxy' });
      const expected = closing ? ['/held', '/next'] : ['/held', '/next', '/last'];
      if (!closing) {
        await eventually(() => assert.equal(conn.received().length, 2), { timeoutMs: 5000, message: 'both answers' });
        conn.write('GET /last HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n');
      }
      const r = await conn.closed;
      assert.deepEqual(
        r.responses.map((x) => [x.status, (JSON.parse(x.body) as { path?: string }).path]),
        expected.map((path) => [200, path]),
        r.raw,
      );
      assert.deepEqual(
        seen(h).map((s) => s.split(' ')[1]),
        expected,
      );
    });
});

describe('raw engine: bytes refused after a whole request', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const AFTER: Record<string, string> = {
    'a request sent after Connection: close': 'Connection: close\r\n',
    'a malformed pipelined request': '',
  };
  for (const [name, closing] of Object.entries(AFTER))
    it(`a write whose request was whole gets its app's answer, not a 400 for ${name} (the app committed it)`, async () => {
      h = await startGatewayHarness({ config: { engine: 'raw' } });
      // An idle upstream connection: the write goes out in the turn its bytes are parsed.
      assert.equal((await call(h.url, '/prime')).status, 200);
      const conn = await new RawHttpClient(Number(new URL(h.url).port)).open();
      conn.write(
        `PUT /kv/k HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\n${closing}\r\nhello` +
          `GET /next HTTP/1.1\r\nHost: shop.test\r\n${closing === '' ? 'Bad Header: x\r\n' : ''}\r\n`,
      );
      const r = await conn.closed;
      assert.equal(h.n1[0]!.store.get('k'), 'hello', 'the app committed the write');
      assert.equal(r.responses[0]?.status, 200, r.raw);
      assert.equal((JSON.parse(r.responses[0]!.body) as { stored?: boolean }).stored, true, r.raw);
      assert.equal(r.responses[0]!.headers.connection, 'close', r.raw);
      assert.ok(!seen(h).includes('GET /next'), 'the request after it reached an app');
    });
});
