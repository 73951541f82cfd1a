import type { RedisCacheLayer } from '../../datasync/index.js';
import { CommittedWriteError, type KvEntry, type KvStore } from './kv-store.js';

export interface CachedStoreOptions {
  /** Expiry of cache entries in ms (default 60 s; 0: none). */
  readonly ttlMs?: number;
  /** A cache fill after a store read failed; the read itself still succeeded (default: ignored). */
  readonly onFillError?: (err: unknown) => void;
}

/**
 * Cache-aside over any KvStore. Cache entries hold value and version and are
 * written only with a higher version than the one cached (RedisCacheLayer
 * setVersioned), so concurrent puts and read fills can land in any order
 * without a read ever going back to an older version. A delete leaves a
 * tombstone in the cache that makes fills of the deleted key refuse for its
 * TTL, so a read that fetched the old entry just before the delete cannot put
 * it back; reads of that key go to the store meanwhile.
 *
 * The store stays the source of truth: if the cache update after a put or
 * delete fails, the store change is kept and the error is thrown (the cache
 * may keep the previous entry until its TTL); for a put as a
 * CommittedWriteError (its cause the cache's error), so the app can tell a
 * committed write from one that never reached the store.
 */
export class CachedStore implements KvStore {
  private readonly ttlMs: number;
  private readonly onFillError: (err: unknown) => void;

  constructor(
    private readonly store: KvStore,
    private readonly cache: RedisCacheLayer,
    opts: CachedStoreOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.onFillError = opts.onFillError ?? (() => {});
  }

  async get(key: string): Promise<KvEntry | undefined> {
    const cached = await this.cache.getVersioned(key);
    if (cached !== undefined) return cached;
    const entry = await this.store.get(key);
    if (entry !== undefined) {
      await this.cache.setVersioned(key, entry, { ttlMs: this.ttlMs }).catch((err: unknown) => this.onFillError(err));
    }
    return entry;
  }

  async put(key: string, value: string): Promise<number> {
    const version = await this.store.put(key, value);
    try {
      await this.cache.setVersioned(key, { value, version }, { ttlMs: this.ttlMs });
    } catch (err) {
      throw new CommittedWriteError(version, err);
    }
    return version;
  }

  async delete(key: string): Promise<boolean> {
    const existed = await this.store.delete(key);
    await this.cache.del(key);
    return existed;
  }

  /** The store's entries, not the cache's: the cache may miss keys or hold older ones. */
  entries(prefix: string): Promise<Array<[string, string]>> {
    if (!this.store.entries) return Promise.reject(new Error('the store behind the cache cannot list its entries'));
    return this.store.entries(prefix);
  }
}
