import assert from 'node:assert/strict';
import type { Watcher } from '../../platform/coordinator/coordinator.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { waitForFleet } from '../../fleet/fleet-barrier.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { eventually } from '../support/eventually.js';
import { call } from '../support/gateway-harness.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';

describe('fleet flip (embedded coordinator)', function () {
  this.timeout(30_000);
  let store: EmbeddedStore;
  let fleet: Fleet;
  let cp: EmbeddedCoordinator;

  beforeEach(async () => {
    store = new EmbeddedStore();
    cp = new EmbeddedCoordinator(store);
    await cp.connect();
    fleet = await startFleet({ size: 16, coordinator: () => new EmbeddedCoordinator(store), apps: ['shop', 'cart'] });
  });
  afterEach(async () => {
    await fleet.close();
    await cp.close();
  });

  it('every gateway applies and acks the new epoch before the barrier passes', async () => {
    const targets = await writeAppStates(cp, {
      shop: { mode: 'mirror', primary: 'n1', readFrom: 'n1', shadowCompare: false },
      cart: { mode: 'proxy', mirrorWritesToN1: false },
    });
    const report = await waitForFleet(cp, targets, { timeoutMs: 10_000 });
    assert.equal(report.ok, true, JSON.stringify(report.missing));
    assert.equal(report.members.length, 16);
    for (const m of fleet.members) {
      assert.equal(m.gateway.getState().shop!.mode, 'mirror');
      assert.equal(m.gateway.getState().cart!.mode, 'proxy');
      const r = await call(m.gateway.listeners[0]!.url, '/x', { host: 'cart.test' });
      assert.equal(r.headers['x-northwest-deployment'], 'n2');
      assert.equal(r.headers['x-northwest-epoch'], String(targets.find((t) => t.app === 'cart')!.epoch));
    }
  });

  it('with known epochs the write needs no read; if another writer moved a state it falls back and still lands', async () => {
    const first = await writeAppStates(cp, { shop: { mode: 'serve' } });
    const known = new Map(first.map((t) => [t.app, t.epoch]));
    const second = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1' } }, [], known);
    assert.deepEqual(second, [{ app: 'shop', epoch: known.get('shop')! + 1 }]);
    // Someone else writes a state (e.g. an operator through a gateway's admin API, here directly).
    await cp.set(layout.state('shop'), Buffer.from(JSON.stringify({ mode: 'serve' })));
    const third = await writeAppStates(cp, { shop: { mode: 'proxy', mirrorWritesToN1: false } }, [], new Map([['shop', second[0]!.epoch]]));
    assert.equal(third[0]!.epoch, second[0]!.epoch + 2, 'the stale hint was detected and the current version used');
    assert.equal(JSON.parse(store.read(layout.state('shop'))!.data.toString('utf8')).mode, 'proxy');
    // A guard that fails still fails (a deposed leader writes nothing), hint or not.
    await cp.mkdirp('/guard');
    await assert.rejects(
      writeAppStates(cp, { shop: { mode: 'serve' } }, [{ op: 'check', path: '/guard', version: 7 }], new Map([['shop', third[0]!.epoch]])),
      { code: 'NW_CP_BAD_VERSION' },
    );
    assert.equal(JSON.parse(store.read(layout.state('shop'))!.data.toString('utf8')).mode, 'proxy');
  });

  it('reports who has not acked when the deadline passes', async () => {
    await fleet.members[3]!.agent.stop(); // alive in the coordinator, but no longer applying
    const targets = await writeAppStates(cp, { shop: { mode: 'proxy', mirrorWritesToN1: false } });
    const report = await waitForFleet(cp, targets, { timeoutMs: 500 });
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.missing.map((m) => m.member),
      ['gw-03'],
    );
  });

  it('drops a member whose session expires mid-barrier and names it', async () => {
    const victim = fleet.members[5]!;
    await victim.agent.stop();
    const targets = await writeAppStates(cp, { shop: { mode: 'proxy', mirrorWritesToN1: false } });
    // The barrier must have listed the members (the victim among them) before the victim goes.
    let membersListed = false;
    const watched = new Proxy(cp, {
      get(target, key) {
        if (key === 'children')
          return async (path: string, watch?: Watcher) => {
            const kids = await target.children(path, watch);
            if (path === layout.members && kids?.includes(victim.id)) membersListed = true;
            return kids;
          };
        const v: unknown = Reflect.get(target, key);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const pending = waitForFleet(watched, targets, { timeoutMs: 10_000 });
    await eventually(() => membersListed, { timeoutMs: 5000, message: 'the barrier lists the members' });
    (victim.coordinator as EmbeddedCoordinator).expire();
    const report = await pending;
    assert.equal(report.ok, true);
    assert.deepEqual(report.departed, ['gw-05']);
    assert.equal(report.members.includes('gw-05'), false);
  });

  it('a member that joins mid-barrier reads the state before it acks', async () => {
    await fleet.members[0]!.agent.stop();
    const targets = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1' } });
    const pending = waitForFleet(cp, targets, { timeoutMs: 2_000 });
    const late = await fleet.add('gw-late');
    assert.equal(late.gateway.getState().shop!.mode, 'fence');
    const report = await pending;
    assert.ok(report.members.includes('gw-late'));
    assert.deepEqual(
      report.missing.map((m) => m.member),
      ['gw-00'],
    );
  });

  it('never applies or acks a corrupt state; keeps the last good one; every member refuses it, so the barrier ends at once', async () => {
    const good = await writeAppStates(cp, { shop: { mode: 'mirror', primary: 'n1', readFrom: 'n1', shadowCompare: false } });
    assert.equal((await waitForFleet(cp, good, { timeoutMs: 5_000 })).ok, true);
    const v = await cp.set(layout.state('shop'), Buffer.from('{"mode": "proxy", '));
    await assert.rejects(waitForFleet(cp, [{ app: 'shop', epoch: v }], { timeoutMs: 30_000 }), {
      code: 'NW_CP_BARRIER_REFUSED',
      message: /refused shop epoch \d+: NW_CP_DOCUMENT_INVALID: state is not JSON/,
    });
    await eventually(() => fleet.members.every((m) => m.agent.syncStatus().shop!.rejectedEpoch === v), {
      timeoutMs: 5_000,
      message: 'every member refused it',
    });
    for (const m of fleet.members) {
      assert.equal(m.gateway.getState().shop!.mode, 'mirror');
      assert.match(m.agent.syncStatus().shop!.error ?? '', /not JSON/);
    }
    const bad = await cp.set(layout.state('shop'), Buffer.from('{"mode": "teleport"}'));
    await assert.rejects(waitForFleet(cp, [{ app: 'shop', epoch: bad }], { timeoutMs: 30_000 }), {
      code: 'NW_CP_BARRIER_REFUSED',
      message: /refused shop epoch \d+: NW_GW_STATE_INVALID/,
    });
    assert.equal(fleet.members[0]!.gateway.getState().shop!.mode, 'mirror');
  });

  it('refuses writes for every app once the lease lapses, migrating or not, and recovers', async () => {
    const targets = await writeAppStates(cp, { shop: { mode: 'proxy', mirrorWritesToN1: false, migration: { id: 'm1', phase: 'proxy' } } });
    assert.equal((await waitForFleet(cp, targets, { timeoutMs: 5_000 })).ok, true);
    const m = fleet.members[0]!;
    const url = m.gateway.listeners[0]!.url;
    assert.equal((await call(url, '/kv/a', { method: 'PUT', body: 'x' })).status, 200);
    // Simulate a lapse: the lease was last confirmed long ago (as after a pause).
    m.lease.revoke();
    const refused = await call(url, '/kv/a', { method: 'PUT', body: 'y' });
    assert.equal(refused.status, 503);
    assert.equal(JSON.parse(refused.text).error.code, 'NW_GW_LEASE_EXPIRED');
    assert.equal((await call(url, '/kv/a')).status, 200, 'reads continue');
    // cart carries no migration tag: a member cut off cannot know that none has started since.
    const cart = await call(url, '/kv/b', { method: 'PUT', body: 'z', host: 'cart.test' });
    assert.equal(cart.status, 503);
    assert.equal(JSON.parse(cart.text).error.code, 'NW_GW_LEASE_EXPIRED');
    assert.equal(fleet.n1.store.has('b'), false, 'N1 never got it');
    await m.agent.reconcile();
    assert.equal((await call(url, '/kv/a', { method: 'PUT', body: 'y' })).status, 200);
    assert.equal((await call(url, '/kv/b', { method: 'PUT', body: 'z', host: 'cart.test' })).status, 200);
  });
});
