import type { MemoryStore } from '../reference-app/memory-store.js';

/**
 * The embedded stand-in for the datastore sync: with writes already mirrored
 * to both deployments (sync runs in mirror mode), copy every key N2 does not
 * have yet. A key N2 has was written during the mirror, so it is newer and is
 * kept. Check and copy happen in one synchronous step per key, so a mirrored
 * write cannot land in between. (Deletes during the copy could resurrect a
 * key; the experiments' workloads do not delete, and the real datastore sync
 * resolves this with write timestamps.)
 */
export function copyMissingKeys(from: MemoryStore, to: MemoryStore): number {
  let copied = 0;
  for (const [key, entry] of from.snapshot()) if (to.putIfAbsent(key, entry.value)) copied += 1;
  return copied;
}
