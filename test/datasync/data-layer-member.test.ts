import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import type { CoordinatorRole } from '../../platform/coordinator/northwest-acl.js';
import { type BarrierReport, waitForFleet } from '../../fleet/fleet-barrier.js';
import { writeAppStates, type DesiredAppState } from '../../fleet/state-writer.js';
import { encodeJson, layout, type MemberInfo } from '../../protocol/coordinator-paths.js';
import { DataLayerMember, mergeAckReports } from '../../datasync/layer/data-layer-member.js';
import { isSyncError } from '../../datasync/errors.js';
import type { DataModeTarget } from '../../datasync/layer/data-mode-target.js';
import { CassandraDataLayer, type WriteResult } from '../../datasync/layer/cassandra-data-layer.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { DataLayerAck, DataLayerBarrier, SyncContext, SyncHook } from '../../controlplane/migration/migration-hooks.js';
import { windowGap, windowSwitch } from '../../controlplane/sync/each-quorum-proof.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import { createLogger } from '../../platform/logger.js';
import { eventually } from '../support/eventually.js';
import { startFleet } from '../support/fleet-harness.js';
import type { DataMode } from '../../protocol/app-state.js';
import { connectTwoClusters, gate, settle, type TwoClusters } from '../support/data-layer-fixture.js';
import { requireService } from '../support/service-endpoints.js';
import { provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const COW: DataMode = { datastore: 'copy-on-write', cache: 'local' };
const serve = (data?: DataMode): DesiredAppState => ({ mode: 'serve', ...(data ? { data } : {}) });

/** A target that records what it was asked to apply and can be held. */
class RecordingTarget implements DataModeTarget {
  readonly name = 'recorder';
  readonly applied: Array<{ mode: DataMode; epoch: number }> = [];
  hold: Promise<void> | undefined;
  async apply(mode: DataMode, epoch: number): Promise<void> {
    if (this.hold) await this.hold;
    this.applied.push({ mode, epoch });
  }
}

describe('DataLayerMember', function () {
  this.timeout(60_000);
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  async function startMember(
    c: Coordinator,
    id: string,
    targets: readonly DataModeTarget[],
    apps: readonly string[] = ['shop'],
  ): Promise<DataLayerMember> {
    const m = new DataLayerMember({
      coordinator: c,
      memberId: id,
      apps: Object.fromEntries(apps.map((a) => [a, targets])),
      reconcileMs: 200,
    });
    await m.start();
    cleanups.push(() => m.stop());
    return m;
  }

  describe('on the embedded coordinator', () => {
    let store: EmbeddedStore;
    let cp: EmbeddedCoordinator;
    const session = async (): Promise<EmbeddedCoordinator> => {
      const c = new EmbeddedCoordinator(store);
      await c.connect();
      cleanups.push(() => c.close());
      return c;
    };
    beforeEach(async () => {
      store = new EmbeddedStore();
      cp = await session();
    });

    it(
      'registers as a datalayer member, applies each epoch to every target ' + '(local when the state has no data section) and acks it',
      async () => {
        await writeAppStates(cp, { shop: serve() });
        const t = new RecordingTarget();
        const m = await startMember(await session(), 'app-1', [t]);
        const info = JSON.parse((await cp.get(layout.member('app-1')))!.data.toString()) as MemberInfo;
        assert.equal(info.kind, 'datalayer');
        assert.deepEqual(info.apps, ['shop']);
        assert.deepEqual(t.applied, [{ mode: { datastore: 'local', cache: 'local' }, epoch: 0 }]);
        const ackDoc = JSON.parse((await cp.get(layout.ack('shop', 'app-1')))!.data.toString()) as Record<string, unknown>;
        assert.equal(ackDoc.datastoreTargets, 0, 'no datastore layer: it says so, and has nothing to report on one');
        assert.equal(ackDoc.datastore, undefined);

        const targets = await writeAppStates(cp, { shop: serve(COW) });
        const report = await waitForFleet(cp, targets, { timeoutMs: 10_000 });
        assert.ok(report.ok);
        assert.deepEqual(report.members, ['app-1']);
        assert.deepEqual(m.dataMode('shop'), COW);
        assert.deepEqual(t.applied.at(-1), { mode: COW, epoch: 1 });
        assert.equal(m.syncStatus().shop?.appliedEpoch, 1);
      },
    );

    it('the barrier waits for the data layer: no ack until every target has applied', async () => {
      await writeAppStates(cp, { shop: serve() });
      const slow = new RecordingTarget();
      const fast = new RecordingTarget();
      await startMember(await session(), 'app-1', [fast, slow]);
      const held = gate();
      slow.hold = held.promise;
      const targets = await writeAppStates(cp, { shop: serve(COW) });
      const early = await waitForFleet(cp, targets, { timeoutMs: 300, kinds: ['datalayer'] });
      assert.equal(early.ok, false);
      assert.deepEqual(early.missing, [{ member: 'app-1', app: 'shop', ackedEpoch: 0 }]);
      assert.deepEqual(fast.applied.at(-1)?.epoch, 1, 'the other target already applied');
      held.open();
      assert.ok((await waitForFleet(cp, targets, { timeoutMs: 10_000 })).ok);
    });

    it('a state it cannot parse is neither applied nor acked; the next good one is', async () => {
      await writeAppStates(cp, { shop: serve() });
      const t = new RecordingTarget();
      const m = await startMember(await session(), 'app-1', [t]);
      await cp.set(layout.state('shop'), encodeJson({ mode: 'serve', data: { datastore: 'everywhere' } }));
      await m.reconcile();
      const status = m.syncStatus().shop!;
      assert.equal(status.appliedEpoch, 0);
      assert.equal(status.rejectedEpoch, 1);
      assert.match(status.error ?? '', /data-layer|invalid/i);
      assert.equal(t.applied.length, 1);
      const targets = await writeAppStates(cp, { shop: serve(COW) });
      assert.ok((await waitForFleet(cp, targets, { timeoutMs: 10_000 })).ok);
      assert.deepEqual(t.applied.at(-1), { mode: COW, epoch: 2 });
    });

    it('a target that fails is retried on the next reconcile; the member acks only after it succeeds', async () => {
      await writeAppStates(cp, { shop: serve() });
      let failures = 2;
      const flaky: DataModeTarget = {
        name: 'flaky',
        async apply() {
          if (failures-- > 0) throw new Error('N2 not reachable yet');
        },
      };
      const t = new RecordingTarget();
      const m = await startMember(await session(), 'app-1', [t, flaky]);
      const targets = await writeAppStates(cp, { shop: serve(COW) });
      const report = await waitForFleet(cp, targets, { timeoutMs: 10_000 });
      assert.ok(report.ok, 'acked after the periodic reconcile retried');
      assert.ok(failures < 0);
      assert.equal(m.syncStatus().shop?.error, undefined);
    });

    it('re-registers and acks again after its session expires', async () => {
      await writeAppStates(cp, { shop: serve(COW) });
      const c = await session();
      const t = new RecordingTarget();
      await startMember(c, 'app-1', [t]);
      c.expire();
      await eventually(async () => assert.ok(await cp.get(layout.ack('shop', 'app-1'))), {
        timeoutMs: 10_000,
        message: 'the member acks again in its new session',
      });
      assert.ok(await cp.get(layout.member('app-1')), 'member node is back');
      const targets = await writeAppStates(cp, { shop: serve() });
      assert.ok((await waitForFleet(cp, targets, { timeoutMs: 10_000 })).ok);
      assert.deepEqual(t.applied.at(-1)?.mode, { datastore: 'local', cache: 'local' });
    });

    it(
      'lease fencing: writeGuard refuses writes for every app once the lease lapsed, ' + 'until the member re-reads the state',
      async () => {
        await writeAppStates(cp, { shop: { mode: 'serve', migration: { id: 'm1', phase: 'sync' }, data: COW }, cart: serve() });
        // The lease runs on a clock of the test's own, so it lapses exactly when the test says (no 1 s wait).
        let clock = 1_000_000;
        const m = new DataLayerMember({
          coordinator: await session(),
          memberId: 'app-1',
          apps: { shop: [], cart: [] },
          leaseMs: 1000,
          reconcileMs: 60_000,
          now: () => clock,
        });
        await m.start();
        cleanups.push(() => m.stop());
        const shop = m.writeGuard('shop');
        const cart = m.writeGuard('cart');
        assert.equal(shop(), undefined, 'fresh lease');
        clock += 1000;
        assert.equal(shop(), undefined, 'still valid at exactly leaseMs');
        clock += 1;
        assert.equal(shop()?.code, 'NW_SYNC_LEASE_EXPIRED');
        assert.equal(cart()?.code, 'NW_SYNC_LEASE_EXPIRED', 'an app that is not migrating is fenced too');
        await m.reconcile();
        assert.equal(shop(), undefined, 'a complete re-read renews the lease');
        assert.equal(cart(), undefined);
      },
    );

    it('writeGuard refuses writes for an app whose state exists but was not applied (NW_SYNC_NOT_READY) until one is', async () => {
      await writeAppStates(cp, { shop: serve({ datastore: 'n2', cache: 'local' }), cart: serve() });
      // A field from a newer control plane: this member cannot apply the document.
      const newer = await cp.set(layout.state('shop'), encodeJson({ mode: 'serve', data: { datastore: 'n2', cache: 'local' }, hint: 1 }));
      const m = new DataLayerMember({
        coordinator: await session(),
        memberId: 'app-1',
        apps: { shop: [new RecordingTarget()], cart: [new RecordingTarget()], none: [new RecordingTarget()] },
        reconcileMs: 200,
      });
      await m.start();
      cleanups.push(() => m.stop());
      assert.equal(m.syncStatus().shop?.rejectedEpoch, newer);
      assert.equal(m.isReady('shop'), false);
      assert.equal(m.writeGuard('shop')()?.code, 'NW_SYNC_NOT_READY', "no write under the targets' initial mode");
      assert.equal(m.writeGuard('cart')(), undefined, 'an applied app takes writes');
      assert.equal(m.writeGuard('none')(), undefined, "an app with no state node runs on the targets' own mode");
      const targets = await writeAppStates(cp, { shop: serve({ datastore: 'n2', cache: 'local' }) });
      assert.ok((await waitForFleet(cp, targets, { timeoutMs: 10_000 })).ok);
      assert.equal(m.writeGuard('shop')(), undefined);
      assert.deepEqual(m.dataMode('shop'), { datastore: 'n2', cache: 'local' });
    });

    it('refuses to join under a member id that a live session holds (NW_CP_MEMBER_ID_IN_USE)', async () => {
      await writeAppStates(cp, { shop: serve() });
      const first = await session();
      await startMember(first, 'app-1', [new RecordingTarget()]);
      await assert.rejects(startMember(await session(), 'app-1', [new RecordingTarget()]), { code: 'NW_CP_MEMBER_ID_IN_USE' });
      assert.equal((await cp.get(layout.member('app-1')))?.ephemeralOwner, first.sessionId());
      assert.equal((await cp.get(layout.ack('shop', 'app-1')))?.ephemeralOwner, first.sessionId());
    });

    describe('with a real CassandraDataLayer', () => {
      let cl: TwoClusters;
      before(async () => {
        cl = await connectTwoClusters('dlm');
        await cl.createKvTable('kv');
      });
      after(async () => {
        await cl?.close();
      });

      it(
        'apply drain: the ack of the switch to copy-on-write comes only after ' + 'a write started under local has reached N2 too',
        async () => {
          await writeAppStates(cp, { shop: serve() });
          const held = gate();
          let holdNext = false;
          const layer = new CassandraDataLayer({
            local: cl.n1,
            n2: cl.n2,
            beforeSend: async (i) => {
              if (holdNext && i.cluster === 'local') {
                holdNext = false;
                await held.promise;
              }
            },
          });
          cleanups.push(() => layer.close());
          await startMember(await session(), 'app-1', [layer]);
          holdNext = true;
          const write = layer.write(`INSERT INTO ${cl.keyspace}.kv (k, v) VALUES (?, ?)`, ['k', 'straddler']);
          await settle();
          const targets = await writeAppStates(cp, { shop: serve(COW) });
          const early = await waitForFleet(cp, targets, { timeoutMs: 300 });
          assert.equal(early.ok, false, 'not acked while a local-mode write is in flight');
          assert.equal(layer.mode, 'copy-on-write', 'new writes already copy');
          held.open();
          const r = await write;
          assert.ok((await waitForFleet(cp, targets, { timeoutMs: 10_000 })).ok);
          const rs = await cl.n2.execute(`SELECT v, writetime(v) AS wt FROM ${cl.keyspace}.kv WHERE k = ?`, ['k'], { prepare: true });
          assert.equal(rs.first()?.get('v'), 'straddler');
          assert.equal(Number(rs.first()?.get('wt')), r.timestamp);
          assert.equal(r.retries, 1);
        },
      );
    });
  });

  describe('driven by a migration (embedded coordinator, control plane, one gateway)', () => {
    let cl: TwoClusters;
    before(async () => {
      cl = await connectTwoClusters('dlmig');
      await cl.createKvTable('kv');
    });
    after(async () => {
      await cl?.close();
    });

    it(
      "the datastore hook's setDataMode returns only once the data layer copies and drained its local-only writes; " +
        'after done it sends data to N2',
      async () => {
        const store = new EmbeddedStore();
        const fleet = await startFleet({ size: 1, coordinator: () => new EmbeddedCoordinator(store), apps: ['shop'] });
        cleanups.push(() => fleet.close());
        const held = gate();
        let holdNext = false;
        const layer = new CassandraDataLayer({
          local: cl.n1,
          n2: cl.n2,
          beforeSend: async (i) => {
            if (holdNext && i.cluster === 'local') {
              holdNext = false;
              await held.promise;
            }
          },
        });
        cleanups.push(() => layer.close());
        const dlCoordinator = new EmbeddedCoordinator(store);
        cleanups.push(() => dlCoordinator.close());
        await startMember(dlCoordinator, 'app-server-1', [layer]);
        const hooks = new Map<string, SyncHook>();
        const cp = new ControlPlane({
          coordinator: new EmbeddedCoordinator(store),
          id: 'cp-1',
          logger: createLogger('silent'),
          syncHooks: hooks,
        });
        await cp.start();
        cleanups.push(() => cp.stop());
        const seen: string[] = [];
        let straddler: WriteResult | undefined;
        hooks.set('datastore', async (ctx) => {
          holdNext = true;
          const write = layer.write(`INSERT INTO ${cl.keyspace}.kv (k, v) VALUES (?, ?)`, ['mig', 'in flight']);
          await settle();
          let switched = false;
          const p = ctx.setDataMode({ datastore: 'copy-on-write' }).then((r) => {
            switched = true;
            return r;
          });
          await eventually(() => layer.mode === 'copy-on-write', { timeoutMs: 10_000, message: 'the new data mode reaches the layer' });
          // Kept as a sleep: setDataMode must stay unresolved while the held write is in flight; give it 300 ms to (wrongly) resolve.
          await new Promise((r) => setTimeout(r, 300));
          seen.push(`switched before drain: ${switched}, layer mode: ${layer.mode}`);
          held.open();
          straddler = await write;
          await p;
          seen.push(`switched after drain: ${switched}`);
          return {};
        });
        const created = await cp.migrate(
          parsePlan({
            apps: ['shop'],
            barrierTimeoutMs: 10_000,
            sync: { mode: 'none', hooks: ['datastore'] },
            proxy: { mirrorWritesToN1: false },
          }),
        );
        const log = await cp.waitForMigration(created.id, (l) => l.status !== 'running', 30_000);
        assert.equal(log.status, 'done', JSON.stringify(log.error));
        assert.deepEqual(seen, ['switched before drain: false, layer mode: copy-on-write', 'switched after drain: true']);
        const rs = await cl.n2.execute(`SELECT v, writetime(v) AS wt FROM ${cl.keyspace}.kv WHERE k = ?`, ['mig'], { prepare: true });
        assert.equal(Number(rs.first()?.get('wt')), straddler?.timestamp, 'the straddling write reached N2 with its timestamp');
        assert.equal(layer.mode, 'n2', 'after done, the N1 app server sends all data access to N2');
      },
    );
  });

  describe('reporting with its acks (embedded coordinator, control plane, one gateway)', () => {
    let cl: TwoClusters;
    before(async () => {
      cl = await connectTwoClusters('dlrep');
      await cl.createKvTable('kv');
    });
    after(async () => {
      await cl?.close();
    });

    it(
      "the data layer's report rides in its acks: a hook sees it from setDataMode, and at the fence from confirmDataLayers, " +
        'which counts a write that failed after the switch',
      async () => {
        const store = new EmbeddedStore();
        const fleet = await startFleet({ size: 1, coordinator: () => new EmbeddedCoordinator(store), apps: ['shop'] });
        cleanups.push(() => fleet.close());
        const layer = new CassandraDataLayer({ local: cl.n1, n2: cl.n2 });
        cleanups.push(() => layer.close());
        const dlCoordinator = new EmbeddedCoordinator(store);
        cleanups.push(() => dlCoordinator.close());
        await startMember(dlCoordinator, 'app-server-1', [layer]);
        const hooks = new Map<string, SyncHook>();
        const cp = new ControlPlane({
          coordinator: new EmbeddedCoordinator(store),
          id: 'cp-1',
          logger: createLogger('silent'),
          syncHooks: hooks,
        });
        await cp.start();
        cleanups.push(() => cp.stop());
        const seen: Record<string, unknown> = {};
        let lastBefore = 0;
        hooks.set(
          'datastore',
          Object.assign(async () => ({}), {
            beforeFence: async (ctx: SyncContext) => {
              lastBefore = (await layer.write(`INSERT INTO ${cl.keyspace}.kv (k, v) VALUES (?, ?)`, ['rep', 'before'])).timestamp;
              seen.switched = await ctx.setDataMode({ datastore: 'each-quorum' });
              await assert.rejects(layer.write(`INSERT INTO ${cl.keyspace}.no_such_table (k, v) VALUES (?, ?)`, ['rep', 'x']));
              return {};
            },
            atFence: async (ctx: SyncContext) => {
              const confirmed = await ctx.confirmDataLayers();
              seen.confirmed = confirmed;
              seen.gatewayAtConfirm = fleet.members[0]!.gateway.getState().shop!.mode;
              return {};
            },
          }),
        );
        const created = await cp.migrate(
          parsePlan({
            apps: ['shop'],
            barrierTimeoutMs: 10_000,
            sync: { mode: 'none', hooks: ['datastore'] },
            proxy: { mirrorWritesToN1: false },
          }),
        );
        const log = await cp.waitForMigration(created.id, (l) => l.status !== 'running', 30_000);
        assert.equal(log.status, 'done', JSON.stringify(log.error));
        const switched = seen.switched as DataLayerBarrier;
        const epoch = switched.epochs.shop!;
        assert.deepEqual(switched.dataLayers, [
          {
            member: 'app-server-1',
            app: 'shop',
            datastore: { mode: 'each-quorum', sinceEpoch: epoch, writesThroughUs: lastBefore, failures: 0, inFlight: 0 },
            datastoreTargets: 1,
          },
        ]);
        const confirmed = seen.confirmed as DataLayerBarrier;
        assert.ok(confirmed.epochs.shop! > epoch, 'the fence state written again: a new epoch');
        assert.deepEqual(confirmed.dataLayers, [
          {
            member: 'app-server-1',
            app: 'shop',
            datastore: { mode: 'each-quorum', sinceEpoch: epoch, writesThroughUs: lastBefore, failures: 1, inFlight: 0 },
            datastoreTargets: 1,
          },
        ]);
        assert.equal(seen.gatewayAtConfirm, 'fence', 'the gateways stay fenced');
      },
    );
  });

  // From a hostile review (2026-12-06): each drives real data layers (real Cassandra n1) through real
  // barriers on an embedded coordinator, then asks windowGap (what atFence asks) whether the window
  // may stand for the drain. In each a write of the window failed (it may have reached N1's
  // datacenter only), so the answer must be a gap; each stood before its fix.
  describe('the fence confirmation does not vouch for a window with a failed write', () => {
    let cl: TwoClusters;
    before(async () => {
      cl = await connectTwoClusters('dlrev');
      await cl.createKvTable('kv');
    });
    after(async () => {
      await cl?.close();
    });

    const EQ: DataMode = { datastore: 'each-quorum', cache: 'local' };
    const failingWrite = (layer: CassandraDataLayer) =>
      assert.rejects(layer.write(`INSERT INTO ${cl.keyspace}.no_such_table (k, v) VALUES (?, ?)`, ['rev', 'x']));
    /** What the runner makes of a barrier for a hook: the data layers' acks, the members' changes read after it. */
    const seenBy = async (cp: Coordinator, r: BarrierReport) => ({
      epochs: Object.fromEntries(r.targets.map((t) => [t.app, t.epoch])),
      dataLayers: r.acked
        .filter((a) => a.kind === 'datalayer')
        .map((a): DataLayerAck => ({ member: a.member, app: a.app, ...(a.ack.datastore ? { datastore: a.ack.datastore } : {}) })),
      membersChanges: (await cp.get(layout.members))?.childChanges,
    });

    async function setup(): Promise<{ store: EmbeddedStore; cp: EmbeddedCoordinator; session: () => Promise<EmbeddedCoordinator> }> {
      const store = new EmbeddedStore();
      const session = async (): Promise<EmbeddedCoordinator> => {
        const c = new EmbeddedCoordinator(store);
        await c.connect();
        cleanups.push(() => c.close());
        return c;
      };
      const cp = await session();
      await writeAppStates(cp, { shop: serve() });
      return { store, cp, session };
    }
    async function barrier(cp: Coordinator, state: DesiredAppState, timeoutMs = 10_000): Promise<BarrierReport> {
      const targets = await writeAppStates(cp, { shop: state });
      return waitForFleet(cp, targets, { timeoutMs, kinds: ['datalayer'] });
    }
    const fenceEq: DesiredAppState = { mode: 'fence', readFrom: 'n1', data: EQ };

    it('a data layer restarted under its member id between the switch and the fence', async () => {
      const { cp, session } = await setup();
      const c1 = await session();
      const before = new CassandraDataLayer({ local: cl.n1, n2: cl.n2 });
      const m1 = await startMember(c1, 'app-server-1', [before]);
      const switched = await barrier(cp, serve(EQ));
      assert.ok(switched.ok);
      const sw = windowSwitch(await seenBy(cp, switched));
      await failingWrite(before);
      assert.equal(before.ackReport().datastore?.failures, 1);
      // The app server is restarted (a deploy, or an operator after the errors): same member id.
      await m1.stop();
      await c1.close();
      await before.close();
      const after = new CassandraDataLayer({ local: cl.n1, n2: cl.n2 });
      cleanups.push(() => after.close());
      await startMember(await session(), 'app-server-1', [after]);
      const confirmed = await barrier(cp, fenceEq);
      assert.ok(confirmed.ok);
      assert.notEqual(windowGap(sw, await seenBy(cp, confirmed)), undefined, 'the failed write of the first process is forgotten');
    });

    it('a data layer that joined after the switch, had a write fail, and left before the fence', async () => {
      const { cp, session } = await setup();
      const stays = new CassandraDataLayer({ local: cl.n1, n2: cl.n2 });
      cleanups.push(() => stays.close());
      await startMember(await session(), 'app-server-1', [stays]);
      const switched = await barrier(cp, serve(EQ));
      assert.ok(switched.ok);
      const sw = windowSwitch(await seenBy(cp, switched));
      const c2 = await session();
      const joiner = new CassandraDataLayer({ local: cl.n1, n2: cl.n2 });
      const m2 = await startMember(c2, 'app-server-2', [joiner]);
      assert.equal(joiner.mode, 'each-quorum');
      await failingWrite(joiner);
      await m2.stop();
      await c2.close(); // scaled down, or crashed
      await joiner.close();
      const confirmed = await barrier(cp, fenceEq);
      assert.ok(confirmed.ok);
      assert.notEqual(windowGap(sw, await seenBy(cp, confirmed)), undefined, "the joiner's failed write is seen by nobody");
    });

    it('a member with two datastore targets for one app reports the failure of either', async () => {
      const { cp, session } = await setup();
      const first = new CassandraDataLayer({ local: cl.n1, n2: cl.n2 });
      const second = new CassandraDataLayer({ local: cl.n1, n2: cl.n2 });
      cleanups.push(
        () => first.close(),
        () => second.close(),
      );
      await startMember(await session(), 'app-server-1', [first, second]);
      const switched = await barrier(cp, serve(EQ));
      assert.ok(switched.ok);
      const sw = windowSwitch(await seenBy(cp, switched));
      await failingWrite(first);
      const confirmed = await barrier(cp, fenceEq);
      assert.ok(confirmed.ok);
      assert.notEqual(windowGap(sw, await seenBy(cp, confirmed)), undefined, "the first target's failed write is dropped from the report");
    });

    it('a confirmation given while a write of the window is still in flight', async () => {
      const { cp, session } = await setup();
      const held = gate();
      let holding = false;
      const layer = new CassandraDataLayer({
        local: cl.n1,
        n2: cl.n2,
        beforeSend: () => (holding ? held.promise : undefined),
      });
      cleanups.push(async () => {
        held.open();
        await layer.close();
      });
      await startMember(await session(), 'app-server-1', [layer]);
      const switched = await barrier(cp, serve(EQ));
      assert.ok(switched.ok);
      const sw = windowSwitch(await seenBy(cp, switched));
      // A write not through a gateway (a job in the app server), or one a gateway gave up on more than
      // unknownWriteOutcomeMs ago (a Cassandra coordinator that does not answer: the driver waits its
      // read timeout): at EACH_QUORUM, still running when the data layers confirm.
      holding = true;
      const inFlight = failingWrite(layer);
      await settle();
      const early = await barrier(cp, fenceEq, 1000);
      if (early.ok)
        assert.notEqual(windowGap(sw, await seenBy(cp, early)), undefined, 'the confirmation vouches for a write that then fails');
      held.open();
      await inFlight;
    });

    it('one data layer listed for two apps is refused (NW_SYNC_CONFIG_INVALID): it would follow one app and ack both', async () => {
      const { session } = await setup();
      // Two apps' epochs are independent: a layer that follows both skipped the switch of the app
      // with the lower epochs (copy-on-write acked, writes to N1 only), and has one mode for two apps.
      const shared = new CassandraDataLayer({ local: cl.n1, n2: cl.n2 });
      cleanups.push(() => shared.close());
      assert.throws(
        () =>
          new DataLayerMember({
            coordinator: new EmbeddedCoordinator(new EmbeddedStore()),
            memberId: 'x',
            apps: { shop: [shared], blog: [shared] },
          }),
        (err: unknown) => isSyncError(err, 'NW_SYNC_CONFIG_INVALID') && /datastore.*shop.*blog/.test((err as Error).message),
      );
      await session();
    });
  });

  describe('on the ZooKeeper ensemble', () => {
    const zk = requireService('zookeeper');
    const chroot = `/nw-dlm-${randomBytes(4).toString('hex')}`;
    const where = { connectString: zk.connectString, chroot, sessionTimeoutMs: 10_000, connectTimeoutMs: 15_000, opTimeoutMs: 15_000 };
    const session = async (role: CoordinatorRole = 'member'): Promise<ZooKeeperCoordinator> => {
      const c = zkClient(role, where);
      await c.connect();
      cleanups.push(() => c.close());
      return c;
    };
    before(() => provisionTree(where));
    after(() => removeChroot(zk.connectString, chroot));

    it('refuses to start when the server grants a session timeout too short for the lease (NW_CP_SESSION_TIMEOUT_TOO_SHORT)', async () => {
      const c = zkClient('member', { connectString: zk.connectString, chroot, sessionTimeoutMs: 90_000 });
      cleanups.push(() => c.close());
      const m = new DataLayerMember({ coordinator: c, memberId: 'app-short', apps: { shop: [] }, leaseMs: 45_000 });
      await assert.rejects(m.start(), { code: 'NW_CP_SESSION_TIMEOUT_TOO_SHORT', message: /granted a session timeout of 60000 ms/ });
      assert.equal(await c.get(layout.member('app-short')), undefined, 'never registered');
    });

    it('two data-layer members for two apps ack a flip of both apps; the barrier names one that is held', async () => {
      const cp = await session('controlplane');
      await writeAppStates(cp, { shop: serve(), cart: serve() });
      const a = new RecordingTarget();
      const aCart = new RecordingTarget();
      const b = new RecordingTarget();
      const both = new DataLayerMember({
        coordinator: await session(),
        memberId: 'app-a',
        apps: { shop: [a], cart: [aCart] },
        reconcileMs: 200,
      });
      await both.start();
      cleanups.push(() => both.stop());
      await startMember(await session(), 'app-b', [b], ['cart']);
      const held = gate();
      b.hold = held.promise;
      const targets = await writeAppStates(cp, { shop: serve(COW), cart: serve(COW) });
      const early = await waitForFleet(cp, targets, { timeoutMs: 500 });
      assert.equal(early.ok, false);
      assert.deepEqual(
        early.missing.map((m) => [m.member, m.app]),
        [['app-b', 'cart']],
      );
      held.open();
      const report = await waitForFleet(cp, targets, { timeoutMs: 10_000 });
      assert.ok(report.ok);
      assert.deepEqual(report.members, ['app-a', 'app-b']);
      assert.deepEqual(
        [a, aCart].map((t) => t.applied.filter((x) => x.mode.datastore === 'copy-on-write').length),
        [1, 1],
        'app-a applied the new mode for both of its apps',
      );
    });
  });
});

describe('DataLayerMember: reports of several targets in one ack', () => {
  it('combine toward what the control plane trusts least: no report is lost', () => {
    const eq = { mode: 'each-quorum' as const, sinceEpoch: 4, writesThroughUs: 100, failures: 0, inFlight: 0 };
    assert.equal(mergeAckReports([undefined, {}]), undefined);
    assert.deepEqual(mergeAckReports([{ datastore: eq }, undefined]), { datastore: eq });
    assert.deepEqual(
      mergeAckReports([
        { datastore: { ...eq, failures: 2 } },
        { datastore: { ...eq, sinceEpoch: 6, writesThroughUs: 90, failures: 1, inFlight: 1 } },
      ]),
      { datastore: { mode: 'each-quorum', sinceEpoch: 6, writesThroughUs: 100, failures: 3, inFlight: 1 } },
      'a failure of either target counts; the later entry into the mode counts',
    );
    assert.equal(mergeAckReports([{ datastore: eq }, { datastore: { ...eq, mode: 'copy-on-write' } }])?.datastore?.mode, 'local');
  });
});
