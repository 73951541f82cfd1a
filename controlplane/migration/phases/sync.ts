import type { DesiredAppState } from '../../../fleet/state-writer.js';
import { ControlError } from '../../errors.js';
import { migrationTag, withData } from './data-modes.js';
import type { Phase } from './phase.js';

/**
 * sync: with `mode: mirror`, every request runs on both deployments
 * (simultaneous execution, N1's reply returned) while the data syncs;
 * otherwise N1 keeps serving alone. Then the plan's sync hooks run in order;
 * they may switch the data layers (copy-on-write, cache copy), which rewrites
 * this phase's states with the new data mode. N1 keeps every write, so a
 * rollback only serves from N1 again.
 */
export const sync: Phase<'sync'> = {
  name: 'sync',
  states: (plan, id, synced) => {
    const migration = migrationTag(id, 'sync');
    const state: DesiredAppState =
      plan.sync.mode === 'mirror'
        ? { mode: 'mirror', primary: 'n1', readFrom: 'n1', shadowCompare: plan.sync.shadowCompare, migration }
        : { mode: 'serve', migration };
    return withData(state, synced);
  },
  startsWithFlip: true,
  n2TakesWrites: false,
  rollback: ['serve'],
  // A hook this leader does not have fails the phase before anything changes (checked again as each runs).
  before: async (ctx) => {
    for (const name of ctx.log.plan.sync.hooks) if (!ctx.syncHooks.has(name)) throw new ControlError('NW_CP_UNKNOWN_SYNC_HOOK', name);
    return {};
  },
  after: async (ctx) => ({ data: { hooks: await ctx.runSyncHooks('sync') } }),
};
