import type { Client } from 'cassandra-driver';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../platform/logger.js';
import { createClusterClient } from '../../datasync/datastore/datastore-config.js';
import { SNAPSHOT_DEFAULTS } from '../../datasync/datastore/snapshot-options.js';
import { pausingMigration, SyncError } from '../../datasync/errors.js';
import { rebuildDataCenter } from '../../datasync/replication/datacenter-rebuild.js';
import { addDataCenter, knownDataCenters, removeDataCenter } from '../../datasync/replication/keyspace-replication.js';
import { runNodetool } from '../../datasync/replication/nodetool.js';
import { verifyReplicas } from '../../datasync/replication/replica-verify.js';
import type { ReplicateConfig } from '../../datasync/replication/replicate-config.js';
import { type LagLimit, measureLag, overLimit, type ReplicationLag, writeTimeoutMs } from '../../datasync/replication/replication-lag.js';
import type { DatastorePlan } from '../migration/datastore-plan.js';
import type { MigrationPlan } from '../migration/plan.js';
import type { DataLayerBarrier, FinalizeContext, SyncContext } from '../migration/migration-hooks.js';
import { lastWindowSwitch, WINDOW_SWITCH_KEY, windowCutoffUs, windowGap, windowSwitch } from './each-quorum-proof.js';
import type { DatastoreSyncConfig } from './sync-config.js';

/**
 * The datastore hook's `replicate` strategy: N2's Cassandra datacenter joins
 * N1's cluster and Cassandra moves the data (docs/architecture.md, "Data
 * sync" and "The safety argument"). N1's app servers keep writing their own
 * datacenter, and the cluster sends every write to N2's too; only the last
 * window before the fence raises the data layers' write level to EACH_QUORUM.
 *
 * - sync: N2's datacenter added to each keyspace's replication (NTS
 *   checked), `nodetool rebuild` on N2's nodes (resumable), a range-digest
 *   verify, then the lag gate: the fence may come only once what is
 *   outstanding toward N2 is within the plan's limit.
 * - beforeFence: the lag gate again, writes still flowing (the fence may
 *   start long after the sync ended); then, with the `each-quorum` window
 *   (the default), the data layers write at EACH_QUORUM and every range's
 *   digest is compared for rows written before, writes still flowing (with
 *   `windowIn: sync`, at the end of the sync step instead).
 * - atFence: nothing left after the `each-quorum` window; with `drain`, the
 *   write timeout waited out since the fence barrier, no hint and no queued
 *   message toward N2 left, every range's digest equal in both datacenters.
 * - atRollback (from a phase where N2 took writes): the same drain toward N1.
 * - finalize: a full repair from N2's nodes, then N1's datacenter dropped
 *   from replication.
 */

type ReplicatePlan = DatastorePlan['replicate'];

