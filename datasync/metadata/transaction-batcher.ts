import type { Coordinator, TransactionOp } from '../../platform/coordinator/coordinator.js';
import { SyncError } from '../errors.js';

/** Bounds of one batcher; see DEFAULT_BATCH_LIMITS. */
export interface BatchLimits {
  /** Most ops in one transaction (multi). */
  readonly maxOps: number;
  /** Most estimated request bytes in one transaction; keep well below the server's jute.maxbuffer (1 MB by default). */
  readonly maxBytes: number;
  /** Transactions sent and not yet answered. They are applied in the order sent (one session is FIFO). */
  readonly maxInFlight: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = Object.freeze({ maxOps: 500, maxBytes: 768 * 1024, maxInFlight: 4 });

/** Request bytes one op is likely to take: data, the path twice (request, reply), header and ACL. */
export function estimateOpBytes(op: TransactionOp): number {
  const data = op.op === 'create' || op.op === 'set' ? op.data.length : 0;
  return data + 2 * Buffer.byteLength(op.path) + 128;
}

/** Figures of what a batcher committed. */
export interface BatchFigures {
  readonly ops: number;
  readonly bytes: number;
  readonly batches: number;
}

/** Path of the op a coordinator's transaction error names ("transaction op 3 (create /a)"), else the batch's first. */
function failedPath(err: unknown, ops: readonly TransactionOp[]): string {
  const index = /transaction op (\d+)/.exec(err instanceof Error ? err.message : '')?.[1];
  const op = index === undefined ? undefined : ops[Number(index)];
  return (op ?? ops[0])?.path ?? '(empty batch)';
}

/**
 * Writes ops to one coordinator as batched transactions, in the order they were added: a batch
 * goes out when the next op would break a bound (an op over `maxBytes` goes alone), up to
 * `maxInFlight` batches travel at once, and add() waits while that many are out. The first
 * failure sticks: add() and flush() reject with it (NW_SYNC_METADATA_COPY_FAILED naming the
 * path) until reset(). A batch sent after a failed one may still have been applied.
 */
export class TransactionBatcher {
  private batch: TransactionOp[] = [];
  private batchBytes = 0;
  private readonly inFlight: Array<Promise<void>> = [];
  private failure: SyncError | undefined;
  private committed = { ops: 0, bytes: 0, batches: 0 };

  constructor(
    private readonly target: Coordinator,
    private readonly limits: BatchLimits = DEFAULT_BATCH_LIMITS,
    /** Called after each committed batch with its op count; for "last applied" figures. */
    private readonly onCommit: (ops: number) => void = () => undefined,
  ) {}

  figures(): BatchFigures {
    return { ...this.committed };
  }

  /** Ops added and not yet committed (queued or travelling). */
  pending(): number {
    return this.batch.length + this.inFlight.length;
  }

  async add(op: TransactionOp): Promise<void> {
    const bytes = estimateOpBytes(op);
    // Re-checked after each wait: other callers may have filled the next batch meanwhile.
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.batch.length === 0 || (this.batch.length < this.limits.maxOps && this.batchBytes + bytes <= this.limits.maxBytes)) break;
      await this.send();
    }
    this.batch.push(op);
    this.batchBytes += bytes;
  }

  /** Sends what is queued and waits until every batch is answered; rejects with the first failure. */
  async flush(): Promise<void> {
    if (this.batch.length > 0) await this.send();
    while (this.inFlight.length > 0) await this.inFlight[0];
    if (this.failure) throw this.failure;
  }

  /** Drops queued ops and a sticky failure, after the batches in flight have settled. */
  async reset(): Promise<void> {
    this.batch = [];
    this.batchBytes = 0;
    while (this.inFlight.length > 0) await this.inFlight[0];
    this.failure = undefined;
  }

  private async send(): Promise<void> {
    const ops = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    const travel = this.target.transaction(ops).then(
      () => {
        this.committed = { ops: this.committed.ops + ops.length, bytes: this.committed.bytes + bytes, batches: this.committed.batches + 1 };
        this.onCommit(ops.length);
      },
      (err: unknown) => {
        const path = failedPath(err, ops);
        this.failure ??= new SyncError(
          'NW_SYNC_METADATA_COPY_FAILED',
          `writing ${path} at N2 (batch of ${ops.length}): ${err instanceof Error ? err.message : String(err)}`,
          {
            cause: err,
            details: { path, batchOps: ops.length },
          },
        );
      },
    );
    const settled = travel.finally(() => this.inFlight.splice(this.inFlight.indexOf(settled), 1));
    this.inFlight.push(settled);
    while (this.inFlight.length >= this.limits.maxInFlight) await this.inFlight[0];
    if (this.failure) throw this.failure;
  }
}
