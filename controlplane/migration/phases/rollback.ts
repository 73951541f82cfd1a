import type { DataMode } from '../../../protocol/app-state.js';
import type { DesiredAppState } from '../../../fleet/state-writer.js';

/**
 * One step of a rollback, which returns every app of a migration to serving
 * from N1. Each phase lists the steps a rollback from it takes, in order:
 * - `fence`: hold writes everywhere and wait for the barrier, so no write is
 *   in flight when N1 takes over (with writes mirrored back, N1 already has
 *   every write N2 took). Needed once N2 may have taken writes.
 * - `dns-restore`: put the records back as they were before the dns phase;
 *   skipped unless the log says the records were changed (`dnsChanged`: the
 *   dns phase marks it before it sends the change).
 * - `serve`: every app serves from N1 again, without a migration tag.
 */
export type RollbackStep = 'fence' | 'dns-restore' | 'serve';

/** A rollback from a migration that has not started a phase: nothing to undo but the apps it holds. */
export const ROLLBACK_BEFORE_ANY_PHASE: readonly RollbackStep[] = ['serve'];

/**
 * The state a rollback step writes to every app. The fence is tagged
 * `rollback` (lease fencing still applies while it holds writes), with the data
 * layers' mode `data` if given (N1's cache still follows N2's until the hooks'
 * `atRollback` step); serve carries no tag and no data section: the migration
 * no longer concerns the app.
 */
export function rollbackState(step: 'fence' | 'serve', id: string, data?: DataMode): DesiredAppState {
  if (step === 'serve') return { mode: 'serve' };
  return { mode: 'fence', readFrom: 'n1', migration: { id, phase: 'rollback' }, ...(data ? { data } : {}) };
}
