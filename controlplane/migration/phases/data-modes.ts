import type { DataMode, MigrationTag } from '../../../protocol/app-state.js';
import type { DesiredAppState } from '../../../fleet/state-writer.js';
import type { PhaseName } from '../migration-log.js';
import type { MigrationPlan } from '../plan.js';

/** The tag a phase's states carry while the migration runs (lease fencing applies to tagged apps). */
export function migrationTag(id: string, phase: PhaseName): MigrationTag {
  return { id, phase };
}

/** A gateway state with the data layers' mode added, once there is one (a sync hook switched them). */
export function withData(state: DesiredAppState, data: DataMode | undefined): DesiredAppState {
  return data ? { ...state, data } : state;
}

/**
 * The data layers' mode once N2 takes writes (proxy on), given the mode the
 * sync hooks switched them to (`synced`): N1's data layer stops copying or
 * writing at EACH_QUORUM (N2's
 * own app servers write N2 now) and either keeps its own copy current from
 * the writes the gateways mirror back (`keepN1`, so a rollback loses nothing)
 * or sends all access to N2. With `cacheFollowsN2` (the cache's replicate
 * strategy, until done) N1's Redis is a read-only replica of N2's: N1's cache
 * layer leaves sets and deletes to replication (a mirrored write would be
 * refused there, and could land after a newer value replicated from N2).
 * Undefined while no hook switched them and the cache does not follow N2.
 */
export function handedOverData(synced: DataMode | undefined, keepN1: boolean, cacheFollowsN2 = false): DataMode | undefined {
  if (!synced && !cacheFollowsN2) return undefined;
  // Only layers that copied to N2 send their access there; 'each-quorum' (the replicate strategy's
  // last window) ends with the fence: N2's datacenter is in the same cluster, each side writes its own.
  const copied = synced?.datastore === 'copy-on-write' || synced?.datastore === 'n2';
  const datastore = copied && !keepN1 ? 'n2' : 'local';
  return { datastore, cache: cacheFollowsN2 ? 'follow' : 'local' };
}

/** Whether N1's Redis follows N2's while N2 takes writes (the plan's cache strategy is `replicate`). */
export function cacheFollowsN2(plan: MigrationPlan): boolean {
  return plan.sync.cache.strategy === 'replicate';
}

/**
 * The data layers' mode under a rollback's fence: with the cache's replicate strategy N1's Redis may
 * still be N2's replica until the hooks' `atRollback` promotes it, so N1's cache layers keep
 * following (a write mirrored to N1 as the fence comes in is left to replication, not refused).
 */
export function rollbackFenceData(plan: MigrationPlan): DataMode | undefined {
  return cacheFollowsN2(plan) ? { datastore: 'local', cache: 'follow' } : undefined;
}
