import { randomBytes } from 'node:crypto';
import type { Client } from 'cassandra-driver';
import {
  createCacheClient,
  type RedisEndpointConfig,
  deleteKeysUnder,
  RedisCacheLayer,
  type DataLayerMember,
  CassandraDataLayer,
  createClusterClient,
  type DatastoreClusterConfig,
} from '../../datasync/index.js';
import { createSyncHooks } from '../../controlplane/index.js';
import { CachedStore } from '../reference-app/cached-store.js';
import { CassandraStore } from '../reference-app/cassandra-store.js';
import { joinAsDataLayer } from './data-layer-join.js';
import type { ExperimentStores, StoreContext, StoreFactory } from './experiment-stores.js';

export interface BackedStoresConfig {
  readonly cassandra: { readonly n1: DatastoreClusterConfig; readonly n2: DatastoreClusterConfig };
  readonly redis: { readonly n1: RedisEndpointConfig; readonly n2: RedisEndpointConfig };
  /** Cache entry TTL of the cache-aside store. */
  readonly cacheTtlMs: number;
}

/** N2's cluster and cache as N1's side (its data layers, the control plane's sync jobs) reaches them: through the app-to-N2 link. */
export interface N2AsSeenFromN1 {
  readonly cassandra: DatastoreClusterConfig;
  readonly redis: RedisEndpointConfig;
}

const WARMUP_KEY = 'nw-warmup';
const TIMEOUTS = { connectTimeoutMs: 2000, commandTimeoutMs: 2000 };

/**
 * N1 and N2 reference apps on Cassandra behind a Redis cache, the way the
 * data-sync issue describes them: N1's app server talks to N1's cluster and
 * cache through the migration-aware data layer, which joins the trial's fleet
 * as a member (so the control plane's barriers wait for it); N2's talks to
 * N2's. Each trial gets its own keyspace (on both clusters) and key prefix,
 * dropped afterwards. The plan syncs with `mode: none` (N1 alone serves while
 * its data layer copies writes) and the hooks cache (copy + warm-up) and
 * datastore (copy-on-write, snapshot, verify).
 */
export function backedStores(
  cfg: BackedStoresConfig,
  fromN1: N2AsSeenFromN1 = { cassandra: cfg.cassandra.n2, redis: cfg.redis.n2 },
): StoreFactory {
  const run = randomBytes(3).toString('hex');
  return async (ctx: StoreContext): Promise<ExperimentStores> => {
    const keyspace = `nw_exp_${run}_t${ctx.trial}`;
    const prefix = `nw-exp:${run}:t${ctx.trial}:`;
    const teardown: Array<() => Promise<unknown>> = [];
    const close = async (): Promise<void> => {
      for (const step of teardown.reverse()) await step().catch(() => undefined);
    };
    try {
      const n1Cluster: Client = createClusterClient(cfg.cassandra.n1, 'local');
      // N1's client of N2's cluster goes through the app-to-N2 link; N2's own app server is local to it.
      const n1ToN2Cluster: Client = createClusterClient(fromN1.cassandra, 'n2');
      const n2Cluster: Client = createClusterClient(cfg.cassandra.n2, 'local');
      teardown.push(() => Promise.allSettled([n1Cluster.shutdown(), n1ToN2Cluster.shutdown(), n2Cluster.shutdown()]));
      await Promise.all([n1Cluster.connect(), n1ToN2Cluster.connect(), n2Cluster.connect()]);
      // Lease fencing: once the member's coordinator lease lapses, N1 refuses writes for the migrating app
      // (its data mode may be stale: a write could skip the copy to N2).
      let guard: (() => ReturnType<ReturnType<DataLayerMember['writeGuard']>>) | undefined;
      const n1Layer = new CassandraDataLayer({ local: n1Cluster, n2: n1ToN2Cluster, logger: ctx.logger, writeGuard: () => guard?.() });
      const n2Layer = new CassandraDataLayer({ local: n2Cluster, logger: ctx.logger });
      teardown.push(() => Promise.allSettled([n1Layer.close(), n2Layer.close()]));
      const n1Kv = new CassandraStore(n1Layer, { keyspace });
      const n2Kv = new CassandraStore(n2Layer, { keyspace });
      await n1Kv.ensureSchema(); // on both clusters: the N1 layer knows N2
      teardown.push(() =>
        Promise.allSettled([
          n1Cluster.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`),
          n2Cluster.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`),
        ]),
      );

      const redis = {
        n1: createCacheClient({ ...cfg.redis.n1, keyPrefix: prefix }, TIMEOUTS),
        n1ToN2: createCacheClient({ ...fromN1.redis, keyPrefix: prefix }, TIMEOUTS),
        n2: createCacheClient({ ...cfg.redis.n2, keyPrefix: prefix }, TIMEOUTS),
        admin1: createCacheClient({ ...cfg.redis.n1, keyPrefix: '' }, TIMEOUTS),
        admin2: createCacheClient({ ...cfg.redis.n2, keyPrefix: '' }, TIMEOUTS),
      };
      teardown.push(async () => {
        for (const r of Object.values(redis)) r.disconnect();
      });
      await Promise.all(Object.values(redis).map((r) => r.connect()));
      teardown.push(() => Promise.allSettled([deleteKeysUnder(redis.admin1, prefix), deleteKeysUnder(redis.admin2, prefix)]));
      const n1Cache = new RedisCacheLayer({ local: redis.n1, n2: redis.n1ToN2 });
      const n2Cache = new RedisCacheLayer({ local: redis.n2 });

      const member = await joinAsDataLayer(ctx, `datalayer-n1-t${ctx.trial}`, [n1Layer, n1Cache], teardown);
      guard = member.writeGuard(ctx.app);

      // The sync hooks are the control plane's jobs: their checkpoints live in its part of the tree.
      const checkpoints = ctx.coordinator('controlplane');
      await checkpoints.connect();
      teardown.push(() => checkpoints.close());
      const sync = createSyncHooks(
        {
          cache: { n1: { ...cfg.redis.n1, keyPrefix: prefix }, n2: { ...fromN1.redis, keyPrefix: prefix }, pipelineDepth: 256 },
          datastore: {
            n1: cfg.cassandra.n1,
            n2: fromN1.cassandra,
            tables: [`${keyspace}.kv`],
            ranges: 16,
            concurrency: 4,
            pageSize: 500,
            maxRecopies: 2,
            createMissing: false,
          },
        },
        { coordinator: checkpoints, logger: ctx.logger },
      );
      teardown.push(() => sync.close());
      const n1 = new CachedStore(n1Kv, n1Cache, { ttlMs: cfg.cacheTtlMs });
      const n2 = new CachedStore(n2Kv, n2Cache, { ttlMs: cfg.cacheTtlMs });
      // Warm N2's app server as a deployment about to take traffic would be (connections,
      // prepared statements, cache scripts), on a key outside the workload's key space.
      for (const store of [n1, n2]) {
        await store.get(WARMUP_KEY);
        await store.put(WARMUP_KEY, 'warm');
        await store.delete(WARMUP_KEY);
      }
      return {
        n1,
        n2,
        readBack: n2Kv,
        syncHooks: sync.hooks,
        sync: { mode: 'none', hooks: ['cache', 'datastore'] },
        close,
      };
    } catch (err) {
      await close();
      throw err;
    }
  };
}
