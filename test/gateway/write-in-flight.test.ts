/**
 * A write is in flight until its upstream answered, not until the gateway
 * stopped waiting: the bad days of issue 12 (items 1, 4 and 5). Each test
 * checks what the app server committed and when, against when the gateway
 * applied a state that forbids writes to that deployment.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { type ApplyResult, Gateway, GatewayError, parseGatewayConfig, type GatewayConfigInput } from '../../gateway/index.js';
import { createLogger } from '../../platform/logger.js';
import { eventually } from '../support/eventually.js';
import { WORKER_COUNTS } from '../support/fleet-node.js';
import { startWorkersHarness } from '../support/workers-harness.js';

/**
 * An app server that commits every complete write `commitMs` after it arrived, whether or not anyone
 * still waits, then answers after `answerMs`.
 */
interface CommittingServer {
  readonly url: string;
  /** performance.now() of every commit. */
  readonly commits: number[];
  /** Requests whose body did not arrive whole (never committed). */
  readonly incomplete: number;
  close(): Promise<void>;
}

async function startCommittingServer(commitMs: number, answerMs = commitMs): Promise<CommittingServer> {
  const commits: number[] = [];
  let incomplete = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('close', () => {
      if (!req.complete) incomplete += 1;
    });
    req.on('end', () => {
      setTimeout(() => commits.push(performance.now()), commitMs);
      setTimeout(() => {
        if (!res.destroyed) res.end('ok');
      }, answerMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    commits,
    get incomplete() {
      return incomplete;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** What these tests do with a gateway: one process, or the primary of several (`workers`). */
interface TestGateway {
  applyState(app: string, state: unknown): Promise<ApplyResult>;
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

async function startGateway(
  n1: string,
  n2: string,
  timeouts: NonNullable<GatewayConfigInput['timeouts']> = {},
  writeGuard?: () => GatewayError | undefined,
  workers = 1,
): Promise<{ gw: TestGateway; port: number; url: string }> {
  const input: GatewayConfigInput = {
    name: 'inflight-gw',
    listeners: [{ host: '127.0.0.1', port: 0 }],
    log: { level: 'silent' },
    timeouts,
    apps: { shop: { hosts: ['shop.test'], n1: { servers: [{ url: n1 }] }, n2: { servers: [{ url: n2 }] } } },
  };
  if (workers > 1) {
    const h = await startWorkersHarness({ ...input, log: { level: 'silent', access: false } }, { workers });
    const primary = h.node.gateway;
    const { port, url } = primary.listeners[0]!;
    const gw: TestGateway = {
      applyState: (app, state) => primary.applyStates({ [app]: state }),
      metricsText: () => primary.metrics.render(),
      close: () => h.close(),
    };
    return { gw, port, url };
  }
  const config = parseGatewayConfig(input, 'write-in-flight test');
  const one = await Gateway.start({ config, logger: createLogger('silent'), ...(writeGuard ? { writeGuard } : {}) });
  const gw: TestGateway = {
    applyState: (app, state) => one.applyState(app, state),
    metricsText: async () => one.metrics.render(),
    close: () => one.close(),
  };
  const { port, url } = one.listeners[0]!;
  return { gw, port, url };
}

/** A raw client connection: the test decides when bytes go and when it leaves. */
function openRaw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** `connection`: close, or keep-alive (the raw engine then counts the body itself instead of the parser). */
function postHead(length: number, path = '/kv/a', connection: 'close' | 'keep-alive' = 'close'): string {
  const headers = `host: shop.test\r\nconnection: ${connection}\r\ncontent-length: ${length}\r\ncontent-type: text/plain\r\n`;
  return `POST ${path} HTTP/1.1\r\n${headers}\r\n`;
}

// The drain tests once as one process, once as 2 worker processes; the lease tests plug a write guard into one process.
for (const workers of WORKER_COUNTS)
  describe(`gateway: a write is in flight until its upstream answered (${workers} worker${workers > 1 ? 's' : ''})`, function () {
    writeInFlightSuite.call(this, workers);
  });

function writeInFlightSuite(this: Mocha.Suite, workers: number): void {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  /** N1 committing after `n1Timing` (commit ms, answer ms), an N2 that commits at once, a gateway in front; closed after each test. */
  async function scenario(
    n1Timing: [number, number?],
    timeouts: NonNullable<GatewayConfigInput['timeouts']> = {},
    guard?: () => GatewayError | undefined,
  ) {
    const n1 = await startCommittingServer(...n1Timing);
    const n2 = await startCommittingServer(0);
    const started = await startGateway(n1.url, n2.url, timeouts, guard, guard === undefined ? workers : 1);
    closers.push(
      () => started.gw.close(),
      () => n1.close(),
      () => n2.close(),
    );
    return { ...started, n1, n2 };
  }

  it(
    'a client that leaves while its write is held by a fence does not wedge the gateway ' + '(regression: leaked in-flight count)',
    async () => {
      const { gw, port, n2 } = await scenario([0], { drainMs: 1_000 });
      await gw.applyState('shop', { epoch: 1, mode: 'fence' });
      const client = await openRaw(port);
      client.on('error', () => undefined);
      client.write(`${postHead(5)}hello`);
      await eventually(async () => assert.ok((await gw.metricsText()).includes('northwest_gateway_held_writes{app="shop"} 1')), {
        timeoutMs: 2_000,
        message: 'the write is held',
      });
      client.destroy();
      await new Promise((r) => setTimeout(r, 50)); // let the gateway see the close while the write is still held
      await gw.applyState('shop', { epoch: 2, mode: 'proxy' });
      // Serve forbids writes to N2: its drain must find none in flight (the aborted write was never sent).
      const back = await gw.applyState('shop', { epoch: 3, mode: 'serve' });
      assert.equal(back.apps[0]?.epoch, 3);
      assert.equal(n2.commits.length, 0, 'nothing was sent to N2 for a client that had left');
    },
  );

  it('a client that leaves mid-write does not end the write: the fence waits until N1 has committed and answered', async () => {
    const { gw, url, n1 } = await scenario([600, 650], { drainMs: 5_000 });
    await gw.applyState('shop', { epoch: 1, mode: 'serve' });
    const ac = new AbortController();
    const pending = request(`${url}/kv/a`, { method: 'PUT', headers: { host: 'shop.test' }, body: 'v1', signal: ac.signal }).catch(
      (err: unknown) => err,
    );
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await pending;
    await gw.applyState('shop', { epoch: 2, mode: 'fence' });
    const fencedAt = performance.now();
    assert.equal(n1.commits.length, 1, 'N1 committed the write before the fence was applied');
    assert.ok(n1.commits[0]! <= fencedAt);
  });

  it('a write whose outcome is unknown (headers timeout) holds the fence for the grace, then the fence passes', async () => {
    // N1 commits after 500 ms but never answers in time: the gateway gives up after 200 ms.
    const { gw, url, n1 } = await scenario([500, 5_000], { drainMs: 5_000, upstreamHeadersMs: 200, unknownWriteOutcomeMs: 1_000 });
    await gw.applyState('shop', { epoch: 1, mode: 'serve' });
    const res = await request(`${url}/kv/a`, { method: 'PUT', headers: { host: 'shop.test' }, body: 'v1' });
    await res.body.dump();
    assert.equal(res.statusCode, 504);
    await gw.applyState('shop', { epoch: 2, mode: 'fence' });
    const fencedAt = performance.now();
    assert.equal(n1.commits.length, 1, 'the fence waited out the commit of the timed-out write');
    assert.ok(n1.commits[0]! <= fencedAt);
  });

  it('an unknown outcome longer than the drain deadline fails the fence instead of passing it', async () => {
    const { gw, url } = await scenario([100, 5_000], { drainMs: 300, upstreamHeadersMs: 200, unknownWriteOutcomeMs: 2_000 });
    await gw.applyState('shop', { epoch: 1, mode: 'serve' });
    const res = await request(`${url}/kv/a`, { method: 'PUT', headers: { host: 'shop.test' }, body: 'v1' });
    await res.body.dump();
    assert.equal(res.statusCode, 504);
    await assert.rejects(gw.applyState('shop', { epoch: 2, mode: 'fence' }), { code: 'NW_GW_DRAIN_TIMEOUT' });
  });

  // The lease as a write guard of one process (a worker's guard is the primary's lease: workers-fleet.test.ts).
  for (const connection of ['close', 'keep-alive'] as const) {
    if (workers === 1)
      it(`the lease is checked when a write is dispatched: a body after the lease lapsed never reaches N1 (${connection})`, async () => {
        let leaseValid = true;
        const guard = (): GatewayError | undefined => (leaseValid ? undefined : new GatewayError('NW_GW_LEASE_EXPIRED', 'test lease'));
        const { gw, port, n1 } = await scenario([0], {}, guard);
        await gw.applyState('shop', { epoch: 1, mode: 'serve' });
        const client = await openRaw(port);
        const reply = new Promise<string>((resolve) => {
          let text = '';
          client.on('data', (c: Buffer) => {
            text += c.toString('latin1');
          });
          client.on('close', () => resolve(text));
        });
        client.write(`${postHead(10, '/kv/a', connection)}hello`);
        await new Promise((r) => setTimeout(r, 100));
        leaseValid = false;
        client.write('world');
        const text = await reply;
        assert.match(text, /^HTTP\/1\.1 503/);
        assert.match(text, /NW_GW_LEASE_EXPIRED/);
        assert.equal(n1.commits.length, 0);
      });

    if (workers === 1)
      it(`the lease is checked as a large streamed body ends: N1 never gets the whole request (${connection})`, async () => {
        let leaseValid = true;
        const guard = (): GatewayError | undefined => (leaseValid ? undefined : new GatewayError('NW_GW_LEASE_EXPIRED', 'test lease'));
        const { gw, port, n1 } = await scenario([0], {}, guard);
        await gw.applyState('shop', { epoch: 1, mode: 'serve' });
        const client = await openRaw(port);
        client.on('error', () => undefined);
        const size = 256 * 1024;
        client.write(postHead(size, '/kv/a', connection));
        client.write(Buffer.alloc(size - 10, 'a'));
        await eventually(() => assert.ok(n1.incomplete === 0), { timeoutMs: 1_000, message: 'request started upstream' });
        await new Promise((r) => setTimeout(r, 100));
        leaseValid = false;
        client.write(Buffer.alloc(10, 'b'));
        await eventually(() => assert.equal(n1.incomplete, 1, 'N1 saw the request cut before its end'), {
          timeoutMs: 3_000,
          message: 'upstream request aborted',
        });
        assert.equal(n1.commits.length, 0);
        client.destroy();
      });
  }
}
