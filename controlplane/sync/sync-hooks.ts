import type { Logger } from '../../platform/logger.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { layout } from '../../protocol/coordinator-paths.js';
import type { FinalizeContext, SyncContext, SyncHook } from '../migration/migration-hooks.js';
import type { MigrationPlan } from '../migration/plan.js';
import { createCacheClient } from '../../datasync/cache/cache-config.js';
import { warmUpCache } from '../../datasync/cache/cache-warmup.js';
import { createClusterClient } from '../../datasync/datastore/datastore-config.js';
import { runSnapshot } from '../../datasync/datastore/snapshot-copy.js';
import { SyncError } from '../../datasync/errors.js';
import { metadataCoordinator } from '../../datasync/metadata/metadata-config.js';
import { copySubtree } from '../../datasync/metadata/subtree-copy.js';
import { SubtreeFollower } from '../../datasync/metadata/subtree-follow.js';
import { removeSubtree } from '../../datasync/metadata/subtree-remove.js';
import type { CacheSyncConfig, DatastoreSyncConfig, SyncConfig } from './sync-config.js';
import { cacheReplicateSteps } from './cache-replicate.js';
import { replicateStrategy } from './datastore-replicate.js';

export interface SyncHookDeps {
  /** The control plane's coordinator: snapshot checkpoints live in it. */
  readonly coordinator: Coordinator;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

/** The hooks a control plane registers from its `sync` config, and what closes their clients. */
export interface SyncHooks {
  readonly hooks: ReadonlyMap<string, SyncHook>;
  close(): Promise<void>;
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new SyncError('NW_SYNC_ABORTED', 'migration stopped');
}

/**
 * metadata: copies the subtree and keeps following it; at the fence (no write
 * in flight) flushes and stops the follower, or — on a control plane that
 * took over and has none — copies the subtree once more (idempotent).
 */
function metadataHook(cfg: NonNullable<SyncConfig['metadata']>, deps: SyncHookDeps): { hook: SyncHook; close(): Promise<void> } {
  const followers = new Map<string, { follower: SubtreeFollower; close(): Promise<void> }>();
  const copyOptions = {
    sourcePath: cfg.source.path,
    targetPath: cfg.target.path,
    concurrency: cfg.concurrency,
    batchOps: cfg.batchOps,
    batchBytes: cfg.batchBytes,
    deleteExtra: cfg.deleteExtra,
  };
  const connect = async () => {
    const source = metadataCoordinator('source', cfg.source, deps.env);
    const target = metadataCoordinator('target', cfg.target, deps.env);
    const close = async () => void (await Promise.allSettled([source.close(), target.close()]));
    try {
      await Promise.all([source.connect(), target.connect()]);
    } catch (err) {
      await close();
      throw new SyncError('NW_SYNC_METADATA_COPY_FAILED', `connecting: ${(err as Error).message}`, { cause: err });
    }
    return { source, target, close };
  };
  const stopFollower = async (id: string) => {
    const f = followers.get(id);
    if (!f) return undefined;
    followers.delete(id);
    try {
      return await f.follower.stop();
    } finally {
      await f.close();
    }
  };
  const hook: SyncHook = Object.assign(
    async (ctx: SyncContext) => {
      await stopFollower(ctx.migrationId); // a re-run of the phase starts over
      const sides = await connect();
      try {
        const { follower, copied } = await SubtreeFollower.start({
          ...copyOptions,
          source: sides.source,
          target: sides.target,
          onError: (err) =>
            deps.logger.warn('controlplane.sync.metadata_follow_error', { id: ctx.migrationId, code: err.code, message: err.message }),
        });
        followers.set(ctx.migrationId, { follower, close: sides.close });
        ctx.progress('metadata copied; following changes until the fence', { nodes: copied.nodes });
        return { ...copied, following: true };
      } catch (err) {
        await sides.close();
        throw err;
      }
    },
    {
      atFence: async (ctx: SyncContext) => {
        const followed = await stopFollower(ctx.migrationId);
        if (followed) return { followedChanges: followed.applied };
        const sides = await connect();
        try {
          return { recopied: await copySubtree({ ...copyOptions, source: sides.source, target: sides.target }) };
        } finally {
          await sides.close();
        }
      },
      release: async (id: string) => void (await stopFollower(id)),
    },
  );
  return { hook, close: async () => void (await Promise.allSettled([...followers.keys()].map(stopFollower))) };
}

/**
 * cache, by the plan's `sync.cache.strategy`: copy-on-write switches the cache layers to copy
 * (copy-on-write + copy-on-read), then bulk-warms N2 from N1; replicate makes N2's Redis a replica
 * of N1's and has steps in every phase (cache-replicate.ts), which do nothing under copy-on-write.
 */
function cacheHook(cfg: CacheSyncConfig, deps: SyncHookDeps): { hook: SyncHook; close(): Promise<void> } {
  const timeouts = { connectTimeoutMs: 2000, commandTimeoutMs: 10_000 };
  const replicate = cacheReplicateSteps(cfg, deps);
  const copyOnWrite = async (ctx: SyncContext): Promise<Record<string, unknown>> => {
    const flipped = await ctx.setDataMode({ cache: 'copy' });
    throwIfAborted(ctx.signal);
    // Clients without keyPrefix: the warm-up maps the prefixes itself.
    const source = createCacheClient({ ...cfg.n1, keyPrefix: '' }, timeouts);
    const target = createCacheClient({ ...cfg.n2, keyPrefix: '' }, timeouts);
    try {
      await Promise.all([source.connect(), target.connect()]).catch((err: unknown) => {
        throw new SyncError('NW_SYNC_CACHE_UNAVAILABLE', (err as Error).message, { cause: err });
      });
      const figures = await warmUpCache({
        source,
        target,
        sourceKeyPrefix: cfg.n1.keyPrefix,
        targetKeyPrefix: cfg.n2.keyPrefix,
        ...(cfg.match === undefined ? {} : { match: cfg.match }),
        pipelineDepth: cfg.pipelineDepth,
        signal: ctx.signal,
      });
      return { barrierMs: flipped.barrierMs, ...figures };
    } finally {
      source.disconnect();
      target.disconnect();
    }
  };
  const hook: SyncHook = Object.assign(
    (ctx: SyncContext) => (ctx.plan.sync.cache.strategy === 'replicate' ? replicate.sync(ctx) : copyOnWrite(ctx)),
    replicate.steps,
  );
  return { hook, close: async () => undefined };
}

/**
 * datastore: switches the data layers to copy-on-write and waits for every
 * one's ack (no write can commit at N1 alone after that), then copies the
 * snapshot by token ranges with checkpoints in the coordinator, and verifies
 * it by digest; a verify that keeps failing fails the sync (no proxy).
 */
function datastoreHook(cfg: DatastoreSyncConfig, deps: SyncHookDeps): { hook: SyncHook; close(): Promise<void> } {
  let clients: { source: ReturnType<typeof createClusterClient>; target: ReturnType<typeof createClusterClient> } | undefined;
  const tables = cfg.tables.map((t) => {
    const [keyspace, table] = t.split('.') as [string, string];
    return { keyspace, table };
  });
  // The plan picks the strategy: `replicate` lets Cassandra move the data (datastore-replicate.ts).
  const replicate = replicateStrategy(cfg, deps);
  const replicating = (ctx: SyncContext): boolean => ctx.plan.datastore?.strategy === 'replicate';
  const hook: SyncHook = Object.assign(
    async (ctx: SyncContext) => {
      if (replicating(ctx)) return replicate.sync(ctx);
      const flipped = await ctx.setDataMode({ datastore: 'copy-on-write' });
      // Every data layer acked: from now on each write reaches both clusters with one timestamp.
      const copyOnWriteSinceUs = Date.now() * 1000;
      throwIfAborted(ctx.signal);
      clients ??= { source: createClusterClient(cfg.n1, 'local', deps.env), target: createClusterClient(cfg.n2, 'n2', deps.env) };
      let last = 0;
      const result = await runSnapshot({
        source: clients.source,
        target: clients.target,
        tables,
        coordinator: deps.coordinator,
        checkpointRoot: layout.syncDatastore(ctx.migrationId),
        ranges: cfg.ranges,
        concurrency: cfg.concurrency,
        pageSize: cfg.pageSize,
        verify: { maxRecopies: cfg.maxRecopies },
        createMissing: cfg.createMissing,
        copyOnWriteSinceUs,
        signal: ctx.signal,
        onProgress: (p) => {
          if (Date.now() - last < 2000) return;
          last = Date.now();
          ctx.progress('snapshot', { ...p });
        },
      });
      return { barrierMs: flipped.barrierMs, ...result };
    },
    {
      beforeFence: async (ctx: SyncContext) => (replicating(ctx) ? replicate.beforeFence(ctx) : undefined),
      atFence: async (ctx: SyncContext) => (replicating(ctx) ? replicate.atFence(ctx) : undefined),
      atRollback: async (ctx: SyncContext, n2TookWrites: boolean) =>
        replicating(ctx) ? replicate.atRollback(ctx, n2TookWrites) : undefined,
      // Copy-on-write leaves nothing to retire: N1's cluster is its own.
      finalizes: (plan: MigrationPlan) => plan.datastore?.strategy === 'replicate',
      finalize: (ctx: FinalizeContext) => {
        if (ctx.plan.datastore?.strategy !== 'replicate')
          throw new SyncError('NW_SYNC_FINALIZE_FAILED', 'only a replicate migration has a datacenter to retire');
        return replicate.finalize(ctx);
      },
      release: async (id: string) => {
        await removeSubtree(deps.coordinator, layout.syncDatastore(id)).catch(() => undefined);
      },
    },
  );
  return {
    hook,
    close: async () => {
      const c = clients;
      clients = undefined;
      if (c) await Promise.allSettled([c.source.shutdown(), c.target.shutdown()]);
      await replicate.close();
    },
  };
}

/** Builds the hooks named by the parts of `config` that are present. */
export function createSyncHooks(config: SyncConfig, deps: SyncHookDeps): SyncHooks {
  const parts: Array<[string, { hook: SyncHook; close(): Promise<void> }]> = [];
  if (config.metadata) parts.push(['metadata', metadataHook(config.metadata, deps)]);
  if (config.cache) parts.push(['cache', cacheHook(config.cache, deps)]);
  if (config.datastore) parts.push(['datastore', datastoreHook(config.datastore, deps)]);
  return {
    hooks: new Map(parts.map(([name, p]) => [name, p.hook])),
    close: async () => void (await Promise.allSettled(parts.map(([, p]) => p.close()))),
  };
}
