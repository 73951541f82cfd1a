import { strict as assert } from 'node:assert';
import { Redis } from 'ioredis';
import { tombstoneKey } from '../../datasync/cache/cache-scripts.js';
import { warmUpCache, type CacheWarmupFigures } from '../../datasync/cache/cache-warmup.js';
import { isSyncError } from '../../datasync/errors.js';
import { openTestRedis, type TestRedis } from './cache-test-redis.js';

const PER_TYPE = 1000;

/** Writes PER_TYPE strings, hashes and sets; every other key expires in 60–120 s. */
async function seed(n1: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  const p = n1.pipeline();
  for (let i = 0; i < PER_TYPE; i++) {
    const ttl = i % 2 === 0 ? 60_000 + i * 60 : 0;
    const s = `${prefix}str:${i}`;
    const h = `${prefix}hash:${i}`;
    const st = `${prefix}set:${i}`;
    p.set(s, `value-${i}-${'x'.repeat(i % 50)}`);
    p.hset(h, { a: String(i), b: `b${i}` });
    p.sadd(st, `m${i}`, `n${i}`, 'common');
    if (ttl > 0) for (const k of [s, h, st]) p.pexpire(k, ttl);
    keys.push(s, h, st);
  }
  await p.exec();
  return keys;
}

async function snapshot(c: Redis, key: string): Promise<unknown> {
  const type = await c.type(key);
  if (type === 'string') return [type, await c.get(key)];
  if (type === 'hash') return [type, await c.hgetall(key)];
  if (type === 'set') return [type, (await c.smembers(key)).sort()];
  return [type];
}

describe('sync: cache warm-up (N1 → N2)', function () {
  this.timeout(120_000);
  let r: TestRedis;
  let prefix: string;
  let keys: string[];

  before(async () => {
    r = await openTestRedis('warmup');
    prefix = `${r.prefix}app:`;
    keys = await seed(r.rawN1, prefix);
  });
  after(async () => r.close());

  it('restores strings, hashes and sets with their TTL, skips newer N2 keys and deleted ones; re-run is harmless', async () => {
    // N2 already has newer copy-on-write values for 20 keys, and a tombstone for one deleted key.
    for (let i = 0; i < 20; i++) await r.rawN2.set(`${prefix}str:${i}`, `newer-${i}`);
    await r.rawN2.set(`${r.prefix}${tombstoneKey('app:hash:999')}`, '1', 'PX', 60_000);
    // Keys that expire before the warm-up reaches them.
    for (let i = 0; i < 5; i++) await r.rawN1.set(`${prefix}gone:${i}`, 'x', 'PX', 1);
    // Kept as a sleep: let the 1 ms TTLs run out (reading the keys to check would expire them on the spot).
    await new Promise((res) => setTimeout(res, 20));

    const progress: CacheWarmupFigures[] = [];
    const first = await warmUpCache({
      source: r.rawN1,
      target: r.rawN2,
      sourceKeyPrefix: r.prefix,
      match: 'app:',
      pipelineDepth: 100,
      scanCount: 500,
      onProgress: (f) => progress.push(f),
    });
    assert.equal(first.scanned - first.expired, keys.length, JSON.stringify(first));
    assert.equal(first.skippedExisting, 20);
    assert.equal(first.skippedDeleted, 1);
    assert.equal(first.restored, keys.length - 21);
    assert.ok(first.bytes > 0);
    assert.ok(progress.length >= keys.length / 100, `progress called ${progress.length} times`);
    assert.ok(progress.every((f, i) => i === 0 || f.restored >= progress[i - 1]!.restored));

    for (let i = 0; i < 20; i++) assert.equal(await r.rawN2.get(`${prefix}str:${i}`), `newer-${i}`);
    assert.equal(await r.rawN2.exists(`${prefix}hash:999`), 0);
    for (let i = 0; i < 5; i++) assert.equal(await r.rawN2.exists(`${prefix}gone:${i}`), 0);

    let checkedTtl = 0;
    for (const key of keys) {
      if (/:str:\d+$/.test(key) && Number(key.split(':').pop()) < 20) continue;
      if (key.endsWith('hash:999')) continue;
      assert.deepEqual(await snapshot(r.rawN2, key), await snapshot(r.rawN1, key), key);
      const [t1, t2] = [await r.rawN1.pttl(key), await r.rawN2.pttl(key)];
      if (t1 === -1) assert.equal(t2, -1, key);
      else {
        assert.ok(t2 > 0 && Math.abs(t2 - t1) < 5_000, `${key}: TTL at N2 ${t2} vs N1 ${t1}`);
        checkedTtl += 1;
      }
    }
    assert.ok(checkedTtl > keys.length / 3);

    const second = await warmUpCache({ source: r.rawN1, target: r.rawN2, sourceKeyPrefix: r.prefix, match: 'app:' });
    assert.equal(second.restored, 0);
    assert.equal(second.skippedExisting, keys.length - 1);
    assert.equal(second.skippedDeleted, 1);
    assert.equal(await r.rawN2.get(`${prefix}str:0`), 'newer-0');
  });

  it('copies to a different prefix at N2', async () => {
    const figures = await warmUpCache({
      source: r.rawN1,
      target: r.rawN2,
      sourceKeyPrefix: prefix,
      targetKeyPrefix: `${r.prefix}moved:`,
      match: 'set:1',
    });
    assert.equal(figures.restored, 111); // set:1, set:10..19, set:100..199
    assert.deepEqual((await r.rawN2.smembers(`${r.prefix}moved:set:17`)).sort(), ['common', 'm17', 'n17']);
  });

  it('stops with NW_SYNC_ABORTED when aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await assert.rejects(warmUpCache({ source: r.rawN1, target: r.rawN2, sourceKeyPrefix: prefix, signal: ctl.signal }), (err: unknown) =>
      isSyncError(err, 'NW_SYNC_ABORTED'),
    );
  });

  it('fails with NW_SYNC_CACHE_WARMUP_FAILED when N2 is unreachable, and refuses bad options', async () => {
    const dead = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    dead.on('error', () => {});
    try {
      await assert.rejects(warmUpCache({ source: r.rawN1, target: dead, sourceKeyPrefix: prefix }), (err: unknown) =>
        isSyncError(err, 'NW_SYNC_CACHE_WARMUP_FAILED'),
      );
    } finally {
      dead.disconnect();
    }
    await assert.rejects(warmUpCache({ source: r.rawN1, target: r.rawN2, sourceKeyPrefix: prefix, pipelineDepth: 0 }), (err: unknown) =>
      isSyncError(err, 'NW_SYNC_CONFIG_INVALID'),
    );
  });
});
