import { checkAcknowledgedWrites } from './acknowledged-writes.js';
import type { MigrationEvidence, Violation } from './evidence.js';
import { checkLeftovers } from './leftovers.js';
import { checkMigrationEnds } from './migration-ends.js';
import { checkSameEpoch } from './same-epoch.js';
import { checkWriteOrder } from './write-order.js';

/** Every invariant of the campaign over one migration's evidence. */
export function checkInvariants(ev: MigrationEvidence): Violation[] {
  return [...checkMigrationEnds(ev), ...checkAcknowledgedWrites(ev), ...checkWriteOrder(ev), ...checkLeftovers(ev), ...checkSameEpoch(ev)];
}
