import type { Redis } from 'ioredis';
import type { DataMode } from '../../protocol/app-state.js';
import type { DataModeTarget } from './data-mode-target.js';
import { SyncError } from '../errors.js';
import { deleteWithTombstone, fillIfAbsent, readWithTtl, setIfNewer, tombstoneKey } from '../cache/cache-scripts.js';
import { cacheError, type CacheSide } from './cache-errors.js';
import { decodeVersioned, encodeVersioned, type VersionedValue } from './versioned-entry.js';

export type CacheMode = DataMode['cache'];

export interface CacheSetOptions {
  /** Expiry in ms; absent or 0: no expiry. */
  readonly ttlMs?: number;
}

export interface RedisCacheLayerOptions {
  readonly local: Redis;
  /** N2's cache; required before `apply` may switch to copy mode. */
  readonly n2?: Redis;
  /** See cacheConfigSchema.tombstoneTtlMs. */
  readonly tombstoneTtlMs?: number;
  /** See the class comment; default false. */
  readonly awaitCopyOnRead?: boolean;
  /** A copy-on-read write to N2 failed (the get itself still succeeded). */
  readonly onCopyOnReadError?: (err: SyncError) => void;
}

/** What copy-on-read did since the layer was built. */
export interface CopyOnReadCounts {
  readonly written: number;
  /** N2 already had the key (a newer copy-on-write value), or it was deleted lately, or expired meanwhile. */
  readonly skipped: number;
  readonly failed: number;
}

/**
 * An app server's cache client that follows the app's data mode.
 *
 * local: every operation goes to the local Redis only.
 *
 * copy (sync phase): copy-on-write — set, versioned set and delete go to the
 * local Redis and N2's Redis in parallel and succeed only if both do
 * (NW_SYNC_CACHE_WRITE_FAILED naming the failed side otherwise); copy-on-read —
 * a get that hits reads value and remaining TTL in one round trip and copies
 * the entry to N2 with that TTL, only if N2 has neither the key nor a recent
 * delete of it, so a copy never overwrites a newer copy-on-write value or
 * revives a deleted one.
 *
 * By default the client does not wait for the copy-on-read write: the value it
 * returns is correct either way, and the copy is only an early, partial
 * warm-up. If the copy is lost, N2 misses the key later, which a cache must
 * tolerate anyway, and the bulk warm-up (run after every app server acked copy
 * mode) copies it. Waiting would add an N2 round trip to every hit for no
 * consistency gain. The write is still tracked, so `apply` (and `whenIdle`)
 * wait for it. `awaitCopyOnRead` makes the client wait (to measure it, or to
 * bound background work under overload).
 *
 * follow (the cache's replicate strategy, while N2 takes writes): the local
 * Redis is a read-only replica of N2's, so set, versioned set and delete are
 * not sent (they resolve as if nothing was stored or deleted): N2's own app
 * servers make the same writes at N2, and replication brings them here in
 * N2's order. Sending them would be refused (READONLY), and a mirrored write
 * that landed after a newer value replicated from N2 would leave a stale one.
 * Reads are local.
 *
 * `apply` swaps the mode for new operations, then resolves once every
 * operation started under the previous mode has settled, so after the data
 * member acks the epoch no write can still land only locally.
 *
 * Unversioned sets of one key by two app servers at once may land in
 * different orders at N1 and N2; `setVersioned` converges both to the highest
 * version.
 */
export class RedisCacheLayer implements DataModeTarget {
  readonly name = 'cache';
  private readonly local: Redis;
  private readonly n2: Redis | undefined;
  private readonly tombstoneTtlMs: number;
  private readonly awaitCopyOnRead: boolean;
  private readonly onCopyOnReadError: (err: SyncError) => void;
  private currentMode: CacheMode = 'local';
  private appliedEpoch = -Infinity;
  private draining: Promise<void> = Promise.resolve();
  private readonly inflight = new Set<Promise<unknown>>();
  private corWritten = 0;
  private corSkipped = 0;
  private corFailed = 0;

  constructor(opts: RedisCacheLayerOptions) {
    this.local = opts.local;
    this.n2 = opts.n2;
    this.tombstoneTtlMs = opts.tombstoneTtlMs ?? 10_000;
    this.awaitCopyOnRead = opts.awaitCopyOnRead ?? false;
    this.onCopyOnReadError = opts.onCopyOnReadError ?? (() => {});
  }

  get mode(): CacheMode {
    return this.currentMode;
  }

  get copyOnRead(): CopyOnReadCounts {
    return { written: this.corWritten, skipped: this.corSkipped, failed: this.corFailed };
  }

  async apply(mode: DataMode, epoch: number): Promise<void> {
    // A state older than one already applied changes nothing (states are ordered by epoch).
    if (epoch < this.appliedEpoch) return this.draining;
    if (mode.cache === 'copy' && this.n2 === undefined) {
      throw new SyncError('NW_SYNC_CONFIG_INVALID', 'cache mode copy needs an N2 cache (config field n2)', { details: { epoch } });
    }
    this.appliedEpoch = epoch;
    if (mode.cache === this.currentMode) return this.draining;
    this.currentMode = mode.cache;
    const older = [...this.inflight];
    this.draining = Promise.allSettled(older).then(() => undefined);
    return this.draining;
  }

  /** Resolves once every operation started so far (including background copies) has settled. */
  async whenIdle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  get(key: string): Promise<string | undefined> {
    return this.track(this.currentMode === 'copy' ? this.getCopying(key) : this.getLocal(key));
  }

  async getVersioned(key: string): Promise<VersionedValue | undefined> {
    const raw = await this.get(key);
    return raw === undefined ? undefined : decodeVersioned(raw);
  }

