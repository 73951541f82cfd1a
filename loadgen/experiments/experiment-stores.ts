import type { Coordinator, CoordinatorRole, Logger } from '../../platform/index.js';
import type { MigrationPlanInput, SyncHook } from '../../controlplane/index.js';
import type { KvStore } from '../reference-app/kv-store.js';
import { MemoryStore } from '../reference-app/memory-store.js';
import type { PlanSync } from './experiment-config.js';
import { copyMissingKeys } from './memory-sync-hook.js';

/** What a store factory may use; a factory that needs none of it can ignore the argument. */
export interface StoreContext {
  /** 1-based trial number (name keyspaces / key prefixes after it to keep trials apart). */
  readonly trial: number;
  /** The app the trial migrates (data-layer members serve it). */
  readonly app: string;
  /**
   * A new, unconnected client of the trial's coordinator in a role: 'member' for data layers that
   * join the fleet, 'controlplane' for sync jobs.
   */
  readonly coordinator: (role: CoordinatorRole) => Coordinator;
  readonly logger: Logger;
}

/** The stores behind N1 and N2 for one trial, and how the migration syncs them. */
export interface ExperimentStores {
  readonly n1: KvStore;
  readonly n2: KvStore;
  /**
   * Where the lost-write check reads N2's data (default n2); a store behind a cache names its datastore here,
   * so the cache cannot hide a write the datastore lost.
   */
  readonly readBack?: KvStore;
  /** Sync hooks the control plane runs by name. */
  readonly syncHooks?: ReadonlyMap<string, SyncHook>;
  /** The plan's sync section; default `mirror` with every hook in `syncHooks`, in order. */
  readonly sync?: PlanSync;
  /** Further plan sections the stores' strategy needs (the replicate strategy's datastore, fence and proxy settings). */
  readonly plan?: Pick<MigrationPlanInput, 'datastore' | 'fence' | 'proxy'>;
  /**
   * The stores take one migration only: a migration aborted in its sync phase leaves N2 attached (the
   * replicate strategy's keyspace keeps N2's datacenter, and Cassandra remembers the ranges it rebuilt,
   * so a second rebuild would skip them). The overhead experiment then starts fresh stores for each round.
   */
  readonly singleMigration?: boolean;
  close(): Promise<void>;
}

/** Builds a trial's stores. Called once per trial, after the coordinator is up and before the gateways start. */
export type StoreFactory = (ctx: StoreContext) => Promise<ExperimentStores>;

/** In-memory N1 and N2; the sync copies keys N2 lacks while writes are mirrored. */
export const memoryStores: StoreFactory = async () => {
  const n1 = new MemoryStore();
  const n2 = new MemoryStore();
  return {
    n1,
    n2,
    syncHooks: new Map<string, SyncHook>([['copy-n1-to-n2', async () => ({ copiedKeys: copyMissingKeys(n1, n2) })]]),
    sync: { mode: 'mirror', hooks: ['copy-n1-to-n2'] },
    async close() {},
  };
};

/** The plan's sync section for these stores. */
export function planSync(stores: ExperimentStores): PlanSync {
  return stores.sync ?? { mode: 'mirror', hooks: [...(stores.syncHooks?.keys() ?? [])] };
}
