import type { Client } from 'cassandra-driver';
import cassandra from 'cassandra-driver';
import { z } from 'zod';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../coordinator/embedded-coordinator.js';
import { SyncError, isSyncError } from '../errors.js';
import { runBounded } from './bounded-pool.js';
import { createProgressSink, type ProgressStream, type SnapshotProgress } from './copy-progress.js';
import { copyRange, RangeIoError } from './range-copy.js';
import { digestRange } from './range-digest.js';
import { SnapshotCheckpoints, type RangeCheckpoint } from './snapshot-checkpoints.js';
import { checkTableSchema, tableName, type TableRef, type TableSchema } from './table-schema.js';
import { coveredFraction, ringShare, type TokenRange } from './token-ranges.js';

/**
 * The datastore snapshot: copies every table from N1 to N2 token range by
 * token range (a bounded pool of ranges in parallel), with write times kept
 * so that copy-on-write live traffic always wins; checkpoints each page in
 * the coordinator so an interrupted copy resumes; then verifies each range
 * by digest on both sides and re-copies ranges that differ.
 */

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

const optionsSchema = z.strictObject({
  tables: z.array(z.strictObject({ keyspace: z.string().min(1), table: z.string().min(1) })).min(1),
  checkpointRoot: z.string().regex(/^(\/[^/\s]+)+$/, 'absolute coordinator path').optional(),
  ranges: z.number().int().min(1).max(100_000).default(128),
  concurrency: z.number().int().min(1).max(256).default(24),
  pageSize: z.number().int().min(1).max(100_000).default(500),
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

interface RangeTask {
  readonly table: string;
  readonly tableIndex: number;
  readonly schema: TableSchema;
  readonly range: TokenRange;
  checkpoint: RangeCheckpoint;
  /** Share of this range's tokens covered (0..1), for the progress fraction. */
  covered: number;
}

function isUnavailable(err: unknown): boolean {
  return err instanceof cassandra.errors.NoHostAvailableError || err instanceof cassandra.errors.OperationTimedOutError;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Copies `tables` from N1 to N2; see SnapshotOptions. Rejects with a SyncError. */
export async function runSnapshot(opts: SnapshotOptions): Promise<SnapshotResult> {
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
    throw new SyncError('NW_SYNC_CONFIG_INVALID', parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; '));
  }
  const cfg = Object.freeze(parsed.data);
  if (opts.coordinator && !cfg.checkpointRoot) {
    throw new SyncError('NW_SYNC_CONFIG_INVALID', 'checkpointRoot: required with a coordinator (e.g. layout.syncDatastore(migrationId))');
  }
  const { source, target, signal } = opts;
  const started = performance.now();
  const aborted = (): SyncError => new SyncError('NW_SYNC_ABORTED', 'snapshot copy aborted; checkpoints are kept for a resume');

  let coordinator = opts.coordinator;
  if (!coordinator) {
    coordinator = new EmbeddedCoordinator(new EmbeddedStore());
    await coordinator.connect();
  }
  const checkpoints = new SnapshotCheckpoints(coordinator, cfg.checkpointRoot ?? '/sync/snapshot/datastore');

  // 1. schemas
  const wrap =
    (side: 'n1' | 'n2', table: string) =>
    (err: unknown): SyncError => {
      if (isSyncError(err)) return err;
      if (isUnavailable(err)) {
        return new SyncError(side === 'n1' ? 'NW_SYNC_DATASTORE_UNAVAILABLE' : 'NW_SYNC_N2_UNAVAILABLE', `${table}: ${describe(err)}`, {
          cause: err,
          details: { table, side },
        });
      }
      return new SyncError('NW_SYNC_SCHEMA_MISMATCH', `${table}: schema at ${side.toUpperCase()} could not be read or created: ${describe(err)}`, {
        cause: err,
        details: { table, side },
      });
    };
  const schemas: TableSchema[] = [];
  for (const ref of cfg.tables) {
    const name = tableName(ref);
    schemas.push(await checkTableSchema(source, target, ref, { createMissing: cfg.createMissing, wrapSource: wrap('n1', name), wrapTarget: wrap('n2', name) }));
  }

  // 2. plan and checkpoints
  const tasks: RangeTask[] = [];
  for (const [tableIndex, schema] of schemas.entries()) {
    const table = tableName(schema);
    const plan = await checkpoints.loadTable(table, cfg.ranges);
    for (const range of plan.ranges) {
      const cp = plan.checkpoints.get(range.index) ?? { done: false, completeThrough: range.start, rows: 0, bytes: 0 };
      tasks.push({ table, tableIndex, schema, range, checkpoint: cp, covered: cp.done ? 1 : coveredFraction(range, cp.completeThrough) });
    }
  }
  const figures = schemas.map((s) => ({ table: tableName(s), ranges: 0, rangesCopied: 0, rangesSkipped: 0, rows: 0, bytes: 0 }));
  for (const t of tasks) {
    const f = figures[t.tableIndex]!;
    f.ranges++;
    if (t.checkpoint.done) f.rangesSkipped++;
  }

  // 3. progress
  const sink = createProgressSink({ onProgress: opts.onProgress, stream: opts.progressStream });
  let rows = 0;
  let bytes = 0;
  let retries = 0;
  let phase: SnapshotProgress['phase'] = 'copy';
  const rangesSkipped = figures.reduce((n, f) => n + f.rangesSkipped, 0);
  let rangesDone = rangesSkipped;
  const report = (table: string): void => {
    const elapsedMs = performance.now() - started;
    const fraction = tasks.reduce((n, t) => n + t.covered * ringShare(t.range), 0) / schemas.length;
    const startFraction = fractionAtStart;
    const pace = (fraction - startFraction) / Math.max(elapsedMs, 1);
    sink.update({
      phase,
      table,
      rangesTotal: tasks.length,
      rangesDone,
      rangesSkipped,
      rows,
      bytes,
      rowsPerSec: (rows * 1000) / Math.max(elapsedMs, 1),
      fraction,
      etaSeconds: pace > 0 ? (1 - fraction) / pace / 1000 : undefined,
      elapsedMs,
    });
  };
  const fractionAtStart = tasks.reduce((n, t) => n + t.covered * ringShare(t.range), 0) / schemas.length;

  const withRetry = async <T>(what: RangeTask, fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (signal?.aborted) throw aborted();
        if (attempt >= cfg.retry.attempts) {
          const side = err instanceof RangeIoError ? err.side : undefined;
          throw new SyncError(
            'NW_SYNC_SNAPSHOT_FAILED',
            `${what.table} range ${what.range.index} (${what.range.start}, ${what.range.end}] after ${attempt} attempts: ${describe(err)}`,
            {
              cause: err,
              details: { table: what.table, range: what.range.index, start: what.range.start.toString(), end: what.range.end.toString(), side, attempts: attempt },
            },
          );
        }
        retries++;
        await abortableSleep(Math.min(cfg.retry.maxDelayMs, cfg.retry.baseDelayMs * 2 ** (attempt - 1)), signal);
      }
    }
  };

  /** Copies a range from its checkpoint (or from its start) to its end; false if stopped by the signal. */
  const copyTask = async (task: RangeTask, fromStart: boolean): Promise<boolean> => {
    const f = figures[task.tableIndex]!;
    let after = fromStart ? task.range.start : task.checkpoint.completeThrough;
    return withRetry(task, async () => {
      const res = await copyRange({
        source,
        target,
        schema: task.schema,
        range: task.range,
        after,
        pageSize: cfg.pageSize,
        writeConcurrency: cfg.writeConcurrency,
        batchStatements: cfg.batchStatements,
        batchBytes: cfg.batchBytes,
        signal,
        onPage: async (page) => {
          after = page.completeThrough;
          rows += page.rows;
          bytes += page.bytes;
          f.rows += page.rows;
          f.bytes += page.bytes;
          if (!fromStart) {
            task.checkpoint = {
              done: page.done,
              completeThrough: page.completeThrough,
              rows: task.checkpoint.rows + page.rows,
              bytes: task.checkpoint.bytes + page.bytes,
            };
            task.covered = page.done ? 1 : coveredFraction(task.range, page.completeThrough);
            await checkpoints.save(task.table, task.range.index, task.checkpoint);
          }
          report(task.table);
        },
      });
      return res.done;
    });
  };

  // 4. copy
  const todo = tasks.filter((t) => !t.checkpoint.done);
  report(figures[0]!.table);
  try {
    await runBounded(
      todo,
      cfg.concurrency,
      async (task) => {
        figures[task.tableIndex]!.rangesCopied++;
        if (await copyTask(task, false)) {
          rangesDone++;
          report(task.table);
        }
      },
      () => signal?.aborted === true,
    );
  } catch (err) {
    sink.finish();
    throw isSyncError(err) ? err : new SyncError('NW_SYNC_SNAPSHOT_FAILED', describe(err), { cause: err });
  }
  if (signal?.aborted) {
    sink.finish();
    throw aborted();
  }
  const copyMs = performance.now() - started;

  // 5. verify
  let verify: VerifyFigures | undefined;
  if (cfg.verify !== false) {
    phase = 'verify';
    const maxRecopies = cfg.verify === true ? 2 : cfg.verify.maxRecopies;
    const verifyStarted = performance.now();
    let rowsCompared = 0;
    const differs = async (task: RangeTask): Promise<{ differ: boolean; n1Rows: number; n2Rows: number }> => {
      const [a, b] = await withRetry(task, () =>
        Promise.all([
          digestRange(source, task.schema, task.range, cfg.pageSize).catch((err: unknown) => {
            throw new RangeIoError('n1', err);
          }),
          digestRange(target, task.schema, task.range, cfg.pageSize).catch((err: unknown) => {
            throw new RangeIoError('n2', err);
          }),
        ]),
      );
      return { differ: a.md5 !== b.md5, n1Rows: a.rows, n2Rows: b.rows };
    };
    const check = async (list: readonly RangeTask[]): Promise<Array<{ task: RangeTask; n1Rows: number; n2Rows: number }>> => {
      const out: Array<{ task: RangeTask; n1Rows: number; n2Rows: number }> = [];
      await runBounded(list, cfg.concurrency, async (task) => {
        const d = await differs(task);
        rowsCompared += d.n1Rows;
        if (d.differ) out.push({ task, n1Rows: d.n1Rows, n2Rows: d.n2Rows });
        report(task.table);
      }, () => signal?.aborted === true);
      if (signal?.aborted) throw aborted();
      return out.sort((x, y) => x.task.tableIndex - y.task.tableIndex || x.task.range.index - y.task.range.index);
    };
    let failing = await check(tasks);
    const rangesDiffered = failing.length;
    let recopies = 0;
    for (let round = 0; round < maxRecopies && failing.length > 0; round++) {
      await runBounded(failing, cfg.concurrency, async ({ task }) => {
        recopies++;
        await copyTask(task, true);
      }, () => signal?.aborted === true);
      if (signal?.aborted) throw aborted();
      failing = await check(failing.map((f) => f.task));
    }
    sink.finish();
    if (failing.length > 0) {
      const ranges = failing.map((f) => ({ table: f.task.table, range: f.task.range.index, start: f.task.range.start.toString(), end: f.task.range.end.toString(), n1Rows: f.n1Rows, n2Rows: f.n2Rows }));
      throw new SyncError(
        'NW_SYNC_VERIFY_FAILED',
        `${ranges.length} range(s) differ after ${recopies} re-copies: ${ranges.slice(0, 5).map((r) => `${r.table} range ${r.range}`).join(', ')}${ranges.length > 5 ? ', ...' : ''}`,
        { details: { ranges, recopies } },
      );
    }
    verify = { rangesChecked: tasks.length, rangesDiffered, recopies, rowsCompared, durationMs: performance.now() - verifyStarted };
  } else {
    sink.finish();
  }

  const seconds = copyMs / 1000;
  return {
    tables: figures,
    ranges: tasks.length,
    rangesCopied: figures.reduce((n, f) => n + f.rangesCopied, 0),
    rangesSkipped,
    rows,
    bytes,
    retries,
    durationMs: performance.now() - started,
    copyMs,
    rowsPerSec: seconds > 0 ? rows / seconds : 0,
    bytesPerSec: seconds > 0 ? bytes / seconds : 0,
    verify,
  };
}
