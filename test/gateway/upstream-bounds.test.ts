/**
 * Bounds on what clients can make the gateway hold (issue 12, item 12): upstream connections
 * pinned by clients that do not read (timeouts.clientSendMs), requests queued for an upstream
 * connection (maxQueuedPerServer), and request bodies held in memory (limits.maxBufferedBytes).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { parseGatewayConfig, type GatewayConfigInput } from '../../gateway/index.js';
import { UpstreamPool } from '../../gateway/upstream/upstream-pool.js';
import { eventually } from '../support/eventually.js';
import { startGatewayHarness, type Harness } from '../support/gateway-harness.js';
import { RawHttpClient } from '../support/raw-http-client.js';

interface TestUpstream {
  readonly url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

/** Answers every request with `bytes` bytes, written as fast as its connection takes them; records how each reply ended. */
interface BigReplyUpstream extends TestUpstream {
  /** One entry per reply: 'finished' (every byte handed to the connection) or 'cut' (the connection closed first). */
  readonly outcomes: Array<'pending' | 'finished' | 'cut'>;
}

async function startBigReplyUpstream(bytes: number): Promise<BigReplyUpstream> {
  const outcomes: BigReplyUpstream['outcomes'] = [];
  const chunk = Buffer.alloc(1024 * 1024, 'r');
  const server = createServer((req, res) => {
    const i = outcomes.push('pending') - 1;
    res.on('close', () => {
      outcomes[i] = res.writableFinished ? 'finished' : 'cut';
    });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
      let left = bytes;
      const pump = (): void => {
        while (left > 0 && !res.destroyed) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
        }
        if (left === 0) res.end();
      };
      pump();
    });
  });
  return { url: await listen(server), outcomes, close: closer(server) };
}

/** Holds every request (after reading its body) until release() lets them all answer 200. */
interface GatedUpstream extends TestUpstream {
  readonly arrived: number;
  release(): void;
}

async function startGatedUpstream(): Promise<GatedUpstream> {
  let held: ServerResponse[] = [];
  let open = false;
  let arrived = 0;
  const answer = (res: ServerResponse): void => {
    if (!res.destroyed) res.end('ok');
  };
  const server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () => {
      arrived += 1;
      if (open) answer(res);
      else held.push(res);
    });
  });
  return {
    url: await listen(server),
    get arrived() {
      return arrived;
    },
    release() {
      open = true;
      for (const res of held) answer(res);
      held = [];
    },
    close: closer(server),
  };
}

/** A client that sends one request and then reads nothing: its receive window fills and stays full. */
function openNonReader(port: number, head: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(head);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Reads the rest of what a socket was sent until the peer closes it; resolves with the byte count. */
function drainUntilClosed(s: Socket): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    s.on('data', (c: Buffer) => {
      n += c.length;
    });
    s.on('error', () => undefined);
    s.once('close', () => resolve(n));
    s.resume();
  });
}

const SEND_TIMEOUT_MS = 300;
const BIG_REPLY = 64 * 1024 * 1024;

