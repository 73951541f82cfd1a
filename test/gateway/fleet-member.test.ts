// A gateway as a fleet member on the embedded coordinator: per-app readiness (an app whose state was
// not applied takes no traffic), the admin API on a member, and duplicate member ids.
import assert from 'node:assert/strict';
import { request } from 'undici';
import { parseGatewayConfig } from '../../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import type { NodeData, Watcher } from '../../platform/coordinator/coordinator.js';
import { CoordinatorError } from '../../platform/coordinator/coordinator-errors.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { waitForFleet } from '../../fleet/fleet-barrier.js';
import { writeAppStates, type DesiredAppState } from '../../fleet/state-writer.js';
import { encodeJson, layout } from '../../protocol/coordinator-paths.js';
import { eventually } from '../support/eventually.js';
import { startFleetNode, WORKER_COUNTS, type FleetNode } from '../support/fleet-node.js';
import { ADMIN_TOKEN, call } from '../support/gateway-harness.js';

/** The state after a completed migration: N2 takes everything, no migration tag. */
const DONE: DesiredAppState = { mode: 'proxy', mirrorWritesToN1: false };

/** An embedded session whose reads of some paths fail, as during a coordinator blip. */
class BlippingCoordinator extends EmbeddedCoordinator {
  readonly failing = new Set<string>();

  override async get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    if (this.failing.has(path)) throw new CoordinatorError('NW_CP_COORDINATOR_UNAVAILABLE', `get ${path}: connection lost (test)`);
    return super.get(path, watch);
  }
}

// Once as one process, once as 2 worker processes (the primary holds the membership).
for (const workers of WORKER_COUNTS)
  describe(`gateway fleet member (embedded coordinator, ${workers} worker${workers > 1 ? 's' : ''})`, function () {
    fleetMemberSuite.call(this, workers);
  });

