import { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import { monotonicNowMs } from './monotonic-clock.js';

/**
 * The coordinator lease of a multi-worker gateway, held by its primary (which holds the session),
 * and told to every worker whenever it changes: renewed on each complete re-read, dropped when the
 * session expires. What a worker gets is the instant of the last confirmation on CLOCK_MONOTONIC,
 * which the worker reads alike, so it lapses in the worker at the very instant it lapses here,
 * however late the message arrives (a late message cannot lengthen it); a revocation in flight can
 * only be late by the channel's delay, and the lease has lapsed by time before the session could
 * have expired anyway (docs/architecture.md, "The lease").
 */
export class RelayedLease extends CoordinatorLease {
  /** Called after every change (set by the primary: it posts the new value to its workers). */
  onChange: () => void = () => undefined;

  override confirm(issuedAt: number): void {
    super.confirm(issuedAt);
    this.onChange();
  }

  override revoke(): void {
    super.revoke();
    this.onChange();
  }

  /**
   * When the lease was last confirmed, on CLOCK_MONOTONIC (ms); null when it is not held. The
   * monotonic clock is read before the lease's own (performance.now(), the same clock counted from
   * this process's start), so the instant given is never later than the true one.
   */
  confirmedAtMonotonic(): number | null {
    const now = monotonicNowMs();
    const age = this.age();
    return Number.isFinite(age) ? now - age : null;
  }
}
