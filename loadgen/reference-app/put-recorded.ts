import type { AdminContext } from './app-admin.js';
import type { NewCommit } from './commit-log.js';
import { CommittedWriteError } from './kv-store.js';

/**
 * A put, logged once the store of record has it: also when a step after the commit failed (a
 * cache update), which still answers an error. The log is what the app committed, so a write
 * its client saw fail may be in it, and a check of the write order sees every commit.
 */
export async function putRecorded(
  ctx: Pick<AdminContext, 'store' | 'commits'>,
  key: string,
  value: string,
  entry: (version: number) => NewCommit,
): Promise<number> {
  try {
    const version = await ctx.store.put(key, value);
    ctx.commits?.record(entry(version));
    return version;
  } catch (err) {
    if (err instanceof CommittedWriteError) ctx.commits?.record(entry(err.version));
    throw err;
  }
}
