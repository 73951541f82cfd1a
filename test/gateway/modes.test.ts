import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually } from '../support/eventually.js';
import { call, startGatewayHarness, type Harness } from '../support/gateway-harness.js';

/** An app server that answers after `delayMs`, recording when each request finished (and, in `arrived`, when each came in). */
async function startDelayedServer(
  name: string,
  delayMs: number,
  log: string[],
): Promise<{ server: Server; url: string; arrived: string[]; close(): Promise<void> }> {
  const arrived: string[] = [];
  const server = createServer((req, res) => {
    arrived.push(`${req.method}:${req.url}`);
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        log.push(`${name}:${req.method}:${req.url}`);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(name);
      }, delayMs),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url,
    arrived,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** An app server that always answers with `status`. */
async function startStatusServer(status: number, body = 'x'): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('gateway modes', () => {
  describe('serve', () => {
    let h: Harness;
    before(async () => {
      h = await startGatewayHarness({ n1Servers: 2 });
    });
    after(() => h.close());

    it('sends reads and writes to N1 and names it in the reply', async () => {
      const w = await call(h.url, '/kv/a', { method: 'PUT', body: 'one' });
      assert.equal(w.status, 200);
      assert.equal(w.headers['x-northwest-deployment'], 'n1');
      assert.equal(w.headers['x-northwest-epoch'], '0');
      assert.equal(w.headers['x-northwest-mode'], 'serve');
      const r = await call(h.url, '/kv/a');
      assert.equal(JSON.parse(r.text).value, 'one');
      assert.equal(h.n2[0]!.seen.length, 0);
    });

    it('spreads requests over N1 servers round robin', async () => {
      const before = h.n1.map((u) => u.seen.length);
      for (let i = 0; i < 10; i++) await call(h.url, '/echo');
      const added = h.n1.map((u, i) => u.seen.length - before[i]!);
      assert.deepEqual(added, [5, 5]);
    });
  });

  describe('mirror', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await startGatewayHarness();
    });
    afterEach(() => h.close());

    it('writes to both deployments and returns the primary reply', async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
      const w = await call(h.url, '/kv/k', { method: 'PUT', body: 'v1' });
      assert.equal(w.status, 200);
      assert.equal(w.headers['x-northwest-deployment'], 'n1');
      assert.equal(w.headers['x-northwest-mirrored-to'], 'n2');
      assert.equal(h.n1[0]!.store.get('k'), 'v1');
      assert.equal(h.n2[0]!.store.get('k'), 'v1');
    });

    it('with primary n2 returns N2 reply and still writes N1', async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'mirror', primary: 'n2', readFrom: 'n2' });
      const w = await call(h.url, '/kv/k', { method: 'PUT', body: 'v2' });
      assert.equal(w.headers['x-northwest-deployment'], 'n2');
      assert.equal(h.n1[0]!.store.get('k'), 'v2');
      const r = await call(h.url, '/kv/k');
      assert.equal(r.headers['x-northwest-deployment'], 'n2');
    });

    it('answers with the primary reply when the secondary fails, and counts the divergence (see mirror-divergence.test.ts)', async () => {
      const bad = await startStatusServer(500);
      const h2 = await startGatewayHarness({ n2Urls: [bad.url] });
      try {
        await h2.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
        const w = await call(h2.url, '/kv/k', { method: 'PUT', body: 'v' });
        assert.equal(w.status, 200);
        assert.equal(w.headers['x-northwest-deployment'], 'n1');
        assert.equal(w.headers['x-northwest-mirror-diverged'], 'n2');
        assert.equal(w.headers['x-northwest-mirrored-to'], undefined);
        assert.equal(h2.gw.metrics.mirrorDivergences.get(['shop', 'n2']), 1);
      } finally {
        await h2.close();
        await bad.close();
      }
    });

    it('refuses a mirrored write over mirrorBodyBytes with 413', async () => {
      const h2 = await startGatewayHarness({ app: { mirrorBodyBytes: 1024 } });
      try {
        await h2.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
        const w = await call(h2.url, '/kv/big', { method: 'PUT', body: Buffer.alloc(4096, 1) });
        assert.equal(w.status, 413);
        assert.equal(h2.n1[0]!.store.has('big'), false);
        assert.equal(h2.n2[0]!.store.has('big'), false);
      } finally {
        await h2.close();
      }
    });

    it('falls back to the other side when the read side answers 5xx', async () => {
      const bad = await startStatusServer(503);
      const h2 = await startGatewayHarness({ n1Urls: [bad.url] });
      try {
        await h2.gw.applyState('shop', { epoch: 1, mode: 'mirror', readFrom: 'n1' });
        const r = await call(h2.url, '/echo');
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-northwest-deployment'], 'n2');
        assert.equal(h2.gw.metrics.readFallbacks.get(['shop']), 1);
      } finally {
        await h2.close();
        await bad.close();
      }
    });

    it('falls back when the read side refuses connections', async () => {
      const gone = await startStatusServer(200);
      await gone.close();
      const h2 = await startGatewayHarness({ n1Urls: [gone.url] });
      try {
        await h2.gw.applyState('shop', { epoch: 1, mode: 'mirror' });
        const r = await call(h2.url, '/echo');
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-northwest-deployment'], 'n2');
      } finally {
        await h2.close();
      }
    });

    it('shadow-compares reads and counts mismatches', async () => {
      await h.gw.applyState('shop', { epoch: 1, mode: 'mirror', shadowCompare: true });
      h.n1[0]!.store.set('same', 'x');
      h.n2[0]!.store.set('same', 'x');
      h.n1[0]!.store.set('diff', 'old');
      // /kv replies include the deployment name, so use the echo path for an equal reply.
      const same = await startStatusServer(200, 'identical');
      const same2 = await startStatusServer(200, 'identical');
      const h2 = await startGatewayHarness({ n1Urls: [same.url], n2Urls: [same2.url] });
      try {
        await h2.gw.applyState('shop', { epoch: 1, mode: 'mirror', shadowCompare: true });
        for (let i = 0; i < 3; i++) assert.equal((await call(h2.url, '/x')).status, 200);
        // Kept as a sleep: the compare ends after the reply, and nothing marks that it found no
        // mismatch; give the three compares 50 ms to count one.
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(h2.gw.metrics.mirrorMismatch.get(['shop']), 0);
      } finally {
        await h2.close();
        await same.close();
        await same2.close();
      }
      const r = await call(h.url, '/kv/diff');
      assert.equal(r.headers['x-northwest-deployment'], 'n1');
      await eventually(() => assert.equal(h.gw.metrics.mirrorMismatch.get(['shop']), 1), {
        timeoutMs: 5000,
        message: 'the mismatch is counted once the shadow read is compared',
      });
    });
  });

  describe('fence', () => {
    it('holds writes, keeps reads going, and releases held writes to N2 on proxy', async () => {
      const h = await startGatewayHarness();
      try {
        await h.gw.applyState('shop', { epoch: 1, mode: 'fence' });
        let settled = false;
        const held = call(h.url, '/kv/h', { method: 'PUT', body: 'held' }).then((r) => {
          settled = true;
          return r;
        });
        const read = await call(h.url, '/echo');
        assert.equal(read.status, 200);
        assert.equal(read.headers['x-northwest-deployment'], 'n1');
        await eventually(() => h.gw.metrics.heldWrites.get(['shop']) === 1, { timeoutMs: 5000, message: 'the write reaches the fence' });
        // Kept as a sleep: a held write must stay held; give it 100 ms to (wrongly) get through.
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(settled, false, 'write must be held');
        assert.equal(h.gw.metrics.heldWrites.get(['shop']), 1);
        const applied = await h.gw.applyState('shop', { epoch: 2, mode: 'proxy' });
        assert.equal(applied.apps[0]!.releasedWrites, 1);
        const w = await held;
        assert.equal(w.status, 200);
        assert.equal(w.headers['x-northwest-deployment'], 'n2');
        assert.equal(w.headers['x-northwest-epoch'], '2');
        assert.equal(h.n2[0]!.store.get('h'), 'held');
        assert.equal(h.n1[0]!.store.has('h'), false);
        assert.equal(h.gw.metrics.holdTime.count(['shop']), 1);
      } finally {
        await h.close();
      }
    });

    it('answers 503 with Retry-After when the hold deadline passes', async () => {
      const h = await startGatewayHarness({ app: { fence: { maxHoldMs: 100, retryAfterSeconds: 2 } } });
      try {
        await h.gw.applyState('shop', { epoch: 1, mode: 'fence' });
        const w = await call(h.url, '/kv/t', { method: 'POST', body: 'x' });
        assert.equal(w.status, 503);
        assert.equal(w.headers['retry-after'], '2');
        assert.equal(JSON.parse(w.text).error.code, 'NW_GW_WRITE_HOLD_TIMEOUT');
        assert.equal(h.n1[0]!.store.has('t'), false);
      } finally {
        await h.close();
      }
    });

    it('refuses writes at once past maxHeldWrites', async () => {
      const h = await startGatewayHarness();
      try {
        await h.gw.applyState('shop', { epoch: 1, mode: 'fence', maxHeldWrites: 1, maxHoldMs: 2000 });
        const first = call(h.url, '/kv/1', { method: 'PUT', body: 'a' });
        await eventually(() => h.gw.metrics.heldWrites.get(['shop']) === 1, { timeoutMs: 5000, message: 'the first write is held' });
        const second = await call(h.url, '/kv/2', { method: 'PUT', body: 'b' });
        assert.equal(second.status, 503);
        assert.equal(JSON.parse(second.text).error.code, 'NW_GW_WRITE_HOLD_FULL');
        await h.gw.applyState('shop', { epoch: 2, mode: 'serve' });
        assert.equal((await first).status, 200);
      } finally {
        await h.close();
      }
    });

    it('resolves the fence apply only after in-flight writes to N1 finish', async () => {
      const events: string[] = [];
      const slow = await startDelayedServer('n1', 300, events);
      const h = await startGatewayHarness({ n1Urls: [slow.url] });
      try {
        const write = call(h.url, '/kv/slow', { method: 'PUT', body: 'x' });
        await eventually(() => slow.arrived.length === 1, { timeoutMs: 5000, message: 'the write is in flight at N1' });
        const result = await h.gw.applyState('shop', { epoch: 1, mode: 'fence' });
        events.push('fence-applied');
        assert.deepEqual(events, ['n1:PUT:/kv/slow', 'fence-applied']);
        assert.deepEqual(result.apps[0]!.drained, ['n1', 'n2']);
        assert.equal((await write).status, 200);
      } finally {
        await h.close();
        await slow.close();
      }
    });

    it('gives a drain timeout error when writes outlast the drain deadline', async () => {
      const slow = await startDelayedServer('n1', 800, []);
      const h = await startGatewayHarness({ n1Urls: [slow.url], config: { timeouts: { drainMs: 100 } } });
      try {
        const write = call(h.url, '/kv/slow', { method: 'PUT', body: 'x' });
        await eventually(() => slow.arrived.length === 1, { timeoutMs: 5000, message: 'the write is in flight at N1' });
        await assert.rejects(h.gw.applyState('shop', { epoch: 1, mode: 'fence' }), { code: 'NW_GW_DRAIN_TIMEOUT' });
        assert.equal(h.gw.getState().shop!.mode, 'fence', 'the state stays applied; only the ack is withheld');
        await write;
      } finally {
        await h.close();
        await slow.close();
      }
    });
  });

  describe('proxy', () => {
    it('sends everything to N2', async () => {
      const h = await startGatewayHarness();
      try {
        await h.gw.applyState('shop', { epoch: 3, mode: 'proxy' });
        const w = await call(h.url, '/kv/p', { method: 'PUT', body: 'n2only' });
        assert.equal(w.headers['x-northwest-deployment'], 'n2');
        assert.equal(h.n2[0]!.store.get('p'), 'n2only');
        assert.equal(h.n1[0]!.store.has('p'), false);
        assert.equal((await call(h.url, '/kv/p')).headers['x-northwest-deployment'], 'n2');
        assert.equal(h.n1[0]!.seen.length, 0);
      } finally {
        await h.close();
      }
    });

    it('mirrors writes back to N1 when asked, so a rollback loses nothing', async () => {
      const h = await startGatewayHarness();
      try {
        await h.gw.applyState('shop', { epoch: 3, mode: 'proxy', mirrorWritesToN1: true });
        const w = await call(h.url, '/kv/p', { method: 'PUT', body: 'both' });
        assert.equal(w.headers['x-northwest-deployment'], 'n2');
        assert.equal(h.n1[0]!.store.get('p'), 'both');
        await h.gw.applyState('shop', { epoch: 4, mode: 'serve' });
        const r = await call(h.url, '/kv/p');
        assert.equal(r.headers['x-northwest-deployment'], 'n1');
        assert.equal(JSON.parse(r.text).value, 'both');
      } finally {
        await h.close();
      }
    });
  });

  describe('redirect', () => {
    let h: Harness;
    before(async () => {
      h = await startGatewayHarness();
    });
    after(() => h.close());

    for (const status of [301, 307, 308] as const) {
      it(`answers ${status} to N2's configured origin with path and query`, async () => {
        await h.gw.applyState('shop', { epoch: 10 + status, mode: 'redirect', status });
        const r = await call(h.url, '/a/b?c=d&e=%20f');
        assert.equal(r.status, status);
        assert.equal(r.headers.location, 'https://shop-n2.example.com/a/b?c=d&e=%20f');
      });
    }

    it('never takes the target from the request', async () => {
      await h.gw.applyState('shop', { epoch: 400, mode: 'redirect', status: 307 });
      const abs = await call(h.url, '//evil.example/x', { headers: { 'x-forwarded-host': 'evil.example' } });
      assert.ok(String(abs.headers.location).startsWith('https://shop-n2.example.com/'));
      assert.equal(new URL(String(abs.headers.location)).host, 'shop-n2.example.com');
    });

    it("with methods 'safe' redirects GET but proxies writes to N2", async () => {
      await h.gw.applyState('shop', { epoch: 500, mode: 'redirect', status: 308, methods: 'safe' });
      assert.equal((await call(h.url, '/kv/r')).status, 308);
      const w = await call(h.url, '/kv/r', { method: 'PUT', body: 'w' });
      assert.equal(w.status, 200);
      assert.equal(w.headers['x-northwest-deployment'], 'n2');
      assert.equal(h.n2[0]!.store.get('r'), 'w');
    });
  });

  describe('redirect with writes mirrored back', () => {
    it("with methods 'safe' and mirrorWritesToN1, proxied writes land on both sides", async () => {
      const h = await startGatewayHarness();
      try {
        await h.gw.applyState('shop', { epoch: 1, mode: 'redirect', status: 307, methods: 'safe', mirrorWritesToN1: true });
        const w = await call(h.url, '/kv/rb', { method: 'PUT', body: 'both' });
        assert.equal(w.status, 200);
        assert.equal(w.headers['x-northwest-deployment'], 'n2');
        assert.equal(h.n1[0]!.store.get('rb'), 'both');
        assert.equal(h.n2[0]!.store.get('rb'), 'both');
        assert.equal((await call(h.url, '/kv/rb')).status, 307);
      } finally {
        await h.close();
      }
    });
  });

  describe('state application', () => {
    let h: Harness;
    before(async () => {
      h = await startGatewayHarness();
    });
    after(() => h.close());

    it('rejects an older epoch and leaves the state as it was', async () => {
      await h.gw.applyState('shop', { epoch: 5, mode: 'mirror' });
      await assert.rejects(h.gw.applyState('shop', { epoch: 4, mode: 'proxy' }), { code: 'NW_GW_STATE_STALE_EPOCH' });
      assert.equal(h.gw.getState().shop!.mode, 'mirror');
    });

    it('re-applying the same epoch and state is a no-op success', async () => {
      await h.gw.applyState('shop', { epoch: 5, mode: 'mirror' });
      assert.equal(h.gw.getState().shop!.epoch, 5);
    });

    it('rejects invalid states naming the field', async () => {
      await assert.rejects(h.gw.applyState('shop', { epoch: 6, mode: 'teleport' }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'NW_GW_STATE_INVALID');
        assert.match(err.message, /mode/);
        return true;
      });
      await assert.rejects(h.gw.applyState('shop', { epoch: -1, mode: 'serve' }), /epoch/);
      await assert.rejects(h.gw.applyState('shop', { epoch: 6, mode: 'redirect', status: 302 }), /status/);
      await assert.rejects(h.gw.applyState('shop', { epoch: 6, mode: 'serve', extra: true }), { code: 'NW_GW_STATE_INVALID' });
      await assert.rejects(h.gw.applyState('nope', { epoch: 6, mode: 'serve' }), { code: 'NW_GW_STATE_UNKNOWN_APP' });
      assert.equal(h.gw.getState().shop!.epoch, 5);
    });

    it('applies nothing when one of several states is invalid', async () => {
      await assert.rejects(h.gw.applyStates({ shop: { epoch: 7, mode: 'proxy' }, ghost: { epoch: 1, mode: 'serve' } }), {
        code: 'NW_GW_STATE_UNKNOWN_APP',
      });
      assert.equal(h.gw.getState().shop!.mode, 'mirror');
    });
  });
});
