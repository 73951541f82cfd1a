// Real gateways, fleet members on the ZooKeeper ensemble, refusing an epoch: a fence toward N2 after
// N2 failed a mirrored write that N1 confirmed, a state document a gateway cannot apply, a document
// that is no state at all. Each refusal lands in the member's ack node, and the barrier waiting for
// that epoch ends at once with NW_CP_BARRIER_REFUSED naming the member, far inside its 60 s deadline
// (mocha's 30 s timeout would catch a barrier that waited it out). Each test works under its own
// chroot and removes it afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { CodedError } from '../../platform/coded-error.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { waitForFleet, type BarrierRefusal, type BarrierReport } from '../../fleet/fleet-barrier.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { layout, parseAckInfo } from '../../protocol/coordinator-paths.js';
import { startCommittingUpstream, type CommittingUpstream } from '../support/committing-upstream.js';
import { eventually } from '../support/eventually.js';
import { call } from '../support/gateway-harness.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { requireService } from '../support/service-endpoints.js';
import { provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const zk = requireService('zookeeper');
/** Far beyond mocha's timeout: a barrier that waits for its deadline fails the test instead of passing it. */
const BARRIER_TIMEOUT_MS = 60_000;

/** Asserts a barrier ended with NW_CP_BARRIER_REFUSED and returns its refusals and report. */
async function refusedBarrier(
  pending: Promise<BarrierReport>,
): Promise<{ refused: BarrierRefusal[]; report: BarrierReport; message: string }> {
  const err = await pending.then(
    (report) => assert.fail(`the barrier passed: ${JSON.stringify(report)}`),
    (e: unknown) => e as CodedError,
  );
  assert.equal(err.code, 'NW_CP_BARRIER_REFUSED', err.message);
  const { refused, report } = err.details as { refused: BarrierRefusal[]; report: BarrierReport };
  return { refused, report, message: err.message };
}

describe('a fleet member refuses an epoch: the barrier ends at once (ZooKeeper ensemble, real gateways)', function () {
  this.timeout(30_000);
  let where: { connectString: string; chroot: string; sessionTimeoutMs: number; connectTimeoutMs: number; opTimeoutMs: number };
  let cp: Coordinator;
  let n1: CommittingUpstream;
  let n2: CommittingUpstream;
  let fleet: Fleet;

  beforeEach(async () => {
    where = {
      connectString: zk.connectString,
      chroot: `/nw-refusal-${randomBytes(4).toString('hex')}`,
      sessionTimeoutMs: 6000,
      connectTimeoutMs: 15_000,
      opTimeoutMs: 15_000,
    };
    await provisionTree(where);
    cp = zkClient('controlplane', where);
    await cp.connect();
    n1 = await startCommittingUpstream('n1');
    n2 = await startCommittingUpstream('n2');
    fleet = await startFleet({ size: 2, coordinator: () => zkClient('member', where), upstreams: { n1: n1.url, n2: n2.url } });
  });

  afterEach(async () => {
    await fleet.close();
    await cp.close();
    await Promise.all([n1.close(), n2.close()]);
    await removeChroot(zk.connectString, where.chroot);
  });

  /** Waits until every member's ack node refuses `epoch` with `code`, beside its ack of the last good state. */
  async function everyMemberRefused(epoch: number, code: string): Promise<void> {
    await eventually(
      async () => {
        for (const m of fleet.members) {
          const doc = parseAckInfo((await cp.get(layout.ack('shop', m.id)))!.data);
          assert.ok(doc.ok && doc.value.refused?.epoch === epoch && doc.value.refused.code === code, `${m.id}: ${JSON.stringify(doc)}`);
          assert.ok(doc.value.epoch !== undefined && doc.value.epoch < epoch, 'the ack of the last good state stays beside it');
        }
      },
      { timeoutMs: 10_000, message: `every member refused epoch ${epoch} with ${code}` },
    );
  }

  it('N2 failed a mirrored write N1 confirmed: that member refuses the fence toward N2, the barrier names it at once', async () => {
    const mirror = await writeAppStates(cp, {
      shop: { mode: 'mirror', primary: 'n1', readFrom: 'n1', shadowCompare: false, migration: { id: 'm-1', phase: 'sync' } },
    });
    assert.equal((await waitForFleet(cp, mirror, { timeoutMs: 10_000 })).ok, true);
    n2.failWrites('/kv/lost', 'refuse-500');
    const [, diverging] = fleet.members;
    const res = await call(diverging!.gateway.listeners[0]!.url, '/kv/lost-1', { method: 'POST', body: 'kept by n1' });
    assert.equal(res.status, 200, 'N1, the primary, confirmed it');
    assert.equal(n1.store.get('lost-1'), 'kept by n1');

    const fence = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1', migration: { id: 'm-1', phase: 'fence' } } });
    const { refused, report, message } = await refusedBarrier(waitForFleet(cp, fence, { timeoutMs: BARRIER_TIMEOUT_MS }));
    assert.equal(refused.length, 1, message);
    const [r] = refused;
    assert.deepEqual(
      { member: r!.member, app: r!.app, epoch: r!.epoch, code: r!.code },
      {
        member: diverging!.id,
        app: 'shop',
        epoch: fence[0]!.epoch,
        code: 'NW_GW_MIRROR_DIVERGED',
      },
    );
    assert.match(r!.detail, /shop: n2 failed 1 mirrored write\(s\) that clients were told succeeded \(unconfirmed by side: n1 0, n2 1\)/);
    assert.match(message, new RegExp(`${diverging!.id} refused shop epoch ${fence[0]!.epoch}: NW_GW_MIRROR_DIVERGED`));
    assert.ok(report.missing.some((m) => m.member === diverging!.id));
    const [peer] = fleet.members;
    await eventually(
      async () => {
        const doc = parseAckInfo((await cp.get(layout.ack('shop', peer!.id)))!.data);
        assert.ok(doc.ok && doc.value.epoch === fence[0]!.epoch && doc.value.refused === undefined, JSON.stringify(doc));
      },
      { timeoutMs: 10_000, message: 'the member that saw no divergence acks the fence' },
    );
    // The fence is in force there all the same: the member holds writes like its peers.
    assert.equal(diverging!.gateway.getState().shop!.mode, 'fence');

    // A newer state (the rollback onto N1) is taken: the refusal of the older epoch no longer counts.
    const serve = await writeAppStates(cp, { shop: { mode: 'serve' } });
    assert.equal((await waitForFleet(cp, serve, { timeoutMs: 10_000 })).ok, true);
    const ack = parseAckInfo((await cp.get(layout.ack('shop', diverging!.id)))!.data);
    assert.ok(ack.ok && ack.value.epoch === serve[0]!.epoch && ack.value.refused === undefined, JSON.stringify(ack));
  });

  it('a state no member can apply is refused by every one (NW_GW_STATE_INVALID), a document that is no JSON too', async () => {
    const good = await writeAppStates(cp, { shop: { mode: 'serve' } });
    assert.equal((await waitForFleet(cp, good, { timeoutMs: 10_000 })).ok, true);
    // As a newer control plane might write it: a mode this gateway does not know.
    const teleport = await cp.set(layout.state('shop'), Buffer.from('{"mode": "teleport"}'));
    const invalid = await refusedBarrier(waitForFleet(cp, [{ app: 'shop', epoch: teleport }], { timeoutMs: BARRIER_TIMEOUT_MS }));
    // The barrier ends at the first refusal it reads; every member refuses.
    assert.ok(invalid.refused.length > 0);
    for (const r of invalid.refused) assert.deepEqual([r.epoch, r.code], [teleport, 'NW_GW_STATE_INVALID']);
    assert.match(invalid.refused[0]!.detail, /mode/);
    await everyMemberRefused(teleport, 'NW_GW_STATE_INVALID');

    const broken = await cp.set(layout.state('shop'), Buffer.from('{"mode": "proxy", '));
    const unreadable = await refusedBarrier(waitForFleet(cp, [{ app: 'shop', epoch: broken }], { timeoutMs: BARRIER_TIMEOUT_MS }));
    assert.ok(unreadable.refused.length > 0);
    for (const r of unreadable.refused) assert.deepEqual([r.epoch, r.code], [broken, 'NW_CP_DOCUMENT_INVALID']);
    assert.match(unreadable.refused[0]!.detail, /state is not JSON/);
    await everyMemberRefused(broken, 'NW_CP_DOCUMENT_INVALID');
    for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve', 'the last good state stays');

    // A member that joins now has acked nothing in its session: its ack node holds the refusal alone.
    const late = await fleet.add('gw-late');
    const lateRefusal = await refusedBarrier(waitForFleet(cp, [{ app: 'shop', epoch: broken }], { timeoutMs: BARRIER_TIMEOUT_MS }));
    assert.ok(lateRefusal.refused.some((r) => r.member === late.id));
    const doc = parseAckInfo((await cp.get(layout.ack('shop', late.id)))!.data);
    assert.ok(doc.ok && doc.value.epoch === undefined && doc.value.refused?.epoch === broken, JSON.stringify(doc));
  });
});
