import { z } from 'zod';
import type { createSyncHooks } from '../../../controlplane/index.js';
import { cacheConfigSchema, CQL_IDENTIFIER, datastoreConfigSchema } from '../../../datasync/index.js';
import { keyPrefix } from './app-keys.js';

/**
 * Where the Cassandra variant of the campaign keeps its data, as every process of it reads it
 * (the app servers, the control planes' sync hooks, the campaign itself): one keyspace per run on
 * both clusters with a table per app in it, and a Redis key prefix per run (the app's keys come
 * after it, and start with the app's name), so one migration's sync copies that app's data and
 * nothing else (an app that is done holds newer rows at N2 than at N1, which a later sync's
 * verify would find differing).
 */
export const BackedStoresSchema = z.strictObject({
  keyspace: z.string().regex(CQL_IDENTIFIER),
  /** Every Redis key of the run starts with it (then comes the app's key, which names the app). */
  redisPrefix: z.string().min(1),
  cassandra: z.strictObject({ n1: datastoreConfigSchema.shape.local, n2: datastoreConfigSchema.shape.local }),
  redis: z.strictObject({ n1: cacheConfigSchema.shape.local, n2: cacheConfigSchema.shape.local }),
});

export type BackedStoresInput = z.input<typeof BackedStoresSchema>;
export type BackedStores = z.output<typeof BackedStoresSchema>;

/** The table of an app's keys (apps are named m<i>: a CQL identifier once prefixed). */
export function tableOf(app: string): string {
  const table = `kv_${app}`;
  if (!CQL_IDENTIFIER.test(table)) throw new RangeError(`app ${JSON.stringify(app)} does not make a CQL table name`);
  return table;
}

/** The plan's sync section: N1 alone serves while its data layer copies (as the Cassandra switchover experiment). */
export const BACKED_PLAN_SYNC = { mode: 'none', hooks: ['cache', 'datastore'] } as const;

/**
 * The control plane's sync config for one app: the cache warm-up over the app's keys, and the
 * snapshot copy and verify of the app's table (sized for the campaign's few dozen keys).
 */
export function syncConfigOf(s: BackedStores, app: string): Parameters<typeof createSyncHooks>[0] {
  return {
    cache: {
      n1: { ...s.redis.n1, keyPrefix: s.redisPrefix },
      n2: { ...s.redis.n2, keyPrefix: s.redisPrefix },
      match: keyPrefix(app),
      pipelineDepth: 256,
    },
    datastore: {
      n1: s.cassandra.n1,
      n2: s.cassandra.n2,
      tables: [`${s.keyspace}.${tableOf(app)}`],
      ranges: 16,
      concurrency: 4,
      pageSize: 500,
      maxRecopies: 2,
      createMissing: false,
    },
  };
}
