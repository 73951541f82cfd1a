import { createCacheClient, deleteKeysUnder } from '../../../datasync/index.js';
import type { BackedStores } from './backed-stores-config.js';

/** Deletes every key of the run from both Redis instances (its prefix names the run). */
export async function deleteCampaignCacheKeys(stores: BackedStores): Promise<void> {
  await Promise.allSettled(
    (['n1', 'n2'] as const).map(async (side) => {
      const client = createCacheClient({ ...stores.redis[side], keyPrefix: '' }, { connectTimeoutMs: 2000, commandTimeoutMs: 10_000 });
      try {
        await client.connect();
        await deleteKeysUnder(client, stores.redisPrefix);
      } finally {
        client.disconnect();
      }
    }),
  );
}
