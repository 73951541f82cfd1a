// A gateway of several worker processes (`workers: 2`): connections go to every worker, /metrics
// on the admin port covers them all, a killed worker is restarted and takes no connection before it
// has the node's states, and a reload reaches every worker.
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { eventually } from '../support/eventually.js';
import { sampleValue, scrapeMetrics } from '../support/metrics-scrape.js';
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
});
