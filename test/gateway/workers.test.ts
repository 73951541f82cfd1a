// A gateway of several worker processes (`workers: 2`): connections go to every worker, /metrics
// on the admin port covers them all, a killed worker is restarted and takes no connection before it
// has the node's states, and a reload reaches every worker.
import assert from 'node:assert/strict';
import { connect as connectHttp2 } from 'node:http2';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { eventually } from '../support/eventually.js';
import { sampleValue, scrapeMetrics } from '../support/metrics-scrape.js';
import { certDir, createTestCa } from '../support/test-certificates.js';
import { ADMIN_TOKEN } from '../support/gateway-harness.js';
import { startWorkersHarness, type WorkersHarness } from '../support/workers-harness.js';

describe('gateway with 2 workers', function () {
  this.timeout(30_000);
  let n1: EchoUpstream;
  let n2: EchoUpstream;
  let h: WorkersHarness | undefined;

  beforeEach(async () => {
    n1 = await startEchoUpstream('n1');
    n2 = await startEchoUpstream('n2');
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await n1.close();
    await n2.close();
  });

  const shop = () => ({
    hosts: ['shop.test'],
    n1: { servers: [{ url: n1.url }] },
    n2: { servers: [{ url: n2.url }], publicOrigin: 'https://shop-n2.example.com' },
  });

  /** `count` requests, each on a connection of its own (so they spread over the workers). */
  async function onNewConnections(count: number, path: (i: number) => string, method: 'GET' | 'PUT' = 'GET'): Promise<number[]> {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const dispatcher = new Agent({ pipelining: 0 });
        try {
          const res = await request(`${h!.url}${path(i)}`, {
            method,
            headers: { host: 'shop.test' },
            body: method === 'PUT' ? 'v' : null,
            dispatcher,
          });
          await res.body.dump();
          return res.statusCode;
        } finally {
          await dispatcher.close();
        }
      }),
    );
  }

  it('serves connections from both workers, and /metrics on the admin port sums them', async () => {
    h = await startWorkersHarness({ listeners: [{ host: '127.0.0.1', port: 0 }], apps: { shop: shop() } });
    const statuses = await onNewConnections(20, (i) => `/kv/k${i}`, 'PUT');
    assert.deepEqual(new Set(statuses), new Set([200]));
    await eventually(() => h!.accessLines().length === 20, { timeoutMs: 5_000, message: '20 access lines' });
    const byWorker = new Map<number, number>();
    for (const l of h.accessLines()) byWorker.set(l.pid, (byWorker.get(l.pid) ?? 0) + 1);
    const pids = h.node.gateway.workers().map((w) => w.pid);
    assert.equal(byWorker.size, 2, `both workers served: ${JSON.stringify([...byWorker])}`);
    for (const pid of byWorker.keys()) assert.ok(pids.includes(pid) && pid !== process.pid);
    assert.equal(n1.store.size, 20, 'N1 committed every write');
    const text = await scrapeMetrics(h.adminUrl);
    const labels = { app: 'shop', mode: 'serve', deployment: 'n1', status: '200' };
    assert.equal(sampleValue(text, 'northwest_gateway_requests_total', labels), 20, text);
    assert.equal(sampleValue(text, 'northwest_gateway_workers', { status: 'serving' }), 2);
    assert.equal(sampleValue(text, 'northwest_gateway_upstream_healthy', { app: 'shop', deployment: 'n1', server: n1.url }), 1);
  });

  /** The PUT of the admin API (the primary hands the state to every worker). */
  async function putState(app: string, state: unknown): Promise<number> {
    const res = await request(`${h!.adminUrl}/state/${app}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify(state),
    });
    const text = await res.body.text();
    assert.equal(res.statusCode, 200, text);
    return res.statusCode;
  }

  it('a worker killed (kill -9) under a fence is restarted and holds writes like its sibling: none reaches N1', async () => {
    h = await startWorkersHarness({
      listeners: [{ host: '127.0.0.1', port: 0 }],
      timeouts: { unknownWriteOutcomeMs: 500 },
      apps: { shop: shop() },
    });
    // Reads served by both workers, and counted in a scrape: a dead worker's counts stay in the sums.
    await onNewConnections(6, (i) => `/kv/before-${i}`);
    const requestsTotal = async (): Promise<number> =>
      sampleValue(await scrapeMetrics(h!.adminUrl), 'northwest_gateway_requests_total', {
        app: 'shop',
        mode: 'serve',
        deployment: 'n1',
        status: '404',
      }) ?? 0;
    assert.equal(await requestsTotal(), 6);
    await putState('shop', { epoch: 1, mode: 'fence' });
    const victim = h.node.gateway.workers()[0]!;
    process.kill(victim.pid!, 'SIGKILL');
    await eventually(
      () => {
        const ws = h!.node.gateway.workers();
        return ws.length === 2 && ws.every((w) => w.status === 'serving') && !ws.some((w) => w.pid === victim.pid);
      },
      { timeoutMs: 15_000, message: 'the killed worker is replaced and serving' },
    );
    const restarted = h.node.gateway.workers().find((w) => w.worker === victim.worker)!;
    assert.equal(await requestsTotal(), 6, 'the counters did not go down with the killed worker');
    // Writes on connections of their own: round robin gives the restarted worker its share.
    const writes = onNewConnections(8, (i) => `/kv/held-${i}`, 'PUT');
    await eventually(async () => sampleValue(await scrapeMetrics(h!.adminUrl), 'northwest_gateway_held_writes', { app: 'shop' }) === 8, {
      timeoutMs: 5_000,
      message: 'all 8 writes are held, in both workers',
    });
    assert.equal(n1.seen.filter((r) => r.method === 'PUT').length, 0, 'no write reached N1');
    await putState('shop', { epoch: 2, mode: 'proxy' });
    assert.deepEqual(new Set(await writes), new Set([200]));
    assert.equal(n2.store.size, 8, 'N2 committed every held write');
    assert.equal(n1.store.size, 0);
    const servedBy = new Set(
      h
        .accessLines()
        .filter((l) => l.path.startsWith('/kv/held-'))
        .map((l) => l.pid),
    );
    assert.ok(servedBy.has(restarted.pid!), `the restarted worker (pid ${restarted.pid}) held and released some: ${[...servedBy]}`);
  });

  it('TLS: a session one worker started resumes on the other (the node shares its ticket keys); h2 is served too', async () => {
    const ca = await createTestCa();
    const certs = certDir();
    try {
      const files = certs.write('default', await ca.issue(['shop.test', '127.0.0.1']));
      h = await startWorkersHarness({ listeners: [{ host: '127.0.0.1', port: 0, tls: files }], apps: { shop: shop() } });
      const port = h.node.gateway.listeners[0]!.port;
      const handshake = (session?: Buffer): Promise<{ socket: TLSSocket; session: Promise<Buffer> }> =>
        new Promise((resolve, reject) => {
          const socket = connectTls({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'shop.test', ...(session ? { session } : {}) });
          const ticket = new Promise<Buffer>((r) => socket.once('session', r));
          socket.once('error', reject);
          socket.once('secureConnect', () => resolve({ socket, session: ticket }));
        });
      /** One request on the socket (connection: close); resolves with the reply once the server closed it. */
      const get = (socket: TLSSocket, path: string): Promise<string> =>
        new Promise((resolve) => {
          let text = '';
          socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
          socket.once('close', () => resolve(text));
          socket.write(`GET ${path} HTTP/1.1\r\nhost: shop.test\r\nconnection: close\r\n\r\n`);
        });
      const first = await handshake();
      assert.match(await get(first.socket, '/kv/first'), /^HTTP\/1\.1 404/);
      const session = await first.session;
      for (let i = 0; i < 4; i++) {
        const again = await handshake(session);
        assert.equal(again.socket.isSessionReused(), true, `resumption ${i} (a full handshake without shared keys)`);
        assert.match(await get(again.socket, `/kv/resumed-${i}`), /^HTTP\/1\.1 404/);
      }
      await eventually(() => h!.accessLines().filter((l) => l.path.startsWith('/kv/resumed-')).length === 4, {
        timeoutMs: 5_000,
        message: '4 access lines',
      });
      const resumedBy = new Set(
        h
          .accessLines()
          .filter((l) => l.path.startsWith('/kv/resumed-'))
          .map((l) => l.pid),
      );
      assert.equal(resumedBy.size, 2, 'sessions resumed in both workers');

      const session2 = connectHttp2(h.url, { ca: ca.certPem, servername: 'shop.test' });
      try {
        const status = await new Promise<number>((resolve, reject) => {
          const stream = session2.request({ ':path': '/kv/h2', ':method': 'GET', host: 'shop.test' });
          stream.once('response', (headers) => resolve(Number(headers[':status'])));
          stream.once('error', reject);
          stream.resume();
          stream.end();
        });
        assert.equal(status, 404);
      } finally {
        session2.destroy();
      }
    } finally {
      certs.remove();
    }
  });
});
