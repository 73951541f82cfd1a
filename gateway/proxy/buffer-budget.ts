import { GatewayError } from '../errors.js';

/** What holds a share of the budget (an exchange): how much it holds. */
export interface BufferHolder {
  bufferedBytes: number;
}

/**
 * The bytes of request bodies a gateway holds in memory at once (mirrored writes and mirror-mode
 * reads, whose body is kept to be sent twice). Each such body is bounded by the app's
 * mirrorBodyBytes, but not their sum: without a budget, enough concurrent uploads exhaust the
 * heap. A request reserves before its body is read and gives it back when it ends.
 */
export class BufferBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Reserves `bytes` for the exchange, or refuses it with 503 and Retry-After. */
  reserve(ex: BufferHolder, bytes: number): void {
    if (this.used + bytes > this.limit)
      throw new GatewayError('NW_GW_BUFFER_BUDGET_SPENT', `${this.used} of ${this.limit} bytes in use`, { retryAfterSeconds: 1 });
    this.used += bytes;
    ex.bufferedBytes += bytes;
  }

  /** Gives back what the exchange reserved beyond `bytes` (a chunked body reserves its limit, then holds what came). */
  keep(ex: BufferHolder, bytes: number): void {
    const extra = ex.bufferedBytes - bytes;
    if (extra <= 0) return;
    this.used -= extra;
    ex.bufferedBytes = bytes;
  }

  /** Gives back everything the exchange reserved (when its response has closed). */
  release(ex: BufferHolder): void {
    this.used -= ex.bufferedBytes;
    ex.bufferedBytes = 0;
  }
}
