// The control-plane side of the replicate strategy that needs no Cassandra: the plan's checks, a
// sync step that asks to pause instead of rolling back (a lag limit), the hooks' atRollback step in
// a rollback (after its fence, before serve), notes in the log, and the lag arithmetic.
import assert from 'node:assert/strict';
import { eventually } from '../support/eventually.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import { ControlError } from '../../controlplane/errors.js';
import type { SyncContext, SyncHook } from '../../controlplane/migration/migration-hooks.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan, type MigrationPlan, type MigrationPlanInput } from '../../controlplane/migration/plan.js';
import { pausingMigration, SyncError } from '../../datasync/errors.js';
import { overLimit, parseDurationMs, type ReplicationLag } from '../../datasync/replication/replication-lag.js';
import type { TransactionOp } from '../../platform/coordinator/coordinator.js';
import { CoordinatorError } from '../../platform/coordinator/coordinator-errors.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';

const silent = createLogger('silent');
const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

describe('replicate strategy: plan checks and lag arithmetic', () => {
  it('a replicate plan must say sync.mode none and proxy.mirrorWritesToN1 false; copy-on-write plans are as before', () => {
    assert.throws(
      () => parsePlan({ apps: ['shop'], sync: { hooks: ['datastore'] }, datastore: { strategy: 'replicate' } }),
      (err: unknown) =>
        err instanceof ControlError &&
        err.code === 'NW_CP_PLAN_INVALID' &&
        /sync\.mode/.test(err.message) &&
        /proxy\.mirrorWritesToN1/.test(err.message),
    );
    const ok = parsePlan({
      apps: ['shop'],
      sync: { mode: 'none', hooks: ['datastore'] },
      fence: { maxHoldMs: 40_000 },
      proxy: { mirrorWritesToN1: false },
      datastore: { strategy: 'replicate' },
    });
    assert.deepEqual(ok.datastore?.replicate, {
      setNetworkTopology: false,
      lagLimit: { hintFiles: 0, outboundMessages: 100 },
      lagWaitMs: 60_000,
      onLagLimit: 'pause',
      drainTimeoutMs: 30_000,
      finalWindow: 'each-quorum',
      windowIn: 'sync',
      clockSkewMs: 250,
    });
    assert.equal(parsePlan({ apps: ['shop'] }).datastore, undefined, 'no datastore section: copy-on-write, the plan unchanged');
    assert.equal(parsePlan({ apps: ['shop'], datastore: {} }).datastore?.strategy, 'copy-on-write');
  });

  it("a replicate plan that drains at the fence must hold writes longer than the drain may take (gateways' default: 5 s)", () => {
    const replicate = (
      fence: MigrationPlanInput['fence'],
      drainTimeoutMs?: number,
      window: { finalWindow?: 'each-quorum' | 'drain'; digestAtFence?: boolean } = { finalWindow: 'drain' },
    ) =>
      parsePlan({
        apps: ['shop'],
        sync: { mode: 'none', hooks: ['datastore'] },
        proxy: { mirrorWritesToN1: false },
        ...(fence ? { fence } : {}),
        datastore: { strategy: 'replicate', replicate: { ...(drainTimeoutMs ? { drainTimeoutMs } : {}), ...window } },
      });
    const refused = (fn: () => unknown, why: RegExp) =>
      assert.throws(fn, (err: unknown) => err instanceof ControlError && err.code === 'NW_CP_PLAN_INVALID' && why.test(err.message));
    refused(() => replicate(undefined), /fence\.maxHoldMs.*drainTimeoutMs \(30000 ms\)/);
    refused(() => replicate({ maxHoldMs: 30_000 }), /fence\.maxHoldMs/);
    refused(() => replicate({ maxHoldMs: 4000 }, 4000), /fence\.maxHoldMs/);
    refused(() => replicate({ maxHoldMs: 60_000 }, 90_000), /drainTimeoutMs/);
    assert.equal(replicate({ maxHoldMs: 5000 }, 4000).fence.maxHoldMs, 5000);
    // The EACH_QUORUM window leaves nothing to drain with writes held: the gateways' own hold will do,
    // unless the plan asks for a digest at the fence.
    assert.equal(replicate(undefined, undefined, {}).fence.maxHoldMs, undefined);
    refused(() => replicate(undefined, undefined, { digestAtFence: true }), /fence\.maxHoldMs.*compares digests/);
    assert.equal(parsePlan({ apps: ['shop'] }).fence.maxHoldMs, undefined, 'copy-on-write plans need no hold');
  });

  it('the lag is over the limit for hints, queued messages, streams, or a node that cannot be read', () => {
    const zero: ReplicationLag = {
      hintFiles: 0,
      oldestHintMs: undefined,
      outboundPending: 0,
      outboundDropped: 7,
      streams: 0,
      unreadNodes: [],
    };
    const limit = { hintFiles: 0, outboundMessages: 100, streams: 0 };
    assert.equal(overLimit(zero, limit), undefined, 'dropped messages since start are hinted: not lag by themselves');
    assert.match(overLimit({ ...zero, hintFiles: 1 }, limit) ?? '', /1 hint file/);
    assert.equal(overLimit({ ...zero, outboundPending: 100 }, limit), undefined);
    assert.match(overLimit({ ...zero, outboundPending: 101 }, limit) ?? '', /101 queued/);
    assert.match(overLimit({ ...zero, streams: 1 }, limit) ?? '', /stream/);
    assert.match(overLimit({ ...zero, unreadNodes: ['127.0.0.5 (dc2)'] }, limit) ?? '', /unreadable: 127\.0\.0\.5/);
    assert.equal(parseDurationMs('2000ms'), 2000);
    assert.equal(parseDurationMs('2s'), 2000);
    assert.equal(parseDurationMs('1m'), 60_000);
    assert.equal(parseDurationMs('5000'), 5000);
    assert.equal(parseDurationMs('soon'), undefined);
  });
});

