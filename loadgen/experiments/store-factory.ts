import { backedStores } from './backed-stores.js';
import type { StoreConfig } from './experiment-config.js';
import { memoryStores, type StoreFactory } from './experiment-stores.js';

/** The factory a config's `store` section names; its `sync` (if given) overrides the store's own. */
export function storeFactoryFor(cfg: StoreConfig): StoreFactory {
  const base: StoreFactory = cfg.kind === 'cassandra' ? backedStores(cfg) : memoryStores;
  if (!cfg.sync) return base;
  const sync = cfg.sync;
  return async (ctx) => ({ ...(await base(ctx)), sync });
}
