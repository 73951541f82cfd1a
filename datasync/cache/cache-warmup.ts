import type { Redis } from 'ioredis';
import { SyncError, isSyncError } from '../errors.js';
import { TOMBSTONE_MARK, dumpWithTtl, restoreIfAbsent } from './cache-scripts.js';
import { escapeGlob } from './key-prefix.js';

/** What a warm-up did. */
export interface CacheWarmupFigures {
  /** Keys SCAN returned under the prefix (tombstones excluded). */
  readonly scanned: number;
  readonly restored: number;
  /** N2 already had the key: a copy-on-write (or copy-on-read) value, newer than or equal to ours. */
  readonly skippedExisting: number;
  /** Deleted (in copy mode) within the tombstone TTL: restoring it would revive it. */
  readonly skippedDeleted: number;
  /** Gone or expired between SCAN and DUMP, or whose TTL ran out before RESTORE. */
  readonly expired: number;
  /** Sum of the DUMP payload sizes restored. */
  readonly bytes: number;
  readonly durationMs: number;
}

export interface CacheWarmupOptions {
  /** N1's Redis and N2's Redis; clients without keyPrefix (the prefixes are given here). */
  readonly source: Redis;
  readonly target: Redis;
  /**
   * The cache layers' keyPrefix at N1 (cacheConfig local.keyPrefix): only keys
   * under it are copied, and it is replaced by targetKeyPrefix at N2. Delete
   * tombstones are looked up the way the layer writes them (under the prefix).
   */
  readonly sourceKeyPrefix: string;
  /** The layers' keyPrefix at N2 (cacheConfig n2.keyPrefix); default sourceKeyPrefix. */
  readonly targetKeyPrefix?: string;
  /** Only keys (after the keyPrefix) starting with this; default all. */
  readonly match?: string;
  /** SCAN COUNT hint (default 1000). */
  readonly scanCount?: number;
  /** Keys per DUMP pipeline and per RESTORE pipeline (default 256). */
  readonly pipelineDepth?: number;
  /** Batches in flight at once (default 2): bounds memory and the load put on both servers. */
  readonly maxInFlightBatches?: number;
  readonly signal?: AbortSignal;
  /** Called after every batch with the figures so far. */
  readonly onProgress?: (figures: CacheWarmupFigures) => void;
}

interface Counts {
  scanned: number;
  restored: number;
  skippedExisting: number;
  skippedDeleted: number;
  expired: number;
  bytes: number;
}

/**
 * Bulk warm-up of N2's cache from N1's: SCAN the prefix, DUMP each key
 * together with its PTTL (one script per key, pipelined), RESTORE at N2 with
 * the remaining TTL and without REPLACE.
 *
 * Run it only after every app server acked cache mode `copy`: from then on
 * every set and delete reaches N2 too, so a key that exists at N2 (BUSYKEY) is
 * at least as new as the dump and is skipped, and a key deleted meanwhile has
 * a tombstone at N2 and is not revived. Re-running is harmless (everything
 * already there is skipped).
 *
 * DUMP payloads carry an RDB version: RESTORE refuses a payload from a newer
 * Redis than the target, and payloads are not guaranteed across major
 * versions. Here N1 and N2 run the same Redis version; across versions,
 * fall back to reading values and re-writing them per type.
 */
