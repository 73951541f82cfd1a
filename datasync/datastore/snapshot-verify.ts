import type { Client } from 'cassandra-driver';
import { SyncError } from '../errors.js';
import { runBounded } from './bounded-pool.js';
import { RangeIoError } from './range-copy.js';
import { cellCount, type CellSet, digestRange, type DigestFilter, type RangeDigest, unionCells } from './range-digest.js';
import { abortedError, type RangeTask } from './range-task.js';
import type { VerifyFigures } from './snapshot-options.js';

/**
 * The verify pass: digests every range at N1 and N2, re-copies the ranges
 * that differ (a re-copy fixes anything N2 lacks or holds older; it cannot
 * undo a newer write made only at N2), up to `maxRecopies` rounds, then
 * NW_SYNC_VERIFY_FAILED naming the ranges that still differ.
 */

export interface VerifyContext {
  readonly source: Client;
  readonly target: Client;
  readonly pageSize: number;
  readonly concurrency: number;
  readonly maxRecopies: number;
  readonly signal: AbortSignal | undefined;
  /** Retries a range's digest or copy (the orchestrator's policy). */
  readonly retry: <T>(task: RangeTask, fn: () => Promise<T>) => Promise<T>;
  /** Copies a whole range again. */
  readonly recopy: (task: RangeTask) => Promise<unknown>;
  readonly report: (table: string) => void;
  /**
   * Cells written at or after this (µs) are copy-on-write writes: left out, on both sides, of a
   * digest pass after one that caught them on one side only (see SnapshotOptions.copyOnWriteSinceUs
   * and DigestFilter). Unset: every cell is compared.
   */
  readonly cutoffUs?: number;
}

interface Differing {
  readonly task: RangeTask;
  readonly n1Rows: number;
  readonly n2Rows: number;
}

/** Digest passes per range and check at most (the first, then with late cells left out on both sides). */
const DIGEST_PASSES = 3;

export async function verifyRanges(tasks: readonly RangeTask[], ctx: VerifyContext): Promise<VerifyFigures> {
  const started = performance.now();
  const { cutoffUs } = ctx;
  const stop = (): boolean => ctx.signal?.aborted === true;
  const rowsByRange = new Map<RangeTask, number>();
  let lateCellsLeftOut = 0;

  const check = async (list: readonly RangeTask[]): Promise<Differing[]> => {
    const out: Differing[] = [];
    await runBounded(
      list,
      ctx.concurrency,
      async (task) => {
        const both = (filter: DigestFilter): Promise<[RangeDigest, RangeDigest]> =>
          ctx.retry(task, () =>
            Promise.all([
              digestRange(ctx.source, task.schema, task.range, ctx.pageSize, filter).catch((err: unknown) => {
                throw new RangeIoError('n1', err);
              }),
              digestRange(ctx.target, task.schema, task.range, ctx.pageSize, filter).catch((err: unknown) => {
                throw new RangeIoError('n2', err);
              }),
            ]),
          );
        // Cells written since the cutoff carry the same timestamp on both sides once landed, but a
        // digest may catch one on one side before the other: a pass that finds the range differing
        // is repeated with every cell either side found late left out on both sides (the rest of
        // their rows still compared).
        let exclude: CellSet = new Map();
        let excluded = 0;
        let [a, b] = await both({ cutoffUs });
        for (let pass = 1; pass < DIGEST_PASSES && a.md5 !== b.md5; pass++) {
          const late = unionCells(exclude, a.recent, b.recent);
          const lateCells = cellCount(late);
          if (lateCells === excluded) break;
          exclude = late;
          excluded = lateCells;
          [a, b] = await both({ cutoffUs, exclude });
        }
        rowsByRange.set(task, a.rows);
        if (a.md5 !== b.md5) out.push({ task, n1Rows: a.rows, n2Rows: b.rows });
        else lateCellsLeftOut += excluded;
        ctx.report(task.table);
      },
      stop,
    );
    if (stop()) throw abortedError();
    return out.sort((x, y) => x.task.tableIndex - y.task.tableIndex || x.task.range.index - y.task.range.index);
  };

  let failing = await check(tasks);
  const rangesDiffered = failing.length;
  let recopies = 0;
  for (let round = 0; round < ctx.maxRecopies && failing.length > 0; round++) {
    await runBounded(
      failing,
      ctx.concurrency,
      async ({ task }) => {
        recopies++;
        await ctx.recopy(task);
      },
      stop,
    );
    if (stop()) throw abortedError();
    failing = await check(failing.map((f) => f.task));
  }
  if (failing.length > 0) {
    const ranges = failing.map((f) => ({
      table: f.task.table,
      range: f.task.range.index,
      start: f.task.range.start.toString(),
      end: f.task.range.end.toString(),
      n1Rows: f.n1Rows,
      n2Rows: f.n2Rows,
    }));
    const named = ranges
      .slice(0, 5)
      .map((r) => `${r.table} range ${r.range}`)
      .join(', ');
    throw new SyncError(
      'NW_SYNC_VERIFY_FAILED',
      `${ranges.length} range(s) differ after ${recopies} re-copies: ${named}${ranges.length > 5 ? ', ...' : ''}`,
      {
        details: { ranges, recopies },
      },
    );
  }
  return {
    rangesChecked: tasks.length,
    rangesDiffered,
    recopies,
    rowsCompared: [...rowsByRange.values()].reduce((n, r) => n + r, 0),
    lateCellsLeftOut,
    durationMs: performance.now() - started,
  };
}