describe('gateway: a client that stops reading does not pin an upstream connection (timeouts.clientSendMs)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const scenarios: Array<{
    name: string;
    config?: Partial<GatewayConfigInput>;
    state?: object;
    method: string;
    upstream: 'cut' | 'finished';
  }> = [
    { name: 'a read (undici engine): aborted upstream', method: 'GET', upstream: 'cut' },
    { name: 'a write (undici engine): its reply is read to the end upstream and dropped', method: 'POST', upstream: 'finished' },
    { name: 'a mirror-mode read (piped reply): aborted upstream', method: 'GET', state: { mode: 'mirror' }, upstream: 'cut' },
    { name: 'a read through the http-proxy engine: aborted upstream', config: { engine: 'http-proxy' }, method: 'GET', upstream: 'cut' },
  ];

  for (const sc of scenarios) {
    it(`${sc.name}; the client's connection is closed`, async function () {
      this.timeout(30_000);
      const upstream = await startBigReplyUpstream(BIG_REPLY);
      cleanups.push(() => upstream.close());
      const h: Harness = await startGatewayHarness({
        n1Urls: [upstream.url],
        n2Urls: [upstream.url],
        config: { ...sc.config, timeouts: { clientSendMs: SEND_TIMEOUT_MS } },
      });
      cleanups.push(() => h.close());
      if (sc.state) await h.gw.applyState('shop', { epoch: 1, ...sc.state });
      const port = Number(new URL(h.url).port);
      const body = sc.method === 'POST' ? 'content-length: 1\r\n\r\nx' : '\r\n';
      const client = await openNonReader(port, `${sc.method} /big HTTP/1.1\r\nhost: shop.test\r\n${body}`);
      cleanups.push(() => void client.destroy());
      await eventually(() => assert.equal(upstream.outcomes[0], sc.upstream), {
        timeoutMs: 10_000,
        message: `the upstream reply ${sc.upstream === 'cut' ? 'is cut' : 'is read to its end'} while the client reads nothing`,
      });
      const servers = h.gw.state.table().byApp.get('shop')!.runtime.n1.servers;
      await eventually(() => assert.equal(servers[0]!.inFlight, 0), {
        timeoutMs: 5_000,
        message: 'the upstream request is no longer in flight',
      });
      assert.ok(h.gw.metrics.errors.get(['shop', 'NW_GW_CLIENT_SEND_TIMEOUT']) >= 1, h.gw.metrics.render());
      // The gateway closed the client's connection: reading now ends well before the whole reply.
      const got = await drainUntilClosed(client);
      assert.ok(got < BIG_REPLY, `the client got the whole reply (${got} bytes)`);
    });
  }

  it('a client that reads slowly but steadily gets its whole reply', async function () {
    this.timeout(30_000);
    const size = 4 * 1024 * 1024;
    const upstream = await startBigReplyUpstream(size);
    cleanups.push(() => upstream.close());
    const h = await startGatewayHarness({
      n1Urls: [upstream.url],
      n2Urls: [upstream.url],
      config: { timeouts: { clientSendMs: SEND_TIMEOUT_MS } },
    });
    cleanups.push(() => h.close());
    const client = await openNonReader(Number(new URL(h.url).port), 'GET /big HTTP/1.1\r\nhost: shop.test\r\nconnection: close\r\n\r\n');
    cleanups.push(() => void client.destroy());
    // Read in bursts with pauses shorter than the send timeout.
    const timer = setInterval(() => {
      client.resume();
      setTimeout(() => client.pause(), 20);
    }, SEND_TIMEOUT_MS / 3);
    cleanups.push(() => clearInterval(timer));
    const got = await drainUntilClosed(client);
    assert.ok(got > size, `the client got ${got} of ${size} bytes`);
    assert.equal(upstream.outcomes[0], 'finished');
  });
});

describe('gateway: requests waiting for an upstream connection are bounded (maxQueuedPerServer)', () => {
  it('answers 503 NW_GW_UPSTREAM_QUEUE_FULL with Retry-After once the queue is full, and serves the queued ones', async () => {
    const gated = await startGatedUpstream();
    const h = await startGatewayHarness({
      n1Urls: [gated.url],
      n2Urls: [gated.url],
      app: { n1: { connectionsPerServer: 1, maxQueuedPerServer: 1 } },
    });
    try {
      const get = (path: string) =>
        request(`${h.url}${path}`, { headers: { host: 'shop.test' }, signal: AbortSignal.timeout(5_000) }).then(async (r) => ({
          status: r.statusCode,
          headers: r.headers,
          text: await r.body.text(),
        }));
      const server = h.gw.state.table().byApp.get('shop')!.runtime.n1.servers[0]!;
      const first = get('/1');
      await eventually(() => gated.arrived === 1, { timeoutMs: 3_000, message: 'the first request holds the only connection' });
      const second = get('/2');
      await eventually(() => server.inFlight === 2, { timeoutMs: 3_000, message: 'the second request waits for the connection' });
      const third = await get('/3');
      assert.equal(third.status, 503, third.text);
      assert.equal(third.headers['x-northwest-error'], 'NW_GW_UPSTREAM_QUEUE_FULL');
      assert.equal(third.headers['retry-after'], '1');
      gated.release();
      assert.equal((await first).status, 200);
      assert.equal((await second).status, 200);
      assert.equal(gated.arrived, 2, 'the refused request never reached the app');
      assert.equal((await get('/4')).status, 200, 'the queue has room again');
    } finally {
      await h.close();
      await gated.close();
    }
  });

  it('a full server is skipped for another server of the pool; only when all are full is the request refused', async () => {
    const config = parseGatewayConfig(
      {
        listeners: [{ port: 0 }],
        apps: {
          shop: {
            hosts: ['shop.test'],
            n1: { servers: [{ url: 'http://a.invalid' }, { url: 'http://b.invalid' }], connectionsPerServer: 1, maxQueuedPerServer: 0 },
            n2: { servers: [{ url: 'http://c.invalid' }] },
          },
        },
      },
      'queue test',
    );
    const pool = new UpstreamPool('shop', 'n1', config.apps.shop!.n1, { connectTimeoutMs: 100, headersTimeoutMs: 100, idleTimeoutMs: 100 });
    try {
      const [a, b] = pool.servers;
      a!.inFlight = 1;
      for (let i = 0; i < 4; i++) assert.equal(pool.select(), b);
      b!.inFlight = 1;
      assert.equal(pool.select(), undefined);
      assert.equal(pool.noServerError().code, 'NW_GW_UPSTREAM_QUEUE_FULL');
      a!.ejectedUntil = Date.now() + 60_000;
      b!.ejectedUntil = Date.now() + 60_000;
      assert.equal(pool.noServerError().code, 'NW_GW_NO_HEALTHY_UPSTREAM');
    } finally {
      await pool.close();
    }
  });
});

