import type { Client } from 'cassandra-driver';
import { z } from 'zod';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { SyncError } from '../errors.js';
import type { ProgressStream, SnapshotProgress } from './copy-progress.js';
import type { TableRef } from './table-schema.js';

/** What runSnapshot takes and returns; options are checked once, here. */

export interface RetryPolicy {
  /** Tries per range (and per digest) before giving up. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface SnapshotOptions {
  readonly source: Client;
  readonly target: Client;
  readonly tables: readonly TableRef[];
  /** Where checkpoints live; without it they are kept in memory for this run only. */
  readonly coordinator?: Coordinator;
  /** Checkpoint root, e.g. layout.syncDatastore(migrationId); required with `coordinator`. */
  readonly checkpointRoot?: string;
  /** Token ranges per table (fixed by the first run of a checkpoint root). Default 128. */
  readonly ranges?: number;
  /** Ranges copied at once. Default 24. */
  readonly concurrency?: number;
  /** Rows per page read from N1 (pages are also capped near 1 MB). Default 500. */
  readonly pageSize?: number;
  /** Write requests in flight per range. Default 8. */
  readonly writeConcurrency?: number;
  /** INSERTs per unlogged batch (1 = none). Default 10 (Cassandra warns above 10 partitions per batch). */
  readonly batchStatements?: number;
  /** Value bytes after which a batch is closed. Default 4800 (Cassandra warns above 5 KiB). */
  readonly batchBytes?: number;
  /** Verify by digest after copying (default true); re-copies differing ranges up to maxRecopies times (default 2). */
  readonly verify?: boolean | { readonly maxRecopies: number };
  /**
   * When every data layer began copying writes to both clusters (µs since the epoch, as
   * Cassandra's writetime; the sync hook passes the moment their barrier passed). Rows written
   * since are copy-on-write writes, identical on both sides once landed: verify leaves out those a
   * digest catches on one side only. Unset: every row is compared.
   */
  readonly copyOnWriteSinceUs?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: SnapshotProgress) => void;
  /** Create a keyspace or table missing at N2 from N1's definition. Default false. */
  readonly createMissing?: boolean;
  /** Where the progress line goes when it is a TTY. Default process.stderr. */
  readonly progressStream?: ProgressStream;
}

export interface TableFigures {
  readonly table: string;
  readonly ranges: number;
  /** Ranges read in this run (fully or from a checkpoint onwards). */
  readonly rangesCopied: number;
  /** Ranges found done in checkpoints and not read again. */
  readonly rangesSkipped: number;
  /** Rows and bytes copied in this run. */
  readonly rows: number;
  readonly bytes: number;
}

export interface VerifyFigures {
  readonly rangesChecked: number;
  /** Ranges whose digests differed at the first check. */
  readonly rangesDiffered: number;
  /** Range re-copies done (a range may be re-copied more than once). */
  readonly recopies: number;
  /** Rows digested at N1 in the last check of each range. */
  readonly rowsCompared: number;
  /**
   * Value cells written since the cutoff (copy-on-write began, or the switch to EACH_QUORUM) that a
   * digest caught on one side only, left out on both sides of ranges that then matched.
   */
  readonly lateCellsLeftOut: number;
  readonly durationMs: number;
}

export interface SnapshotResult {
  readonly tables: readonly TableFigures[];
  readonly ranges: number;
  readonly rangesCopied: number;
  readonly rangesSkipped: number;
  readonly rows: number;
  readonly bytes: number;
  /** Range attempts that failed and were retried. */
  readonly retries: number;
  readonly durationMs: number;
  /** Copy phase only (verify excluded). */
  readonly copyMs: number;
  readonly rowsPerSec: number;
  readonly bytesPerSec: number;
  readonly verify: VerifyFigures | undefined;
}

/** The tuned defaults of the snapshot copy (measured by bench:sync); the control plane's sync config uses them too. */
export const SNAPSHOT_DEFAULTS = Object.freeze({ ranges: 128, concurrency: 24, pageSize: 500, maxRecopies: 2 });

const optionsSchema = z.strictObject({
  tables: z.array(z.strictObject({ keyspace: z.string().min(1), table: z.string().min(1) })).min(1),
  checkpointRoot: z
    .string()
    .regex(/^(\/[^/\s]+)+$/, 'absolute coordinator path')
    .optional(),
  ranges: z.number().int().min(1).max(100_000).default(SNAPSHOT_DEFAULTS.ranges),
  concurrency: z.number().int().min(1).max(256).default(SNAPSHOT_DEFAULTS.concurrency),
  pageSize: z.number().int().min(1).max(100_000).default(SNAPSHOT_DEFAULTS.pageSize),
  writeConcurrency: z.number().int().min(1).max(2048).default(8),
  batchStatements: z.number().int().min(1).max(1000).default(10),
  batchBytes: z.number().int().min(1).default(4800),
  verify: z.union([z.boolean(), z.strictObject({ maxRecopies: z.number().int().min(0).max(100) })]).default(true),
  retry: z
    .strictObject({
      attempts: z.number().int().min(1).max(100).default(8),
      baseDelayMs: z.number().int().min(0).default(250),
      maxDelayMs: z.number().int().min(0).default(8000),
    })
    .prefault({}),
  createMissing: z.boolean().default(false),
});

export type SnapshotConfig = Readonly<z.output<typeof optionsSchema>>;

/** Checks the tuning options (clients, coordinator and callbacks are taken as they are). */
export function parseSnapshotOptions(opts: SnapshotOptions): SnapshotConfig {
  const parsed = optionsSchema.safeParse({
    tables: opts.tables,
    checkpointRoot: opts.checkpointRoot,
    ranges: opts.ranges,
    concurrency: opts.concurrency,
    pageSize: opts.pageSize,
    writeConcurrency: opts.writeConcurrency,
    batchStatements: opts.batchStatements,
    batchBytes: opts.batchBytes,
    verify: opts.verify,
    retry: opts.retry,
    createMissing: opts.createMissing,
  });
  if (!parsed.success) {
    throw new SyncError(
      'NW_SYNC_CONFIG_INVALID',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; '),
    );
  }
  if (opts.coordinator && !parsed.data.checkpointRoot) {
    throw new SyncError('NW_SYNC_CONFIG_INVALID', 'checkpointRoot: required with a coordinator (e.g. layout.syncDatastore(migrationId))');
  }
  return Object.freeze(parsed.data);
}
