import { z } from 'zod';
import { cacheConfigSchema } from '../../datasync/cache/cache-config.js';
import { CQL_IDENTIFIER, datastoreConfigSchema } from '../../datasync/datastore/datastore-config.js';
import { metadataSyncConfigSchema } from '../../datasync/metadata/metadata-config.js';
import { SNAPSHOT_DEFAULTS } from '../../datasync/datastore/snapshot-options.js';
import { replicateConfigSchema } from '../../datasync/replication/replicate-config.js';

const redisEndpoint = cacheConfigSchema.shape.local;
const cluster = datastoreConfigSchema.shape.local;
const CQL_NAME = CQL_IDENTIFIER.source.slice(1, -1);
const tableRef = z.string().regex(new RegExp(`^${CQL_NAME}\\.${CQL_NAME}$`), 'keyspace.table');

/**
 * `sync.cache`: N1's and N2's Redis. The plan's `sync.cache.strategy` decides what the `cache` hook does
 * with them: warm N2's from N1's once the cache layers copy (copy-on-write), or make N2's a replica of
 * N1's (replicate: then both must hold the app's keys alike, same db and keyPrefix).
 */
export const cacheSyncConfigSchema = z.strictObject({
  n1: redisEndpoint,
  n2: redisEndpoint,
  /** Only keys (after the keyPrefix) starting with this. */
  match: z.string().optional(),
  pipelineDepth: z.number().int().min(1).max(10_000).default(256),
});

/** `sync.datastore`: the snapshot copy from N1's Cassandra cluster to N2's, then verify. */
export const datastoreSyncConfigSchema = z.strictObject({
  n1: cluster,
  n2: cluster,
  tables: z.array(tableRef).min(1),
  ranges: z.number().int().min(1).max(100_000).default(SNAPSHOT_DEFAULTS.ranges),
  concurrency: z.number().int().min(1).max(256).default(SNAPSHOT_DEFAULTS.concurrency),
  pageSize: z.number().int().min(1).max(100_000).default(SNAPSHOT_DEFAULTS.pageSize),
  /** Re-copies of a range whose digests differ before the sync fails (and the migration rolls back). */
  maxRecopies: z.number().int().min(0).max(100).default(SNAPSHOT_DEFAULTS.maxRecopies),
  /** Create a keyspace or table missing at N2 from N1's definition. */
  createMissing: z.boolean().default(false),
  /** For plans with `datastore.strategy: replicate`: N2 is a datacenter of N1's cluster. */
  replicate: replicateConfigSchema.optional(),
});

/**
 * The control plane's `sync` section: each part present registers the sync
 * hook of the same name (`metadata`, `cache`, `datastore`), which plans list
 * under `sync.hooks` in the order they run.
 */
export const syncConfigSchema = z.strictObject({
  metadata: metadataSyncConfigSchema.optional(),
  cache: cacheSyncConfigSchema.optional(),
  datastore: datastoreSyncConfigSchema.optional(),
});

export type SyncConfig = z.output<typeof syncConfigSchema>;
export type CacheSyncConfig = z.output<typeof cacheSyncConfigSchema>;
export type DatastoreSyncConfig = z.output<typeof datastoreSyncConfigSchema>;
