import type { Logger } from '../../platform/logger.js';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';

/**
 * Called after a state was applied (its drain done: no mirrored write is
 * still open) and before it is acked. The fence a migration writes on its way
 * to N2 (tagged with the phase `fence`) is refused while N2 failed (5xx, no
 * reply) mirrored writes that N1, the primary, confirmed to clients: the throw
 * is a permanent apply failure, so the agent writes a refusal of the epoch
 * (this code, the app and the counts by side) instead of an ack, the barrier
 * ends at once and the migration rolls back to N1, which has them all, instead
 * of handing writes to a side that may miss acknowledged ones. A rollback's
 * fence onto an N1 that failed some of N2's writes is acked (refusing it
 * would leave the fleet fenced), with an error naming what N1 may miss.
 */
export function refuseAckOnDivergence(gateway: Gateway, app: string, logger: Logger): void {
  const state = gateway.getState()[app];
  if (state?.mode !== 'fence' || state.migration === undefined) return;
  const toward = state.migration.phase === 'fence' ? 'n2' : state.migration.phase === 'rollback' ? 'n1' : undefined;
  if (toward === undefined) return;
  const missed = gateway.mirrorDivergences.unconfirmedOn(app, toward);
  if (missed === 0) return;
  const unconfirmed = (side: 'n1' | 'n2'): string => `${side} ${gateway.mirrorDivergences.unconfirmedOn(app, side)}`;
  const bySide = `unconfirmed by side: ${unconfirmed('n1')}, ${unconfirmed('n2')}`;
  const detail = `${app}: ${toward} failed ${missed} mirrored write(s) that clients were told succeeded (${bySide})`;
  if (toward === 'n2') throw new GatewayError('NW_GW_MIRROR_DIVERGED', `${detail}; the fence toward n2 is refused`);
  logger.error('gateway.mirror.rollback_diverged', { code: 'NW_GW_MIRROR_DIVERGED', app, migration: state.migration.id, missed, detail });
}
