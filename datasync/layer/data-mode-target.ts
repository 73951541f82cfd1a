import type { DataMode } from '../../protocol/app-state.js';
import type { AckReports } from '../../fleet/state-follower.js';

/**
 * Something in an app server that follows the app's data mode: the datastore
 * layer (Cassandra) or the cache layer (Redis). A data-layer member calls
 * `apply` with every new state's mode and acks the epoch only after every
 * target's `apply` resolved, so `apply` must resolve only once the new mode is
 * in force for every operation that can still commit: operations started
 * under an older mode have finished (or been retried under the new one).
 * `apply` with the mode already in force is a no-op.
 */
export interface DataModeTarget {
  /** Short name for logs and status ("datastore", "cache"). */
  readonly name: string;
  apply(mode: DataMode, epoch: number): Promise<void>;
  /** What goes into the member's ack of the epoch just applied (read once every target's apply resolved). */
  ackReport?(): AckReports;
}
