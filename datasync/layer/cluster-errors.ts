import cassandra from 'cassandra-driver';
import { SyncError } from '../errors.js';

/** Which of an app server's two Cassandra clusters an operation went to. */
export type Cluster = 'local' | 'n2';

/** CQL protocol error code for "not enough replicas alive" (UnavailableException). */
const UNAVAILABLE = 0x1000;

/** Whether a driver error means the cluster could not be reached (as opposed to a failed or rejected request). */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof cassandra.errors.NoHostAvailableError) return true;
  if (err instanceof cassandra.errors.ResponseError && err.code === UNAVAILABLE) return true;
  return false;
}

function unavailable(cluster: Cluster, err: unknown): SyncError {
  return new SyncError(cluster === 'local' ? 'NW_SYNC_DATASTORE_UNAVAILABLE' : 'NW_SYNC_N2_UNAVAILABLE', (err as Error).message, {
    cause: err,
    details: { cluster },
  });
}

/** A write (or batch) that failed on `cluster`, as a typed error. */
export function writeError(cluster: Cluster, err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  if (isUnreachable(err)) return unavailable(cluster, err);
  return new SyncError('NW_SYNC_WRITE_FAILED', `${cluster}: ${(err as Error).message}`, { cause: err, details: { cluster } });
}

/**
 * A read that failed on `cluster`: unreachable clusters become typed errors;
 * anything else (an invalid query, a read timeout) is the driver's own typed
 * error (`ResponseError` with its protocol `code`), rethrown as is.
 */
export function readError(cluster: Cluster, err: unknown): unknown {
  return isUnreachable(err) ? unavailable(cluster, err) : err;
}
