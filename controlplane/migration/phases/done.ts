import type { DesiredAppState } from '../../../fleet/state-writer.js';
import { handedOverData, withData } from './data-modes.js';
import type { Phase } from './phase.js';

/**
 * done: the final states. A permanent redirect (or plain proxying) to N2, no
 * more writes mirrored back to N1, and no migration tag: the apps are no
 * longer mid-migration. Once this phase completed the migration is over (the
 * runner then releases hooks and locks); a rollback from it happens only if
 * its own flip fails, and undoes everything (fence, DNS, serve from N1).
 */
export const done: Phase<'done'> = {
  name: 'done',
  states: (plan, _id, synced) => {
    const state: DesiredAppState = plan.redirect.enabled
      ? { mode: 'redirect', status: plan.redirect.finalStatus, methods: plan.redirect.methods, mirrorWritesToN1: false }
      : { mode: 'proxy', mirrorWritesToN1: false };
    return withData(state, handedOverData(synced, false));
  },
  startsWithFlip: true,
  n2TakesWrites: true,
  rollback: ['fence', 'dns-restore', 'serve'],
};
