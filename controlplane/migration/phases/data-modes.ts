import type { DataMode, MigrationTag } from '../../../protocol/app-state.js';
import type { DesiredAppState } from '../../../fleet/state-writer.js';
import type { PhaseName } from '../migration-log.js';

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
 * sync hooks switched them to (`synced`): N1's data layer stops copying (N2's
 * own app servers write N2 now) and either keeps its own copy current from
 * the writes the gateways mirror back (`keepN1`, so a rollback loses nothing)
 * or sends all access to N2. Undefined while no hook switched them.
 */
export function handedOverData(synced: DataMode | undefined, keepN1: boolean): DataMode | undefined {
  if (!synced) return undefined;
  return { datastore: synced.datastore === 'local' || keepN1 ? 'local' : 'n2', cache: 'local' };
}
