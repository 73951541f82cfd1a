import type { Deployment } from '../../protocol/app-state.js';
import type { UpstreamReply } from './undici-forwarder.js';

/**
 * Where a mirrored write diverged: the deployment that did not confirm (2xx)
 * a write the other one confirmed, or 'both' when neither confirmed it and
 * their answers still differ in class (e.g. 409 and 500: either may have
 * committed part of it).
 */
export type DivergedSide = Deployment | 'both';

/** The class of one side's outcome: '2xx' … '5xx', or 'error' when it gave no reply (refused, reset, timed out). */
export function outcomeClass(r: PromiseSettledResult<UpstreamReply>): string {
  return r.status === 'fulfilled' ? `${Math.floor(r.value.statusCode / 100)}xx` : 'error';
}

/**
 * Whether a side failed to execute a write: a 5xx or no reply. A 4xx is an
 * answer about the request (often: this side lacks data a sync has not
 * brought yet), not a failure of the side.
 */
export function failedToExecute(r: PromiseSettledResult<UpstreamReply>): boolean {
  return r.status === 'rejected' || r.value.statusCode >= 500;
}

/** The side a mirrored write diverged on, or undefined when both outcomes are of one class. */
export function divergedSide(
  primary: Deployment,
  secondary: Deployment,
  p: PromiseSettledResult<UpstreamReply>,
  s: PromiseSettledResult<UpstreamReply>,
): DivergedSide | undefined {
  const pc = outcomeClass(p);
  const sc = outcomeClass(s);
  if (pc === sc) return undefined;
  if (pc === '2xx') return secondary;
  if (sc === '2xx') return primary;
  return 'both';
}
