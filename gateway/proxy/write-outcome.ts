import type { GatewayError } from '../errors.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { SendHooks } from './undici-forwarder.js';

/**
 * The send hooks of one write: passes retries on to the shared hook and
 * remembers whether any attempt ended with an unknown outcome (the app may
 * still commit it), which keeps the write counted in flight for the grace.
 */
export class WriteOutcome implements SendHooks {
  unknown = false;

  constructor(private readonly base: SendHooks) {}

  // Methods, not arrow properties: no two closures per write (withRetries calls them on the hooks object).
  onRetry(pool: UpstreamPool, err: GatewayError): void {
    this.base.onRetry?.(pool, err);
  }

  onOutcomeUnknown(): void {
    this.unknown = true;
  }
}
