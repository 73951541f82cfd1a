import { randomBytes } from 'node:crypto';
import {
  createCacheClient,
  createClusterClient,
  deleteKeysUnder,
  RedisCacheLayer,
  CassandraDataLayer,
  type DataLayerMember,
  type DatastoreClusterConfig,
  type RedisEndpointConfig,
} from '../../datasync/index.js';
import { createSyncHooks } from '../../controlplane/index.js';
import { CachedStore } from '../reference-app/cached-store.js';
import { CassandraStore } from '../reference-app/cassandra-store.js';
import { joinAsDataLayer } from './data-layer-join.js';
import type { ExperimentStores, StoreContext, StoreFactory } from './experiment-stores.js';

export interface ReplicatedStoresConfig {
  /** Contact points in N1's and N2's datacenter of one cluster (scripts/cassandra-dc.sh: dc1, dc2). */
  readonly cassandra: { readonly n1: DatastoreClusterConfig; readonly n2: DatastoreClusterConfig };
  readonly redis: { readonly n1: RedisEndpointConfig; readonly n2: RedisEndpointConfig };
  readonly n2Nodes: ReadonlyArray<{ readonly host: string; readonly jmxPort: number }>;
  readonly nodetool: { readonly command: readonly string[]; readonly timeoutMs: number };
  readonly cacheTtlMs: number;
  /** The plan's `datastore.replicate.finalWindow` (default each-quorum). */
  readonly finalWindow?: 'each-quorum' | 'drain';
  /** The plan's `datastore.replicate.windowIn` (default sync). */
  readonly windowIn?: 'fence' | 'sync';
}

const TIMEOUTS = { connectTimeoutMs: 2000, commandTimeoutMs: 2000 };
const WARMUP_KEY = 'nw-warmup';
/** How long a `drain` window's fence may take: it waits out Cassandra's write timeout (2 s here), then compares every range. */
const DRAIN_TIMEOUT_MS = 20_000;

/**
 * N1 and N2 reference apps on one Cassandra cluster of two datacenters, for the datastore's
 * `replicate` strategy: N1's app server reads and writes dc1, N2's dc2, each behind its own Redis
 * cache. The plan's datastore hook adds dc2 to the trial's keyspace, rebuilds it from dc1, gates on
 * the replication lag, and before the fence runs the final window (`finalWindow`: N1's writes at
 * EACH_QUORUM in the window before the fence, or the drain with writes held); no other app write waits for N2. The caches are not
 * synced: N2's starts cold (its app server fills it from dc2), so no cache write waits for N2
 * either, and the figures are the datastore strategy's alone.
 */