function fleetMemberSuite(this: Mocha.Suite, workers: number): void {
  this.timeout(20_000);
  let store: EmbeddedStore;
  let cp: EmbeddedCoordinator;
  let n1: EchoUpstream;
  let n2: EchoUpstream;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    store = new EmbeddedStore();
    cp = new EmbeddedCoordinator(store);
    await cp.connect();
    n1 = await startEchoUpstream('n1');
    n2 = await startEchoUpstream('n2');
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await cp.close();
    await n1.close();
    await n2.close();
  });

  async function startMember(id: string, coordinator = new EmbeddedCoordinator(store)): Promise<FleetNode> {
    const app = (name: string) => ({
      hosts: [`${name}.test`],
      n1: { servers: [{ url: n1.url }] },
      n2: { servers: [{ url: n2.url }], publicOrigin: `https://${name}-n2.example.com` },
    });
    const config = parseGatewayConfig({
      name: id,
      listeners: [{ host: '127.0.0.1', port: 0 }],
      admin: { host: '127.0.0.1', port: 0 },
      fleet: { coordinator: { kind: 'embedded' }, leaseMs: 5000, reconcileMs: 4000 },
      apps: { shop: app('shop'), cart: app('cart') },
    });
    const m = await startFleetNode(config, workers, { coordinator, adminToken: ADMIN_TOKEN, logger: createLogger('silent') });
    cleanups.push(() => m.close());
    return m;
  }

  const readyz = async (m: FleetNode): Promise<{ status: number; body: unknown }> => {
    const res = await request(`${m.gateway.adminAddress!.url}/readyz`);
    return { status: res.statusCode, body: await res.body.json() };
  };

  const putAdmin = async (m: FleetNode, path: string, body: unknown): Promise<{ status: number; code: string }> => {
    const res = await request(`${m.gateway.adminAddress!.url}${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, code: ((await res.body.json()) as { error?: { code?: string } }).error?.code ?? '' };
  };

  /** Asserts a 503 NW_GW_NOT_READY that names no mode or epoch (none was applied). */
  function assertNotReady(r: Awaited<ReturnType<typeof call>>): void {
    assert.equal(r.status, 503, r.text);
    assert.equal(JSON.parse(r.text).error.code, 'NW_GW_NOT_READY');
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.headers['x-northwest-deployment'], 'none');
    assert.equal(r.headers['x-northwest-mode'], undefined);
  }

  it('an app whose first state read failed answers 503 NW_GW_NOT_READY until a read applies it; the others serve', async () => {
    const targets = await writeAppStates(cp, { shop: DONE, cart: DONE });
    const blip = new BlippingCoordinator(store);
    blip.failing.add(layout.state('shop'));
    const m = await startMember('gw-1', blip);
    const url = m.gateway.listeners[0]!.url;

    assertNotReady(await call(url, '/kv/k', { method: 'PUT', body: 'v' }));
    assertNotReady(await call(url, '/kv/k'));
    assert.equal(n1.seen.length + n2.seen.length, 0, 'nothing of shop reached either deployment');
    const cart = await call(url, '/kv/c', { host: 'cart.test' });
    assert.equal(cart.headers['x-northwest-deployment'], 'n2', 'cart was applied and serves');
    assert.deepEqual(await readyz(m), { status: 503, body: { ready: false, apps: { shop: false, cart: true } } });
    assert.equal(n1.store.size, 0);

    blip.failing.clear();
    await m.agent.reconcile();
    const put = await call(url, '/kv/k', { method: 'PUT', body: 'v' });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers['x-northwest-deployment'], 'n2');
    assert.equal(put.headers['x-northwest-epoch'], String(targets.find((t) => t.app === 'shop')!.epoch));
    assert.equal(n2.store.get('k'), 'v');
    assert.equal(n1.store.has('k'), false, 'N1 never got the write');
    assert.deepEqual(await readyz(m), { status: 200, body: { ready: true, apps: { shop: true, cart: true } } });
  });

  it('a state document it cannot parse (a field from a newer control plane) keeps the app not ready until a good one applies', async () => {
    await writeAppStates(cp, { shop: DONE, cart: DONE });
    const newer = await cp.set(layout.state('shop'), encodeJson({ ...DONE, holdWritesFor: 'n1' }));
    const m = await startMember('gw-1');
    const url = m.gateway.listeners[0]!.url;
    assert.equal(m.agent.syncStatus().shop!.rejectedEpoch, newer);
    assertNotReady(await call(url, '/kv/k', { method: 'PUT', body: 'v' }));
    assert.equal(n1.seen.length, 0, 'no write went to N1 by the built-in default');
    assert.equal(m.gateway.isReady('cart'), true);

    const targets = await writeAppStates(cp, { shop: DONE });
    assert.equal((await waitForFleet(cp, targets, { timeoutMs: 5000 })).ok, true);
    const put = await call(url, '/kv/k', { method: 'PUT', body: 'v' });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers['x-northwest-deployment'], 'n2');
    assert.equal(n1.store.has('k'), false);
  });

  it('an app with no state node at all serves by the built-in default: serve (N1) at epoch 0', async () => {
    await writeAppStates(cp, { cart: DONE });
    const m = await startMember('gw-1');
    const r = await call(m.gateway.listeners[0]!.url, '/kv/k', { method: 'PUT', body: 'v' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-northwest-deployment'], 'n1');
    assert.equal(r.headers['x-northwest-epoch'], '0');
    assert.equal((await readyz(m)).status, 200);
  });

  it(
    'refuses admin state changes (409 NW_GW_ADMIN_FLEET_MEMBER): ' + 'they neither override the coordinator nor make an app ready',
    async () => {
      await writeAppStates(cp, { shop: DONE, cart: DONE });
      await cp.set(layout.state('shop'), encodeJson({ ...DONE, holdWritesFor: 'n1' }));
      const m = await startMember('gw-1');
      assert.deepEqual(await putAdmin(m, '/state/shop', { epoch: 9, mode: 'serve' }), { status: 409, code: 'NW_GW_ADMIN_FLEET_MEMBER' });
      assert.deepEqual(await putAdmin(m, '/state', { apps: { cart: { epoch: 9, mode: 'serve' } } }), {
        status: 409,
        code: 'NW_GW_ADMIN_FLEET_MEMBER',
      });
      assert.equal(m.gateway.isReady('shop'), false, 'still waiting for the coordinator');
      assertNotReady(await call(m.gateway.listeners[0]!.url, '/kv/k', { method: 'PUT', body: 'v' }));
      assert.equal(m.gateway.getState().cart!.mode, 'proxy', 'the coordinator state stays');
    },
  );

  it('refuses to join under a member id that a live session holds (NW_CP_MEMBER_ID_IN_USE); the holder keeps its nodes', async () => {
    await writeAppStates(cp, { shop: DONE, cart: DONE });
    const first = await startMember('gw-dup');
    const holder = first.coordinator.sessionId();
    await assert.rejects(startMember('gw-dup'), { code: 'NW_CP_MEMBER_ID_IN_USE', message: /gw-dup is held by session/ });
    assert.equal((await cp.get(layout.member('gw-dup')))?.ephemeralOwner, holder);
    assert.equal((await cp.get(layout.ack('shop', 'gw-dup')))?.ephemeralOwner, holder, 'its ack stays');
    const targets = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1' } });
    const report = await waitForFleet(cp, targets, { timeoutMs: 5000 });
    assert.equal(report.ok, true);
    assert.deepEqual(report.members, ['gw-dup'], 'the barrier still waits for the first one');
    assert.equal(first.gateway.getState().shop!.mode, 'fence');
  });

  it('after an expiry, while another session holds its id, it neither renews its lease nor acks; joins once the id is free', async () => {
    await writeAppStates(cp, { shop: DONE, cart: DONE });
    const c = new EmbeddedCoordinator(store);
    const m = await startMember('gw-1', c);
    const other = new EmbeddedCoordinator(store);
    await other.connect();
    c.expire();
    // Synchronously, before the member's recovery gets to register: the id is taken.
    void other.create(
      layout.member('gw-1'),
      encodeJson({ kind: 'gateway', host: 'other', pid: 2, startedAt: '', apps: ['shop'] }),
      'ephemeral',
    );
    const fence = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1' } });
    await m.agent.reconcile();
    assert.equal(m.gateway.getState().shop!.epoch, fence[0]!.epoch, 'it still follows the states');
    assert.equal(m.lease.valid(), false, 'a complete re-read while unregistered renews nothing');
    const r = await call(m.gateway.listeners[0]!.url, '/kv/k', { method: 'PUT', body: 'v', host: 'cart.test' });
    assert.equal(JSON.parse(r.text).error.code, 'NW_GW_LEASE_EXPIRED');
    assert.equal(await cp.get(layout.ack('shop', 'gw-1')), undefined, 'no ack under an id it does not hold');
    await other.close();
    await eventually(async () => (await cp.get(layout.member('gw-1')))?.ephemeralOwner === c.sessionId(), {
      timeoutMs: 5000,
      message: 'the retried recovery registers once the id is free',
    });
    await eventually(() => m.lease.valid(), { timeoutMs: 5000, message: 'lease renewed once registered' });
    assert.equal((await waitForFleet(cp, fence, { timeoutMs: 5000 })).ok, true, 'and acks');
  });

  it('re-registers after its session expired, renews its lease and acks again', async () => {
    await writeAppStates(cp, { shop: DONE, cart: DONE });
    const c = new EmbeddedCoordinator(store);
    const m = await startMember('gw-1', c);
    const before = c.sessionId();
    c.expire();
    assert.equal(m.lease.valid(), false, 'dropped with the session');
    await eventually(
      async () => {
        const node = await cp.get(layout.member('gw-1'));
        assert.ok(node && node.ephemeralOwner !== before && node.ephemeralOwner === c.sessionId());
      },
      { timeoutMs: 5000, message: 're-registered under the new session' },
    );
    const targets = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1' } });
    assert.equal((await waitForFleet(cp, targets, { timeoutMs: 5000 })).ok, true);
    await eventually(() => m.lease.valid(), { timeoutMs: 5000, message: 'lease renewed by a complete re-read' });
  });
}
