import { GatewayError } from '../errors.js';

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: GatewayError) => void;
  readonly timer: NodeJS.Timeout;
  readonly since: number;
}

/**
 * Writes held for one app while it is fenced. Bounded in count and time: over
 * the count a write is refused at once, past the deadline it gets 503 with
 * Retry-After. `release()` lets every held write go on (it re-reads the
 * routing table, so it goes where the new state says).
 */
export class WriteHold {
  private readonly waiters = new Set<Waiter>();
  /** Total hold time of released writes, for metrics. */
  onReleased: (heldMs: number) => void = () => undefined;

  get size(): number {
    return this.waiters.size;
  }

  hold(maxHeld: number, maxHoldMs: number, retryAfterSeconds: number): Promise<void> {
    if (this.waiters.size >= maxHeld) {
      return Promise.reject(new GatewayError('NW_GW_WRITE_HOLD_FULL', `${maxHeld} writes already held`, { retryAfterSeconds }));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        since: performance.now(),
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new GatewayError('NW_GW_WRITE_HOLD_TIMEOUT', `held ${maxHoldMs} ms`, { retryAfterSeconds }));
        }, maxHoldMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Lets held writes proceed; returns how many were released. */
  release(): number {
    const n = this.waiters.size;
    const now = performance.now();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      this.onReleased(now - w.since);
      w.resolve();
    }
    this.waiters.clear();
    return n;
  }

  /** Fails every held write (shutdown). */
  rejectAll(err: GatewayError): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }
}
