import type { Logger } from '../../platform/logger.js';
import { pausingMigration, SyncError } from '../../datasync/errors.js';
import { countKeys, type ReplicationLinkOptions } from '../../datasync/cache/replication/replication-commands.js';
import { ReplicationConnection } from '../../datasync/cache/replication/replication-connection.js';
import { addressText, follows, promotedFrom, type ReplicationInfo } from '../../datasync/cache/replication/replication-info.js';
import { describe, RedisPair } from '../../datasync/cache/replication/redis-pair.js';
import type { CacheReplicatePlan } from '../migration/cache-plan.js';
import type { PhaseStepName, SyncContext, SyncHook, SyncHookStep } from '../migration/migration-hooks.js';
import type { CacheSyncConfig } from './sync-config.js';

export interface CacheReplicateDeps {
  readonly logger: Logger;
  /** Where the link's password is read from (`auth.passwordEnv`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** The cache hook's main step and its other steps under the replicate strategy; each is a no-op under another. */
export interface CacheReplicateSteps {
  readonly sync: (ctx: SyncContext) => Promise<Record<string, unknown>>;
  readonly steps: { readonly [S in PhaseStepName]: SyncHookStep } & { readonly atRollback: NonNullable<SyncHook['atRollback']> };
}

function linkOptions(plan: CacheReplicatePlan, env: NodeJS.ProcessEnv): ReplicationLinkOptions {
  let password: string | undefined;
  if (plan.auth) {
    password = env[plan.auth.passwordEnv];
    if (password === undefined)
      throw new SyncError(
        'NW_SYNC_CONFIG_INVALID',
        `sync.cache.auth.passwordEnv: environment variable ${plan.auth.passwordEnv} is not set`,
      );
  }
  return {
    ...(plan.auth?.user === undefined ? {} : { user: plan.auth.user }),
    ...(password === undefined ? {} : { password }),
    ...(plan.tls === undefined ? {} : { tls: plan.tls }),
  };
}

/**
 * The replicate strategy of the `cache` hook, step by step. Each step decides from what both
 * servers report now (their roles, whom they follow, their replication histories), never from
 * what an earlier step did, so a step run again by a new leader, or after a failure half-way,
 * finds where it stopped and does only the rest. The histories tell a promoted server from a
 * restarted one: a replica promoted by REPLICAOF NO ONE keeps its master's history as its
 * `replid2`, a restarted server (no persistence) comes back an empty master with neither.
 * docs/architecture.md, "The replicate strategy for the cache".
 */
export function cacheReplicateSteps(cfg: CacheSyncConfig, deps: CacheReplicateDeps): CacheReplicateSteps {
  const env = deps.env ?? process.env;

  /** Runs `body` with both sides' connections under this plan, or returns undefined if the plan does not replicate. */
  async function withPair<T>(ctx: SyncContext, body: (pair: RedisPair, plan: CacheReplicatePlan) => Promise<T>): Promise<T | undefined> {
    if (ctx.plan.sync.cache.strategy !== 'replicate') return undefined;
    const plan = ctx.plan.sync.cache.replicate;
    if (cfg.n1.keyPrefix !== cfg.n2.keyPrefix || cfg.n1.db !== cfg.n2.db)
      throw new SyncError(
        'NW_SYNC_CONFIG_INVALID',
        'sync.cache: the replicate strategy copies whole servers: n1 and n2 need the same keyPrefix and db ' +
          '(the apps at N2 read the same keys)',
      );
    const link = linkOptions(plan, env);
    const n1 = new ReplicationConnection(cfg.n1, 'n1');
    const n2 = new ReplicationConnection(cfg.n2, 'n2');
    const pair = new RedisPair({
      n1,
      n2,
      address: { n1: plan.n1Address ?? cfg.n1, n2: plan.n2Address ?? cfg.n2 },
      ports: { n1: cfg.n1.port, n2: cfg.n2.port },
      link,
      signal: ctx.signal,
      note: (detail, data) => ctx.note(detail, data),
    });
    try {
      return await body(pair, plan);
    } finally {
      n1.close();
      n2.close();
    }
  }

  /** prepare: N2 becomes a replica of N1 (N1 must be a master; N2 must not hold data it would lose). */
  const atPrepare: SyncHookStep = (ctx) =>
    withPair(ctx, async (pair, plan) => {
      const n1 = await pair.info('n1');
      if (n1.role !== 'master')
        throw pair.topology(`N1 is ${describe(n1)}; the replicate strategy needs N1 to be a master`, { side: 'n1' });
      const n2 = await pair.info('n2');
      if (pair.followsOther('n2', n2)) {
        await pair.attach('n2', 'it already did (prepare run again)');
        return { n2Follows: addressText(pair.address('n1')), already: true };
      }
      if (n2.role === 'replica') throw pair.topology(`N2 is ${describe(n2)}; detach it first`, { side: 'n2' });
      const keys = await countKeys(await pair.conn('n2').redis(), 'n2');
      // A server that was promoted from following N1 (an earlier attempt) holds N1's data, nothing of its own.
      if (keys > 0 && !plan.discardN2Data && !promotedFrom(n2, n1))
        throw new SyncError(
          'NW_SYNC_CACHE_REPLICA_NOT_EMPTY',
          `N2 holds ${keys} keys; set sync.cache.replicate.discardN2Data to let REPLICAOF drop them`,
          {
            details: { keys },
          },
        );
      await pair.attach('n2', 'the initial sync starts');
      return { n2Follows: addressText(pair.address('n1')), discardedKeys: keys };
    });

  /** sync: the initial sync completes; a restarted replica is attached again (it took no write: N2 serves none before proxy). */
  const sync = async (ctx: SyncContext): Promise<Record<string, unknown>> =>
    (await withPair(ctx, async (pair, plan) => {
      const t0 = performance.now();
      const { master, replica } = await pair.waitForSync('n2', plan.syncTimeoutMs, true);
      const figures = {
        strategy: 'replicate',
        syncMs: Math.round(performance.now() - t0),
        n1Offset: master.masterReplOffset,
        n2Offset: replica.replicaOffset ?? 0,
        lagBytes: Math.max(0, master.masterReplOffset - (replica.replicaOffset ?? 0)),
      };
      await ctx.note(`N2's Redis is in sync with N1's (lag ${figures.lagBytes} bytes)`, figures);
      return figures;
    })) ?? {};

  /** Before the fence: the lag must be within the plan's limit (writes still flow), or the phase fails (and pauses, by `onLagLimit`). */
  const beforeFence: SyncHookStep = (ctx) =>
    withPair(ctx, async (pair, plan) => {
      const r = await pair.lagWithin(plan.lagLimit, plan.lagWaitMs).catch((err: unknown) => {
        throw err instanceof SyncError && err.code === 'NW_SYNC_CACHE_LAG_LIMIT' && plan.onLagLimit === 'pause'
          ? pausingMigration(err)
          : err;
      });
      return { lagBytes: r.bytes ?? null, lagMs: Math.round(r.ms), waitedMs: r.waitedMs };
    });

  /** At the fence (no write in flight): N2 processes N1's whole stream as it is now. */
  const atFence: SyncHookStep = (ctx) =>
    withPair(ctx, async (pair, plan) => {
      const d = await pair.drain('n2', plan.drainTimeoutMs, true);
      await ctx.note(`N2's Redis drained to N1's offset ${d.offset} in ${d.drainMs} ms`);
      return { drainedToOffset: d.offset, n2Offset: d.replicaOffset, drainMs: d.drainMs };
    });

  /** Before proxy (writes still held): N2 is promoted once it holds N1's stream; never again once promoted. */
  const beforeProxy: SyncHookStep = (ctx) =>
    withPair(ctx, async (pair, plan) => {
      const n1 = await pair.info('n1');
      const n2 = await pair.info('n2');
      // Promoted already (this step ran before, maybe the flip too): N2 may have taken writes; leave it be.
      if (promotedFrom(n2, n1) || follows(n1, pair.address('n2'))) return { n2Promoted: true, already: true };
      if (n1.role !== 'master') throw pair.topology(`N1 is ${describe(n1)} before N2's promotion`, { side: 'n1' });
      // A master without N1's history: restarted since the fence drained it. The drain attaches it again.
      const d = await pair.drain('n2', plan.drainTimeoutMs, true);
      await pair.promote('n2', `N2 holds N1's stream up to offset ${d.offset}`);
      return { n2Promoted: true, atOffset: d.offset, drainMs: d.drainMs };
    });

  /** Proxy acked: N1 follows N2, so a rollback finds N1 current. */
  const atProxy: SyncHookStep = (ctx) =>
    withPair(ctx, async (pair, plan) => {
      const n2 = await pair.info('n2');
      if (n2.role !== 'master') throw pair.topology(`N2 is ${describe(n2)} after its promotion`, { side: 'n2' });
      const n1 = await pair.info('n1');
      if (!pair.followsOther('n1', n1)) {
        if (n1.role === 'replica') throw pair.topology(`N1 is ${describe(n1)}`, { side: 'n1' });
        await pair.attach('n1', "a rollback keeps N2's writes");
      }
      const t0 = performance.now();
      await pair.waitForSync('n1', plan.syncTimeoutMs, true);
      return { n1Follows: addressText(pair.address('n2')), syncMs: Math.round(performance.now() - t0) };
    });

  /** Done: N1 is let go. Never fails the phase (the migration is over): a failure is a note for the operator. */
  const atDone: SyncHookStep = (ctx) =>
    withPair(ctx, async (pair) => {
      try {
        const n1 = await pair.info('n1');
        if (!pair.followsOther('n1', n1)) return { n1Released: true, already: true };
        await pair.promote('n1', "the migration is done: N1 keeps its copy as of now and takes no more of N2's writes");
        return { n1Released: true };
      } catch (err) {
        const code = err instanceof SyncError ? err.code : 'NW_SYNC_CACHE_UNAVAILABLE';
        deps.logger.warn('controlplane.sync.cache_release_failed', { id: ctx.migrationId, code, message: (err as Error).message });
        await ctx.note(`N1's Redis not released (${code}: ${(err as Error).message}); run REPLICAOF NO ONE on it`);
        return { n1Released: false, code };
      }
    });

  /**
   * Rollback: N1 must hold every write before it serves again. If N2 may have taken writes, N1
   * follows N2 (if it does not already), catches up with N2's stream (writes are held by the
   * rollback's fence) and is promoted. Either way N2 ends up following N1 if the migration made it
   * a replica or promoted it: a warm, read-only copy a later attempt starts from.
   */
  const atRollback = (ctx: SyncContext, n2TookWrites: boolean): Promise<Record<string, unknown> | undefined> =>
    withPair(ctx, async (pair, plan) => {
      if (!n2TookWrites) {
        const n1 = await pair.conn('n1').tryInfo();
        const n2 = await pair.conn('n2').tryInfo();
        // N1 kept every write. N2, promoted but never sent a write (stopped before proxy's flip), follows N1 again.
        const reattach = n1 !== undefined && n2 !== undefined && n1.role === 'master' && promotedFrom(n2, n1);
        if (reattach) await pair.attach('n2', 'the migration rolled back before N2 took writes');
        return { n1: n1 ? describe(n1) : 'unreachable', n2: reattach ? 'follows N1' : n2 ? describe(n2) : 'unreachable' };
      }
      const n1 = await pair.info('n1');
      const n2 = await pair.info('n2');
      const caughtUp = await n1CatchesUp(pair, plan, n1, n2);
      if (!pair.followsOther('n2', await pair.info('n2'))) await pair.attach('n2', 'the migration rolled back: N1 is in charge again');
      return { n1Promoted: true, ...caughtUp };
    });

  return { sync, steps: { atPrepare, beforeFence, atFence, beforeProxy, atProxy, atDone, atRollback } };
}

/** Rollback after N2 may have taken writes: N1 ends a master holding all of N2's stream. */
async function n1CatchesUp(
  pair: RedisPair,
  plan: CacheReplicatePlan,
  n1: ReplicationInfo,
  n2: ReplicationInfo,
): Promise<Record<string, unknown>> {
  if (n1.role === 'master') {
    // N2 never promoted, or a previous run of this rollback already promoted N1 and re-attached N2.
    if (pair.followsOther('n2', n2)) return { already: true };
    if (n2.role !== 'master') throw pair.topology(`N2 is ${describe(n2)}`, { side: 'n2' });
    // N1 was promoted from following N2 by a previous run of this step, after catching up.
    if (promotedFrom(n1, n2)) return { already: true };
    // N1 never followed N2 (stopped between N2's promotion and proxy's end): it must now.
    await pair.attach('n1', "N1 must have N2's writes before it serves again");
  } else if (!pair.followsOther('n1', n1)) {
    throw pair.topology(`N1 is ${describe(n1)}`, { side: 'n1' });
  }
  await pair.waitForSync('n1', plan.syncTimeoutMs, true);
  const d = await pair.drain('n1', plan.drainTimeoutMs, true);
  await pair.promote('n1', `N1 holds N2's stream up to offset ${d.offset}`);
  return { atOffset: d.offset, drainMs: d.drainMs };
}
