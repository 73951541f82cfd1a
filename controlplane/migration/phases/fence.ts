import { migrationTag, withData } from './data-modes.js';
import type { Phase } from './phase.js';

/**
 * fence: writes are held at the gateways (reads still go to N1); once every
 * member acked, no write is in flight anywhere. Hooks with an `atFence` step
 * then bring N2 fully up to date before it takes traffic. N2 has taken no
 * write yet: a rollback serves from N1 again, and the held writes go there.
 */
export const fence: Phase<'fence'> = {
  name: 'fence',
  states: (plan, id, synced) =>
    withData(
      {
        mode: 'fence',
        readFrom: 'n1',
        ...(plan.fence.maxHoldMs === undefined ? {} : { maxHoldMs: plan.fence.maxHoldMs }),
        ...(plan.fence.maxHeldWrites === undefined ? {} : { maxHeldWrites: plan.fence.maxHeldWrites }),
        migration: migrationTag(id, 'fence'),
      },
      synced,
    ),
  startsWithFlip: true,
  n2TakesWrites: false,
  rollback: ['serve'],
  after: async (ctx) => {
    const { hooks } = ctx.log.plan.sync;
    // No `hooks` figures at all when no hook has a step here (as the log has always shown it).
    if (!hooks.some((n) => ctx.syncHooks.get(n)?.atFence)) return {};
    return { data: { hooks: await ctx.runSyncHooks('atFence') } };
  },
};
