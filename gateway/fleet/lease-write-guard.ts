import type { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import { GatewayError } from '../errors.js';
import type { WriteGuard } from '../request-handler.js';

/**
 * The gateway's write guard for a fleet member: while the lease has lapsed, refuse writes for every
 * app. Not only for apps mid-migration: a member cut off before a migration started would otherwise
 * keep writing to N1 by its last state after a barrier dropped it as departed.
 */
export function leaseWriteGuard(lease: CoordinatorLease): WriteGuard {
  return (app) => {
    if (lease.valid()) return undefined;
    return new GatewayError(
      'NW_GW_LEASE_EXPIRED',
      `${app}: state last confirmed ${Math.round(lease.age())} ms ago, lease ${lease.leaseMs} ms`,
      { retryAfterSeconds: 1 },
    );
  };
}
