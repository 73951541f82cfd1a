import { ControlError } from '../../errors.js';
import { migrationTag } from './data-modes.js';
import { hookStepWork, type Phase, type PhaseContext } from './phase.js';

/**
 * prepare: checks that N2 answers, runs the hooks' `atPrepare` steps (the
 * cache's replicate strategy makes N2's Redis a replica of N1's) and lowers the
 * DNS TTLs ahead of the switch, then tags every app (still serving from N1) as
 * part of the migration. Rollback only lets go of the apps; N2 has taken
 * nothing, and lowered TTLs stay lowered.
 */
export const prepare: Phase<'prepare'> = {
  name: 'prepare',
  // The data layers have not been switched yet: no data mode.
  states: (_plan, id) => ({ mode: 'serve', migration: migrationTag(id, 'prepare') }),
  // Its start is recorded before it touches N2 or DNS, so a new leader knows they may have been touched.
  startsWithFlip: false,
  n2TakesWrites: false,
  rollback: ['serve'],
  before: async (ctx) => {
    await checkN2Health(ctx);
    const hooks = await hookStepWork(ctx, 'atPrepare');
    const plan = ctx.log.plan;
    // Once lowered (a phase re-run by a new leader), the TTL's deadline and the records to restore stand.
    if (!plan.dns || !ctx.dns || ctx.log.dnsSwitchNotBefore) return hooks;
    const lowered = await ctx.dns.lowerTtl(plan);
    return {
      data: { ...hooks.data, dns: lowered.data },
      change: { dnsSwitchNotBefore: lowered.notBefore, dnsBefore: lowered.before },
    };
  },
};

/** Every N2 health URL of the plan must answer 2xx within its attempts, or the phase fails (NW_CP_N2_UNHEALTHY). */
async function checkN2Health(ctx: PhaseContext): Promise<void> {
  const { n2HealthUrls, healthAttempts } = ctx.log.plan.prepare;
  for (const url of n2HealthUrls) {
    let last = '';
    let ok = false;
    for (let i = 0; i < healthAttempts && !ok; i++) {
      try {
        const res = await ctx.fetch(url, { signal: AbortSignal.timeout(2000) });
        ok = res.ok;
        last = `status ${res.status}`;
        await res.body?.cancel();
      } catch (err) {
        last = (err as Error).message;
      }
      if (!ok && i + 1 < healthAttempts) await new Promise((r) => setTimeout(r, 200 * (i + 1)));
    }
    if (!ok) throw new ControlError('NW_CP_N2_UNHEALTHY', `${url}: ${last}`);
  }
}
