import assert from 'node:assert/strict';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { CoordinatorError } from '../../platform/coordinator/coordinator-errors.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';

const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

/**
 * A real (embedded) coordinator whose reads of the matching paths fail with a
 * coordinator error while `failures` lasts: a refused read (an ACL) in the
 * middle of otherwise working sessions.
 */
function failingReads(store: EmbeddedStore, matches: (op: 'get' | 'children', path: string) => boolean) {
  const inner = new EmbeddedCoordinator(store);
  const faults = { left: 0, seen: 0 };
  const coordinator = new Proxy(inner, {
    get(target, key) {
      if (key === 'get' || key === 'children') {
        const op = key;
        return (path: string, ...rest: unknown[]) => {
          if (faults.left > 0 && matches(op, path)) {
            faults.left -= 1;
            faults.seen += 1;
            return Promise.reject(new CoordinatorError('NW_CP_NO_AUTH', `${op} ${path}`));
          }
          return (Reflect.get(target, key) as (...a: unknown[]) => unknown).call(target, path, ...rest);
        };
      }
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Coordinator;
  return { coordinator, faults };
}

/** An embedded session whose next lock removals fail with a connection loss (a ZooKeeper leader election). */
class LockBlipCoordinator extends EmbeddedCoordinator {
  failLockRemovals = 0;

  override async remove(path: string, version?: number): Promise<void> {
    if (path.endsWith('/lock') && this.failLockRemovals > 0) {
      this.failLockRemovals -= 1;
      throw new CoordinatorError('NW_CP_COORDINATOR_UNAVAILABLE', `remove ${path}: CONNECTION_LOSS (test)`);
    }
    return super.remove(path, version);
  }
}

describe('the control plane recovers from coordinator errors outside a phase', function () {
  this.timeout(30_000);
  let store: EmbeddedStore;
  let fleet: Fleet;
  const planes: ControlPlane[] = [];

  beforeEach(async () => {
    store = new EmbeddedStore();
    fleet = await startFleet({ size: 2, coordinator: () => new EmbeddedCoordinator(store) });
  });

  afterEach(async () => {
    await Promise.all(planes.splice(0).map((p) => p.stop()));
    await fleet.close();
  });

  it('a runner that fails reading its control node is adopted again, and the migration ends', async () => {
    const { coordinator, faults } = failingReads(store, (op, path) => op === 'get' && path.endsWith('/control'));
    const cp = new ControlPlane({ coordinator, id: 'cp-1', logger: createLogger('silent') });
    planes.push(cp);
    await cp.start();
    faults.left = 2;
    const created = await cp.migrate(parsePlan({ apps: ['shop'], barrierTimeoutMs: 5000 }));
    const log = await cp.waitForMigration(created.id, finished, 15_000);
    assert.equal(faults.seen, 2, 'the runner met both refused reads');
    assert.equal(log.status, 'done', JSON.stringify(log.history));
    assert.ok(log.history.filter((e) => e.event === 'leader').length >= 3, 'adopted once, and again after each failed runner');
  });

  it('a standby whose re-evaluation fails when the leader leaves tries again and takes over', async () => {
    const a = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-a', logger: createLogger('silent') });
    planes.push(a);
    await a.start();
    const { coordinator, faults } = failingReads(store, (op, path) => op === 'children' && path === layout.leader);
    const b = new ControlPlane({ coordinator, id: 'cp-b', logger: createLogger('silent') });
    planes.push(b);
    await b.start();
    assert.equal(a.isLeader(), true);
    assert.equal(b.isLeader(), false);
    faults.left = 2;
    await a.stop(); // its candidate node goes: b's watch fires, and b's first two reads of the candidates fail
    await eventually(() => b.isLeader(), { timeoutMs: 10_000, message: 'the standby becomes leader' });
    assert.equal(faults.seen, 2);
    const created = await b.migrate(parsePlan({ apps: ['shop'], barrierTimeoutMs: 5000 }));
    assert.equal((await b.waitForMigration(created.id, finished, 15_000)).status, 'done', 'and runs migrations');
  });
  it('a leader that loses the coordinator as it removes the locks of a migration it ended removes them once back', async () => {
    const coordinator = new LockBlipCoordinator(store);
    const a = new ControlPlane({ coordinator, id: 'cp-a', logger: createLogger('silent') });
    planes.push(a);
    await a.start();
    coordinator.failLockRemovals = 1;
    const created = await a.migrate(parsePlan({ apps: ['shop'], barrierTimeoutMs: 5000 }));
    assert.equal((await a.waitForMigration(created.id, finished, 15_000)).status, 'done');
    const admin = new EmbeddedCoordinator(store);
    await admin.connect();
    await eventually(async () => assert.equal(await admin.get(layout.lock('shop')), undefined), {
      timeoutMs: 10_000,
      message: 'the leader removed its lock once the coordinator answered again',
    });
    assert.equal(coordinator.failLockRemovals, 0, 'the blip happened');
    await admin.close();
  });

  it(
    'a new leader removes the app locks of a migration that ended done ' + 'while its leader died before releasing them (regression)',
    async () => {
      const a = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-a', logger: createLogger('silent') });
      planes.push(a);
      await a.start();
      const created = await a.migrate(parsePlan({ apps: ['shop'], barrierTimeoutMs: 5000 }));
      const log = await a.waitForMigration(created.id, finished, 15_000);
      assert.equal(log.status, 'done', JSON.stringify(log.history));
      await a.stop();
      // What a leader killed between writing `done` and removing its locks leaves behind
      // (found by the fault campaign).
      const admin = new EmbeddedCoordinator(store);
      await admin.connect();
      await admin.create(layout.lock('shop'), Buffer.from(created.id));
      const b = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-b', logger: createLogger('silent') });
      planes.push(b);
      await b.start();
      await eventually(async () => assert.equal(await admin.get(layout.lock('shop')), undefined), {
        timeoutMs: 10_000,
        message: 'the new leader removed the leftover lock',
      });
      const next = await b.migrate(parsePlan({ apps: ['shop'], barrierTimeoutMs: 5000 }));
      assert.equal((await b.waitForMigration(next.id, finished, 15_000)).status, 'done', 'the app is free for the next migration');
      await admin.close();
    },
  );
});
