// Documents written straight into the coordinator by a broken or hostile member (its identity may
// write member and ack nodes): a member node without `apps`, not JSON, an array, a huge one, an ack
// whose epoch is a string. Each is skipped with a typed, logged error (NW_CP_DOCUMENT_INVALID);
// none throws into a barrier, a migration, its rollback or the fleet status.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import type { CoordinatorRole } from '../../platform/coordinator/northwest-acl.js';
import { createLogger, type Logger } from '../../platform/logger.js';
import { waitForFleet } from '../../fleet/fleet-barrier.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import { encodeJson, layout } from '../../protocol/coordinator-paths.js';
import { gate } from '../support/control-plane-harness.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { requireService } from '../support/service-endpoints.js';
import { provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const APP = 'shop';
const member = (apps: unknown): Record<string, unknown> => ({ kind: 'gateway', host: '127.0.0.1', pid: 1, startedAt: 'now', apps });
const ack = (epoch: unknown): Buffer => encodeJson({ epoch, appliedAt: new Date().toISOString(), applyMs: 0 });
/** Valid JSON with every field a member needs, over the document limit (ZooKeeper's node limit is about 1 MB). */
const huge = (): Buffer => encodeJson({ ...member([APP]), host: 'h'.repeat(400_000) });

/** The hostile member nodes, by id. */
const HOSTILE: ReadonlyArray<readonly [string, Buffer]> = [
  ['gw-no-apps', encodeJson({ kind: 'gateway', host: '127.0.0.1', pid: 1, startedAt: 'now' })],
  ['gw-apps-string', encodeJson(member('shop'))],
  ['gw-not-json', Buffer.from('{"kind": "gateway", "apps": [')],
  ['gw-array', encodeJson([member([APP])])],
  ['gw-huge', huge()],
];

/** A logger that keeps every error event's code and message. */
function recordingLogger(): { logger: Logger; errors: Array<{ event: string; code: unknown; message: string }> } {
  const errors: Array<{ event: string; code: unknown; message: string }> = [];
  const logger = createLogger('error', {}, (line) => {
    const rec = JSON.parse(line) as { event: string; code?: unknown; err?: { message?: string } };
    errors.push({ event: rec.event, code: rec.code, message: rec.err?.message ?? '' });
  });
  return { logger, errors };
}

interface Backend {
  readonly name: string;
  session(role: CoordinatorRole): Promise<Coordinator>;
  cleanup(): Promise<void>;
}

async function embeddedBackend(): Promise<Backend> {
  const store = new EmbeddedStore();
  const sessions: Coordinator[] = [];
  return {
    name: 'embedded coordinator',
    async session() {
      const c = new EmbeddedCoordinator(store);
      sessions.push(c);
      await c.connect();
      return c;
    },
    cleanup: async () => void (await Promise.allSettled(sessions.map((c) => c.close()))),
  };
}

async function zookeeperBackend(): Promise<Backend> {
  const zk = requireService('zookeeper');
  const where = { connectString: zk.connectString, chroot: `/nw-hostile-${randomBytes(4).toString('hex')}`, opTimeoutMs: 15_000 };
  await provisionTree(where);
  const sessions: Coordinator[] = [];
  return {
    name: 'ZooKeeper ensemble, written with the member identity',
    async session(role) {
      const c = zkClient(role, where);
      sessions.push(c);
      await c.connect();
      return c;
    },
    async cleanup() {
      await Promise.allSettled(sessions.map((c) => c.close()));
      await removeChroot(zk.connectString, where.chroot);
    },
  };
}

for (const makeBackend of [embeddedBackend, zookeeperBackend]) {
  const where = makeBackend === embeddedBackend ? 'embedded coordinator' : 'ZooKeeper, member identity';
  describe(`hostile coordinator documents and the barrier (${where})`, function () {
    this.timeout(30_000);
    let backend: Backend;
    beforeEach(async () => {
      backend = await makeBackend();
    });
    afterEach(() => backend.cleanup());

    it('skips malformed member nodes and a string-epoch ack with a logged NW_CP_DOCUMENT_INVALID, and still passes', async () => {
      const cp = await backend.session('controlplane');
      await cp.mkdirp(layout.members);
      const [target] = await writeAppStates(cp, { [APP]: { mode: 'serve' } });
      const good = await backend.session('member');
      await good.create(layout.member('gw-good'), encodeJson(member([APP])), 'ephemeral');
      await good.create(layout.ack(APP, 'gw-good'), ack(target!.epoch), 'ephemeral');
      const liar = await backend.session('member');
      await liar.create(layout.member('gw-liar'), encodeJson(member([APP])), 'ephemeral');
      await liar.create(layout.ack(APP, 'gw-liar'), ack(String(target!.epoch)), 'ephemeral');
      const hostile = await backend.session('member');
      for (const [id, doc] of HOSTILE) {
        await hostile.create(layout.member(id), doc, 'ephemeral');
        await hostile.create(layout.ack(APP, id), ack(target!.epoch), 'ephemeral');
      }

      const { logger, errors } = recordingLogger();
      const early = await waitForFleet(cp, [target!], { timeoutMs: 300, pollMs: 50, logger });
      assert.equal(early.ok, false);
      assert.deepEqual(early.members, ['gw-good', 'gw-liar'], 'malformed members are skipped');
      assert.deepEqual(early.missing, [{ member: 'gw-liar', app: APP, ackedEpoch: null }], 'a string epoch is no ack');
      for (const id of [...HOSTILE.map(([id]) => id), 'gw-liar']) {
        const path = id === 'gw-liar' ? layout.ack(APP, id) : layout.member(id);
        assert.ok(
          errors.some((e) => e.code === 'NW_CP_DOCUMENT_INVALID' && e.message.includes(`: ${path}: `)),
          `${path} reported: ${JSON.stringify(errors)}`,
        );
      }
      assert.ok(errors.some((e) => /gw-huge: document is \d+ bytes, over the limit/.test(e.message)));
      assert.ok(errors.some((e) => /gw-no-apps: apps: /.test(e.message)));
      assert.ok(errors.length <= HOSTILE.length + 1, `each invalid node is logged once, not on every poll: ${errors.length}`);

      await liar.set(layout.ack(APP, 'gw-liar'), ack(target!.epoch));
      const report = await waitForFleet(cp, [target!], { timeoutMs: 5000, logger });
      assert.equal(report.ok, true, JSON.stringify(report.missing));

      // A data layer's report that does not parse (here: failures negative, a field too many) is
      // read as no report: the ack counts, and the control plane trusts nothing the report says.
      const lying = { mode: 'each-quorum', sinceEpoch: 1, writesThroughUs: 5, failures: -1, inFlight: 0, trustMe: true };
      await good.set(layout.ack(APP, 'gw-good'), encodeJson({ ...JSON.parse(ack(target!.epoch).toString()), datastore: lying }));
      const honest = { mode: 'each-quorum', sinceEpoch: 1, writesThroughUs: 5, failures: 0, inFlight: 0 };
      await liar.set(layout.ack(APP, 'gw-liar'), encodeJson({ ...JSON.parse(ack(target!.epoch).toString()), datastore: honest }));
      const reread = await waitForFleet(cp, [target!], { timeoutMs: 5000, logger });
      assert.equal(reread.ok, true, JSON.stringify(reread.missing));
      assert.deepEqual(
        reread.acked.map((a) => ({ member: a.member, datastore: a.ack.datastore })),
        [
          { member: 'gw-good', datastore: undefined },
          { member: 'gw-liar', datastore: honest },
        ],
      );
    });
  });
}

describe('hostile member nodes and the control plane (embedded fleet): migrations, rollbacks and status go on', function () {
  this.timeout(60_000);
  let store: EmbeddedStore;
  let fleet: Fleet;
  let cp: ControlPlane;
  let hostile: EmbeddedCoordinator;
  let errors: Array<{ event: string; code: unknown; message: string }>;
  let hooks: Map<string, SyncHook>;
  const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

  beforeEach(async () => {
    store = new EmbeddedStore();
    fleet = await startFleet({ size: 2, coordinator: () => new EmbeddedCoordinator(store), apps: [APP] });
    hostile = new EmbeddedCoordinator(store);
    await hostile.connect();
    for (const [id, doc] of HOSTILE) await hostile.create(layout.member(id), doc, 'ephemeral');
    const recorded = recordingLogger();
    errors = recorded.errors;
    hooks = new Map();
    cp = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-1', logger: recorded.logger, syncHooks: hooks });
    await cp.start();
  });

  afterEach(async () => {
    await cp.stop();
    await hostile.close();
    await fleet.close();
  });

  it('a migration runs to done past them, and status lists only the well-formed members', async () => {
    const created = await cp.migrate(parsePlan({ apps: [APP], barrierTimeoutMs: 5000 }));
    const log = await cp.waitForMigration(created.id, finished, 30_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    const status = await cp.status();
    assert.deepEqual(
      status.members.map((m) => m.id),
      fleet.members.map((m) => m.id),
    );
    assert.ok(errors.some((e) => e.code === 'NW_CP_DOCUMENT_INVALID'));
    assert.ok(!errors.some((e) => /TypeError/.test(e.message)), JSON.stringify(errors));
  });

  it('a migration log without a plan is skipped as corrupt, not run, and status reports it failed', async () => {
    const bad = { id: 'bad-1', status: 'running', plan: {}, history: [], createdAt: '', updatedAt: '' };
    await hostile.create(layout.migration('bad-1'), encodeJson(bad));
    const created = await cp.migrate(parsePlan({ apps: [APP], barrierTimeoutMs: 5000 }));
    assert.equal((await cp.waitForMigration(created.id, finished, 30_000)).status, 'done');
    const listed = (await cp.status()).migrations.find((m) => m.id === 'bad-1');
    assert.deepEqual(listed && { status: listed.status, apps: listed.apps }, { status: 'failed', apps: [] });
    assert.ok(
      errors.some((e) => e.event === 'controlplane.migration.unreadable' && /bad-1: plan\.apps: /.test(e.message)),
      JSON.stringify(errors),
    );
    assert.ok(!errors.some((e) => e.event === 'controlplane.migration.crashed'), JSON.stringify(errors));
  });

  it('a rollback (abort while the mirror is up) completes past them', async () => {
    const hold = gate();
    hooks.set('hold', hold.hook);
    const created = await cp.migrate(parsePlan({ apps: [APP], barrierTimeoutMs: 5000, sync: { hooks: ['hold'] } }));
    await hold.entered;
    await cp.abort(created.id, 'test abort');
    hold.release();
    const log = await cp.waitForMigration(created.id, finished, 30_000);
    assert.equal(log.status, 'rolled-back', JSON.stringify(log.error));
    for (const m of fleet.members) assert.equal(m.gateway.getState()[APP]!.mode, 'serve');
  });
});
