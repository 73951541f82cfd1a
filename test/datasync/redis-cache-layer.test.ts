import { strict as assert } from 'node:assert';
import type { Redis } from 'ioredis';
import { createCacheClient, parseCacheConfig } from '../../datasync/cache/cache-config.js';
import { RedisCacheLayer } from '../../datasync/layer/redis-cache-layer.js';
import { isSyncError, type SyncError } from '../../datasync/errors.js';
import type { DataMode } from '../../protocol/app-state.js';
import { openTestRedis, type TestRedis } from './cache-test-redis.js';

const LOCAL: DataMode = { datastore: 'local', cache: 'local' };
const COPY: DataMode = { datastore: 'copy-on-write', cache: 'copy' };

describe('sync: RedisCacheLayer', function () {
  this.timeout(30_000);
  let r: TestRedis;
  let n1: Redis;
  let n2: Redis;
  let epoch = 0;
  const raw = (k: string): string => `${r.prefix}${k}`;

  before(async () => {
    r = await openTestRedis('layer');
    n1 = await r.client('n1');
    n2 = await r.client('n2');
  });
  after(async () => r.close());

  function layer(): RedisCacheLayer {
    return new RedisCacheLayer({ local: n1, n2 });
  }

  it('local mode touches only N1', async () => {
    const c = layer();
    await c.set('l1', 'a', { ttlMs: 60_000 });
    assert.equal(await c.get('l1'), 'a');
    assert.deepEqual(await c.mget(['l1', 'nope']), ['a', undefined]);
    assert.equal(await r.rawN1.get(raw('l1')), 'a');
    assert.equal(await r.rawN2.exists(raw('l1')), 0);
    await c.whenIdle();
    assert.equal(await r.rawN2.exists(raw('l1')), 0, 'a local-mode hit is not copied');
    assert.equal(await c.del('l1'), true);
    assert.equal(await c.get('l1'), undefined);
  });

  it('copy mode: set and del reach both caches', async () => {
    const c = layer();
    await c.apply(COPY, ++epoch);
    assert.equal(c.mode, 'copy');
    await c.set('c1', 'v1', { ttlMs: 60_000 });
    assert.equal(await r.rawN1.get(raw('c1')), 'v1');
    assert.equal(await r.rawN2.get(raw('c1')), 'v1');
    const ttl = await r.rawN2.pttl(raw('c1'));
    assert.ok(ttl > 50_000 && ttl <= 60_000, `N2 TTL ${ttl}`);
    await c.set('c2', 'forever');
    assert.equal(await r.rawN2.pttl(raw('c2')), -1);
    assert.equal(await c.del('c1'), true);
    assert.equal(await r.rawN1.exists(raw('c1')), 0);
    assert.equal(await r.rawN2.exists(raw('c1')), 0);
  });

  it('copy-on-read puts a local hit on N2 with about its remaining TTL', async () => {
    const c = layer();
    await r.rawN1.set(raw('r1'), 'hit', 'PX', 40_000);
    await r.rawN1.set(raw('r2'), 'no-expiry');
    await c.apply(COPY, ++epoch);
    assert.equal(await c.get('r1'), 'hit');
    assert.equal(await c.get('r2'), 'no-expiry');
    assert.equal(await c.get('r3'), undefined);
    await c.whenIdle();
    assert.equal(await r.rawN2.get(raw('r1')), 'hit');
    const localTtl = await r.rawN1.pttl(raw('r1'));
    const n2Ttl = await r.rawN2.pttl(raw('r1'));
    assert.ok(n2Ttl > 0 && n2Ttl <= 40_000, `N2 TTL ${n2Ttl}`);
    assert.ok(Math.abs(n2Ttl - localTtl) < 2_000, `N2 TTL ${n2Ttl} vs local ${localTtl}`);
    assert.equal(await r.rawN2.get(raw('r2')), 'no-expiry');
    assert.equal(await r.rawN2.pttl(raw('r2')), -1);
    assert.equal(await r.rawN2.exists(raw('r3')), 0);
    assert.deepEqual(c.copyOnRead, { written: 2, skipped: 0, failed: 0 });
  });

  it('copy-on-read waits for its N2 write when asked to', async () => {
    const c = new RedisCacheLayer({ local: n1, n2, awaitCopyOnRead: true });
    await r.rawN1.set(raw('w1'), 'x');
    await c.apply(COPY, ++epoch);
    assert.equal(await c.get('w1'), 'x');
    assert.equal(await r.rawN2.get(raw('w1')), 'x');
  });

  it('copy-on-read never overwrites a newer value at N2', async () => {
    const c = layer();
    await r.rawN1.set(raw('n1'), 'old');
    await r.rawN2.set(raw('n1'), 'newer');
    await c.apply(COPY, ++epoch);
    assert.equal(await c.get('n1'), 'old');
    await c.whenIdle();
    assert.equal(await r.rawN2.get(raw('n1')), 'newer');
    assert.equal(c.copyOnRead.skipped, 1);
  });

  it('copy-on-read does not revive a key deleted after the read (tombstone)', async () => {
    const c = new RedisCacheLayer({ local: n1, n2, awaitCopyOnRead: true });
    const other = layer();
    await c.apply(COPY, ++epoch);
    await other.apply(COPY, ++epoch);
    await other.set('d1', 'v');
    await other.del('d1');
    // Simulate a read that happened before the delete: the value is back at N1 only.
    await r.rawN1.set(raw('d1'), 'v');
    assert.equal(await c.get('d1'), 'v');
    assert.equal(await r.rawN2.exists(raw('d1')), 0);
  });

  it('mget in copy mode copies every hit', async () => {
    const c = layer();
    await r.rawN1.mset(raw('m1'), 'a', raw('m2'), 'b');
    await c.apply(COPY, ++epoch);
    assert.deepEqual(await c.mget(['m1', 'm2', 'm3']), ['a', 'b', undefined]);
    await c.whenIdle();
    assert.deepEqual(await r.rawN2.mget(raw('m1'), raw('m2'), raw('m3')), ['a', 'b', null]);
  });

  it('setVersioned keeps the highest version on both sides and respects tombstones', async () => {
    const c = layer();
    await c.apply(COPY, ++epoch);
    assert.equal(await c.setVersioned('v1', { value: 'a', version: 5 }), true);
    assert.equal(await c.setVersioned('v1', { value: 'older', version: 3 }), false);
    assert.deepEqual(await c.getVersioned('v1'), { value: 'a', version: 5 });
    assert.equal(await r.rawN2.get(raw('v1')), '5:a');
    assert.equal(await c.setVersioned('v1', { value: 'b:with:colons', version: 9 }), true);
    assert.deepEqual(await c.getVersioned('v1'), { value: 'b:with:colons', version: 9 });
    assert.equal(await r.rawN2.get(raw('v1')), '9:b:with:colons');
    await c.del('v1');
    assert.equal(await c.setVersioned('v1', { value: 'stale fill', version: 9 }), false);
    assert.equal(await r.rawN1.exists(raw('v1')), 0);
    assert.equal(await r.rawN2.exists(raw('v1')), 0);
  });

  it('N2 down: a copy-mode set fails with a typed error, local-mode sets still work', async () => {
    const cfg = parseCacheConfig({
      local: { host: r.n1Endpoint.host, port: r.n1Endpoint.port, keyPrefix: r.prefix },
      n2: { host: '127.0.0.1', port: 1, keyPrefix: r.prefix },
      connectTimeoutMs: 500,
    });
    const deadN2 = createCacheClient(cfg.n2!, cfg);
    await deadN2.connect().catch(() => undefined);
    try {
      const c = new RedisCacheLayer({ local: n1, n2: deadN2 });
      await c.apply(COPY, ++epoch);
      await assert.rejects(c.set('x1', 'v'), (err: unknown) => {
        assert.ok(isSyncError(err, 'NW_SYNC_CACHE_WRITE_FAILED'), String(err));
        assert.deepEqual((err as SyncError).details?.failed, ['n2']);
        assert.deepEqual((err as SyncError).details?.codes, ['NW_SYNC_CACHE_UNAVAILABLE']);
        return true;
      });
      await assert.rejects(c.del('x1'), (err: unknown) => isSyncError(err, 'NW_SYNC_CACHE_WRITE_FAILED'));
      // Nothing was acknowledged and the half-written value did not stay behind locally.
      assert.equal(await r.rawN1.exists(raw('x1')), 0);
      // A hit is still served; its copy fails in the background and is counted.
      await r.rawN1.set(raw('x2'), 'v');
      assert.equal(await c.get('x2'), 'v');
      await c.whenIdle();
      assert.equal(c.copyOnRead.failed, 1);
      await c.apply(LOCAL, ++epoch);
      await c.set('x1', 'local');
      assert.equal(await r.rawN1.get(raw('x1')), 'local');
    } finally {
      deadN2.disconnect();
    }
  });

  it('follow mode (the local Redis replicates N2): sets, versioned sets and deletes are left to replication; reads are local', async () => {
    const c = new RedisCacheLayer({ local: n1 });
    await c.set('f1', 'before');
    await c.apply({ datastore: 'local', cache: 'follow' }, ++epoch);
    assert.equal(c.mode, 'follow');
    await c.set('f1', 'mirrored');
    assert.equal(await c.setVersioned('f2', { value: 'x', version: 7 }), false);
    assert.equal(await c.del('f1'), false);
    assert.equal(await r.rawN1.get(raw('f1')), 'before', 'nothing was sent to the local Redis');
    assert.equal(await r.rawN1.exists(raw('f2')), 0);
    assert.equal(await c.get('f1'), 'before', 'reads stay local');
    await c.apply(LOCAL, ++epoch);
    await c.set('f1', 'after');
    assert.equal(await r.rawN1.get(raw('f1')), 'after');
  });

  it('copy mode without an N2 client is refused', async () => {
    const c = new RedisCacheLayer({ local: n1 });
    await assert.rejects(c.apply(COPY, ++epoch), (err: unknown) => isSyncError(err, 'NW_SYNC_CONFIG_INVALID'));
    assert.equal(c.mode, 'local');
  });

  it('apply() resolves only after operations started under the previous mode settled', async () => {
    // A blocking pop on the layer's own connection holds the set queued behind it (only this connection waits).
    const slow = await r.client('n1');
    const c = new RedisCacheLayer({ local: slow, n2 });
    const busy = slow.blpop('never-pushed', 0.3);
    let setDone = false;
    const pending = c.set('a1', 'local-only').then(() => {
      setDone = true;
    });
    await c.apply(COPY, ++epoch);
    assert.equal(setDone, true, 'apply resolved before the in-flight local set completed');
    await pending;
    await busy;
    // Started after the swap: reaches N2.
    await c.set('a2', 'copied');
    assert.equal(await r.rawN2.get(raw('a2')), 'copied');
    // Applying the same mode again is a no-op; an older epoch changes nothing.
    await c.apply(COPY, epoch);
    await c.apply(LOCAL, epoch - 1);
    assert.equal(c.mode, 'copy');
  });

  it('config errors name the field', () => {
    assert.throws(
      () => parseCacheConfig({ local: { host: 'h', port: 70000 } }, 'app.yaml'),
      (err: unknown) => isSyncError(err, 'NW_SYNC_CONFIG_INVALID') && /app\.yaml: local\.port/.test((err as Error).message),
    );
    assert.throws(
      () => parseCacheConfig({ local: { host: 'h', port: 1 }, n2: { host: 'h', port: 2, prefix: 'x' } }),
      (err: unknown) => isSyncError(err, 'NW_SYNC_CONFIG_INVALID') && /n2/.test((err as Error).message),
    );
    const cfg = parseCacheConfig({ local: { host: 'h', port: 1 } });
    assert.equal(cfg.local.db, 0);
    assert.equal(Object.isFrozen(cfg), true);
  });
});