describe('replicate strategy: runner steps (embedded coordinator, fake hooks)', function () {
  this.timeout(60_000);
  let store: EmbeddedStore;
  let fleet: Fleet;
  let cp: ControlPlane;
  let hooks: Map<string, SyncHook>;

  const plan = (p: Partial<MigrationPlanInput> = {}) =>
    parsePlan({
      apps: ['shop'],
      barrierTimeoutMs: 5000,
      sync: { mode: 'none', hooks: ['store'] },
      proxy: { mirrorWritesToN1: false },
      ...p,
    });

  beforeEach(async () => {
    store = new EmbeddedStore();
    fleet = await startFleet({ size: 2, coordinator: () => new EmbeddedCoordinator(store), apps: ['shop'] });
    hooks = new Map();
    cp = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-1', logger: silent, syncHooks: hooks });
    await cp.start();
  });
  afterEach(async () => {
    await cp.stop();
    await fleet.close();
  });

  it('a sync step that asks to pause pauses the migration (no rollback, no fence); resumed, it runs again', async () => {
    let calls = 0;
    hooks.set('store', async (ctx: SyncContext) => {
      calls += 1;
      await ctx.note(`attempt ${calls}`);
      if (calls === 1) throw pausingMigration(new SyncError('NW_SYNC_REPLICATION_LAG', 'toward dc2: 3 hint file(s)'));
      return { ok: true };
    });
    const created = await cp.migrate(plan());
    const paused = await cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), 20_000);
    assert.equal(paused.status, 'paused', JSON.stringify(paused.error));
    assert.match(paused.error?.message ?? '', /NW_SYNC_REPLICATION_LAG|3 hint file/);
    assert.ok(!paused.history.some((e) => e.phase === 'fence'), 'no fence');
    assert.ok(paused.history.some((e) => e.event === 'paused' && /NW_CP_SYNC_FAILED: waiting for an operator/.test(e.detail ?? '')));
    assert.ok(
      paused.history.some((e) => e.event === 'note' && e.detail === 'store: attempt 1'),
      'a note from the hook is in the log',
    );
    for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve', 'N1 keeps serving while paused');
    await cp.resume(created.id);
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    assert.equal(calls, 2);
  });

  it('finalize runs only the hooks whose finalize step has something to do for the plan; none: NW_CP_FINALIZE_REFUSED', async () => {
    const finalized: string[] = [];
    hooks.set(
      'store',
      Object.assign(async () => ({}), {
        finalizes: (p: MigrationPlan) => p.id !== 'copying',
        finalize: async (ctx: { migrationId: string }) => {
          finalized.push(ctx.migrationId);
          return { retired: true };
        },
      }),
    );
    const copying = await cp.migrate(plan({ id: 'copying' }));
    assert.equal((await cp.waitForMigration(copying.id, finished, 20_000)).status, 'done');
    await assert.rejects(
      cp.finalize(copying.id),
      (err: unknown) => err instanceof ControlError && err.code === 'NW_CP_FINALIZE_REFUSED' && /for its plan/.test(err.message),
    );
    const replicating = await cp.migrate(plan({ id: 'replicating' }));
    assert.equal((await cp.waitForMigration(replicating.id, finished, 20_000)).status, 'done');
    const fin = await cp.finalize(replicating.id);
    assert.deepEqual(fin.hooks.store, { retired: true, durationMs: (fin.hooks.store as { durationMs: number }).durationMs });
    assert.deepEqual(finalized, ['replicating']);
  });

  it('a beforeFence step may switch the data layers (EACH_QUORUM window): the fence keeps the mode, proxy hands over', async () => {
    const seen: Record<string, unknown> = {};
    hooks.set(
      'store',
      Object.assign(async () => ({}), {
        beforeFence: async (ctx: SyncContext) => {
          const flipped = await ctx.setDataMode({ datastore: 'each-quorum' });
          // The step's log is read when used: it shows the switch it just made (a retry decides by it).
          seen.logged = ctx.log.dataMode;
          seen.switched = fleet.members.map((m) => ({ mode: m.gateway.getState().shop!.mode, data: m.gateway.getState().shop!.data }));
          return { barrierMs: flipped.barrierMs };
        },
        atFence: async (ctx: SyncContext) => {
          seen.atFence = { logged: ctx.log.dataMode, gateways: fleet.members.map((m) => m.gateway.getState().shop!.data) };
          return {};
        },
      }),
    );
    const created = await cp.migrate(plan());
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    const eachQuorum = { datastore: 'each-quorum', cache: 'local' };
    // While the step runs the gateways still serve from N1 (the sync state), with the new data mode.
    assert.deepEqual(seen.switched, [
      { mode: 'serve', data: eachQuorum },
      { mode: 'serve', data: eachQuorum },
    ]);
    assert.deepEqual(seen.logged, eachQuorum);
    assert.deepEqual(seen.atFence, { logged: eachQuorum, gateways: [eachQuorum, eachQuorum] });
    assert.ok(
      log.history.some((e) => e.event === 'note' && e.phase === 'fence' && /data layers → datastore each-quorum/.test(e.detail ?? '')),
    );
    for (const m of fleet.members)
      assert.deepEqual(
        m.gateway.getState().shop!.data,
        { datastore: 'local', cache: 'local' },
        'done: each side writes its own datacenter',
      );
  });

  it('a migration paused in the fence phase after its EACH_QUORUM window puts the data layers back to their own level', async () => {
    let calls = 0;
    hooks.set(
      'store',
      Object.assign(async () => ({}), {
        beforeFence: async (ctx: SyncContext) => {
          calls += 1;
          await ctx.setDataMode({ datastore: 'each-quorum' });
          // A step after the window that fails and asks for a pause (another hook, a later check).
          if (calls === 1) throw pausingMigration(new SyncError('NW_SYNC_REPLICATION_LAG', 'toward dc2: 120 queued'));
          return {};
        },
      }),
    );
    const created = await cp.migrate(plan());
    const paused = await cp.waitForMigration(
      created.id,
      (l) => (l.status === 'paused' && l.dataMode?.datastore === 'local') || finished(l),
      20_000,
    );
    assert.equal(paused.status, 'paused', JSON.stringify(paused.error));
    const local = { datastore: 'local', cache: 'local' };
    assert.deepEqual(paused.dataMode, local);
    await eventually(
      () =>
        fleet.members.every((m) => {
          const s = m.gateway.getState().shop!;
          return s.mode === 'serve' && s.data?.datastore === 'local';
        }),
      { timeoutMs: 10_000, message: 'N1 serves, its writes at their own level, while paused' },
    );
    await cp.resume(created.id);
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    assert.equal(calls, 2, 'the resume runs the window again');
  });

  it("an operator's pause after a sync that ended with the window puts the layers back; the resumed fence opens it again", async () => {
    const modes: string[] = [];
    hooks.set(
      'store',
      Object.assign(
        async (ctx: SyncContext) => {
          await ctx.setDataMode({ datastore: 'each-quorum' });
          // The operator holds the migration before the sync step ends.
          await cp.pause(ctx.migrationId);
          return {};
        },
        {
          beforeFence: async (ctx: SyncContext) => {
            modes.push(ctx.log.dataMode?.datastore ?? 'none');
            if (ctx.log.dataMode?.datastore !== 'each-quorum') await ctx.setDataMode({ datastore: 'each-quorum' });
            return {};
          },
        },
      ),
    );
    const created = await cp.migrate(plan());
    const paused = await cp.waitForMigration(
      created.id,
      (l) => (l.status === 'paused' && l.dataMode?.datastore === 'local') || finished(l),
      20_000,
    );
    assert.equal(paused.status, 'paused', JSON.stringify(paused.error));
    assert.deepEqual([paused.phase, paused.phaseStatus], ['sync', 'completed']);
    await eventually(() => fleet.members.every((m) => m.gateway.getState().shop!.data?.datastore === 'local'), {
      timeoutMs: 10_000,
      message: 'no write waits for N2 while the operator holds the migration',
    });
    await cp.resume(created.id);
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    assert.deepEqual(modes, ['local'], 'the fence phase found the layers at their own level: it opens the window itself');
  });

  // REVIEW (2026-12-06): pins a guard no test covered (dropping `phaseStatus !== 'completed'` from
  // leaveEachQuorumWindow passed the whole file). Reverting after the fence completed would let N1
  // take writes at its own level that the fence's proof does not cover, and the resume goes on to proxy.
  it('REVIEW: an operator pause once the fence completed leaves the layers in each-quorum and the fleet fenced', async () => {
    hooks.set(
      'store',
      Object.assign(async () => ({}), {
        beforeFence: async (ctx: SyncContext) => {
          await ctx.setDataMode({ datastore: 'each-quorum' });
          return {};
        },
        atFence: async (ctx: SyncContext) => {
          // The operator holds the migration while the fence phase runs: it completes, then pauses.
          await cp.pause(ctx.migrationId);
          return {};
        },
      }),
    );
    const created = await cp.migrate(plan());
    const paused = await cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), 20_000);
    assert.equal(paused.status, 'paused', JSON.stringify(paused.error));
    assert.deepEqual([paused.phase, paused.phaseStatus], ['fence', 'completed']);
    // The runner's revert (if any) runs right after it writes `paused`: wait for its note or a quiet log.
    const settled = await cp.waitForMigration(created.id, (l) => l.history.length === paused.history.length || finished(l), 5000);
    assert.deepEqual(settled.dataMode, { datastore: 'each-quorum', cache: 'local' });
    for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'fence', 'no write goes to N1 after the fence completed');
    await cp.resume(created.id);
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    assert.ok(
      !log.history.some((e) => e.event === 'note' && /pause: data layers → datastore local/.test(e.detail ?? '')),
      'never reverted',
    );
  });

  it('a revert that failed while paused (the log says local, the states each-quorum) is made by the next leader', async () => {
    await cp.stop(); // this test brings its own two
    let failRevert = false;
    const base = new EmbeddedCoordinator(store);
    // The first leader's revert: its log write goes through, the states' transaction fails.
    const flaky = new Proxy(base, {
      get(target, prop) {
        if (prop === 'transaction')
          return async (ops: readonly TransactionOp[]) => {
            const reverting = ops.some((o) => o.op === 'set' && o.path.endsWith('/state') && /"datastore":"local"/.test(String(o.data)));
            if (failRevert && reverting) throw new CoordinatorError('NW_CP_COORDINATOR_ERROR', 'injected: the states were not written');
            return target.transaction(ops);
          };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const first = new ControlPlane({ coordinator: flaky, id: 'cp-1', logger: silent, syncHooks: hooks });
    await first.start();
    hooks.set('store', async (ctx: SyncContext) => {
      await ctx.setDataMode({ datastore: 'each-quorum' });
      failRevert = true;
      await first.pause(ctx.migrationId);
      return {};
    });
    const created = await first.migrate(plan());
    const paused = await first.waitForMigration(
      created.id,
      (l) => (l.status === 'paused' && l.dataMode?.datastore === 'local') || finished(l),
      20_000,
    );
    assert.equal(paused.status, 'paused', JSON.stringify(paused.error));
    const eachQuorum = () => fleet.members.every((m) => m.gateway.getState().shop!.data?.datastore === 'each-quorum');
    assert.ok(eachQuorum(), 'the revert failed: the layers still write at EACH_QUORUM');
    await first.stop();
    cp = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-2', logger: silent, syncHooks: hooks });
    await cp.start();
    await eventually(() => fleet.members.every((m) => m.gateway.getState().shop!.data?.datastore === 'local'), {
      timeoutMs: 10_000,
      message: 'the next leader puts the layers back while the migration stays paused',
    });
    assert.equal((await cp.getMigration(created.id)).status, 'paused');
  });

  it('the same failure without the pause request rolls back', async () => {
    hooks.set('store', async () => {
      throw new SyncError('NW_SYNC_REPLICATION_LAG', 'toward dc2: 3 hint file(s)');
    });
    const created = await cp.migrate(plan());
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    assert.equal(log.status, 'rolled-back');
  });

  it("a rollback from N2 runs the hooks' atRollback step after its fence, before serve (n2TookWrites); one from sync too", async () => {
    const seen: Array<{ n2TookWrites: boolean; modes: string[] }> = [];
    let failSwitch = true;
    hooks.set(
      'store',
      Object.assign(async () => ({}), {
        atRollback: async (_ctx: SyncContext, n2TookWrites: boolean) => {
          seen.push({ n2TookWrites, modes: fleet.members.map((m) => m.gateway.getState().shop!.mode) });
          return { drained: true };
        },
      }),
    );
    const dns = {
      lowerTtl: async () => ({ notBefore: new Date().toISOString(), before: [], data: {} }),
      switch: async () => {
        if (failSwitch) throw new ControlError('NW_CP_DNS_ERROR', 'test: the switch fails');
        return {};
      },
      restore: async () => ({}),
    };
    await cp.stop();
    cp = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-2', logger: silent, syncHooks: hooks, dns });
    await cp.start();
    const created = await cp.migrate(
      plan({ dns: { zoneId: 'Z1', records: [{ name: 'shop.test', type: 'A', values: ['10.0.0.2'] }], skipTtlWait: true } }),
    );
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    assert.equal(log.status, 'rolled-back');
    assert.deepEqual(
      log.history.filter((e) => e.event === 'rollback-step').map((e) => e.detail),
      ['fence', 'dns-restore', 'sync-hooks', 'serve'],
    );
    assert.deepEqual(seen, [{ n2TookWrites: true, modes: ['fence', 'fence'] }], 'drained while every gateway holds writes');

    // From sync (N2 took nothing): the step runs with n2TookWrites false, before serve.
    failSwitch = false;
    seen.length = 0;
    hooks.set(
      'store',
      Object.assign(
        async () => {
          throw new SyncError('NW_SYNC_SCHEMA_MISMATCH', 'kv');
        },
        { atRollback: hooks.get('store')!.atRollback },
      ),
    );
    const second = await cp.migrate(plan({ id: 'second' }));
    const log2 = await cp.waitForMigration(second.id, finished, 20_000);
    assert.equal(log2.status, 'rolled-back');
    assert.deepEqual(
      log2.history.filter((e) => e.event === 'rollback-step').map((e) => e.detail),
      ['sync-hooks', 'serve'],
    );
    assert.equal(seen[0]?.n2TookWrites, false);
  });
});
