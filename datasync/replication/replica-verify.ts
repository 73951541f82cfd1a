import type { Client } from 'cassandra-driver';
import { isSyncError, SyncError } from '../errors.js';
import type { RangeTask } from '../datastore/range-task.js';
import { withRangeRetry } from '../datastore/range-task.js';
import { verifyRanges } from '../datastore/snapshot-verify.js';
import type { VerifyFigures } from '../datastore/snapshot-options.js';
import { assertSupported, readTableSchema, type TableRef, tableName } from '../datastore/table-schema.js';
import { splitRing } from '../datastore/token-ranges.js';

/**
 * The range-digest verify of the snapshot copy, between two datacenters of
 * one cluster: `source` and `target` are clients whose local datacenter is
 * N1's and N2's, and the scans read at LOCAL_QUORUM, so each digest is what
 * that datacenter's replicas answer. Nothing is re-copied: a difference is a
 * failure (the engine's replication, not ours, must carry the data).
 */

export interface ReplicaVerifyOptions {
  readonly source: Client;
  readonly target: Client;
  readonly tables: readonly TableRef[];
  readonly ranges: number;
  readonly concurrency: number;
  readonly pageSize: number;
  /**
   * Cells written at or after this (µs) are left out of a pass that catches them on one side only:
   * written while both datacenters replicate, they may be on the wire (the rest of their row is
   * compared). Unset (at the fence, with no write in flight): every cell counts.
   */
  readonly cutoffUs?: number;
  readonly signal?: AbortSignal;
  /** Where the check runs, for the error message: 'sync' or 'fence'. */
  readonly stage: string;
}

export async function verifyReplicas(o: ReplicaVerifyOptions): Promise<VerifyFigures> {
  const tasks: RangeTask[] = [];
  for (const [tableIndex, ref] of o.tables.entries()) {
    const schema = await readTableSchema(o.source, ref);
    if (!schema) throw new SyncError('NW_SYNC_SCHEMA_MISMATCH', `${tableName(ref)} does not exist`, { details: { table: tableName(ref) } });
    assertSupported(schema);
    for (const range of splitRing(o.ranges)) {
      tasks.push({
        table: tableName(ref),
        tableIndex,
        schema,
        range,
        checkpoint: { done: false, completeThrough: range.start, rows: 0, bytes: 0 },
        covered: 0,
      });
    }
  }
  const policy = { attempts: 3, baseDelayMs: 250, maxDelayMs: 2000 };
  try {
    return await verifyRanges(tasks, {
      source: o.source,
      target: o.target,
      pageSize: o.pageSize,
      concurrency: o.concurrency,
      maxRecopies: 0,
      signal: o.signal,
      retry: (task, fn) => withRangeRetry(task, policy, o.signal, fn, () => undefined),
      recopy: async () => undefined,
      report: () => undefined,
      ...(o.cutoffUs === undefined ? {} : { cutoffUs: o.cutoffUs }),
    });
  } catch (err) {
    if (!isSyncError(err, 'NW_SYNC_VERIFY_FAILED')) throw err;
    const { ranges } = err.details as { ranges: unknown[] };
    throw new SyncError('NW_SYNC_REPLICA_DIGEST_MISMATCH', `${o.stage}: ${err.message.replace(/ after 0 re-copies/, '')}`, {
      cause: err,
      details: { stage: o.stage, ranges },
    });
  }
}