export interface ReplicateDeps {
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

function replicatePlan(plan: MigrationPlan): ReplicatePlan {
  const p = plan.datastore?.replicate;
  if (!p) throw new SyncError('NW_SYNC_CONFIG_INVALID', 'plan has no datastore.replicate section');
  return p;
}

/** The two sides of the one cluster: a client local to each datacenter. */
interface Sides {
  readonly n1: Client;
  readonly n2: Client;
  readonly n1Dc: string;
  readonly n2Dc: string;
}

const ZERO: LagLimit = { hintFiles: 0, outboundMessages: 0, streams: Number.MAX_SAFE_INTEGER };

export function replicateStrategy(cfg: DatastoreSyncConfig, deps: ReplicateDeps) {
  const tables = cfg.tables.map((t) => {
    const [keyspace, table] = t.split('.') as [string, string];
    return { keyspace, table };
  });
  const keyspaces = [...new Set(tables.map((t) => t.keyspace))];
  let sides: (Sides & { connected: Promise<void> }) | undefined;

  const config = (): ReplicateConfig => {
    if (!cfg.replicate)
      throw new SyncError(
        'NW_SYNC_CONFIG_INVALID',
        'the plan asks for datastore.strategy replicate; the config has no sync.datastore.replicate',
      );
    return cfg.replicate;
  };

  const connect = async (): Promise<Sides> => {
    if (!sides) {
      const n1 = createClusterClient(cfg.n1, 'local', deps.env);
      const n2 = createClusterClient(cfg.n2, 'n2', deps.env);
      sides = {
        n1,
        n2,
        n1Dc: cfg.n1.localDataCenter,
        n2Dc: cfg.n2.localDataCenter,
        connected: Promise.all([n1.connect(), n2.connect()]).then(() => undefined),
      };
    }
    const s = sides;
    try {
      await s.connected;
    } catch (err) {
      sides = undefined;
      await Promise.allSettled([s.n1.shutdown(), s.n2.shutdown()]);
      throw new SyncError('NW_SYNC_DATASTORE_UNAVAILABLE', `connecting to the cluster: ${(err as Error).message}`, { cause: err });
    }
    const dcs = knownDataCenters(s.n1);
    for (const dc of [s.n1Dc, s.n2Dc])
      if (!dcs.has(dc))
        throw new SyncError('NW_SYNC_DATACENTER_UNKNOWN', `datacenter ${dc} has no node in the cluster (known: ${[...dcs].join(', ')})`, {
          details: { dataCenter: dc, known: [...dcs] },
        });
    return s;
  };

  const verify = (s: Sides, stage: string, signal: AbortSignal, cutoffUs?: number) =>
    verifyReplicas({
      source: stage === 'rollback' ? s.n2 : s.n1,
      target: stage === 'rollback' ? s.n1 : s.n2,
      tables,
      ranges: Math.min(cfg.ranges, 64),
      concurrency: Math.min(cfg.concurrency, 8),
      pageSize: cfg.pageSize ?? SNAPSHOT_DEFAULTS.pageSize,
      signal,
      stage,
      ...(cutoffUs === undefined ? {} : { cutoffUs }),
    });

  /** Waits until the lag toward `to` is within `limit`, for up to `waitMs`; the last reading and whether it is within. */
  const waitForLag = async (
    s: Sides,
    toward: 'n2' | 'n1',
    limit: LagLimit,
    waitMs: number,
    signal: AbortSignal,
    notBefore = 0,
  ): Promise<{ lag: ReplicationLag; over: string | undefined; waitedMs: number }> => {
    const t0 = performance.now();
    const lagSides =
      toward === 'n2' ? { from: s.n1, fromDc: s.n1Dc, to: s.n2, toDc: s.n2Dc } : { from: s.n2, fromDc: s.n2Dc, to: s.n1, toDc: s.n1Dc };
    for (;;) {
      const lag = await measureLag(lagSides);
      const over = overLimit(lag, limit);
      const waitedMs = Math.round(performance.now() - t0);
      if ((!over && performance.now() >= notBefore) || waitedMs >= waitMs || signal.aborted) return { lag, over, waitedMs };
      await sleep(250, undefined, { signal }).catch(() => undefined);
    }
  };

  /**
   * No write acknowledged on one side may be missing on the other: with no write in flight (the
   * fence barrier passed), wait out the write timeout (every mutation sent across is applied or
   * hinted by then), then until no hint and no queued message is left, then compare digests.
   */
  const drain = async (ctx: SyncContext, toward: 'n2' | 'n1'): Promise<Record<string, unknown>> => {
    const p = replicatePlan(ctx.plan);
    const s = await connect();
    const t0 = performance.now();
    const deadline = t0 + p.drainTimeoutMs;
    const from = toward === 'n2' ? s.n1 : s.n2;
    const timeout = await writeTimeoutMs(from, toward === 'n2' ? s.n1Dc : s.n2Dc, config().writeTimeoutMs);
    const drained = await waitForLag(s, toward, ZERO, p.drainTimeoutMs, ctx.signal, t0 + timeout + 250);
    if (drained.over)
      throw new SyncError(
        'NW_SYNC_DRAIN_TIMEOUT',
        `toward ${toward === 'n2' ? s.n2Dc : s.n1Dc} after ${drained.waitedMs} ms: ${drained.over}`,
        { details: { lag: drained.lag, waitedMs: drained.waitedMs } },
      );
    // The drain's digest is its proof: on unless the plan turns it off.
    if (p.digestAtFence === false) return { writeTimeoutMs: timeout, drainMs: drained.waitedMs, lag: drained.lag };
    // A hint delivered between two readings can make one digest pass differ: compare again while time is left.
    for (let pass = 1; ; pass++) {
      try {
        const checked = await verify(s, toward === 'n2' ? 'fence' : 'rollback', ctx.signal);
        return { writeTimeoutMs: timeout, drainMs: drained.waitedMs, lag: drained.lag, digest: { ...checked, passes: pass } };
      } catch (err) {
        if (!(err instanceof SyncError && err.code === 'NW_SYNC_REPLICA_DIGEST_MISMATCH') || performance.now() + 1000 > deadline) throw err;
        await sleep(500);
      }
    }
  };

  /** What is outstanding toward N2 within the plan's limit, waited for up to `lagWaitMs`; over it: `onLagLimit`. */
  const lagGate = async (ctx: SyncContext, s: Sides, p: ReplicatePlan): Promise<{ lag: ReplicationLag; waitedMs: number }> => {
    const g = await waitForLag(s, 'n2', { ...p.lagLimit, streams: 0 }, p.lagWaitMs, ctx.signal);
    if (!g.over) return g;
    const err = new SyncError('NW_SYNC_REPLICATION_LAG', `toward ${s.n2Dc} after ${g.waitedMs} ms: ${g.over}`, {
      details: { lag: g.lag, limit: p.lagLimit, onLagLimit: p.onLagLimit },
    });
    throw p.onLagLimit === 'pause' ? pausingMigration(err) : err;
  };

  /**
   * The fence phase's first step, writes still flowing: the lag gate again. The end of sync passed
   * it, but the fence can start long after (an operator's pause between the phases, a resume, a new
   * leader): a datacenter that fell behind since must hold the fence here, as the plan says, and not
   * make the drain time out with every write held. With the `each-quorum` window, then the window.
   */
  const beforeFence = async (ctx: SyncContext): Promise<Record<string, unknown>> => {
    const p = replicatePlan(ctx.plan);
    const s = await connect();
    let g: Awaited<ReturnType<typeof lagGate>>;
    try {
      g = await lagGate(ctx, s, p);
    } catch (err) {
      // Layers left in each-quorum by a window at the end of sync go back to their own level before
      // the pause or rollback: writes must not wait for a datacenter that lags.
      if (ctx.log.dataMode?.datastore === 'each-quorum' && !ctx.signal.aborted) await backToLocal(ctx);
      throw err;
    }
    const gate = { lag: g.lag, lagWaitedMs: g.waitedMs };
    if (p.finalWindow !== 'each-quorum') return gate;
    // The window ran at the end of the sync step, which completed (a failed window fails the step,
    // and a sync step run again switches and compares again), and the layers stayed in it since
    // (a failed window or gate writes `local` into the log): its proof holds.
    if (p.windowIn === 'sync' && ctx.log.dataMode?.datastore === 'each-quorum') return { ...gate, window: 'done in sync' };
    return { ...gate, window: await eachQuorumWindow(ctx, s, p) };
  };

  /**
   * The `each-quorum` window, writes still flowing: the data layers switch to EACH_QUORUM (the
   * barrier: every write a data layer started at its own level has finished), then the digests of
   * every range are compared between the datacenters for the rows written before the switch (the
   * plan's clock skew added), again while they differ (replication in flight, a hint delivered)
   * for up to `lagWaitMs` (10 s at most). From the switch on a write is acknowledged only once N2's
   * datacenter holds it, and every one before is there once the digests agree: at the fence no
   * drain is left (docs/architecture.md, "Replicate: no acknowledged write missing at N2").
   * Failing, the layers go back to their own level before the migration pauses or rolls back:
   * writes must not wait for a datacenter that lags.
   */
  /** The layers back to their own level; a failure to write that is logged, the caller's error stands. */
  const backToLocal = async (ctx: SyncContext): Promise<void> => {
    try {
      await ctx.setDataMode({ datastore: 'local' });
    } catch (err) {
      deps.logger.warn('controlplane.sync.datastore.window_revert_failed', { message: (err as Error).message });
    }
  };

  const eachQuorumWindow = async (ctx: SyncContext, s: Sides, p: ReplicatePlan): Promise<Record<string, unknown>> => {
    const t0 = performance.now();
    // Always switched, also when the log already says each-quorum (a phase run again by a new
    // leader that died between the log write and the states, a retry): the barrier is the proof
    // that no write at the old level is in flight, not the log. Idempotent; run after the fence
    // flip, it serves from N1 again until the fence comes back.
    let switched: DataLayerBarrier;
    try {
      switched = await ctx.setDataMode({ datastore: 'each-quorum' });
    } catch (err) {
      if (!ctx.signal.aborted) await backToLocal(ctx);
      throw err;
    }
    // No data layer follows the mode: no write waits for N2, nothing for the window to do. The
    // fence finds no record of it and drains.
    if (switched.dataLayers.length === 0) {
      await ctx.note('EACH_QUORUM window: no data layer acked the switch; the fence drains');
      return { consistency: 'none', skipped: 'no data layer acked the switch' };
    }
    const cutoffAt = performance.now() + p.clockSkewMs;
    // The data layers' own word on where their writes before the switch end; the clock for writers
    // that left before it.
    const cutoffUs = windowCutoffUs(switched.dataLayers, (Date.now() + p.clockSkewMs) * 1000);
    // Every write now waits for N2's datacenter: one that does not answer fails the window at once
    // (the lag gate just passed), not after `lagWaitMs` of failing writes.
    const failure = (why: string, lag: ReplicationLag) => {
      const err = new SyncError('NW_SYNC_REPLICATION_LAG', `toward ${s.n2Dc} in the EACH_QUORUM window: ${why}`, {
        details: { lag, onLagLimit: p.onLagLimit },
      });
      return p.onLagLimit === 'pause' ? pausingMigration(err) : err;
    };
    // Trouble for the window's writes: a node that cannot be read, a message toward N2 dropped
    // (expired unsent: a write at EACH_QUORUM then fails), a queue toward N2 past the plan's limit
    // (at least 100: the window's own writes queue too).
    const queueLimit = Math.max(p.lagLimit.outboundMessages, 100);
    let droppedAtStart: number | undefined;
    const answering = async (): Promise<ReplicationLag> => {
      const g = await waitForLag(s, 'n2', { hintFiles: Number.MAX_SAFE_INTEGER, outboundMessages: queueLimit, streams: 0 }, 0, ctx.signal);
      if (g.over) throw failure(g.over, g.lag);
      droppedAtStart ??= g.lag.outboundDropped;
      if (g.lag.outboundDropped > droppedAtStart)
        throw failure(`${g.lag.outboundDropped - droppedAtStart} message(s) toward it dropped since the window opened`, g.lag);
      return g.lag;
    };
    // Watched every 500 ms for as long as the window lasts: a node that stops answering, or a link
    // cut (both sides still answer their clients: the queue grows, then messages expire), ends it
    // then, not when a digest read times out or the digests keep differing.
    const done = new AbortController();
    const signal = AbortSignal.any([ctx.signal, done.signal]);
    const watched = new Promise<never>((_, reject) => {
      void (async () => {
        while (!signal.aborted) {
          await sleep(500, undefined, { signal }).catch(() => undefined);
          if (signal.aborted) return;
          await answering().catch(reject);
        }
      })();
    });
    watched.catch(() => undefined);
    const compare = async (lag: ReplicationLag): Promise<Record<string, unknown>> => {
      // Cells written after the cutoff are left out where one side lacks them (writes of the window,
      // on the wire or failed: not acknowledged); every cell written before the switch is compared,
      // also beside a late one in its row (range-digest.ts).
      // Until the control plane's clock passes the cutoff (a data layer's report may put it later
      // than the floor): from then on a write of a synchronised app server is left out as late.
      const maxWaitMs = Math.min(p.lagWaitMs, 10_000);
      const untilCutoffMs = Math.max(cutoffAt - performance.now(), cutoffUs / 1000 - Date.now());
      await sleep(Math.min(maxWaitMs, Math.max(0, untilCutoffMs)), undefined, { signal });
      const deadline = performance.now() + maxWaitMs;
      for (let pass = 1, delayMs = 100; ; pass++, delayMs = Math.min(delayMs * 2, 1000)) {
        try {
          const verified = await verify(s, 'fence window', signal, cutoffUs);
          return { consistency: 'EACH_QUORUM', switchBarrierMs: switched.barrierMs, lag, verify: { ...verified, passes: pass } };
        } catch (err) {
          if (signal.aborted) throw err;
          if (!(err instanceof SyncError && err.code === 'NW_SYNC_REPLICA_DIGEST_MISMATCH')) {
            await answering(); // a datacenter that stopped answering says so
            throw err;
          }
          if (performance.now() + delayMs > deadline) throw p.onLagLimit === 'pause' ? pausingMigration(err) : err;
          await sleep(delayMs, undefined, { signal });
        }
      }
    };
    try {
      const figures = await Promise.race([answering().then(compare), watched]);
      const windowMs = Math.round(performance.now() - t0);
      await ctx.note(`EACH_QUORUM window: ${s.n2Dc} holds every earlier write (${windowMs} ms)`, {
        windowMs,
        [WINDOW_SWITCH_KEY]: windowSwitch(switched),
      });
      return { ...figures, cutoffUs, windowMs };
    } catch (err) {
      done.abort();
      // Back to the layers' own level before the pause or rollback: writes must not wait for a datacenter that lags.
      if (!ctx.signal.aborted) await backToLocal(ctx);
      throw err;
    } finally {
      done.abort();
    }
  };

  /**
   * The fence's step, no write in flight. After the `each-quorum` window every write acknowledged
   * since its switch is at N2's datacenter, and every one before was compared there: nothing to
   * drain (a digest only if the plan asks). Otherwise, or without the window, the drain.
   */
  const atFence = async (ctx: SyncContext): Promise<Record<string, unknown>> => {
    const p = replicatePlan(ctx.plan);
    if (p.finalWindow !== 'each-quorum') return drain(ctx, 'n2');
    // Layers not in each-quorum here (a state nobody wrote in the window's order): the drain, which needs no window.
    if (ctx.log.dataMode?.datastore !== 'each-quorum')
      return { window: 'drain (the layers were not in each-quorum)', ...(await drain(ctx, 'n2')) };
    // The data layers ack once more, now that no write is in flight: every one that acked the
    // switch, still in the mode since, none of its writes failed; else the drain.
    let confirmed: DataLayerBarrier;
    try {
      confirmed = await ctx.confirmDataLayers();
    } catch (err) {
      // A data layer that does not ack (or refuses) cannot vouch for the window: the drain needs none.
      const code = (err as { code?: string }).code;
      if (ctx.signal.aborted || (code !== 'NW_CP_BARRIER_TIMEOUT' && code !== 'NW_CP_BARRIER_REFUSED')) throw err;
      const why = `the data layers' confirmation failed: ${(err as Error).message}`;
      await ctx.note(`EACH_QUORUM window cannot vouch for every write (${why}): the fence drains`, { gap: why });
      return { window: `drain (${why})`, ...(await drain(ctx, 'n2')) };
    }
    const confirmMs = confirmed.barrierMs;
    const gap = windowGap(lastWindowSwitch(ctx.log), confirmed);
    if (gap) {
      await ctx.note(`EACH_QUORUM window cannot vouch for every write (${gap}): the fence drains`, { gap });
      return { window: `drain (${gap})`, confirmMs, ...(await drain(ctx, 'n2')) };
    }
    if (!p.digestAtFence) return { window: 'each-quorum', drainMs: 0, confirmMs };
    const t0 = performance.now();
    const checked = await verify(await connect(), 'fence', ctx.signal);
    return { window: 'each-quorum', drainMs: 0, confirmMs, digest: checked, digestMs: Math.round(performance.now() - t0) };
  };

  /**
   * The sync's verify. A write N2's datacenter missed (down, paused) reaches it by a hint, which
   * the nodes list only once its file is closed, up to ~10 s later: until then the lag reads zero
   * and the digests differ. So a difference is waited out like a lag, for up to `lagWaitMs`, then
   * handled as the plan says for a lag (`onLagLimit`; a repair before resuming fixes what is left).
   */
  const verifyWhileCatchingUp = async (
    ctx: SyncContext,
    s: Sides,
    p: ReplicatePlan,
    cutoffUs: number,
    gate: () => Promise<unknown>,
  ): Promise<Awaited<ReturnType<typeof verify>> & { passes: number }> => {
    const deadline = performance.now() + p.lagWaitMs;
    for (let pass = 1; ; pass++) {
      try {
        return { ...(await verify(s, 'sync', ctx.signal, cutoffUs)), passes: pass };
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        // A datacenter the verify cannot read (a node paused or cut off after the lag was read) is
        // a lag too: the gate then refuses the fence as the plan says, instead of a retry of the
        // whole step (which would rebuild against that node and wait out nodetool's timeout).
        if (!(err instanceof SyncError && err.code === 'NW_SYNC_REPLICA_DIGEST_MISMATCH')) {
          await gate();
          throw err;
        }
        if (performance.now() + 2000 > deadline) throw p.onLagLimit === 'pause' ? pausingMigration(err) : err;
        await ctx.note(`digests differ (pass ${pass}): waiting for the replication to catch up`, { ranges: err.details?.ranges });
        await sleep(2000, undefined, { signal: ctx.signal }).catch(() => undefined);
        await gate();
      }
    }
  };

  const sync = async (ctx: SyncContext): Promise<Record<string, unknown>> => {
    const p = replicatePlan(ctx.plan);
    const rc = config();
    // Rows written from here on reach N2's datacenter by replication, maybe still on the wire when
    // a digest reads them: the verify leaves those out of a pass that catches them on one side.
    const replicatingSinceUs = Date.now() * 1000;
    const s = await connect();
    const replication: Record<string, Record<string, number>> = {};
    for (const keyspace of keyspaces) {
      const r = await addDataCenter(s.n1, {
        keyspace,
        source: s.n1Dc,
        target: s.n2Dc,
        targetFactor: rc.replicationFactor,
        setNetworkTopology: p.setNetworkTopology,
      });
      replication[keyspace] = r.factors;
      if (r.changed) await ctx.note(`${keyspace}: replicated to ${s.n2Dc} too`, { replication: r.factors });
    }
    // Progress notes are log writes (compare-and-set): one at a time, never beside another write.
    let lastNote = 0;
    let noting: Promise<void> | undefined;
    const rebuild = await rebuildDataCenter({
      nodetool: rc.nodetool,
      nodes: rc.n2Nodes,
      sourceDc: s.n1Dc,
      keyspaces,
      target: s.n2,
      targetDc: s.n2Dc,
      timeoutMs: rc.rebuildTimeoutMs,
      signal: ctx.signal,
      onProgress: (pr) => {
        ctx.progress('rebuild', { ...pr });
        if (noting || Date.now() - lastNote < 5000) return;
        lastNote = Date.now();
        const pct = pr.percent === undefined ? '' : ` ${pr.percent} %`;
        noting = ctx
          .note(`rebuild of ${pr.keyspace} on ${pr.node}:${pct} ${pr.bytesReceived} of ${pr.bytesToReceive} bytes`, { rebuild: pr })
          .catch(() => undefined)
          .finally(() => (noting = undefined));
      },
      onWaitingForRunning: (node, keyspace) => {
        if (noting) return;
        noting = ctx
          .note(`a rebuild of ${keyspace} on ${node} started earlier still streams: waiting for it, then resuming`, { node, keyspace })
          .catch(() => undefined)
          .finally(() => (noting = undefined));
      },
    }).finally(() => noting);
    await ctx.note(`${s.n2Dc} rebuilt from ${s.n1Dc}`, { ...rebuild });
    // The lag gate, before the verify (a digest of a datacenter that lags can only differ) and
    // again after it; the fence phase runs it once more before it holds any write.
    const gate = () => lagGate(ctx, s, p);
    await gate();
    const verified = await verifyWhileCatchingUp(ctx, s, p, replicatingSinceUs, gate);
    const last = await gate();
    const figures = { strategy: 'replicate', replication, rebuild, verify: verified, lag: last.lag, lagWaitedMs: last.waitedMs };
    if (p.finalWindow !== 'each-quorum' || p.windowIn !== 'sync') return figures;
    return { ...figures, window: await eachQuorumWindow(ctx, s, p) };
  };

  const finalize = async (ctx: FinalizeContext): Promise<Record<string, unknown>> => {
    const rc = config();
    const s = await connect();
    const repaired: string[] = [];
    try {
      for (const node of rc.n2Nodes) {
        for (const keyspace of keyspaces) {
          await runNodetool(rc.nodetool, node, ['repair', '-full', '--', keyspace], { timeoutMs: rc.rebuildTimeoutMs, signal: ctx.signal });
          repaired.push(`${node.host}:${node.jmxPort} ${keyspace}`);
        }
      }
      await ctx.note(`repaired ${repaired.length} keyspace(s) from ${s.n2Dc}`, { repaired });
      const dropped: string[] = [];
      for (const keyspace of keyspaces) if (await removeDataCenter(s.n2, keyspace, s.n1Dc)) dropped.push(keyspace);
      await ctx.note(`${s.n1Dc} dropped from the replication of ${dropped.join(', ') || 'no keyspace (already done)'}`, { dropped });
      return { repaired, dropped, decommission: `run nodetool decommission on each node of ${s.n1Dc} (docs/operations.md)` };
    } catch (err) {
      if (err instanceof SyncError && err.code === 'NW_SYNC_FINALIZE_FAILED') throw err;
      throw new SyncError('NW_SYNC_FINALIZE_FAILED', (err as Error).message, { cause: err, details: { repaired } });
    }
  };

  return {
    sync,
    beforeFence,
    atFence,
    atRollback: async (ctx: SyncContext, n2TookWrites: boolean) => (n2TookWrites ? drain(ctx, 'n1') : { skipped: 'N2 took no write' }),
    finalize,
    close: async () => {
      const s = sides;
      sides = undefined;
      if (s) await Promise.allSettled([s.n1.shutdown(), s.n2.shutdown()]);
    },
  };
}
