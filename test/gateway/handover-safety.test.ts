import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { eventually } from '../support/eventually.js';
import { startGatewayHarness } from '../support/gateway-harness.js';

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

async function startRecordingServer(serviceMs: number): Promise<RecordingServer> {
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
        write ? serviceMs : 0,
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

describe('handover safety under concurrent load', () => {
  it('serve → fence → proxy: no write reaches N1 after the first write reached N2, and none fails', async function () {
    this.timeout(30_000);
    const n1 = await startRecordingServer(20); // slow old deployment: writes are in flight at the flip
    const n2 = await startRecordingServer(2);
    const h = await startGatewayHarness({ n1Urls: [n1.url], n2Urls: [n2.url] });
    const statuses = new Map<number, number>();
    const servedBy: string[] = [];
    let stop = false;
    const worker = async (id: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const res = await request(`${h.url}/kv/${id}-${i}`, {
          method: i % 3 === 0 ? 'GET' : 'PUT',
          headers: { host: 'shop.test' },
          body: i % 3 === 0 ? null : 'v',
        });
        await res.body.dump();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        servedBy.push(String(res.headers['x-northwest-deployment']));
      }
    };
    try {
      const workers = Array.from({ length: 16 }, (_, i) => worker(i));
      await eventually(() => n1.writes.length >= 30, { timeoutMs: 15_000, intervalMs: 10, message: '30 writes reach N1' });
      await h.gw.applyState('shop', { epoch: 1, mode: 'fence' });
      // Kept as a sleep: let the fence stand for 50 ms under load, so writes pile up and are held.
      await new Promise((r) => setTimeout(r, 50));
      await h.gw.applyState('shop', { epoch: 2, mode: 'proxy' });
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
});
