/**
 * Lease-based self-fencing. The lease is renewed only by a completed read of
 * every watched state, and dated from when that read was *issued*, so a
 * process that was paused (GC, SIGSTOP) or cut off finds its lease lapsed the
 * moment it wakes and refuses writes for apps that are mid-migration until it
 * has re-read the state. The lease must be shorter than the coordinator
 * session timeout: while the session lives, no barrier can pass without this
 * member's ack; once it could have expired, the lease has lapsed first.
 */
export class CoordinatorLease {
  private confirmedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly leaseMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Renews the lease as of `issuedAt` (the `now()` at which the confirming read started). */
  confirm(issuedAt: number): void {
    if (issuedAt > this.confirmedAt) this.confirmedAt = issuedAt;
  }

  /** Drops the lease at once (session expired). */
  revoke(): void {
    this.confirmedAt = Number.NEGATIVE_INFINITY;
  }

  valid(): boolean {
    return this.now() - this.confirmedAt <= this.leaseMs;
  }

  /** Milliseconds since the last confirmation (Infinity if never). */
  age(): number {
    return this.now() - this.confirmedAt;
  }
}
