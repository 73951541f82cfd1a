import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createCacheClient, parseCacheConfig, warmUpCache, RedisCacheLayer, deleteKeysUnder } from '../../../datasync/index.js';
import { LatencyRecorder, type LatencySummary } from '../latency-histogram.js';

export interface CacheBenchOptions {
  readonly n1: { readonly host: string; readonly port: number };
  readonly n2: { readonly host: string; readonly port: number };
  /** Operations per measured series (set local, set copy, get local, get copy, get copy awaited). */
  readonly ops: number;
  readonly valueBytes: number;
  /** Keys for the warm-up throughput figure (default 50 000). */
  readonly warmupKeys?: number;
  /** Value size for the warm-up figure (default 1024). */
  readonly warmupValueBytes?: number;
}

export interface CacheBenchResult {
  readonly setLocalP50Ms: number;
  readonly setCopyP50Ms: number;
  /** Added p50 of copy-on-write (set in copy mode vs local). Paper: 0.17 ms. */
  readonly cowOverheadP50Ms: number;
  readonly getLocalP50Ms: number;
  /** Get hit in copy mode as the layer does it by default: the N2 copy is not awaited. */
  readonly getCopyP50Ms: number;
  /** Added p50 of copy-on-read (default layer). Paper: 0.85 ms. */
  readonly corOverheadP50Ms: number;
  /** Get hit in copy mode with awaitCopyOnRead: the client waits for the N2 write too. */
  readonly getCopyAwaitedP50Ms: number;
  readonly corAwaitedOverheadP50Ms: number;
  readonly setLocalP99Ms: number;
  readonly setCopyP99Ms: number;
  readonly cowOverheadP99Ms: number;
  readonly getLocalP99Ms: number;
  readonly getCopyP99Ms: number;
  readonly corOverheadP99Ms: number;
  readonly getCopyAwaitedP99Ms: number;
  /** Operations measured per series. */
  readonly samples: number;
  readonly warmup: {
    readonly keys: number;
    readonly valueBytes: number;
    readonly durationMs: number;
    readonly keysPerSec: number;
    readonly mbPerSec: number;
  };
}

type Series = 'setLocal' | 'setCopy' | 'getLocal' | 'getCopy' | 'getCopyAwaited';
const ROUND = 50;

/**
 * Added latency of the cache layer's copy mode, one operation at a time
 * (closed loop, concurrency 1) so that each sample is one client-visible
 * operation. Modes are interleaved in rounds of ROUND operations, in an order
 * that rotates every round, so drift on a noisy machine hits every series
 * alike. Every get is a hit on a key N2 does not have yet, so each copy-on-read
 * really writes. Keys live under a random prefix and are removed at the end.
 */
