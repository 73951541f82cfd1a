import cassandra from 'cassandra-driver';
import { z } from 'zod';
import {
  CassandraDataLayer,
  createCacheClient,
  DataLayerMember,
  type DatastoreClusterConfig,
  RedisCacheLayer,
} from '../../../datasync/index.js';
import { createCoordinator, type Logger, memberCoordinatorConfigSchema } from '../../../platform/index.js';
import { CachedStore } from '../../reference-app/cached-store.js';
import { CassandraStore } from '../../reference-app/cassandra-store.js';
import type { KvStore } from '../../reference-app/index.js';
import { AppRoutedStore } from './app-routed-store.js';
import { BackedStoresSchema, tableOf } from './backed-stores-config.js';

/** What a Cassandra-backed app server of the campaign runs on (backed-app-main.ts reads it from a file). */
export const BackedAppSchema = z.strictObject({
  deployment: z.enum(['n1', 'n2']),
  port: z.number().int().min(0).max(65_535),
  apps: z.array(z.string().min(1)).min(1),
  stores: BackedStoresSchema,
  cacheTtlMs: z.number().int().min(0).default(60_000),
  /** N1's: its data layer joins the fleet as this member, so the sync's barriers wait for it. */
  member: z
    .strictObject({
      coordinator: memberCoordinatorConfigSchema,
      memberId: z.string().min(1),
      leaseMs: z.number().int().positive(),
    })
    .optional(),
});

export type BackedAppInput = z.input<typeof BackedAppSchema>;
export type BackedApp = z.output<typeof BackedAppSchema>;

const CACHE_TIMEOUTS = { connectTimeoutMs: 2000, commandTimeoutMs: 2000 };

/**
 * A driver client for one cluster. A node that went down is tried again every 500 ms: with the
 * driver's default (exponential, up to 10 minutes) a node restarted by the campaign would stay
 * unused for tens of seconds after it is back, which tests the driver's backoff, not Northwest.
 */
function clusterClient(c: DatastoreClusterConfig): cassandra.Client {
  return new cassandra.Client({
    contactPoints: [...c.contactPoints],
    localDataCenter: c.localDataCenter,
    protocolOptions: { port: c.port },
    socketOptions: { readTimeout: c.requestTimeoutMs, connectTimeout: c.connectTimeoutMs },
    policies: { reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(500) },
  });
}

/**
 * The store of a Cassandra-backed app server, as the Cassandra switchover experiment builds it
 * (loadgen/experiments/backed-stores.ts), once per app: the reference app's CassandraStore on the
 * migration-aware data layer behind a cache-aside Redis layer. N1's layers know N2's cluster and
 * cache (copy-on-write, cache copy) and follow each app's data mode through one DataLayerMember;
 * N2's use only N2's. The apps share the clients.
 */
export async function openBackedAppStore(cfg: BackedApp, logger: Logger): Promise<{ store: KvStore; close(): Promise<void> }> {
  const own = cfg.deployment;
  const teardown: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    for (const step of teardown.reverse().splice(0)) await step().catch(() => undefined);
  };
  try {
    const local = clusterClient(cfg.stores.cassandra[own]);
    const n2 = own === 'n1' ? clusterClient(cfg.stores.cassandra.n2) : undefined;
    teardown.push(() => Promise.allSettled([local.shutdown(), n2?.shutdown()]));
    await Promise.all([local.connect(), n2?.connect()]);
    const redis = {
      local: createCacheClient({ ...cfg.stores.redis[own], keyPrefix: cfg.stores.redisPrefix }, CACHE_TIMEOUTS),
      n2: own === 'n1' ? createCacheClient({ ...cfg.stores.redis.n2, keyPrefix: cfg.stores.redisPrefix }, CACHE_TIMEOUTS) : undefined,
    };
    teardown.push(async () => {
      redis.local.disconnect();
      redis.n2?.disconnect();
    });
    await Promise.all([redis.local.connect(), redis.n2?.connect()]);

    let member: DataLayerMember | undefined;
    const byApp = new Map<string, KvStore>();
    const targets: Record<string, [CassandraDataLayer, RedisCacheLayer]> = {};
    for (const app of cfg.apps) {
      const layer = new CassandraDataLayer({
        local,
        ...(n2 ? { n2 } : {}),
        logger,
        // lease fencing, as in the experiment: N1 refuses the app's writes while its data mode may be stale
        ...(cfg.member ? { writeGuard: () => member?.writeGuard(app)() } : {}),
      });
      const cache = new RedisCacheLayer({ local: redis.local, ...(redis.n2 ? { n2: redis.n2 } : {}) });
      targets[app] = [layer, cache];
      byApp.set(
        app,
        new CachedStore(new CassandraStore(layer, { keyspace: cfg.stores.keyspace, table: tableOf(app) }), cache, {
          ttlMs: cfg.cacheTtlMs,
        }),
      );
    }
    teardown.push(() => Promise.allSettled(Object.values(targets).map(([layer]) => layer.close())));

    if (cfg.member) {
      const coordinator = createCoordinator(cfg.member.coordinator, 'member');
      teardown.push(() => coordinator.close()); // member.stop() leaves its session open
      member = new DataLayerMember({ coordinator, memberId: cfg.member.memberId, apps: targets, leaseMs: cfg.member.leaseMs, logger });
      await member.start();
      const started = member;
      teardown.push(() => started.stop());
    }
    return { store: new AppRoutedStore(byApp), close };
  } catch (err) {
    await close();
    throw err;
  }
}
