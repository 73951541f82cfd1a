// Smoke test: the two Redis instances (N1 and N2 caches) from scripts/services.sh, through ioredis.
import { strict as assert } from 'node:assert';
import { Redis } from 'ioredis';
import { requireService, type RedisEndpoint } from '../support/service-endpoints.js';

async function connect(ep: RedisEndpoint): Promise<Redis> {
  const client = new Redis({
    host: ep.host,
    port: ep.port,
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 1,
  });
  await client.connect();
  return client;
}

describe('services: Redis n1 and n2', function () {
  this.timeout(30_000);

  const clients: Redis[] = [];
  let n1: Redis;
  let n2: Redis;
  const prefix = `northwest-smoke:${process.pid}:${Date.now()}`;

  before(async () => {
    const redis = requireService('redis');
    n1 = await connect(redis.n1);
    clients.push(n1);
    n2 = await connect(redis.n2);
    clients.push(n2);
  });

  after(async () => {
    for (const c of clients) {
      const keys = await c.keys(`${prefix}:*`).catch(() => []);
      if (keys.length > 0) await c.del(...keys).catch(() => 0);
      await c.quit().catch(() => c.disconnect());
    }
  });

  it('n1 and n2 are separate instances', async () => {
    const key = `${prefix}:only-on-n1`;
    await n1.set(key, 'x');
    assert.equal(await n1.get(key), 'x');
    assert.equal(await n2.exists(key), 0);
  });

  it('SET with PX sets a millisecond TTL', async () => {
    const key = `${prefix}:px`;
    assert.equal(await n1.set(key, 'value', 'PX', 60_000), 'OK');
    const pttl = await n1.pttl(key);
    assert.ok(pttl > 0 && pttl <= 60_000, `pttl ${pttl}`);
  });

  it('DUMP on n1 and RESTORE on n2 copy a key with its TTL', async () => {
    const key = `${prefix}:copied`;
    await n1.hset(key, { a: '1', b: '2' });
    await n1.pexpire(key, 45_000);

    const dump = await n1.dumpBuffer(key);
    const pttl = await n1.pttl(key);
    assert.ok(pttl > 0, `source key has a TTL (pttl ${pttl})`);

    // relative TTL
    assert.equal(await n2.restore(key, pttl, dump, 'REPLACE'), 'OK');
    assert.deepEqual(await n2.hgetall(key), { a: '1', b: '2' });
    const copiedPttl = await n2.pttl(key);
    assert.ok(copiedPttl > 0 && copiedPttl <= pttl, `copied pttl ${copiedPttl}, source ${pttl}`);

    // absolute expiry (what a copier uses when the dump and the restore are far apart in time)
    const key2 = `${prefix}:copied-absttl`;
    const expireAt = Date.now() + pttl;
    assert.equal(await n2.restore(key2, expireAt, dump, 'REPLACE', 'ABSTTL'), 'OK');
    const pexpireTime = await n2.pexpiretime(key2);
    assert.equal(pexpireTime, expireAt);
    assert.deepEqual(await n2.hgetall(key2), { a: '1', b: '2' });
  });
});
