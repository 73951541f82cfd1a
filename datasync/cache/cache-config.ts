import { Redis } from 'ioredis';
import { z } from 'zod';
import { SyncError } from '../errors.js';

const redisEndpointSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  db: z.number().int().min(0).max(15).default(0),
  /** Prepended by the client to every key (ioredis `keyPrefix`); may differ between N1 and N2. */
  keyPrefix: z.string().default(''),
});

/**
 * An app server's cache layer: its local Redis and, while it may take part in
 * a migration, N2's Redis. Timeouts are short on purpose: a cache that does
 * not answer must fail the request fast (typed error), not queue it.
 */
export const cacheConfigSchema = z.strictObject({
  local: redisEndpointSchema,
  n2: redisEndpointSchema.optional(),
  connectTimeoutMs: z.number().int().positive().default(2_000),
  commandTimeoutMs: z.number().int().positive().default(1_000),
  /**
   * How long a delete's tombstone blocks copy-on-read, fills and versioned sets
   * of the key. Must exceed the longest gap between reading a value and
   * writing it elsewhere (a copy-on-read write, a cache-aside fill).
   */
  tombstoneTtlMs: z.number().int().positive().default(10_000),
  /** Whether a get that hits in copy mode waits for its copy to N2 (see RedisCacheLayer). */
  awaitCopyOnRead: z.boolean().default(false),
});

export type CacheConfig = Readonly<z.output<typeof cacheConfigSchema>>;
export type RedisEndpointConfig = Readonly<z.output<typeof redisEndpointSchema>>;

/** Validates a cache config once, at the edge; throws NW_SYNC_CONFIG_INVALID naming the field. */
export function parseCacheConfig(raw: unknown, source = 'cache config'): CacheConfig {
  const parsed = cacheConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const field = first && first.path.length > 0 ? first.path.join('.') : '(root)';
    throw new SyncError('NW_SYNC_CONFIG_INVALID', `${source}: ${field}: ${first?.message ?? 'invalid'}`, {
      cause: parsed.error,
      details: { source, field },
    });
  }
  const cfg = parsed.data;
  Object.freeze(cfg.local);
  if (cfg.n2) Object.freeze(cfg.n2);
  return Object.freeze(cfg);
}

/**
 * A client for one side. No offline queue and one retry per request: while the
 * connection is down commands fail at once instead of waiting for a reconnect,
 * so a copy-mode write to an unreachable N2 is refused promptly. Call
 * `connect()` before use (lazyConnect). Connection errors go to `onError`
 * (default: ignored, since every command on a broken connection fails with a
 * typed error anyway); a listener is always attached so none crashes the process.
 */
export function createCacheClient(
  endpoint: RedisEndpointConfig,
  timeouts: Pick<CacheConfig, 'connectTimeoutMs' | 'commandTimeoutMs'>,
  onError: (err: Error) => void = () => {},
): Redis {
  const client = new Redis({
    host: endpoint.host,
    port: endpoint.port,
    db: endpoint.db,
    keyPrefix: endpoint.keyPrefix === '' ? undefined : endpoint.keyPrefix,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: timeouts.connectTimeoutMs,
    commandTimeout: timeouts.commandTimeoutMs,
  });
  client.on('error', onError);
  return client;
}
