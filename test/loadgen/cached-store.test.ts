import { strict as assert } from 'node:assert';
import { RedisCacheLayer } from '../../datasync/layer/redis-cache-layer.js';
import { isSyncError } from '../../datasync/errors.js';
import { CachedStore } from '../../loadgen/reference-app/cached-store.js';
import { CommittedWriteError } from '../../loadgen/reference-app/kv-store.js';
import { MemoryStore } from '../../loadgen/reference-app/memory-store.js';
import { openTestRedis, type TestRedis } from '../datasync/cache-test-redis.js';

describe('reference app: CachedStore (cache-aside over a KvStore, real Redis)', function () {
  this.timeout(30_000);
  let r: TestRedis;
  let cache: RedisCacheLayer;

  before(async () => {
    r = await openTestRedis('cached-store');
    cache = new RedisCacheLayer({ local: await r.client('n1'), n2: await r.client('n2'), tombstoneTtlMs: 5_000 });
  });
  after(async () => r.close());

  it('fills the cache on a miss and serves later reads from it', async () => {
    const mem = new MemoryStore();
    const store = new CachedStore(mem, cache, { ttlMs: 30_000 });
    await mem.put('k1', 'from-store');
    assert.deepEqual(await store.get('k1'), { value: 'from-store', version: 1 });
    assert.equal(await r.rawN1.get(`${r.prefix}k1`), '1:from-store');
    const ttl = await r.rawN1.pttl(`${r.prefix}k1`);
    assert.ok(ttl > 0 && ttl <= 30_000);
    // Served from the cache: a store-only change is not seen (that is what a cache does).
    await mem.put('k1', 'bypassed-cache');
    assert.deepEqual(await store.get('k1'), { value: 'from-store', version: 1 });
    assert.equal(await store.get('absent'), undefined);
  });

  it('put and delete keep the cache in step with the store', async () => {
    const store = new CachedStore(new MemoryStore(), cache);
    const v1 = await store.put('k2', 'a');
    const v2 = await store.put('k2', 'b');
    assert.ok(v2 > v1);
    assert.deepEqual(await store.get('k2'), { value: 'b', version: v2 });
    assert.equal(await store.delete('k2'), true);
    assert.equal(await store.get('k2'), undefined);
    assert.equal(await store.delete('k2'), false);
  });

  it('reads never go back in version when a late fill or a late put lands after a newer put', async () => {
    const mem = new MemoryStore();
    const store = new CachedStore(mem, cache);
    await store.put('k3', 'old');
    const staleEntry = await mem.get('k3');
    const newer = await store.put('k3', 'new');
    // A reader that fetched the old entry before the newer put fills the cache late: refused.
    assert.equal(await cache.setVersioned('k3', staleEntry!), false);
    assert.deepEqual(await store.get('k3'), { value: 'new', version: newer });
    // Many concurrent puts: the cache ends on the highest version the store gave.
    const versions = await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('k4', `v${i}`)));
    const top = Math.max(...versions);
    assert.equal((await store.get('k4'))?.version, top);
    assert.deepEqual(await store.get('k4'), await mem.get('k4'));
  });

  it('a read that fetched an entry just before a delete cannot put it back', async () => {
    const mem = new MemoryStore();
    const store = new CachedStore(mem, cache);
    await store.put('k5', 'doomed');
    const fetched = await mem.get('k5');
    await store.delete('k5');
    assert.equal(await cache.setVersioned('k5', fetched!), false);
    assert.equal(await store.get('k5'), undefined);
    assert.equal(await r.rawN1.exists(`${r.prefix}k5`), 0);
  });

  it('in copy mode, cache entries written through the store reach N2 too', async () => {
    const copying = new RedisCacheLayer({ local: await r.client('n1'), n2: await r.client('n2') });
    await copying.apply({ datastore: 'copy-on-write', cache: 'copy' }, 1);
    const store = new CachedStore(new MemoryStore(), copying);
    const v = await store.put('k6', 'both');
    assert.equal(await r.rawN2.get(`${r.prefix}k6`), `${v}:both`);
    await store.delete('k6');
    assert.equal(await r.rawN2.exists(`${r.prefix}k6`), 0);
  });

  it("a cache failing after the store committed: CommittedWriteError with the write's version, the cache's error as cause", async () => {
    const broken = await r.client('n1');
    const layer = new RedisCacheLayer({ local: broken });
    const mem = new MemoryStore();
    const store = new CachedStore(mem, layer);
    broken.disconnect();
    await assert.rejects(
      store.put('k7', 'v'),
      (err: unknown) => err instanceof CommittedWriteError && err.version === 1 && isSyncError(err.cause, 'NW_SYNC_CACHE_UNAVAILABLE'),
    );
    assert.deepEqual(await mem.get('k7'), { value: 'v', version: 1 });
  });

  it('lists the entries of the store behind it, not the cache', async () => {
    const mem = new MemoryStore();
    const store = new CachedStore(mem, cache);
    await store.put('e.k1', 'both');
    await mem.put('e.k2', 'store only');
    await cache.setVersioned('e.k3', { value: 'cache only', version: 99 });
    assert.deepEqual(await store.entries('e.'), [
      ['e.k1', 'both'],
      ['e.k2', 'store only'],
    ]);
  });
});
