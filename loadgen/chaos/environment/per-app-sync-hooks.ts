import { createSyncHooks, type SyncHook } from '../../../controlplane/index.js';
import type { Coordinator, Logger } from '../../../platform/index.js';
import { type BackedStores, BACKED_PLAN_SYNC, syncConfigOf } from './backed-stores-config.js';

type Hooks = ReturnType<typeof createSyncHooks>;

/** The instance a release of a migration this process did not run uses (its app does not matter to a release). */
const RELEASE_ONLY = 'release_only';

/**
 * The real sync hooks (`cache`, `datastore`: controlplane/sync/sync-hooks.ts) for the Cassandra
 * variant of the campaign, built per app: a control plane's `sync` config names fixed tables and
 * prefixes, and the campaign moves a new app, with a table and a cache prefix of its own, in
 * every migration. Each hook looks up the plan's app and runs that app's instance (built on first
 * use, closed once the migration is released).
 */
export function perAppSyncHooks(
  stores: BackedStores,
  deps: { readonly coordinator: Coordinator; readonly logger: Logger },
): { hooks: ReadonlyMap<string, SyncHook>; close(): Promise<void> } {
  const byApp = new Map<string, Hooks>();
  const forApp = (app: string): Hooks => {
    let h = byApp.get(app);
    if (!h) {
      h = createSyncHooks(syncConfigOf(stores, app), deps);
      byApp.set(app, h);
    }
    return h;
  };
  const appOf = (plan: { readonly apps: readonly string[] }): string => {
    if (plan.apps.length !== 1) throw new Error(`the campaign's sync hooks move one app per migration, got ${plan.apps.join(', ')}`);
    return plan.apps[0]!;
  };
  const byMigration = new Map<string, string>();
  const named = (name: string): SyncHook => {
    const pick = (plan: { readonly apps: readonly string[] }, id: string): SyncHook => {
      const app = appOf(plan);
      byMigration.set(id, app);
      const hook = forApp(app).hooks.get(name);
      if (!hook) throw new Error(`no sync hook ${name}`);
      return hook;
    };
    return Object.assign(async (ctx: Parameters<SyncHook>[0]) => pick(ctx.plan, ctx.migrationId)(ctx), {
      atFence: async (ctx: Parameters<SyncHook>[0]) => (await pick(ctx.plan, ctx.migrationId).atFence?.(ctx)) ?? {},
      // What a release drops (the datastore hook's checkpoints) is named by the migration id
      // alone, so a control plane that did not run the migration's hooks releases it too.
      release: async (id: string, outcome: 'done' | 'rolled-back') => {
        const app = byMigration.get(id) ?? RELEASE_ONLY;
        const hooks = forApp(app);
        try {
          await hooks.hooks.get(name)?.release?.(id, outcome);
        } finally {
          if (name === BACKED_PLAN_SYNC.hooks.at(-1)) {
            byApp.delete(app);
            byMigration.delete(id);
            await hooks.close();
          }
        }
      },
    });
  };
  return {
    hooks: new Map(BACKED_PLAN_SYNC.hooks.map((name) => [name, named(name)])),
    close: async () => void (await Promise.allSettled([...byApp.values()].map((h) => h.close()))),
  };
}
