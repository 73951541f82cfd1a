import { cacheFollowsN2, handedOverData, migrationTag, withData } from './data-modes.js';
import { runAnalysisGates } from '../../analysis/analysis-gates.js';
import { hookStepWork, type Phase } from './phase.js';

/**
 * proxy: the handover. The held writes are released to N2 and the gateways
 * send everything there; with `mirrorWritesToN1` each write is also applied
 * to N1 until the migration is done, so a rollback loses nothing. N2 takes
 * writes from here on: a rollback fences first. The hooks' `beforeProxy` steps run before the flip,
 * writes still held (the cache's replicate strategy promotes N2's Redis), their `atProxy` steps once
 * every member acked (N1's Redis follows N2's). With an `analysis` section the migration stays
 * here for its `durationMs` while the gates judge N2 from the gateways' metrics, and rolls back if
 * N2 goes over a limit.
 */
export const proxy: Phase<'proxy'> = {
  name: 'proxy',
  states: (plan, id, synced) =>
    withData(
      { mode: 'proxy', mirrorWritesToN1: plan.proxy.mirrorWritesToN1, migration: migrationTag(id, 'proxy') },
      handedOverData(synced, plan.proxy.mirrorWritesToN1, cacheFollowsN2(plan)),
    ),
  startsWithFlip: true,
  n2TakesWrites: true,
  rollback: ['fence', 'serve'],
  before: async (ctx) => {
    const work = await hookStepWork(ctx, 'beforeProxy');
    return work.data ? { data: { beforeProxy: work.data.hooks } } : {};
  },
  after: async (ctx) => {
    const hooks = await hookStepWork(ctx, 'atProxy');
    const gates = await runAnalysisGates(ctx, 'proxy');
    return { ...gates, ...(hooks.data || gates.data ? { data: { ...hooks.data, ...gates.data } } : {}) };
  },
};
