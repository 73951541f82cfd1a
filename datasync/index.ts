/** The public entry of datasync/: what other parts (loadgen) may use. */
export { cacheConfigSchema, createCacheClient, parseCacheConfig, type RedisEndpointConfig } from './cache/cache-config.js';
export { warmUpCache } from './cache/cache-warmup.js';
export { deleteKeysUnder } from './cache/key-prefix.js';
export { runBounded } from './datastore/bounded-pool.js';
export {
  CQL_IDENTIFIER,
  createClusterClient,
  datastoreConfigSchema,
  parseDatastoreConfig,
  type DatastoreClusterConfig,
} from './datastore/datastore-config.js';
export { runSnapshot, type SnapshotOptions, type SnapshotResult } from './datastore/snapshot-copy.js';
export { SyncError } from './errors.js';
export { CassandraDataLayer } from './layer/cassandra-data-layer.js';
export { DataLayerMember } from './layer/data-layer-member.js';
export type { DataModeTarget } from './layer/data-mode-target.js';
export { RedisCacheLayer } from './layer/redis-cache-layer.js';
export { copySubtree } from './metadata/subtree-copy.js';
export { removeSubtree } from './metadata/subtree-remove.js';
export { DEFAULT_BATCH_LIMITS, TransactionBatcher, type BatchLimits } from './metadata/transaction-batcher.js';
export { jmxNodeSchema, nodetoolConfigSchema } from './replication/nodetool.js';
