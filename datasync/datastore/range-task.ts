import { SyncError } from '../errors.js';
import { RangeIoError } from './range-copy.js';
import type { RetryPolicy } from './snapshot-options.js';
import type { RangeCheckpoint } from './snapshot-checkpoints.js';
import type { TableSchema } from './table-schema.js';
import type { TokenRange } from './token-ranges.js';

/** One token range of one table, as the snapshot's worker pool handles it. */
export interface RangeTask {
  readonly table: string;
  readonly tableIndex: number;
  readonly schema: TableSchema;
  readonly range: TokenRange;
  checkpoint: RangeCheckpoint;
  /** Share of this range's tokens covered (0..1), for the progress fraction. */
  covered: number;
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function abortedError(): SyncError {
  return new SyncError('NW_SYNC_ABORTED', 'snapshot copy aborted; checkpoints are kept for a resume');
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

/**
 * Runs `fn` for a range, retrying with exponential backoff; after the last
 * attempt rejects with NW_SYNC_SNAPSHOT_FAILED naming the table, range and
 * (for I/O errors) the cluster. An abort during the backoff is NW_SYNC_ABORTED.
 */
export async function withRangeRetry<T>(
  task: RangeTask,
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  fn: () => Promise<T>,
  onRetry: () => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (signal?.aborted) throw abortedError();
      if (attempt >= policy.attempts) {
        const { table, range } = task;
        throw new SyncError(
          'NW_SYNC_SNAPSHOT_FAILED',
          `${table} range ${range.index} (${range.start}, ${range.end}] after ${attempt} attempts: ${describeError(err)}`,
          {
            cause: err,
            details: {
              table,
              range: range.index,
              start: range.start.toString(),
              end: range.end.toString(),
              side: err instanceof RangeIoError ? err.side : undefined,
              attempts: attempt,
            },
          },
        );
      }
      onRetry();
      await abortableSleep(Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)), signal);
      if (signal?.aborted) throw abortedError();
    }
  }
}