export function replicatedStores(cfg: ReplicatedStoresConfig): StoreFactory {
  const run = randomBytes(3).toString('hex');
  let made = 0;
  return async (ctx: StoreContext): Promise<ExperimentStores> => {
    // A new keyspace name every time, even for the same trial number: Cassandra remembers the ranges
    // it rebuilt per keyspace name, past a DROP, and would skip them in the next rebuild.
    made += 1;
    const keyspace = `nw_exp_rep_${run}_t${ctx.trial}_${made}`;
    const prefix = `nw-exp-rep:${run}:t${ctx.trial}:${made}:`;
    const teardown: Array<() => Promise<unknown>> = [];
    const close = async (): Promise<void> => {
      for (const step of teardown.reverse()) await step().catch(() => undefined);
    };
    try {
      const dc1 = createClusterClient(cfg.cassandra.n1, 'local');
      const dc2 = createClusterClient(cfg.cassandra.n2, 'local');
      teardown.push(() => Promise.allSettled([dc1.shutdown(), dc2.shutdown()]));
      await Promise.all([dc1.connect(), dc2.connect()]);
      const n1Only = `{'class': 'NetworkTopologyStrategy', '${cfg.cassandra.n1.localDataCenter}': 1}`;
      await dc1.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${n1Only}`);
      teardown.push(() => dc1.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`));
      await dc1.execute(`CREATE TABLE ${keyspace}.kv (k text PRIMARY KEY, v text)`);
      // N1's data layer is a fleet member: the plan's final window switches it to EACH_QUORUM before
      // the fence (its barrier waits for the member), and lease fencing refuses writes once it lapses.
      let guard: (() => ReturnType<ReturnType<DataLayerMember['writeGuard']>>) | undefined;
      const layers = {
        n1: new CassandraDataLayer({ local: dc1, logger: ctx.logger, writeGuard: () => guard?.() }),
        n2: new CassandraDataLayer({ local: dc2, logger: ctx.logger }),
      };
      teardown.push(() => Promise.allSettled([layers.n1.close(), layers.n2.close()]));
      const member = await joinAsDataLayer(ctx, `datalayer-n1-t${ctx.trial}-${made}`, [layers.n1], teardown);
      guard = member.writeGuard(ctx.app);
      const redis = {
        n1: createCacheClient({ ...cfg.redis.n1, keyPrefix: prefix }, TIMEOUTS),
        n2: createCacheClient({ ...cfg.redis.n2, keyPrefix: prefix }, TIMEOUTS),
        admin1: createCacheClient({ ...cfg.redis.n1, keyPrefix: '' }, TIMEOUTS),
        admin2: createCacheClient({ ...cfg.redis.n2, keyPrefix: '' }, TIMEOUTS),
      };
      teardown.push(async () => {
        for (const r of Object.values(redis)) r.disconnect();
      });
      await Promise.all(Object.values(redis).map((r) => r.connect()));
      teardown.push(() => Promise.allSettled([deleteKeysUnder(redis.admin1, prefix), deleteKeysUnder(redis.admin2, prefix)]));

      const checkpoints = ctx.coordinator('controlplane');
      await checkpoints.connect();
      teardown.push(() => checkpoints.close());
      const sync = createSyncHooks(
        {
          datastore: {
            n1: cfg.cassandra.n1,
            n2: cfg.cassandra.n2,
            tables: [`${keyspace}.kv`],
            ranges: 16,
            concurrency: 4,
            pageSize: 500,
            maxRecopies: 0,
            createMissing: false,
            replicate: {
              nodetool: { command: [...cfg.nodetool.command], timeoutMs: cfg.nodetool.timeoutMs },
              n2Nodes: cfg.n2Nodes.map((n) => ({ ...n })),
              rebuildTimeoutMs: 120_000,
              writeTimeoutMs: 2000,
            },
          },
        },
        { coordinator: checkpoints, logger: ctx.logger },
      );
      teardown.push(() => sync.close());
      const n2Kv = new CassandraStore(layers.n2, { keyspace });
      const n1 = new CachedStore(new CassandraStore(layers.n1, { keyspace }), new RedisCacheLayer({ local: redis.n1 }), {
        ttlMs: cfg.cacheTtlMs,
      });
      const n2 = new CachedStore(n2Kv, new RedisCacheLayer({ local: redis.n2 }), { ttlMs: cfg.cacheTtlMs });
      // Only N1's app is warmed through the store: the keyspace has no replica in N2's datacenter until
      // the sync adds one (a read there is unavailable); N2's clients are connected and its driver warm.
      await n1.get(WARMUP_KEY);
      await n1.put(WARMUP_KEY, 'warm');
      await n1.delete(WARMUP_KEY);
      await dc2.execute('SELECT release_version FROM system.local');
      return {
        n1,
        n2,
        readBack: n2Kv,
        syncHooks: sync.hooks,
        sync: { mode: 'none', hooks: ['datastore'] },
        plan: {
          // A drain holds every write: the gateways must hold them longer than it may take.
          ...(cfg.finalWindow === 'drain' ? { fence: { maxHoldMs: DRAIN_TIMEOUT_MS + 25_000 } } : {}),
          // One cluster: a write mirrored to N1's app too would be applied twice.
          proxy: { mirrorWritesToN1: false },
          datastore: {
            strategy: 'replicate',
            replicate: {
              lagWaitMs: 30_000,
              drainTimeoutMs: DRAIN_TIMEOUT_MS,
              finalWindow: cfg.finalWindow ?? 'each-quorum',
              windowIn: cfg.windowIn ?? 'sync',
            },
          },
        },
        singleMigration: true,
        close,
      };
    } catch (err) {
      await close();
      throw err;
    }
  };
}
