import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { formatStatus } from '../../controlplane/cli/format.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import type { LogEvent, MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { startCommittingUpstream, type CommittingUpstream } from '../support/committing-upstream.js';
import { eventually } from '../support/eventually.js';
import { call } from '../support/gateway-harness.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { requireService } from '../support/service-endpoints.js';
import { provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const zk = requireService('zookeeper');
const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';
/**
 * Far beyond the test's own timeout: the refusal must end the fence barrier at once. A runner that
 * waited the barrier out would fail the test (waitForMigration gives up first) instead of passing.
 */
const BARRIER_TIMEOUT_MS = 60_000;
const WAIT_MS = 25_000;

/**
 * Mirrored writes in the sync phase that N1 (the primary) confirmed to their clients but N2
 * answered 500 to (and did not commit): N2 must not take over writes missing them. The gateway
 * that saw them refuses the fence toward N2 (a refusal in its ack node, NW_GW_MIRROR_DIVERGED),
 * the barrier ends at once with NW_CP_BARRIER_REFUSED, and the migration rolls back to N1 by
 * itself (or pauses, as the plan says for a failed barrier). Real ZooKeeper ensemble, real
 * gateways and app servers on port 0; checked on what the app servers committed.
 */
describe('a migration whose mirror diverged (ZooKeeper ensemble, real gateways and app servers)', function () {
  this.timeout(30_000);
  let where: { connectString: string; chroot: string; sessionTimeoutMs: number; connectTimeoutMs: number; opTimeoutMs: number };
  let n1: CommittingUpstream;
  let n2: CommittingUpstream;
  let fleet: Fleet;
  let coordinator: ZooKeeperCoordinator;
  let cp: ControlPlane;
  let hooks: Map<string, SyncHook>;
  /** Client writes acknowledged (2xx) during the migration: path and body. */
  let acked: Array<{ path: string; body: string }>;

  beforeEach(async () => {
    where = {
      connectString: zk.connectString,
      chroot: `/nw-divergence-${randomBytes(4).toString('hex')}`,
      sessionTimeoutMs: 6000,
      connectTimeoutMs: 15_000,
      opTimeoutMs: 15_000,
    };
    await provisionTree(where);
    n1 = await startCommittingUpstream('n1');
    n2 = await startCommittingUpstream('n2');
    fleet = await startFleet({ size: 3, coordinator: () => zkClient('member', where), upstreams: { n1: n1.url, n2: n2.url } });
    hooks = new Map();
    coordinator = zkClient('controlplane', where);
    cp = new ControlPlane({ coordinator, id: 'cp-div', logger: createLogger('silent'), syncHooks: hooks });
    await cp.start();
    acked = [];
    // During sync (every gateway in mirror, N1 primary): two client writes each through two gateways.
    hooks.set('client-writes', async () => {
      for (const [i, m] of fleet.members.slice(0, 2).entries()) {
        for (const suffix of ['a', 'b']) {
          const path = `/kv/order-${i}-${suffix}`;
          const body = `order ${i} ${suffix}`;
          const res = await call(m.gateway.listeners[0]!.url, path, { method: 'POST', body });
          assert.equal(res.headers['x-northwest-mode'], 'mirror');
          if (res.status < 300) acked.push({ path, body });
        }
      }
      return {};
    });
  });

  afterEach(async () => {
    await cp.stop();
    await coordinator.close();
    await fleet.close();
    await Promise.all([n1.close(), n2.close()]);
    await removeChroot(zk.connectString, where.chroot);
  });

  async function migrate(extra: Record<string, unknown> = {}): Promise<MigrationLog> {
    const created = await cp.migrate(
      parsePlan({ apps: ['shop'], barrierTimeoutMs: BARRIER_TIMEOUT_MS, sync: { hooks: ['client-writes'] }, ...extra }),
    );
    return cp.waitForMigration(created.id, finished, WAIT_MS);
  }

  /** The side the app ends on committed every write its clients were told succeeded, once (its commit log, not the replies). */
  function assertAckedWritesOn(side: CommittingUpstream): void {
    assert.equal(acked.length, 4, 'the client got success for every write');
    for (const w of acked) {
      assert.equal(side.store.get(w.path.slice('/kv/'.length)), w.body, `${w.path} is on ${side.name}`);
      assert.deepEqual(
        side.committed(w.path).map((c) => c.body),
        [w.body],
        `${w.path} committed once on ${side.name}`,
      );
    }
  }

  /** N2 answers 500 to gw-01's two writes (committing nothing); N1 confirms them. */
  const divergeAtGw01 = (): void => n2.failWrites('/kv/order-1-', 'refuse-500');
  const REFUSAL =
    /gw-01 refused shop epoch \d+: NW_GW_MIRROR_DIVERGED: .*shop: n2 failed 2 mirrored write\(s\) .*\(unconfirmed by side: n1 0, n2 2\)/;

  function fenceFailure(log: MigrationLog): LogEvent {
    const failed = log.history.find((e) => e.event === 'phase-failed' && e.phase === 'fence');
    assert.ok(failed, JSON.stringify(log.history));
    assert.match(failed.detail ?? '', /^NW_CP_BARRIER_REFUSED: /);
    assert.match(failed.detail ?? '', REFUSAL, 'the log names the member, its code and its detail');
    const barrier = (failed.data as { barrier?: NonNullable<LogEvent['barrier']> }).barrier;
    assert.deepEqual(
      barrier?.refused?.map((r) => [r.member, r.app, r.code]),
      [['gw-01', 'shop', 'NW_GW_MIRROR_DIVERGED']],
    );
    assert.ok((failed.durationMs ?? Infinity) < BARRIER_TIMEOUT_MS, 'the barrier ended before its deadline');
    return failed;
  }

  it('N2 fails writes N1 confirmed: the fence toward N2 is refused, it rolls back at once; N1 has every acked write', async () => {
    divergeAtGw01();
    const log = await migrate();
    assert.equal(log.status, 'rolled-back', JSON.stringify(log.history));
    assert.equal(log.error?.code, 'NW_CP_BARRIER_REFUSED');
    assert.match(log.error?.message ?? '', REFUSAL);
    fenceFailure(log);
    assert.ok(log.history.some((e) => e.event === 'rollback-started' && e.detail === 'NW_CP_BARRIER_REFUSED'));
    for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve');
    assertAckedWritesOn(n1);
    assert.equal(n2.store.has('order-1-a') || n2.store.has('order-1-b'), false, 'N2 indeed misses them: moving to N2 would lose them');
  });

  it('with onBarrierTimeout: pause the refusal pauses at once; status shows the refusal; abort rolls back onto N1', async () => {
    divergeAtGw01();
    const created = await cp.migrate(
      parsePlan({
        apps: ['shop'],
        barrierTimeoutMs: BARRIER_TIMEOUT_MS,
        onBarrierTimeout: 'pause',
        sync: { hooks: ['client-writes'] },
      }),
    );
    const paused = await cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), WAIT_MS);
    assert.equal(paused.status, 'paused', JSON.stringify(paused.history));
    assert.equal(paused.error?.code, 'NW_CP_BARRIER_REFUSED');
    fenceFailure(paused);
    assert.match(paused.history.at(-1)?.detail ?? '', /^barrier refused: waiting for an operator/);

    // The operator's view: the member that refused, its code, and who is behind.
    const late = await fleet.add('gw-late'); // joins under the fence: it has nothing to refuse
    await eventually(
      async () => {
        const shop = (await cp.status()).apps.find((a) => a.app === 'shop')!;
        assert.equal((shop.state as { mode: string }).mode, 'fence');
        const byMember = Object.fromEntries(shop.acks.map((a) => [a.member, a]));
        assert.equal(byMember['gw-01']?.current, false);
        assert.deepEqual(byMember['gw-01']?.refused && { epoch: byMember['gw-01'].refused.epoch, code: byMember['gw-01'].refused.code }, {
          epoch: shop.epoch,
          code: 'NW_GW_MIRROR_DIVERGED',
        });
        for (const id of ['gw-00', 'gw-02', late.id]) assert.equal(byMember[id]?.current, true, `${id} acked the fence`);
        assert.match(formatStatus(await cp.status()), /gw-01 \(refused: NW_GW_MIRROR_DIVERGED\)/);
      },
      { timeoutMs: 10_000, message: 'status shows the refusal' },
    );

    await cp.abort(created.id, 'N2 misses writes');
    const log = await cp.waitForMigration(created.id, finished, WAIT_MS);
    assert.equal(log.status, 'rolled-back', JSON.stringify(log.history));
    for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve');
    assertAckedWritesOn(n1);
  });

  it('without a divergence the same migration ends on N2 with every acked write', async () => {
    const log = await migrate();
    assert.equal(log.status, 'done', JSON.stringify(log.history));
    assertAckedWritesOn(n2);
  });
});