  mget(keys: readonly string[]): Promise<Array<string | undefined>> {
    if (this.currentMode === 'copy') return Promise.all(keys.map((k) => this.get(k)));
    return this.track(
      this.local.mget(...keys).then(
        (values) => values.map((v) => v ?? undefined),
        (err: unknown) => {
          throw cacheError('read', 'n1', 'mget', keys.join(','), err);
        },
      ),
    );
  }

  /** Stores the value (overwriting). */
  async set(key: string, value: string, opts: CacheSetOptions = {}): Promise<void> {
    const ttl = ttlOf(opts);
    if (this.currentMode === 'follow') return;
    await this.write('set', key, (c) => (ttl > 0 ? c.set(key, value, 'PX', ttl) : c.set(key, value)));
  }

  /**
   * Stores the entry unless the key holds the same or a newer version, or was
   * deleted within the tombstone TTL. True if the local cache stored it.
   */
  async setVersioned(key: string, entry: VersionedValue, opts: CacheSetOptions = {}): Promise<boolean> {
    const encoded = encodeVersioned(entry);
    if (this.currentMode === 'follow') return false;
    const written = await this.write('setVersioned', key, (c) =>
      setIfNewer.run(c, [key, tombstoneKey(key)], [encoded, entry.version, ttlOf(opts)]),
    );
    return written === 1;
  }

  /** Deletes the key and leaves a tombstone for it; true if the local cache had it. */
  async del(key: string): Promise<boolean> {
    if (this.currentMode === 'follow') return false;
    const n = await this.write('del', key, (c) => deleteWithTombstone.run(c, [key, tombstoneKey(key)], [this.tombstoneTtlMs]));
    return n === 1;
  }

  private track<T>(op: Promise<T>): Promise<T> {
    this.inflight.add(op);
    op.then(
      () => this.inflight.delete(op),
      () => this.inflight.delete(op),
    );
    return op;
  }

  private async getLocal(key: string): Promise<string | undefined> {
    try {
      return (await this.local.get(key)) ?? undefined;
    } catch (err) {
      throw cacheError('read', 'n1', 'get', key, err);
    }
  }

  private async getCopying(key: string): Promise<string | undefined> {
    let reply: unknown;
    try {
      reply = await readWithTtl.run(this.local, [key], []);
    } catch (err) {
      throw cacheError('read', 'n1', 'get', key, err);
    }
    if (!Array.isArray(reply)) return undefined;
    const [value, pttl] = reply as [string, number];
    const copy = this.copyToN2(key, value, pttl, performance.now());
    if (this.awaitCopyOnRead) await copy;
    else void this.track(copy);
    return value;
  }

  /** Never rejects: a failed copy is counted and reported, the get it came from still succeeds. */
  private async copyToN2(key: string, value: string, pttl: number, readAt: number): Promise<void> {
    const n2 = this.n2;
    if (n2 === undefined) return;
    // Keep the remaining TTL: subtract the time since the read came back (PTTL was sampled before that).
    const ttl = pttl === -1 ? 0 : Math.floor(pttl - (performance.now() - readAt));
    if (pttl !== -1 && ttl <= 0) {
      this.corSkipped += 1;
      return;
    }
    try {
      const written = await fillIfAbsent.run(n2, [key, tombstoneKey(key)], [value, ttl]);
      if (written === 1) this.corWritten += 1;
      else this.corSkipped += 1;
    } catch (err) {
      this.corFailed += 1;
      this.onCopyOnReadError(cacheError('read', 'n2', 'copy-on-read', key, err));
    }
  }

  /**
   * One write under the mode in force when it starts: local only, or local
   * and N2 in parallel with success only if both succeed. After a partial
   * failure the key is dropped on both sides (best effort) so that neither
   * keeps a value whose write was reported as failed; a missing cache entry is
   * always safe.
   */
  private write<T>(op: string, key: string, run: (client: Redis) => Promise<T>): Promise<T> {
    const n2 = this.currentMode === 'copy' ? this.n2 : undefined;
    return this.track(this.writeOn(op, key, run, n2));
  }

  private async writeOn<T>(op: string, key: string, run: (client: Redis) => Promise<T>, n2: Redis | undefined): Promise<T> {
    if (n2 === undefined) {
      try {
        return await run(this.local);
      } catch (err) {
        throw cacheError('write', 'n1', op, key, err);
      }
    }
    const [atLocal, atN2] = await Promise.allSettled([run(this.local), run(n2)]);
    if (atLocal.status === 'fulfilled' && atN2.status === 'fulfilled') return atLocal.value;
    const failures: Array<[CacheSide, unknown]> = [];
    if (atLocal.status === 'rejected') failures.push(['n1', atLocal.reason]);
    if (atN2.status === 'rejected') failures.push(['n2', atN2.reason]);
    if (op !== 'del') await Promise.allSettled([this.local.del(key), n2.del(key)]);
    const causes = failures.map(([side, err]) => cacheError('write', side, op, key, err));
    throw new SyncError('NW_SYNC_CACHE_WRITE_FAILED', `${op} ${key} failed on ${failures.map(([s]) => s).join(' and ')}`, {
      cause: causes[0],
      details: { op, key, failed: failures.map(([s]) => s), codes: causes.map((c) => c.code) },
    });
  }
}

function ttlOf(opts: CacheSetOptions): number {
  const ttl = opts.ttlMs ?? 0;
  if (!Number.isInteger(ttl) || ttl < 0) throw new RangeError(`ttlMs must be a non-negative integer, got ${ttl}`);
  return ttl;
}