describe('gateway: request bodies held in memory share one budget (limits.maxBufferedBytes)', () => {
  const BUDGET = 100_000;
  const BODY = 60_000;
  const LIMIT = 64 * 1024;
  let gated: GatedUpstream;
  let h: Harness;
  let raw: RawHttpClient;

  beforeEach(async () => {
    gated = await startGatedUpstream();
    h = await startGatewayHarness({
      n1Urls: [gated.url],
      n2Urls: [gated.url],
      app: { mirrorBodyBytes: LIMIT },
      config: { limits: { maxBufferedBytes: BUDGET } },
    });
    raw = new RawHttpClient(Number(new URL(h.url).port));
    await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
  });
  afterEach(async () => {
    raw?.destroyAll();
    await h?.close();
    await gated?.close();
  });

  const buffered = (): number => Number(/^northwest_gateway_buffered_body_bytes (\d+)$/m.exec(h.gw.metrics.bufferedBytes.render())?.[1]);
  const post = (path: string, body: Buffer | Readable) =>
    request(`${h.url}${path}`, { method: 'POST', headers: { host: 'shop.test' }, body, signal: AbortSignal.timeout(5_000) }).then(
      async (r) => ({ status: r.statusCode, headers: r.headers, text: await r.body.text() }),
    );

  it(
    'refuses a mirrored write with 503 NW_GW_BUFFER_BUDGET_SPENT while the budget is taken, ' +
      'and takes writes again once it is given back',
    async () => {
      const first = post('/kv/first', Buffer.alloc(BODY, 'a'));
      await eventually(() => gated.arrived === 2, { timeoutMs: 3_000, message: 'the first mirrored write reached both sides' });
      assert.equal(buffered(), BODY);

      const second = await post('/kv/second', Buffer.alloc(BODY, 'b'));
      assert.equal(second.status, 503, second.text);
      assert.equal(second.headers['x-northwest-error'], 'NW_GW_BUFFER_BUDGET_SPENT');
      assert.equal(second.headers['retry-after'], '1');

      // With Expect: 100-continue the refusal comes without the body.
      const r = await raw.exchange(`POST /kv/third HTTP/1.1\r\nHost: shop.test\r\nExpect: 100-continue\r\nContent-Length: ${BODY}\r\n\r\n`);
      assert.ok(!r.raw.includes(' 100 Continue'), r.raw);
      assert.deepEqual(
        r.responses.map((x) => x.status),
        [503],
      );
      assert.equal(gated.arrived, 2, 'a refused write reached the app');

      gated.release();
      assert.equal((await first).status, 200);
      await eventually(() => buffered() === 0, { timeoutMs: 3_000, message: 'the budget is given back when the request ends' });
      assert.equal((await post('/kv/fourth', Buffer.alloc(BODY, 'd'))).status, 200);
      assert.equal(buffered(), 0);
    },
  );

  it('a chunked body reserves the limit while it is read, then holds only its size until the request ends', async () => {
    async function* chunked(): AsyncIterable<Buffer> {
      yield Buffer.alloc(1000, 'c');
      await eventually(() => buffered() === LIMIT, { timeoutMs: 3_000, message: 'the limit is reserved while the body comes' });
    }
    const res = post('/kv/chunked', Readable.from(chunked()));
    await eventually(() => gated.arrived === 2, { timeoutMs: 3_000, message: 'the mirrored write reached both sides' });
    assert.equal(buffered(), 1000);
    gated.release();
    assert.equal((await res).status, 200);
    await eventually(() => buffered() === 0, { timeoutMs: 3_000, message: 'given back at the end' });
  });

  it('a config whose mirrorBodyBytes exceeds limits.maxBufferedBytes is refused', () => {
    assert.throws(
      () =>
        parseGatewayConfig(
          {
            listeners: [{ port: 0 }],
            limits: { maxBufferedBytes: 1000 },
            apps: {
              shop: {
                hosts: ['shop.test'],
                n1: { servers: [{ url: 'http://a.invalid' }] },
                n2: { servers: [{ url: 'http://b.invalid' }] },
              },
            },
          },
          'budget test',
        ),
      /mirrorBodyBytes.*maxBufferedBytes/s,
    );
  });
});
