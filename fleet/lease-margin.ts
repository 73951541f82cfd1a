import type { Coordinator } from '../platform/coordinator/coordinator.js';
import { CoordinatorError } from '../platform/coordinator/coordinator-errors.js';

/**
 * The longest lease a session timeout leaves room for: two thirds of it. The lease must lapse
 * before the session can expire (else a barrier could pass without this member while it still
 * writes), and what is left after it — at least half a lease — is the time a write dispatched just
 * before the lapse has to finish at the app, plus slack for the two clocks (this process's and the
 * ZooKeeper server's) running at slightly different rates.
 */
export function maxLeaseMs(sessionTimeoutMs: number): number {
  return Math.floor((sessionTimeoutMs * 2) / 3);
}

/**
 * Refuses a session whose negotiated timeout is too short for `leaseMs` (NW_CP_SESSION_TIMEOUT_TOO_SHORT).
 * The config can only check the requested timeout; the server clamps it to its own
 * minSessionTimeout..maxSessionTimeout. Coordinators whose sessions never time out pass.
 */
export function assertSessionOutlastsLease(c: Coordinator, leaseMs: number): void {
  const granted = c.negotiatedSessionTimeoutMs();
  if (granted === undefined || leaseMs <= maxLeaseMs(granted)) return;
  throw new CoordinatorError(
    'NW_CP_SESSION_TIMEOUT_TOO_SHORT',
    `the coordinator granted a session timeout of ${granted} ms; a lease of ${leaseMs} ms needs at least ` +
      `${Math.ceil((leaseMs * 3) / 2)} ms (lease <= 2/3 of it). Lower the lease, or raise sessionTimeoutMs ` +
      "and, if the server clamped it, the server's maxSessionTimeout",
  );
}
