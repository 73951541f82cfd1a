import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { eventually } from '../support/eventually.js';
import { WORKER_COUNTS } from '../support/fleet-node.js';
import { startGatewayHarness } from '../support/gateway-harness.js';
import { startWorkersHarness } from '../support/workers-harness.js';

/** One global order for every write any upstream handles (same process, so a counter is a clock). */
let sequence = 0;

interface RecordingServer {
  url: string;
  /** Sequence numbers at which writes arrived. */
  writes: number[];
  /** Sequence numbers at which writes were answered. */
  completed: number[];
  close(): Promise<void>;
}

/** `serviceMs`: how long a write to this path takes. */
async function startRecordingServer(serviceMs: (path: string) => number): Promise<RecordingServer> {
  const writes: number[] = [];
  const completed: number[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const write = req.method !== 'GET';
      if (write) writes.push(++sequence);
      // writes take a while, so some are in flight at the flip while reads keep clients busy
      setTimeout(
        () => {
          if (write) completed.push(++sequence);
          res.end('ok');
        },
        write ? serviceMs(req.url ?? '/') : 0,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    writes,
    completed,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A gateway in front of N1 and N2: one process, or (workers > 1) a primary whose workers are child processes. */
async function startGateway(
  n1: string,
  n2: string,
  workers: number,
): Promise<{ url: string; applyState(app: string, state: unknown): Promise<unknown>; close(): Promise<void> }> {
  if (workers === 1) {
    const h = await startGatewayHarness({ n1Urls: [n1], n2Urls: [n2] });
    return { url: h.url, applyState: (app, state) => h.gw.applyState(app, state), close: () => h.close() };
  }
  const h = await startWorkersHarness(
    {
      listeners: [{ host: '127.0.0.1', port: 0 }],
      log: { level: 'silent', access: false },
      apps: { shop: { hosts: ['shop.test'], n1: { servers: [{ url: n1 }] }, n2: { servers: [{ url: n2 }] } } },
    },
    { workers },
  );
  return { url: h.url, applyState: (app, state) => h.node.gateway.applyStates({ [app]: state }), close: () => h.close() };
}

// Once as one process, once as 2 worker processes: every write of every worker is on the one sequence.
for (const workers of WORKER_COUNTS)
  describe(`handover safety under concurrent load (${workers} worker${workers > 1 ? 's' : ''})`, function () {
    handoverSafetySuite.call(this, workers);
  });

function handoverSafetySuite(this: Mocha.Suite, workers: number): void {
  it('serve → fence → proxy: no write reaches N1 after the first write reached N2, and none fails', async function () {
    this.timeout(30_000);
    // A slow old deployment, so writes are in flight at the flip; the writes of client 0 are much
    // slower, so with workers the one serving its connection drains long after the other.
    const n1 = await startRecordingServer((path) => (path.startsWith('/kv/0-') ? 400 : 20));
    const n2 = await startRecordingServer(() => 2);
    const h = await startGateway(n1.url, n2.url, workers);
    const statuses = new Map<number, number>();
    const servedBy: string[] = [];
    let stop = false;
    // Each client on a connection of its own (one worker serves it all along).
    const worker = async (id: number): Promise<void> => {
      const dispatcher = new Agent({ connections: 1 });
      for (let i = 0; !stop; i++) {
        const res = await request(`${h.url}/kv/${id}-${i}`, {
          method: i % 3 === 0 ? 'GET' : 'PUT',
          headers: { host: 'shop.test' },
          body: i % 3 === 0 ? null : 'v',
          dispatcher,
        });
        await res.body.dump();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        servedBy.push(String(res.headers['x-northwest-deployment']));
      }
      await dispatcher.close();
    };
    try {
      const workers = Array.from({ length: 16 }, (_, i) => worker(i));
      await eventually(() => n1.writes.length >= 30, { timeoutMs: 15_000, intervalMs: 10, message: '30 writes reach N1' });
      await h.applyState('shop', { epoch: 1, mode: 'fence' });
      // Kept as a sleep: let the fence stand for 50 ms under load, so writes pile up and are held.
      await new Promise((r) => setTimeout(r, 50));
      await h.applyState('shop', { epoch: 2, mode: 'proxy' });
      await eventually(() => n2.writes.length >= 30, { timeoutMs: 15_000, intervalMs: 10, message: '30 writes reach N2' });
      stop = true;
      await Promise.all(workers);
    } finally {
      stop = true; // the workers' own loop condition, should a wait above have failed
      await h.close();
      await n1.close();
      await n2.close();
    }
    assert.ok(n1.writes.length > 10 && n2.writes.length > 10, `both sides served writes (n1=${n1.writes.length}, n2=${n2.writes.length})`);
    const lastN1 = Math.max(...n1.completed);
    const firstN2 = Math.min(...n2.writes);
    assert.ok(lastN1 < firstN2, `last N1 write (answered at #${lastN1}) must finish before the first N2 write arrives (#${firstN2})`);
    assert.deepEqual([...statuses.keys()], [200], `all requests succeeded: ${JSON.stringify([...statuses])}`);
    assert.ok(servedBy.includes('n1') && servedBy.includes('n2'));
  });
}
