import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Coordinator, Watcher } from '../../platform/coordinator/coordinator.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import type { CoordinatorRole } from '../../platform/coordinator/northwest-acl.js';
import { waitForFleet, type BarrierReport } from '../../fleet/fleet-barrier.js';
import type { CodedError } from '../../platform/coded-error.js';
import { encodeJson, layout, type AckInfo, type MemberInfo } from '../../protocol/coordinator-paths.js';
import { eventually } from '../support/eventually.js';
import { requireService } from '../support/service-endpoints.js';
import { provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const APP = 'shop';
const TARGET = 2;

/** The reads a coordinator served (e.g. 'get /apps/shop/acks/gw-1'), what each returned, and the watchers passed per read. */
interface ReadLog {
  readonly coordinator: Coordinator;
  readonly reads: string[];
  /** Reads issued and not yet answered. */
  inFlight(): number;
  /** Ack epochs the barrier has read, per member, in order. */
  readonly ackEpochs: Map<string, number[]>;
  /** Every distinct watcher function passed for each `op path`. */
  readonly watchers: Map<string, Set<Watcher>>;
}

function logReads(inner: Coordinator): ReadLog {
  const reads: string[] = [];
  const ackEpochs = new Map<string, number[]>();
  const watchers = new Map<string, Set<Watcher>>();
  let pending = 0;
  const note = (what: string, watch: Watcher | undefined): void => {
    reads.push(what);
    if (!watch) return;
    let set = watchers.get(what);
    if (!set) {
      set = new Set();
      watchers.set(what, set);
    }
    set.add(watch);
  };
  const tracked = async <T>(p: Promise<T>): Promise<T> => {
    pending += 1;
    try {
      return await p;
    } finally {
      pending -= 1;
    }
  };
  const ackPrefix = `${layout.acks(APP)}/`;
  const coordinator: Coordinator = {
    kind: inner.kind,
    connect: () => inner.connect(),
    close: () => inner.close(),
    sessionId: () => inner.sessionId(),
    negotiatedSessionTimeoutMs: () => inner.negotiatedSessionTimeoutMs(),
    get: (path, watch) => {
      note(`get ${path}`, watch);
      return tracked(
        inner.get(path, watch).then((node) => {
          if (node && path.startsWith(ackPrefix)) {
            const m = path.slice(ackPrefix.length);
            ackEpochs.set(m, [...(ackEpochs.get(m) ?? []), (JSON.parse(node.data.toString('utf8')) as AckInfo).epoch ?? -1]);
          }
          return node;
        }),
      );
    },
    children: (path, watch) => {
      note(`children ${path}`, watch);
      return tracked(inner.children(path, watch));
    },
    create: (path, data, mode) => inner.create(path, data, mode),
    set: (path, data, version) => inner.set(path, data, version),
    remove: (path, version) => inner.remove(path, version),
    mkdirp: (path) => inner.mkdirp(path),
    transaction: (ops) => inner.transaction(ops),
    onSession: (listener) => inner.onSession(listener),
  };
  return { coordinator, reads, inFlight: () => pending, ackEpochs, watchers };
}

/** Resolves once `cond` holds, checked every 2 ms so that a short idle spell of the barrier is caught. */
async function until(cond: () => boolean, what: string): Promise<void> {
  await eventually(cond, { timeoutMs: 10_000, intervalMs: 2, message: what });
}

/** A fleet member: its own session with an ephemeral member node and (optionally) an ack node. */
class FakeMember {
  constructor(
    readonly id: string,
    readonly c: Coordinator,
  ) {}

  static async join(
    c: Coordinator,
    id: string,
    kind: MemberInfo['kind'] = 'gateway',
    apps: readonly string[] = [APP],
  ): Promise<FakeMember> {
    await c.connect();
    const info: MemberInfo = { kind, host: '127.0.0.1', pid: process.pid, startedAt: new Date().toISOString(), apps };
    await c.create(layout.member(id), encodeJson(info), 'ephemeral');
    return new FakeMember(id, c);
  }

  /** Creates the ack node on the first call, then sets it (as a member that acked earlier epochs does). */
  async ack(epoch: number): Promise<void> {
    await this.write({ epoch, appliedAt: new Date().toISOString(), applyMs: 0 });
  }

  /** Writes a refusal of `epoch`, beside the ack of `acked` (or alone: nothing acked in this session). */
  async refuse(epoch: number, acked?: number): Promise<void> {
    const ack = acked === undefined ? {} : { epoch: acked, appliedAt: new Date().toISOString(), applyMs: 0 };
    await this.write({ ...ack, refused: { epoch, code: 'NW_GW_STATE_INVALID', detail: `${this.id} cannot take it` } });
  }

  private async write(doc: AckInfo): Promise<void> {
    const path = layout.ack(APP, this.id);
    if (await this.c.get(path)) await this.c.set(path, encodeJson(doc));
    else await this.c.create(path, encodeJson(doc), 'ephemeral');
  }
}

interface Backend {
  readonly name: string;
  /** Creates what the control plane creates before members join. */
  provision(): Promise<void>;
  /** A new, unconnected session in a role (the barrier runs in the control plane's). */
  session(role: CoordinatorRole): Coordinator;
  cleanup(): Promise<void>;
}

function embedded(): Backend {
  const store = new EmbeddedStore();
  return {
    name: 'embedded',
    provision: async () => undefined,
    session: () => new EmbeddedCoordinator(store),
    cleanup: async () => undefined,
  };
}

function zookeeper(): Backend {
  const zk = requireService('zookeeper');
  const chroot = `/nw-fleet-barrier-${randomBytes(4).toString('hex')}`;
  return {
    name: 'zookeeper',
    provision: () => provisionTree({ connectString: zk.connectString, chroot }),
    session: (role) =>
      zkClient(role, { connectString: zk.connectString, chroot, sessionTimeoutMs: 4000, connectTimeoutMs: 15_000, opTimeoutMs: 15_000 }),
    cleanup: () => removeChroot(zk.connectString, chroot),
  };
}

for (const makeBackend of [embedded, zookeeper]) {
  const backendName = makeBackend.name === 'embedded' ? 'embedded coordinator' : 'ZooKeeper ensemble';
  describe(`fleet barrier: reads per wake-up (${backendName})`, function () {
    this.timeout(30_000);
    let backend: Backend;
    let sessions: Coordinator[];
    let log: ReadLog;
    let controlPlane: Coordinator;

    const session = async (role: CoordinatorRole): Promise<Coordinator> => {
      const c = backend.session(role);
      sessions.push(c);
      await c.connect();
      return c;
    };
    /**
     * A member joins in its own session. ZooKeeper orders reads per session, not across sessions: the control plane's
     * session (maybe on another server) is made to see the member node before the test goes on, as a barrier started
     * after the join would in production only if the member joined before the state it waits on was written.
     */
    const join = async (id: string, kind?: MemberInfo['kind']): Promise<FakeMember> => {
      const member = await FakeMember.join(await session('member'), id, kind);
      await eventually(async () => ((await controlPlane.children(layout.members)) ?? []).includes(id), {
        timeoutMs: 10_000,
        intervalMs: 5,
        message: `the control plane's session sees ${id}`,
      });
      return member;
    };
    /** The barrier has read `member`'s ack at `epoch` and has no read outstanding, so it is waiting for a watch. */
    const idleAfterAck = (member: string, epoch: number) => () => (log.ackEpochs.get(member) ?? []).includes(epoch) && log.inFlight() === 0;
    const settledFlag = (p: Promise<BarrierReport>): { readonly settled: boolean } => {
      const flag = { settled: false };
      void p.then(() => (flag.settled = true));
      return flag;
    };
    const assertOneWatcherPerRead = (): void => {
      for (const [read, set] of log.watchers) assert.equal(set.size, 1, `${read}: re-armed with ${set.size} different watchers`);
    };

    beforeEach(async () => {
      backend = makeBackend();
      sessions = [];
      await backend.provision();
      controlPlane = await session('controlplane');
      await controlPlane.mkdirp(layout.members);
      await controlPlane.mkdirp(layout.acks(APP));
      log = logReads(controlPlane);
    });

    afterEach(async () => {
      await Promise.allSettled(sessions.map((c) => c.close()));
      await backend.cleanup();
    });

    it('the completing ack (a set on an existing ack node) costs one read: that ack, not the member or ack lists', async () => {
      const members = await Promise.all(['gw-0', 'gw-1', 'gw-2', 'gw-3'].map((id) => join(id)));
      await join('cp-0', 'controlplane'); // never acks: control planes are not waited on by default
      for (const m of members) await m.ack(TARGET - 1);
      await members[0]!.ack(TARGET);
      const pending = waitForFleet(log.coordinator, [{ app: APP, epoch: TARGET }], { timeoutMs: 20_000, pollMs: 600_000 });
      await until(idleAfterAck('gw-3', TARGET - 1), 'the barrier read every ack and waits');
      await members[1]!.ack(TARGET);
      await members[2]!.ack(TARGET);
      await until(
        () => idleAfterAck('gw-1', TARGET)() && idleAfterAck('gw-2', TARGET)(),
        'the barrier read the acks of gw-1 and gw-2 and waits',
      );
      const before = log.reads.length;

      await members[3]!.ack(TARGET);
      const report = await pending;
      assert.equal(report.ok, true, JSON.stringify(report.missing));
      assert.deepEqual(log.reads.slice(before), [`get ${layout.ack(APP, 'gw-3')}`]);
      assert.deepEqual(report.members, ['gw-0', 'gw-1', 'gw-2', 'gw-3']);
      assert.deepEqual(report.missing, []);
      assert.deepEqual(report.departed, []);
      assertOneWatcherPerRead();
    });

    it('a member that joins mid-barrier must ack before the barrier passes', async () => {
      const a = await join('gw-a');
      const b = await join('gw-b');
      await a.ack(TARGET);
      await b.ack(TARGET - 1);
      const pending = waitForFleet(log.coordinator, [{ app: APP, epoch: TARGET }], { timeoutMs: 20_000 });
      const flag = settledFlag(pending);
      await until(idleAfterAck('gw-b', TARGET - 1), 'the barrier read the old ack of gw-b and waits');

      const late = await join('gw-late');
      await until(
        () => log.reads.includes(`get ${layout.member('gw-late')}`) && log.inFlight() === 0,
        'the barrier read the member that joined and waits',
      );
      await b.ack(TARGET);
      await until(idleAfterAck('gw-b', TARGET), 'the barrier read the new ack of gw-b and waits');
      assert.equal(flag.settled, false, 'the barrier passed without the member that joined');

      await late.ack(TARGET); // its first ack: a new child of the ack list
      const report = await pending;
      assert.equal(report.ok, true, JSON.stringify(report.missing));
      assert.deepEqual(report.members, ['gw-a', 'gw-b', 'gw-late']);
      assert.deepEqual(report.departed, []);
      assertOneWatcherPerRead();
    });

    it('a member whose session closes mid-barrier drops out and is named in departed', async () => {
      const a = await join('gw-a');
      const gone = await join('gw-gone');
      await a.ack(TARGET);
      await gone.ack(TARGET - 1);
      const pending = waitForFleet(log.coordinator, [{ app: APP, epoch: TARGET }], { timeoutMs: 20_000 });
      await until(idleAfterAck('gw-gone', TARGET - 1), 'the barrier read the old ack of gw-gone and waits');

      await gone.c.close();
      const report = await pending;
      assert.equal(report.ok, true, JSON.stringify(report.missing));
      assert.deepEqual(report.members, ['gw-a']);
      assert.deepEqual(report.departed, ['gw-gone']);
      assertOneWatcherPerRead();
    });

    it('a member whose member node is removed (by the control plane) drops out even though its ack node stays', async () => {
      const a = await join('gw-a');
      const gone = await join('gw-gone');
      await a.ack(TARGET);
      await gone.ack(TARGET - 1);
      const pending = waitForFleet(log.coordinator, [{ app: APP, epoch: TARGET }], { timeoutMs: 20_000 });
      await until(idleAfterAck('gw-gone', TARGET - 1), 'the barrier read the old ack of gw-gone and waits');

      await controlPlane.remove(layout.member('gw-gone'));
      const report = await pending;
      assert.equal(report.ok, true, JSON.stringify(report.missing));
      assert.deepEqual(report.departed, ['gw-gone']);
      assert.ok(await log.coordinator.get(layout.ack(APP, 'gw-gone')), 'the ack node is still there');
    });

    it('a refusal of the target ends the wait at once; older refusals, departed members and members of other apps do not', async () => {
      const acked = await join('gw-acked');
      const stale = await join('gw-stale'); // refused an older epoch, then acks the target
      const departed = await join('gw-departed');
      const other = await FakeMember.join(await session('member'), 'gw-other-app', 'gateway', ['cart']);
      const refusing = await join('gw-refusing');
      await acked.ack(TARGET);
      await stale.refuse(TARGET - 1, TARGET - 2);
      await departed.ack(TARGET - 1);
      await other.refuse(TARGET); // an ack node under shop, though it does not serve shop
      await refusing.ack(TARGET - 1);
      const pending = waitForFleet(log.coordinator, [{ app: APP, epoch: TARGET }], { timeoutMs: 60_000 });
      const flag = settledFlag(pending);
      await until(
        () => idleAfterAck('gw-refusing', TARGET - 1)() && idleAfterAck('gw-departed', TARGET - 1)(),
        'the barrier read every ack and waits',
      );
      assert.equal(flag.settled, false, 'an older refusal, or one of a member of another app, does not end the wait');

      const memberListReads = (): number => log.reads.filter((r) => r === `children ${layout.members}`).length;
      const listed = memberListReads();
      await controlPlane.remove(layout.member('gw-departed'));
      await until(() => memberListReads() > listed && log.inFlight() === 0, 'the barrier re-read the member list');
      await departed.refuse(TARGET, TARGET - 1);
      await stale.ack(TARGET);
      await until(idleAfterAck('gw-stale', TARGET), 'the barrier read the new ack of gw-stale and waits');
      assert.equal(flag.settled, false, 'nor does the refusal of a member that left');

      await refusing.refuse(TARGET, TARGET - 1);
      await assert.rejects(pending, (err: CodedError) => {
        assert.equal(err.code, 'NW_CP_BARRIER_REFUSED');
        assert.match(err.message, /gw-refusing refused shop epoch 2: NW_GW_STATE_INVALID: gw-refusing cannot take it/);
        const { refused, report } = err.details as { refused: unknown; report: BarrierReport };
        assert.deepEqual(refused, [
          { member: 'gw-refusing', app: APP, epoch: TARGET, code: 'NW_GW_STATE_INVALID', detail: 'gw-refusing cannot take it' },
        ]);
        assert.deepEqual(report.missing, [{ member: 'gw-refusing', app: APP, ackedEpoch: TARGET - 1 }]);
        assert.deepEqual(report.departed, ['gw-departed']);
        return true;
      });
    });

    it('a refusal written before any ack in the session (no epoch) ends the wait too', async () => {
      const fresh = await join('gw-fresh');
      const pending = waitForFleet(log.coordinator, [{ app: APP, epoch: TARGET }], { timeoutMs: 60_000 });
      await fresh.refuse(TARGET + 1); // it skipped to a later state it cannot take: the target never comes
      await assert.rejects(pending, (err: CodedError) => {
        assert.equal(err.code, 'NW_CP_BARRIER_REFUSED');
        assert.deepEqual((err.details as { report: BarrierReport }).report.missing, [{ member: 'gw-fresh', app: APP, ackedEpoch: null }]);
        return true;
      });
    });

    it('a late fleet is reported, not thrown; the poll re-reads without piling up watchers', async () => {
      const a = await join('gw-a');
      await join('gw-silent');
      await a.ack(TARGET);
      const report = await waitForFleet(log.coordinator, [{ app: APP, epoch: TARGET }], { timeoutMs: 1000, pollMs: 20 });
      assert.equal(report.ok, false);
      assert.deepEqual(report.members, ['gw-a', 'gw-silent']);
      assert.deepEqual(report.missing, [{ member: 'gw-silent', app: APP, ackedEpoch: null }]);
      assert.ok(log.reads.filter((r) => r === `children ${layout.members}`).length >= 2, 'the poll re-read the member list');
      assertOneWatcherPerRead();
    });
  });
}
