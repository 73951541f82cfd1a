import { cacheFollowsN2, handedOverData, migrationTag, withData } from './data-modes.js';
import { runAnalysisGates } from '../../analysis/analysis-gates.js';
import type { Phase } from './phase.js';

/**
 * redirect (if the plan enables it): clients are sent to N2 with a temporary
 * status (307/308) while rollback is possible; with `methods: safe` only
 * GET/HEAD are redirected and writes keep going through the gateway (mirrored
 * back to N1 as in proxy). Without it the phase changes nothing. With it and an `analysis`
 * section, the gates judge N2 here for another `durationMs`, as in proxy.
 */
export const redirect: Phase<'redirect'> = {
  name: 'redirect',
  states: (plan, id, synced) =>
    plan.redirect.enabled
      ? withData(
          {
            mode: 'redirect',
            status: plan.redirect.status,
            methods: plan.redirect.methods,
            mirrorWritesToN1: plan.proxy.mirrorWritesToN1,
            migration: migrationTag(id, 'redirect'),
          },
          handedOverData(synced, plan.proxy.mirrorWritesToN1, cacheFollowsN2(plan)),
        )
      : undefined,
  startsWithFlip: true,
  n2TakesWrites: true,
  rollback: ['fence', 'serve'],
  after: async (ctx) => (ctx.log.plan.redirect.enabled ? runAnalysisGates(ctx, 'redirect') : {}),
};
