import { ControlError } from '../../errors.js';
import type { Phase } from './phase.js';

/**
 * dns (if the plan has a dns section): waits out the old TTL, then switches
 * the records to N2 in one batch and waits until the change is in sync. The
 * gateways keep their states. A rollback fences, puts the records back if
 * they were changed, then serves from N1.
 */
export const dns: Phase<'dns'> = {
  name: 'dns',
  states: () => undefined,
  // Its start is recorded before the records change, so a rollback after a crash here knows to look.
  startsWithFlip: false,
  n2TakesWrites: true,
  rollback: ['fence', 'dns-restore', 'serve'],
  before: async (ctx) => {
    const plan = ctx.log.plan;
    if (!plan.dns) return {};
    const steps = ctx.dns;
    if (!steps) throw new ControlError('NW_CP_CONFIG_INVALID', 'plan has a dns section but this control plane has no DNS provider');
    const notBefore = Date.parse(ctx.log.dnsSwitchNotBefore ?? '') || 0;
    const wait = plan.dns.skipTtlWait ? 0 : notBefore - Date.now();
    if (wait > 0) {
      await ctx.record({}, { event: 'note', phase: 'dns', detail: `waiting ${Math.round(wait / 1000)} s for the old TTL to expire` });
      await new Promise((r) => setTimeout(r, wait));
    }
    ctx.checkLeader();
    // Mark first, so a rollback after a crash here restores the records either way.
    await ctx.record({ dnsChanged: true });
    return { data: { dns: await steps.switch(plan) } };
  },
};
