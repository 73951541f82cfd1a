import cassandra from 'cassandra-driver';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { SyncError, isSyncError } from '../errors.js';
import { runBounded } from './bounded-pool.js';
import { createProgressSink, type SnapshotProgress } from './copy-progress.js';
import { copyRange } from './range-copy.js';
import { abortedError, describeError, withRangeRetry, type RangeTask } from './range-task.js';
import { SnapshotCheckpoints } from './snapshot-checkpoints.js';
import { parseSnapshotOptions, type SnapshotOptions, type SnapshotResult, type VerifyFigures } from './snapshot-options.js';
import { verifyRanges } from './snapshot-verify.js';
import { checkTableSchema, tableName, type TableSchema } from './table-schema.js';
import { coveredFraction, ringShare } from './token-ranges.js';

export type { SnapshotOptions, SnapshotResult, TableFigures, VerifyFigures, RetryPolicy } from './snapshot-options.js';

/**
 * The datastore snapshot: copies every table from N1 to N2 token range by
 * token range (a bounded pool of ranges in parallel), with write times kept
 * so that copy-on-write live traffic always wins; checkpoints each page in
 * the coordinator so an interrupted copy resumes; then verifies each range
 * by digest on both sides and re-copies ranges that differ.
 */

function isUnavailable(err: unknown): boolean {
  return err instanceof cassandra.errors.NoHostAvailableError || err instanceof cassandra.errors.OperationTimedOutError;
}

/** Turns a failed schema read or DDL at one side into the catalogue's error. */
function schemaError(side: 'n1' | 'n2', table: string) {
  return (err: unknown): SyncError => {
    if (isSyncError(err)) return err;
    const details = { table, side };
    if (isUnavailable(err)) {
      return new SyncError(side === 'n1' ? 'NW_SYNC_DATASTORE_UNAVAILABLE' : 'NW_SYNC_N2_UNAVAILABLE', `${table}: ${describeError(err)}`, {
        cause: err,
        details,
      });
    }
    return new SyncError(
      'NW_SYNC_SCHEMA_MISMATCH',
      `${table}: schema at ${side.toUpperCase()} could not be read or created: ${describeError(err)}`,
      {
        cause: err,
        details,
      },
    );
  };
}

/** Copies `tables` from N1 to N2; see SnapshotOptions. Rejects with a SyncError. */
export async function runSnapshot(opts: SnapshotOptions): Promise<SnapshotResult> {
  const cfg = parseSnapshotOptions(opts);
  const { source, target, signal } = opts;
  const started = performance.now();

  // without a coordinator, checkpoints live (and die) with this run
  const ownCoordinator = opts.coordinator ? undefined : new EmbeddedCoordinator(new EmbeddedStore());
  await ownCoordinator?.connect();
  const checkpoints = new SnapshotCheckpoints(opts.coordinator ?? ownCoordinator!, cfg.checkpointRoot ?? '/sync/snapshot/datastore');
  const sink = createProgressSink({ onProgress: opts.onProgress, stream: opts.progressStream });
  try {
    // 1. schemas
    const schemas: TableSchema[] = [];
    for (const ref of cfg.tables) {
      const name = tableName(ref);
      schemas.push(
        await checkTableSchema(source, target, ref, {
          createMissing: cfg.createMissing,
          wrapSource: schemaError('n1', name),
          wrapTarget: schemaError('n2', name),
        }),
      );
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
    const rangesSkipped = figures.reduce((n, f) => n + f.rangesSkipped, 0);

    // 3. progress and retries
    let rows = 0;
    let bytes = 0;
    let retries = 0;
    let rangesDone = rangesSkipped;
    let phase: SnapshotProgress['phase'] = 'copy';
    const covered = (): number => tasks.reduce((n, t) => n + t.covered * ringShare(t.range), 0) / schemas.length;
    const fractionAtStart = covered();
    const report = (table: string): void => {
      const elapsedMs = performance.now() - started;
      const fraction = covered();
      const pace = (fraction - fractionAtStart) / Math.max(elapsedMs, 1);
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
    const retry = <T>(task: RangeTask, fn: () => Promise<T>): Promise<T> => withRangeRetry(task, cfg.retry, signal, fn, () => retries++);

    /** Copies a range from its checkpoint (or, for verify, from its start) to its end; false if stopped by the signal. */
    const copyTask = (task: RangeTask, fromStart: boolean): Promise<boolean> => {
      const f = figures[task.tableIndex]!;
      let after = fromStart ? task.range.start : task.checkpoint.completeThrough;
      return retry(task, async () => {
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
    report(figures[0]!.table);
    await runBounded(
      tasks.filter((t) => !t.checkpoint.done),
      cfg.concurrency,
      async (task) => {
        figures[task.tableIndex]!.rangesCopied++;
        if (await copyTask(task, false)) {
          rangesDone++;
          report(task.table);
        }
      },
      () => signal?.aborted === true,
    ).catch((err: unknown) => {
      throw isSyncError(err) ? err : new SyncError('NW_SYNC_SNAPSHOT_FAILED', describeError(err), { cause: err });
    });
    if (signal?.aborted) throw abortedError();
    const copyMs = performance.now() - started;

    // 5. verify
    let verify: VerifyFigures | undefined;
    if (cfg.verify !== false) {
      phase = 'verify';
      verify = await verifyRanges(tasks, {
        source,
        target,
        pageSize: cfg.pageSize,
        concurrency: cfg.concurrency,
        maxRecopies: cfg.verify === true ? 2 : cfg.verify.maxRecopies,
        signal,
        retry,
        recopy: (task) => copyTask(task, true),
        report,
        ...(opts.copyOnWriteSinceUs === undefined ? {} : { cutoffUs: opts.copyOnWriteSinceUs }),
      });
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
  } finally {
    sink.finish();
    await ownCoordinator?.close();
  }
}
