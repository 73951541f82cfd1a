// Shared by the cache tests: clients for Redis n1/n2 under a key prefix unique to one test run, and cleanup
// of exactly that prefix (never FLUSHDB: other engineers' tests use the same servers).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createCacheClient, parseCacheConfig } from '../../datasync/cache/cache-config.js';
import { requireService } from '../support/service-endpoints.js';
import { deleteKeysUnder } from '../../datasync/cache/key-prefix.js';

export interface TestRedis {
  /** `nw-test:cache:<area>:<random>:`; every key a test writes starts with it. */
  readonly prefix: string;
  readonly n1Endpoint: { host: string; port: number };
  readonly n2Endpoint: { host: string; port: number };
  /** Raw clients without keyPrefix, for assertions and cleanup. */
  readonly rawN1: Redis;
  readonly rawN2: Redis;
  /** A connected layer-style client (keyPrefix = prefix) for one side. */
  client(side: 'n1' | 'n2'): Promise<Redis>;
  /** Deletes every key under the prefix on both servers and closes all clients. */
  close(): Promise<void>;
}

export async function openTestRedis(area: string): Promise<TestRedis> {
  const redis = requireService('redis');
  const prefix = `nw-test:cache:${area}:${randomBytes(4).toString('hex')}:`;
  const cfg = parseCacheConfig({
    local: { host: redis.n1.host, port: redis.n1.port, keyPrefix: prefix },
    n2: { host: redis.n2.host, port: redis.n2.port, keyPrefix: prefix },
    commandTimeoutMs: 5_000,
  });
  const opened: Redis[] = [];
  const raw = async (host: string, port: number): Promise<Redis> => {
    const c = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await c.connect();
    opened.push(c);
    return c;
  };
  const rawN1 = await raw(redis.n1.host, redis.n1.port);
  const rawN2 = await raw(redis.n2.host, redis.n2.port);
  return {
    prefix,
    n1Endpoint: { host: redis.n1.host, port: redis.n1.port },
    n2Endpoint: { host: redis.n2.host, port: redis.n2.port },
    rawN1,
    rawN2,
    async client(side) {
      const c = createCacheClient(side === 'n1' ? cfg.local : cfg.n2!, cfg);
      await c.connect();
      opened.push(c);
      return c;
    },
    async close() {
      for (const c of [rawN1, rawN2]) await deleteKeysUnder(c, prefix).catch(() => undefined);
      for (const c of opened) await c.quit().catch(() => c.disconnect());
    },
  };
}