export async function warmUpCache(opts: CacheWarmupOptions): Promise<CacheWarmupFigures> {
  const started = performance.now();
  const sourcePrefix = Buffer.from(opts.sourceKeyPrefix);
  const targetPrefix = Buffer.from(opts.targetKeyPrefix ?? opts.sourceKeyPrefix);
  const tombstonePrefix = Buffer.concat([sourcePrefix, Buffer.from(TOMBSTONE_MARK)]);
  const depth = positive(opts.pipelineDepth ?? 256, 'pipelineDepth');
  const maxInFlight = positive(opts.maxInFlightBatches ?? 2, 'maxInFlightBatches');
  const scanCount = positive(opts.scanCount ?? 1000, 'scanCount');
  for (const [name, client] of [
    ['source', opts.source],
    ['target', opts.target],
  ] as const) {
    if (client.options.keyPrefix) {
      throw new SyncError(
        'NW_SYNC_CONFIG_INVALID',
        `cache warm-up: ${name} client must not have a keyPrefix (give sourceKeyPrefix/targetKeyPrefix)`,
      );
    }
  }
  const counts: Counts = { scanned: 0, restored: 0, skippedExisting: 0, skippedDeleted: 0, expired: 0, bytes: 0 };
  const figures = (): CacheWarmupFigures => ({ ...counts, durationMs: performance.now() - started });
  const running = new Set<Promise<void>>();
  let failure: unknown;

  const copyBatch = async (keys: Buffer[]): Promise<void> => {
    await copyKeys(opts.source, opts.target, keys, sourcePrefix.length, targetPrefix, counts);
    opts.onProgress?.(figures());
  };

  try {
    await dumpWithTtl.load(opts.source);
    await restoreIfAbsent.load(opts.target);
    const pattern = `${escapeGlob(opts.sourceKeyPrefix + (opts.match ?? ''))}*`;
    let cursor = '0';
    do {
      throwIfAborted(opts.signal);
      const [next, found] = await opts.source.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', scanCount);
      cursor = next.toString();
      const keys = found.filter((k) => !startsWith(k, tombstonePrefix));
      counts.scanned += keys.length;
      for (let i = 0; i < keys.length; i += depth) {
        while (running.size >= maxInFlight) await Promise.race(running);
        if (failure !== undefined) throw failure;
        throwIfAborted(opts.signal);
        const batch = copyBatch(keys.slice(i, i + depth)).catch((err: unknown) => {
          failure ??= err;
        });
        running.add(batch);
        void batch.then(() => running.delete(batch));
      }
    } while (cursor !== '0');
    await Promise.all(running);
    if (failure !== undefined) throw failure;
    return figures();
  } catch (err) {
    await Promise.allSettled(running);
    if (isSyncError(err)) throw err;
    throw new SyncError('NW_SYNC_CACHE_WARMUP_FAILED', err instanceof Error ? err.message : String(err), {
      cause: err,
      details: { ...figures() },
    });
  }
}

async function copyKeys(
  source: Redis,
  target: Redis,
  keys: Buffer[],
  sourcePrefixLength: number,
  targetPrefix: Buffer,
  counts: Counts,
): Promise<void> {
  const dumps = source.pipeline();
  for (const key of keys) dumpWithTtl.queue(dumps, [key], [], true);
  const dumped = await dumps.exec();
  const dumpedAt = performance.now();
  if (dumped === null) throw new Error('DUMP pipeline was discarded');

  const restores = target.pipeline();
  const sizes: number[] = [];
  keys.forEach((key, i) => {
    const [err, reply] = dumped[i] ?? [new Error('missing DUMP reply'), null];
    if (err) throw new Error(`DUMP ${key.toString()}: ${err.message}`);
    if (!Array.isArray(reply)) {
      counts.expired += 1;
      return;
    }
    const [payload, pttl] = reply as [Buffer, number];
    // Keep the remaining TTL: subtract the time since the dump came back; a key that ran out meanwhile is skipped.
    const ttl = pttl === -1 ? 0 : Math.floor(pttl - (performance.now() - dumpedAt));
    if (pttl !== -1 && ttl <= 0) {
      counts.expired += 1;
      return;
    }
    const rest = key.subarray(sourcePrefixLength);
    const targetKey = Buffer.concat([targetPrefix, rest]);
    const tombstone = Buffer.concat([targetPrefix, Buffer.from(TOMBSTONE_MARK), rest]);
    restoreIfAbsent.queue(restores, [targetKey, tombstone], [ttl, payload]);
    sizes.push(payload.length);
  });
  if (sizes.length === 0) return;
  const restored = await restores.exec();
  if (restored === null) throw new Error('RESTORE pipeline was discarded');
  restored.forEach(([err, outcome], i) => {
    if (err) throw new Error(`RESTORE: ${err.message}`);
    if (outcome === 0) {
      counts.restored += 1;
      counts.bytes += sizes[i] ?? 0;
    } else if (outcome === 1) counts.skippedExisting += 1;
    else counts.skippedDeleted += 1;
  });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SyncError('NW_SYNC_ABORTED', 'cache warm-up aborted', { cause: signal.reason });
}

function startsWith(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.subarray(0, prefix.length).equals(prefix);
}

function positive(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 1)
    throw new SyncError('NW_SYNC_CONFIG_INVALID', `cache warm-up: ${field} must be a positive integer, got ${n}`);
  return n;
}
