import type { DesiredAppState } from '../../../fleet/state-writer.js';
import { cacheFollowsN2, handedOverData, withData } from './data-modes.js';
import { hookStepWork, type Phase } from './phase.js';

/**
 * done: the final states. A permanent redirect (or plain proxying) to N2, no
 * more writes mirrored back to N1, and no migration tag: the apps are no
 * longer mid-migration. Once every member acked, the hooks' `atDone` steps run
 * (the cache's replicate strategy lets go of N1's Redis). Once this phase completed the migration is over (the
 * runner then releases hooks and locks); a rollback from it happens only if
 * its own flip fails, and undoes everything (fence, DNS, serve from N1).
 */
export const done: Phase<'done'> = {
  name: 'done',
  states: (plan, _id, synced) => {
    const state: DesiredAppState = plan.redirect.enabled
      ? { mode: 'redirect', status: plan.redirect.finalStatus, methods: plan.redirect.methods, mirrorWritesToN1: false }
      : { mode: 'proxy', mirrorWritesToN1: false };
    // N1's cache layers keep following: N1's Redis is N2's replica until `atDone` releases it after the barrier.
    return withData(state, handedOverData(synced, false, cacheFollowsN2(plan)));
  },
  startsWithFlip: true,
  n2TakesWrites: true,
  rollback: ['fence', 'dns-restore', 'serve'],
  after: (ctx) => hookStepWork(ctx, 'atDone'),
};
