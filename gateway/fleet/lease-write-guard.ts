import type { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import { GatewayError } from '../errors.js';
import type { WriteGuard } from '../request-handler.js';

/** The gateway's write guard for a fleet member: refuse writes for migrating apps while the lease has lapsed. */
export function leaseWriteGuard(lease: CoordinatorLease): WriteGuard {
  return (app, state) => {
    if (state.migration === undefined || lease.valid()) return undefined;
    return new GatewayError(
      'NW_GW_LEASE_EXPIRED',
      `${app}: state last confirmed ${Math.round(lease.age())} ms ago, lease ${lease.leaseMs} ms`,
      { retryAfterSeconds: 1 },
    );
  };
}
