import type { SyncHook } from '../../../controlplane/index.js';
import { appServersAt, type AppServers } from './app-servers.js';
import { keyPrefix } from './app-keys.js';

/**
 * The in-memory stand-in for the datastore sync, run by the control plane as the sync hook
 * `copy-n1-to-n2`: in the sync phase (writes are mirrored by then) N2 gets every key of the
 * plan's apps it lacks; at the fence, when no write is in flight anywhere, every key whose value
 * differs is copied over, so N2 also has what N1 took outside the mirror (a write the gateway
 * dispatched under serve that landed after the first copy, a mirrored write N2 refused).
 * That is what the real sync's verify step does; without it the campaign would report the stand-in.
 */
export function copyHook(apps: AppServers): SyncHook {
  const copy = async (plan: { apps: readonly string[] }, overwrite: boolean): Promise<Record<string, unknown>> => {
    let copied = 0;
    for (const app of plan.apps) copied += await apps.sync('n2', [...(await apps.snapshot('n1', keyPrefix(app)))], overwrite);
    return { copied };
  };
  const hook: SyncHook = Object.assign(async ({ plan }: { plan: { apps: readonly string[] } }) => copy(plan, false), {
    atFence: async ({ plan }: { plan: { apps: readonly string[] } }) => copy(plan, true),
  });
  return hook;
}

/** The hook against app servers at these URLs (the control-plane process knows only them). */
export function copyHookAt(n1: string, n2: string): SyncHook {
  return copyHook(appServersAt({ n1, n2 }));
}
