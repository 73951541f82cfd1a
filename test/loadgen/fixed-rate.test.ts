import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runFixedRate, Workload } from '../../loadgen/load/index.js';
import { MemoryStore, startReferenceApp, type ReferenceApp } from '../../loadgen/reference-app/index.js';

interface StallingServer {
  readonly url: string;
  /** performance.now() when the stall began and ended; set once it happened. */
  readonly stall: { start: number; end: number } | undefined;
  close(): Promise<void>;
}

/** A server that answers 200 at once, except request number `stallAt`, which it holds for `stallMs` first. */
async function startStallingServer(stallAt: number, stallMs: number): Promise<StallingServer> {
  let seen = 0;
  let stall: { start: number; end: number } | undefined;
  const server: Server = createServer((req, res) => {
    seen += 1;
    const reply = (): void => {
      res.setHeader('x-northwest-deployment', 'n1');
      res.end('ok');
    };
    req.resume();
    if (seen !== stallAt) return reply();
    const start = performance.now();
    setTimeout(() => {
      stall = { start, end: performance.now() };
      reply();
    }, stallMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get stall() {
      return stall;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('fixed-rate load', () => {
  let app: ReferenceApp;
  let store: MemoryStore;
  beforeEach(async () => {
    store = new MemoryStore();
    app = await startReferenceApp({ deployment: 'n1', store });
  });
  afterEach(async () => {
    await app.close();
  });

  it('sends exactly rate × duration requests, each due at i / rate, all answered and attributed', async () => {
    const workload = new Workload({ readRatio: 0.5, keys: 10, seed: 4, runId: 'fr1' });
    let onSampleCalls = 0;
    const r = await runFixedRate({
      target: app.url,
      rate: 100,
      durationS: 0.5,
      connections: 4,
      workload,
      onSample: () => (onSampleCalls += 1),
    });
    assert.equal(r.due, 50);
    assert.equal(r.samples.length, 50);
    assert.equal(r.unfinished.length, 0);
    assert.equal(onSampleCalls, 50);
    const starts = r.samples.map((s) => s.start).sort((a, b) => a - b);
    for (const [i, t] of starts.entries()) assert.ok(Math.abs(t - i * 10) < 1e-9, `due ${t} for #${i}`);
    for (const s of r.samples) {
      assert.ok(s.latencyMs >= 0 && s.end >= s.start);
      assert.equal(s.servedBy, 'unknown');
      if (s.op === 'write') {
        assert.equal(s.status, 200);
        assert.match(s.value ?? '', /^fr1-/);
      } else {
        assert.ok(s.status === 200 || s.status === 404);
        assert.equal(s.value, undefined);
      }
    }
    const values = new Set(r.samples.map((s) => s.value));
    for (let i = 0; i < 10; i++) {
      const e = await store.get(`key-${i}`);
      if (e) assert.ok(values.has(e.value));
    }
  });

  it('charges a server stall to every request due during it (coordinated omission corrected)', async () => {
    const server = await startStallingServer(20, 300);
    try {
      const workload = new Workload({ readRatio: 1, keys: 5 });
      const r = await runFixedRate({ target: server.url, rate: 200, durationS: 0.6, connections: 1, workload });
      const stall = server.stall;
      assert.ok(stall, 'the server stalled');
      assert.equal(r.samples.length, r.due);
      assert.ok(r.samples.every((s) => s.status === 200 && s.servedBy === 'n1'));
      const stallStart = stall.start - r.origin;
      const stallEnd = stall.end - r.origin;
      const dueDuringStall = r.samples.filter((s) => s.start >= stallStart && s.start < stallEnd);
      assert.ok(dueDuringStall.length > 1, `requests due during the stall: ${dueDuringStall.length}`);
      // One connection: everything due during the stall waits for it, and that wait is in its latency.
      for (const s of dueDuringStall) assert.ok(s.end >= stallEnd, `due ${s.start}, ended ${s.end}, stall ended ${stallEnd}`);
      const maxLatency = Math.max(...r.samples.map((s) => s.latencyMs));
      assert.ok(maxLatency >= stall.end - stall.start, `max latency ${maxLatency} < stall ${stall.end - stall.start}`);
    } finally {
      await server.close();
    }
  });

  it('stops issuing at the abort signal and still awaits what it sent', async () => {
    const stop = new AbortController();
    const workload = new Workload({ readRatio: 0.5, keys: 10, seed: 9, runId: 'fr-abort' });
    setTimeout(() => stop.abort(), 200);
    const r = await runFixedRate({ target: app.url, rate: 100, durationS: 60, connections: 4, workload, signal: stop.signal });
    assert.ok(r.due > 0 && r.due < 600, `due ${r.due} (the abort came after 0.2 s)`);
    assert.equal(r.samples.length, r.due);
    assert.equal(r.unfinished.length, 0);
    const lastDue = Math.max(...r.samples.map((s) => s.start));
    assert.ok(lastDue <= r.durationMs, `last due ${lastDue} after the run ended ${r.durationMs}`);
    assert.ok(r.samples.every((s) => s.status === 200 || s.status === 404));
  });

  it('records a refused connection as an error sample with the socket code', async () => {
    const dead = await startReferenceApp({ deployment: 'n1' });
    const url = dead.url;
    await dead.close();
    const r = await runFixedRate({ target: url, rate: 50, durationS: 0.1, workload: new Workload({ readRatio: 1, keys: 1 }) });
    assert.equal(r.samples.length, r.due);
    assert.ok(
      r.samples.every((s) => s.status === 0 && s.error === 'ECONNREFUSED'),
      JSON.stringify(r.samples[0]),
    );
  });

  it('rejects invalid options naming the field', async () => {
    const workload = new Workload({ readRatio: 1, keys: 1 });
    await assert.rejects(runFixedRate({ target: app.url, rate: 0, durationS: 1, workload }), /rate/);
    await assert.rejects(runFixedRate({ target: app.url, rate: 10, durationS: -1, workload }), /durationS/);
  });
});
