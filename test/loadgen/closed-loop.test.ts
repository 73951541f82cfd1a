import assert from 'node:assert/strict';
import type autocannon from 'autocannon';
import type { Sample } from '../../loadgen/load-model.js';
import { runClosedLoop, Workload } from '../../loadgen/load/index.js';
import { MemoryStore, startReferenceApp, type ReferenceApp } from '../../loadgen/reference-app/index.js';
import { startGatewayHarness } from '../support/gateway-harness.js';

function answeredByAutocannon(summary: autocannon.Result): number {
  return Object.values(summary.statusCodeStats ?? {}).reduce((n, s) => n + (s.count ?? 0), 0);
}

function assertWellFormed(samples: Sample[]): void {
  for (const s of samples) {
    assert.ok(s.start >= 0 && s.end >= s.start, `times ${s.start}..${s.end}`);
    assert.equal(s.latencyMs, s.end - s.start);
    assert.ok(s.latencyMs >= 0);
    assert.equal(s.value !== undefined, s.op === 'write', `${s.op} value ${s.value}`);
  }
}

describe('closed-loop load', () => {
  let app: ReferenceApp;
  let store: MemoryStore;
  beforeEach(async () => {
    store = new MemoryStore();
    app = await startReferenceApp({ deployment: 'n1', store });
  });
  afterEach(async () => {
    await app.close();
  });

  it('sends a fixed amount of mixed operations; samples match autocannon and the store', async () => {
    const workload = new Workload({ readRatio: 0.5, deleteRatio: 0.1, keys: 20, seed: 9, runId: 'cl1' });
    const seen: Sample[] = [];
    const r = await runClosedLoop({ target: app.url, connections: 1, amount: 300, workload, onSample: (s) => seen.push(s) });
    assert.equal(r.samples.length, 300);
    assert.equal(r.unfinished.length, 0);
    assert.equal(answeredByAutocannon(r.summary), r.samples.length);
    assert.equal(r.summary.errors, 0);
    assert.equal(seen.length, r.samples.length);
    assertWellFormed(r.samples);
    assert.ok(
      r.samples.every((s) => s.servedBy === 'unknown' && s.epoch === null),
      'no gateway headers without a gateway',
    );
    for (const op of ['read', 'write', 'delete'] as const)
      assert.ok(
        r.samples.some((s) => s.op === op),
        op,
      );
    // Statuses follow the KV semantics: writes succeed; reads and deletes succeed or miss.
    for (const s of r.samples) {
      if (s.op === 'write') assert.equal(s.status, 200);
      else assert.ok(s.status === 200 || s.status === 404, `${s.op} ${s.status}`);
    }
    // With one connection, requests are sequential: replaying the samples in order gives the store's content.
    const expected = new Map<string, string>();
    for (const s of r.samples) {
      if (s.op === 'write') expected.set(s.key, s.value!);
      if (s.op === 'delete') expected.delete(s.key);
    }
    for (const [key, value] of expected) assert.equal((await store.get(key))?.value, value, key);
    assert.equal(store.size, expected.size);
    assert.ok(r.durationMs > 0 && r.startedAt > 0);
  });

  it('runs for a duration over several connections and counts every reply', async () => {
    const workload = new Workload({ readRatio: 0.8, keys: 100, distribution: 'zipfian', seed: 1 });
    const r = await runClosedLoop({ target: app.url, connections: 4, durationS: 1, workload });
    assert.ok(r.samples.length > 0);
    assert.equal(answeredByAutocannon(r.summary), r.samples.length);
    assert.ok(r.unfinished.length <= 4);
    assertWellFormed(r.samples);
    const writes = r.samples.filter((s) => s.op === 'write');
    assert.equal(new Set(writes.map((s) => s.value)).size, writes.length, 'write values are unique');
    // Every value the store holds was written by one of the samples (or one still in flight).
    const written = new Set([...writes.map((s) => s.value), ...r.unfinished.map((u) => u.value)]);
    for (let i = 0; i < 100; i++) {
      const e = await store.get(`key-${String(i).padStart(2, '0')}`);
      if (e) assert.ok(written.has(e.value), e.value);
    }
  });

  it('attributes samples through the gateway to the deployment that served them', async () => {
    const n2 = await startReferenceApp({ deployment: 'n2' });
    const h = await startGatewayHarness({ n1Urls: [app.url], n2Urls: [n2.url] });
    try {
      const workload = new Workload({ readRatio: 0.5, keys: 10, seed: 2 });
      const r = await runClosedLoop({ target: h.url, host: 'shop.test', connections: 2, amount: 100, workload });
      assert.equal(r.samples.length, 100);
      assert.ok(
        r.samples.every((s) => s.servedBy === 'n1'),
        JSON.stringify(r.samples.find((s) => s.servedBy !== 'n1')),
      );
      assert.ok(r.samples.every((s) => s.epoch !== null));
      assert.ok(store.size > 0, 'writes reached n1');
      assert.equal(answeredByAutocannon(r.summary), r.samples.length);
    } finally {
      await h.close();
      await n2.close();
    }
  });

  it('records requests to a dead target as errors with the socket code', async () => {
    const dead = await startReferenceApp({ deployment: 'n1' });
    const url = dead.url;
    await dead.close();
    const workload = new Workload({ readRatio: 1, keys: 1 });
    const r = await runClosedLoop({ target: url, connections: 1, amount: 3, durationS: 1, workload });
    const failed = r.samples.filter((s) => s.status === 0);
    assert.ok(failed.length > 0);
    assert.ok(
      failed.every((s) => s.error === 'ECONNREFUSED'),
      JSON.stringify(failed[0]),
    );
    assert.ok(r.samples.length + r.unfinished.length >= r.summary.errors);
  });

  it('rejects invalid options naming the field', async () => {
    const workload = new Workload({ readRatio: 1, keys: 1 });
    await assert.rejects(runClosedLoop({ target: 'not a url', durationS: 1, workload }), /target/);
    await assert.rejects(runClosedLoop({ target: app.url, workload }), /durationS/);
    await assert.rejects(runClosedLoop({ target: app.url, durationS: 1, connections: 0, workload }), /connections/);
  });
});

describe('closed-loop load: autocannon header reuse', () => {
  it('sends no Content-Length on a GET that follows a PUT (autocannon kept the PUT length and the GET hung)', async () => {
    const { createServer } = await import('node:http');
    const seen: { method: string; length: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', length: req.headers['content-length'] });
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (server.address() as { port: number }).port;
      const workload = new Workload({ readRatio: 0.5, keys: 3, seed: 9, valueBytes: 16, runId: 'r' });
      const r = await runClosedLoop({ target: `http://127.0.0.1:${port}`, connections: 1, amount: 40, timeoutS: 5, workload });
      assert.equal(r.samples.length, 40);
      assert.ok(r.samples.every((s) => s.status === 200));
      assert.ok(seen.some((s) => s.method === 'PUT') && seen.some((s) => s.method === 'GET'));
      for (const s of seen) assert.equal(s.length, s.method === 'PUT' ? '16' : undefined, `${s.method} length ${s.length}`);
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });
});
