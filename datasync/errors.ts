/**
 * The data-sync error catalogue: the app servers' data layer (Cassandra
 * datastore and Redis cache clients), the snapshot copy and verify, the cache
 * warm-up and the ZooKeeper metadata copy. Codes are stable; `status` is what
 * an app server would answer with if it surfaces the error.
 */

import { CodedError, type CodedErrorOptions, type ErrorSpec } from '../platform/coded-error.js';

export const SYNC_ERRORS = {
  NW_SYNC_CONFIG_INVALID: { status: 400, message: 'data-sync configuration is invalid' },
  NW_SYNC_ABORTED: { status: 409, message: 'sync step was aborted' },
  // Data layer (app servers' datastore access)
  NW_SYNC_DATASTORE_UNAVAILABLE: { status: 503, message: 'local datastore cluster is not reachable' },
  NW_SYNC_N2_UNAVAILABLE: { status: 503, message: 'N2 datastore cluster is not reachable' },
  NW_SYNC_WRITE_FAILED: { status: 502, message: 'write did not succeed on every cluster it must reach' },
  NW_SYNC_WRITE_RETRIES_EXHAUSTED: { status: 503, message: 'write kept straddling a data-mode switch; retries exhausted' },
  NW_SYNC_LOCK_TIMEOUT: { status: 503, message: 'entity-group lock not acquired in time' },
  NW_SYNC_LOCK_LOST: { status: 503, message: 'entity-group lock lost before the transaction committed' },
  NW_SYNC_DATALAYER_CLOSED: { status: 503, message: 'data layer is closed' },
  // Snapshot copy and verify
  NW_SYNC_SCHEMA_MISMATCH: { status: 409, message: 'table schema differs between N1 and N2' },
  NW_SYNC_UNSUPPORTED_SCHEMA: { status: 400, message: 'table schema is not supported by the snapshot copy' },
  NW_SYNC_SNAPSHOT_FAILED: { status: 500, message: 'snapshot copy of a token range failed' },
  NW_SYNC_VERIFY_FAILED: { status: 500, message: 'ranges still differ between N1 and N2 after re-copying' },
  NW_SYNC_CHECKPOINT_CORRUPT: { status: 500, message: 'snapshot checkpoint in the coordinator is unreadable' },
  // Datastore replicate strategy (N2 as a second datacenter of N1's cluster)
  NW_SYNC_KEYSPACE_NOT_NTS: { status: 409, message: 'keyspace does not use NetworkTopologyStrategy; N2 cannot join it as a datacenter' },
  NW_SYNC_DATACENTER_UNKNOWN: { status: 409, message: 'a datacenter the strategy needs has no node in the cluster' },
  NW_SYNC_NODETOOL_FAILED: { status: 502, message: 'a nodetool command failed or could not reach its node' },
  NW_SYNC_REBUILD_FAILED: { status: 500, message: "the rebuild of N2's datacenter from N1's failed" },
  NW_SYNC_REBUILD_NOT_RESUMABLE: { status: 409, message: 'a node of N2 refuses to resume a rebuild over earlier progress' },
  NW_SYNC_REPLICATION_LAG: { status: 503, message: "replication toward the next side stayed over the plan's lag limit" },
  NW_SYNC_DRAIN_TIMEOUT: { status: 503, message: 'replication still had writes outstanding at the end of the drain' },
  NW_SYNC_REPLICA_DIGEST_MISMATCH: { status: 500, message: "the two datacenters' data differ after the drain" },
  NW_SYNC_FINALIZE_FAILED: { status: 500, message: "finalize (repair, drop N1's datacenter from replication) failed" },
  // Cache
  NW_SYNC_CACHE_UNAVAILABLE: { status: 503, message: 'cache server is not reachable' },
  NW_SYNC_CACHE_WRITE_FAILED: { status: 502, message: 'cache write did not succeed on every cache it must reach' },
  NW_SYNC_CACHE_WARMUP_FAILED: { status: 500, message: 'cache bulk warm-up failed' },
  // Cache replicate strategy (N2's Redis a replica of N1's)
  NW_SYNC_CACHE_REPLICATION_TOPOLOGY: { status: 409, message: 'a Redis server is not in the replication role the migration expects' },
  NW_SYNC_CACHE_REPLICA_NOT_EMPTY: { status: 409, message: "N2's Redis holds keys that becoming a replica of N1 would discard" },
  NW_SYNC_CACHE_REPLICATION_REFUSED: { status: 502, message: 'Redis refused a replication command' },
  NW_SYNC_CACHE_SYNC_TIMEOUT: { status: 504, message: 'Redis replica did not complete its sync with its master in time' },
  NW_SYNC_CACHE_LAG_LIMIT: { status: 503, message: "Redis replication lag stayed over the plan's limit" },
  NW_SYNC_CACHE_DRAIN_TIMEOUT: { status: 504, message: "Redis replica did not reach its master's offset in time" },
  // Metadata
  NW_SYNC_METADATA_SOURCE_MISSING: { status: 404, message: 'metadata subtree to copy does not exist at N1' },
  NW_SYNC_METADATA_COPY_FAILED: { status: 500, message: 'metadata subtree copy failed' },
  // Data-layer fleet member
  NW_SYNC_STATE_REJECTED: { status: 400, message: 'app state document is invalid; the data layer keeps its current mode' },
  NW_SYNC_MODE_APPLY_FAILED: { status: 503, message: 'a data-layer component did not apply the new data mode' },
  NW_SYNC_LEASE_EXPIRED: {
    status: 503,
    message: 'data layer lost touch with the coordinator; writes refused until it re-reads the state',
  },
  NW_SYNC_NOT_READY: { status: 503, message: "data layer has not applied this app's state yet; writes refused" },
} as const satisfies Record<string, ErrorSpec>;

export type SyncErrorCode = keyof typeof SYNC_ERRORS;

/**
 * Codes of failures that pass when a store comes back (a node or a Redis restarting, a network
 * blip): a sync step that failed with one may be run again (every copy job is idempotent).
 */
const TRANSIENT: ReadonlySet<SyncErrorCode> = new Set<SyncErrorCode>([
  'NW_SYNC_DATASTORE_UNAVAILABLE',
  'NW_SYNC_N2_UNAVAILABLE',
  'NW_SYNC_SNAPSHOT_FAILED',
  'NW_SYNC_CACHE_UNAVAILABLE',
  'NW_SYNC_CACHE_WARMUP_FAILED',
  'NW_SYNC_METADATA_COPY_FAILED',
  'NW_SYNC_NODETOOL_FAILED',
  'NW_SYNC_REBUILD_FAILED',
]);

/** An error with a stable code, an HTTP-ish status and optional details. */
export class SyncError extends CodedError<SyncErrorCode> {
  override readonly name: string = 'SyncError';

  /** Whether running the step again may succeed (see the sync hook contract, migration-hooks.ts). */
  get transient(): boolean {
    return TRANSIENT.has(this.code);
  }

  constructor(code: SyncErrorCode, detail?: string, options?: CodedErrorOptions) {
    super(SYNC_ERRORS, code, detail, options);
  }
}

/**
 * Marks a failure after which the migration pauses for an operator instead of rolling back (a lag
 * limit with `onLagLimit: pause`); the runner reads it through `pausesMigration`.
 */
export function pausingMigration(err: SyncError): SyncError {
  return Object.assign(err, { pausesMigration: true });
}

export function isSyncError(err: unknown, code?: SyncErrorCode): err is SyncError {
  return err instanceof SyncError && (code === undefined || err.code === code);
}
