import { backedStores, type N2AsSeenFromN1 } from './backed-stores.js';
import type { StoreConfig } from './experiment-config.js';
import { ExperimentError } from './experiment-errors.js';
import { memoryStores, type StoreFactory } from './experiment-stores.js';
import { replicatedStores } from './replicated-stores.js';

/** How the datastore moves to N2 in an experiment: the paper's copy-on-write, or the engine's replication. */
export const DATA_STRATEGIES = ['copy-on-write', 'replicate'] as const;
export type DataStrategy = (typeof DATA_STRATEGIES)[number];

/**
 * The factory a config's `store` section names for a strategy; its `sync` (if given) overrides the
 * store's own. `fromN1`: N2's endpoints as N1's side reaches them (the app-to-N2 link), copy-on-write only.
 */
export function storeFactoryFor(cfg: StoreConfig, strategy: DataStrategy = 'copy-on-write', fromN1?: N2AsSeenFromN1): StoreFactory {
  let base: StoreFactory;
  if (strategy === 'replicate') {
    if (cfg.kind !== 'cassandra' || !cfg.replicate)
      throw new ExperimentError(
        'NW_EXP_USAGE',
        '--strategy replicate needs a store of kind cassandra with a replicate section (configs/experiment.replicate.yaml)',
      );
    base = replicatedStores({ ...cfg.replicate, redis: cfg.redis, cacheTtlMs: cfg.cacheTtlMs });
  } else base = cfg.kind === 'cassandra' ? backedStores(cfg, fromN1) : memoryStores;
  if (!cfg.sync) return base;
  const sync = cfg.sync;
  return async (ctx) => ({ ...(await base(ctx)), sync });
}