export async function runCacheBench(opts: CacheBenchOptions): Promise<CacheBenchResult> {
  const prefix = `nw-bench:cache:${randomBytes(4).toString('hex')}:`;
  const cfg = parseCacheConfig({
    local: { host: opts.n1.host, port: opts.n1.port, keyPrefix: prefix },
    n2: { host: opts.n2.host, port: opts.n2.port, keyPrefix: prefix },
    commandTimeoutMs: 10_000,
  });
  const clients = [createCacheClient(cfg.local, cfg), createCacheClient(cfg.n2!, cfg)] as const;
  const raw = [
    new Redis({ host: opts.n1.host, port: opts.n1.port, lazyConnect: true }),
    new Redis({ host: opts.n2.host, port: opts.n2.port, lazyConnect: true }),
  ] as const;
  await Promise.all([...clients, ...raw].map((c) => c.connect()));
  const [local, n2] = clients;
  const localLayer = new RedisCacheLayer({ local, n2 });
  const copyLayer = new RedisCacheLayer({ local, n2 });
  const awaitingLayer = new RedisCacheLayer({ local, n2, awaitCopyOnRead: true });
  await copyLayer.apply({ datastore: 'local', cache: 'copy' }, 1);
  await awaitingLayer.apply({ datastore: 'local', cache: 'copy' }, 1);

  const value = incompressible(opts.valueBytes);
  const recorders = new Map<Series, LatencyRecorder>();
  const run: Record<Series, (i: number) => Promise<unknown>> = {
    setLocal: (i) => localLayer.set(`set-local:${i}`, value, { ttlMs: 600_000 }),
    setCopy: (i) => copyLayer.set(`set-copy:${i}`, value, { ttlMs: 600_000 }),
    getLocal: (i) => localLayer.get(`get:local:${i}`),
    getCopy: (i) => copyLayer.get(`get:copy:${i}`),
    getCopyAwaited: (i) => awaitingLayer.get(`get:awaited:${i}`),
  };
  const series = Object.keys(run) as Series[];
  try {
    await seed(raw[0], prefix, ['get:local:', 'get:copy:', 'get:awaited:'], opts.ops, value);
    for (const s of series) recorders.set(s, new LatencyRecorder());
    for (let start = 0, round = 0; start < opts.ops; start += ROUND, round++) {
      const end = Math.min(opts.ops, start + ROUND);
      for (let j = 0; j < series.length; j++) {
        const s = series[(j + round) % series.length]!;
        const rec = recorders.get(s)!;
        for (let i = start; i < end; i++) {
          const t0 = performance.now();
          await run[s](i);
          rec.recordMs(performance.now() - t0);
        }
        await copyLayer.whenIdle(); // background copies of this batch must not slow the next series
      }
    }
    const sum = (s: Series): LatencySummary => recorders.get(s)!.summary();
    const [sl, sc, gl, gc, ga] = series.map(sum) as [LatencySummary, LatencySummary, LatencySummary, LatencySummary, LatencySummary];
    const ms = (us: number): number => Math.round(us) / 1000;
    const warmup = await measureWarmup(raw[0], raw[1], `${prefix}warm:`, opts.warmupKeys ?? 50_000, opts.warmupValueBytes ?? 1024);
    return {
      setLocalP50Ms: ms(sl.p50),
      setCopyP50Ms: ms(sc.p50),
      cowOverheadP50Ms: ms(sc.p50 - sl.p50),
      getLocalP50Ms: ms(gl.p50),
      getCopyP50Ms: ms(gc.p50),
      corOverheadP50Ms: ms(gc.p50 - gl.p50),
      getCopyAwaitedP50Ms: ms(ga.p50),
      corAwaitedOverheadP50Ms: ms(ga.p50 - gl.p50),
      setLocalP99Ms: ms(sl.p99),
      setCopyP99Ms: ms(sc.p99),
      cowOverheadP99Ms: ms(sc.p99 - sl.p99),
      getLocalP99Ms: ms(gl.p99),
      getCopyP99Ms: ms(gc.p99),
      corOverheadP99Ms: ms(gc.p99 - gl.p99),
      getCopyAwaitedP99Ms: ms(ga.p99),
      samples: sl.count,
      warmup,
    };
  } finally {
    for (const r of recorders.values()) r.destroy();
    for (const c of raw) await deleteKeysUnder(c, prefix).catch(() => 0);
    for (const c of [...clients, ...raw]) await c.quit().catch(() => c.disconnect());
  }
}

async function measureWarmup(n1: Redis, n2: Redis, prefix: string, keys: number, valueBytes: number): Promise<CacheBenchResult['warmup']> {
  await seed(n1, prefix, ['k:'], keys, incompressible(valueBytes), 600_000);
  const figures = await warmUpCache({ source: n1, target: n2, sourceKeyPrefix: prefix });
  const seconds = figures.durationMs / 1000;
  return {
    keys: figures.restored,
    valueBytes,
    durationMs: Math.round(figures.durationMs),
    keysPerSec: Math.round(figures.restored / seconds),
    mbPerSec: Math.round((figures.bytes / 1e6 / seconds) * 10) / 10,
  };
}

/** Random text: Redis compresses DUMP payloads (LZF), so a repeated character would understate the bytes moved. */
function incompressible(bytes: number): string {
  return randomBytes(Math.ceil(bytes * 0.75) + 3)
    .toString('base64')
    .slice(0, bytes);
}

async function seed(
  client: Redis,
  prefix: string,
  groups: readonly string[],
  count: number,
  value: string,
  ttlMs = 600_000,
): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const p = client.pipeline();
    for (let i = start; i < Math.min(count, start + 1000); i++) for (const g of groups) p.set(`${prefix}${g}${i}`, value, 'PX', ttlMs);
    await p.exec();
  }
}
