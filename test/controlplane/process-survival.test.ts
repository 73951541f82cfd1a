import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zookeeper from 'node-zookeeper-client';
import { request } from 'undici';
import { removeSubtree } from '../../datasync/metadata/subtree-remove.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { spawnControlPlane, type ControlPlaneChild } from '../support/control-plane-process.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { requireService } from '../support/service-endpoints.js';
import { TEST_EXPERIMENT_AUTH, zkAdminClient, zkClient } from '../support/zk-identities.js';

const TOKEN = 'cp-survival-token';
const SESSION_MS = 4000;

function zkCall<T>(fn: (cb: (err: Error | null, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

/**
 * A coordinator error must not kill the control plane, and the migrations it
 * leads must still run once the coordinator answers again. The error here is a
 * real one from ZooKeeper: the migrations node refuses reads (an ACL without
 * READ), so the leader's first adoption pass fails with NW_CP_NO_AUTH.
 */
describe('the control-plane process survives coordinator errors', function () {
  this.timeout(90_000);
  const zk = requireService('zookeeper');
  let chroot: string;
  let raw: zookeeper.Client;
  let cp: ControlPlaneChild | undefined;
  let fleet: Fleet | undefined;

  const coordinator = (): ZooKeeperCoordinator =>
    zkClient('member', { connectString: zk.connectString, chroot, sessionTimeoutMs: SESSION_MS, connectTimeoutMs: 15_000 });

  beforeEach(async () => {
    chroot = `/nw-cp-survival-${randomBytes(4).toString('hex')}`;
    raw = zookeeper.createClient(zk.connectString, { sessionTimeout: SESSION_MS, spinDelay: 200 });
    await new Promise<void>((resolve) => {
      raw.once('connected', () => resolve());
      raw.connect();
    });
    await zkCall((cb) => raw.mkdirp(chroot, cb));
    const noRead = zookeeper.Permission.CREATE | zookeeper.Permission.WRITE | zookeeper.Permission.DELETE | zookeeper.Permission.ADMIN;
    await zkCall((cb) =>
      raw.create(
        `${chroot}/migrations`,
        null,
        [new zookeeper.ACL(noRead, zookeeper.Id.ANYONE_ID_UNSAFE)],
        zookeeper.CreateMode.PERSISTENT,
        cb,
      ),
    );
  });

  afterEach(async () => {
    await cp?.stop();
    cp = undefined;
    await fleet?.close();
    fleet = undefined;
    // Leave the ensemble as we found it (the unreadable node first: a subtree walk cannot list it).
    await zkCall((cb) => raw.remove(`${chroot}/migrations`, cb)).catch(() => undefined);
    raw.close();
    const admin = zkAdminClient({ connectString: zk.connectString, chroot: '/' });
    await admin.connect();
    await removeSubtree(admin, chroot).catch(() => undefined);
    await admin.close();
  });

  it('a failed adoption pass (NW_CP_NO_AUTH) is logged and retried; once readable, a new migration is run to the end', async () => {
    cp = await spawnControlPlane(
      {
        id: 'cp-survival',
        coordinator: {
          kind: 'zookeeper',
          connectString: zk.connectString,
          chroot,
          sessionTimeoutMs: SESSION_MS,
          auth: TEST_EXPERIMENT_AUTH.controlPlane,
          members: TEST_EXPERIMENT_AUTH.members,
        },
        admin: { host: '127.0.0.1', port: 0 },
        log: { level: 'warn' },
      },
      TOKEN,
    );
    const child = cp;
    const died = child.exited.then((code) => {
      throw new Error(`the control plane exited (${code}):\n${child.output()}`);
    });
    await Promise.race([
      died,
      eventually(
        () => assert.match(child.output(), /^(?=.*"event":"controlplane\.migration\.adopt_failed")(?=.*"code":"NW_CP_NO_AUTH").*$/m),
        {
          timeoutMs: 10_000,
          message: 'the leader logs the failed adoption with its code',
        },
      ),
    ]);
    await Promise.race([
      died,
      eventually(() => (child.output().match(/controlplane\.migration\.adopt_failed/g) ?? []).length >= 2, {
        timeoutMs: 10_000,
        message: 'the adoption is tried again',
      }),
    ]);
    const health = await request(`${child.adminUrl}/healthz`);
    assert.equal(health.statusCode, 200);
    await health.body.dump();

    // The coordinator answers again: the migrations node is readable.
    await zkCall((cb) => raw.remove(`${chroot}/migrations`, cb));
    await zkCall((cb) => raw.create(`${chroot}/migrations`, null, zookeeper.ACL.OPEN_ACL_UNSAFE, zookeeper.CreateMode.PERSISTENT, cb));
    fleet = await startFleet({ size: 1, coordinator, leaseMs: 2000, reconcileMs: 500 });
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const created = await request(`${child.adminUrl}/migrations`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ apps: ['shop'], barrierTimeoutMs: 20_000 }),
    });
    const log = (await created.body.json()) as MigrationLog;
    assert.equal(created.statusCode, 201, JSON.stringify(log));
    const finished = await Promise.race([
      died,
      eventually(
        async () => {
          const res = await request(`${child.adminUrl}/migrations/${log.id}`, { headers: auth });
          const l = (await res.body.json()) as MigrationLog;
          assert.notEqual(l.status, 'running', `still running (phase ${l.phase})`);
          return l;
        },
        { timeoutMs: 40_000, intervalMs: 200, message: 'the migration ends' },
      ),
    ]);
    assert.equal(finished.status, 'done', JSON.stringify(finished.history));
    assert.ok(
      finished.history.some((e) => e.event === 'leader' && e.detail === 'run by cp-survival'),
      'the leader adopted it',
    );
    assert.equal(child.child.exitCode, null, child.output());
    assert.doesNotMatch(child.output(), /NW_CP_UNHANDLED|Unhandled|uncaught/i, 'nothing reached the last-resort handlers');
  });
});
