import type { DataMode, MigrationTag } from '../../protocol/app-state.js';
import type { DesiredAppState } from '../../fleet/state-writer.js';
import type { PhaseName } from './migration-log.js';
import type { MigrationPlan } from './plan.js';

/**
 * The state every app of a migration gets in each phase. Phases that change
 * nothing at the gateways (dns) return undefined. While a migration runs,
 * states carry its tag, so lease fencing applies to these apps.
 */
export function phaseState(plan: MigrationPlan, id: string, phase: PhaseName, synced?: DataMode): DesiredAppState | undefined {
  const s = modeFor(plan, id, phase);
  const data = dataModeFor(plan, phase, synced);
  return s && data ? { ...s, data } : s;
}

/**
 * The data layers' mode in a phase, once a sync hook switched them (`synced`):
 * sync and fence keep what the hooks set; from proxy on, N1's data layer
 * stops copying (N2's own app servers write N2 now) and either keeps its own
 * copy current from the writes the gateways mirror back (mirrorWritesToN1,
 * so a rollback loses nothing) or sends all access to N2.
 */
export function dataModeFor(plan: MigrationPlan, phase: PhaseName, synced: DataMode | undefined): DataMode | undefined {
  if (!synced) return undefined;
  switch (phase) {
    case 'prepare':
      return undefined;
    case 'sync':
    case 'fence':
      return synced;
    default: {
      const keepN1 = plan.proxy.mirrorWritesToN1 && phase !== 'done';
      return { datastore: synced.datastore === 'local' || keepN1 ? 'local' : 'n2', cache: 'local' };
    }
  }
}

function modeFor(plan: MigrationPlan, id: string, phase: PhaseName): DesiredAppState | undefined {
  const migration: MigrationTag = { id, phase };
  switch (phase) {
    case 'prepare':
      return { mode: 'serve', migration };
    case 'sync':
      return plan.sync.mode === 'mirror'
        ? { mode: 'mirror', primary: 'n1', readFrom: 'n1', shadowCompare: plan.sync.shadowCompare, migration }
        : { mode: 'serve', migration };
    case 'fence':
      return {
        mode: 'fence',
        readFrom: 'n1',
        ...(plan.fence.maxHoldMs === undefined ? {} : { maxHoldMs: plan.fence.maxHoldMs }),
        ...(plan.fence.maxHeldWrites === undefined ? {} : { maxHeldWrites: plan.fence.maxHeldWrites }),
        migration,
      };
    case 'proxy':
      return { mode: 'proxy', mirrorWritesToN1: plan.proxy.mirrorWritesToN1, migration };
    case 'redirect':
      return plan.redirect.enabled
        ? {
            mode: 'redirect',
            status: plan.redirect.status,
            methods: plan.redirect.methods,
            mirrorWritesToN1: plan.proxy.mirrorWritesToN1,
            migration,
          }
        : undefined;
    case 'dns':
      return undefined;
    case 'done':
      return plan.redirect.enabled
        ? { mode: 'redirect', status: plan.redirect.finalStatus, methods: plan.redirect.methods, mirrorWritesToN1: false }
        : { mode: 'proxy', mirrorWritesToN1: false };
  }
}

/** Whether N2 may have taken writes by this phase (a rollback must fence first). */
export function n2TakesWrites(phase: PhaseName | undefined): boolean {
  return phase === 'proxy' || phase === 'redirect' || phase === 'dns' || phase === 'done';
}
