import { handedOverData, migrationTag, withData } from './data-modes.js';
import { runAnalysisGates } from '../../analysis/analysis-gates.js';
import type { Phase } from './phase.js';

/**
 * proxy: the handover. The held writes are released to N2 and the gateways
 * send everything there; with `mirrorWritesToN1` each write is also applied
 * to N1 until the migration is done, so a rollback loses nothing. N2 takes
 * writes from here on: a rollback fences first. With an `analysis` section the migration stays
 * here for its `durationMs` while the gates judge N2 from the gateways' metrics, and rolls back if
 * N2 goes over a limit.
 */
export const proxy: Phase<'proxy'> = {
  name: 'proxy',
  states: (plan, id, synced) =>
    withData(
      { mode: 'proxy', mirrorWritesToN1: plan.proxy.mirrorWritesToN1, migration: migrationTag(id, 'proxy') },
      handedOverData(synced, plan.proxy.mirrorWritesToN1),
    ),
  startsWithFlip: true,
  n2TakesWrites: true,
  rollback: ['fence', 'serve'],
  after: (ctx) => runAnalysisGates(ctx, 'proxy'),
};
