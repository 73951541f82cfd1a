import { migrationTag, withData } from './data-modes.js';
import { hookStepWork, type Phase } from './phase.js';

/**
 * fence: first the hooks' `beforeFence` steps (a replica's lag within the
 * plan's limit, or the phase fails before any write is held); then writes are held at the gateways (reads still go to N1); once every
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
  before: async (ctx) => {
    const work = await hookStepWork(ctx, 'beforeFence');
    return work.data ? { data: { beforeFence: work.data.hooks } } : {};
  },
  after: (ctx) => hookStepWork(ctx, 'atFence'),
};
