import assert from 'node:assert/strict';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { startCommittingUpstream, type CommittingUpstream } from '../support/committing-upstream.js';
import { call } from '../support/gateway-harness.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';

const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

/**
 * A mirrored write in the sync phase that N1 (the primary) confirmed to its
 * client but N2 did not commit: N2 must not take over writes missing it. The
 * gateway that saw it does not ack the fence toward N2, and the migration
 * rolls back to N1 by itself. Checked on what the app servers hold.
 */
describe('a migration whose mirror diverged (embedded coordinator, real app servers)', function () {
  this.timeout(60_000);
  let store: EmbeddedStore;
  let n1: CommittingUpstream;
  let n2: CommittingUpstream;
  let fleet: Fleet;
  let cp: ControlPlane;
  let hooks: Map<string, SyncHook>;
  /** Client writes acknowledged (2xx) during the migration: path and body. */
  let acked: Array<{ path: string; body: string }>;

  beforeEach(async () => {
    store = new EmbeddedStore();
    n1 = await startCommittingUpstream('n1');
    n2 = await startCommittingUpstream('n2');
    fleet = await startFleet({ size: 3, coordinator: () => new EmbeddedCoordinator(store), upstreams: { n1: n1.url, n2: n2.url } });
    hooks = new Map();
    cp = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-div', logger: createLogger('silent'), syncHooks: hooks });
    await cp.start();
    acked = [];
    // During sync (every gateway in mirror, N1 primary): one client write each through two gateways.
    hooks.set('client-writes', async () => {
      for (const [i, m] of fleet.members.slice(0, 2).entries()) {
        const path = `/kv/order-${i}`;
        const res = await call(m.gateway.listeners[0]!.url, path, { method: 'POST', body: `order ${i}` });
        assert.equal(res.headers['x-northwest-mode'], 'mirror');
        if (res.status < 300) acked.push({ path, body: `order ${i}` });
      }
      return {};
    });
  });

  afterEach(async () => {
    await cp.stop();
    await fleet.close();
    await Promise.all([n1.close(), n2.close()]);
  });

  async function migrate(): Promise<MigrationLog> {
    const created = await cp.migrate(parsePlan({ apps: ['shop'], barrierTimeoutMs: 2000, sync: { hooks: ['client-writes'] } }));
    return cp.waitForMigration(created.id, finished, 30_000);
  }

  /** What the app ends on must hold every write its clients were told succeeded. */
  function assertAckedWritesOn(side: CommittingUpstream): void {
    assert.ok(acked.length > 0, 'some writes were acknowledged');
    for (const w of acked) assert.equal(side.store.get(w.path.slice('/kv/'.length)), w.body, `${w.path} is on ${side.name}`);
  }

  it('N2 refuses one mirrored write: the fence toward N2 is not acked, the migration rolls back, N1 has every acked write', async () => {
    n2.failWrites('/kv/order-1', 'refuse-500');
    const log = await migrate();
    assert.equal(log.status, 'rolled-back', JSON.stringify(log.history));
    assert.equal(log.error?.code, 'NW_CP_BARRIER_TIMEOUT');
    const fenceFailed = log.history.find((e) => e.event === 'phase-failed' && e.phase === 'fence');
    assert.ok(fenceFailed, JSON.stringify(log.history));
    assert.match(JSON.stringify(fenceFailed), /gw-01/, 'the barrier names the member that saw the divergence');
    assert.equal(acked.length, 2, 'the client got N1 success for both writes');
    for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve');
    assertAckedWritesOn(n1);
    assert.equal(n2.store.has('order-1'), false, 'N2 indeed misses it: moving to N2 would have lost it');
  });

  it('without a divergence the same migration ends on N2 with every acked write', async () => {
    const log = await migrate();
    assert.equal(log.status, 'done', JSON.stringify(log.history));
    assertAckedWritesOn(n2);
  });
});
