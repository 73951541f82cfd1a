// A gateway fleet member on the real ZooKeeper ensemble: a member cut off from ZooKeeper refuses
// writes for an app that is not migrating, a session the server granted too short a timeout is
// refused, and so is a second live member with the same id. Each test works under its own chroot,
// on one server of the ensemble (reads right after writes), and removes it afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseGatewayConfig } from '../../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import type { CoordinatorRole } from '../../platform/coordinator/northwest-acl.js';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { waitForFleet } from '../../fleet/fleet-barrier.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { encodeJson, layout } from '../../protocol/coordinator-paths.js';
import { removeTree } from '../support/data-layer-fixture.js';
import { eventually } from '../support/eventually.js';
import { startFleetNode, WORKER_COUNTS, type FleetNode } from '../support/fleet-node.js';
import { call } from '../support/gateway-harness.js';
import { requireService } from '../support/service-endpoints.js';
import { startStallableRelay } from '../support/stallable-relay.js';
import { memberCoordinatorConfig, provisionTree, zkAdminClient, zkClient } from '../support/zk-identities.js';

const zk = requireService('zookeeper');

// Once as one process, once as 2 worker processes (the primary holds the session and the lease).
for (const workers of WORKER_COUNTS)
  describe(`gateway fleet member (ZooKeeper ensemble, ${workers} worker${workers > 1 ? 's' : ''})`, function () {
    zooKeeperMemberSuite.call(this, workers);
  });

function zooKeeperMemberSuite(this: Mocha.Suite, workers: number): void {
  this.timeout(30_000);
  const server = zk.servers[Math.floor(Math.random() * zk.servers.length)]!;
  const pinned = `${server.host}:${server.port}`;
  let chroot: string;
  let cp: ZooKeeperCoordinator;
  let n1: EchoUpstream;
  let n2: EchoUpstream;
  const cleanups: Array<() => Promise<unknown>> = [];

  const session = async (
    connectString = pinned,
    sessionTimeoutMs = 4000,
    role: CoordinatorRole = 'controlplane',
  ): Promise<ZooKeeperCoordinator> => {
    const c = zkClient(role, { connectString, chroot, sessionTimeoutMs, connectTimeoutMs: 10_000, opTimeoutMs: 10_000 });
    await c.connect();
    cleanups.push(() => c.close());
    return c;
  };

  beforeEach(async () => {
    chroot = `/nw-member-${randomBytes(4).toString('hex')}`;
    await provisionTree({ connectString: pinned, chroot });
    cp = await session();
    n1 = await startEchoUpstream('n1');
    n2 = await startEchoUpstream('n2');
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    const root = zkAdminClient({ connectString: pinned, chroot: '/' });
    await root.connect();
    await removeTree(root, chroot);
    await root.close();
    await n1.close();
    await n2.close();
  });

  async function startMember(
    id: string,
    fleet: { connectString?: string; sessionTimeoutMs: number; leaseMs: number; reconcileMs?: number },
  ): Promise<FleetNode> {
    const config = parseGatewayConfig({
      name: id,
      listeners: [{ host: '127.0.0.1', port: 0 }],
      fleet: {
        coordinator: memberCoordinatorConfig({
          connectString: fleet.connectString ?? pinned,
          chroot,
          sessionTimeoutMs: fleet.sessionTimeoutMs,
        }),
        leaseMs: fleet.leaseMs,
        ...(fleet.reconcileMs ? { reconcileMs: fleet.reconcileMs } : {}),
      },
      apps: {
        shop: {
          hosts: ['shop.test'],
          n1: { servers: [{ url: n1.url }] },
          n2: { servers: [{ url: n2.url }] },
        },
      },
    });
    const m = await startFleetNode(config, workers, { logger: createLogger('silent') });
    cleanups.push(() => m.close());
    return m;
  }

  it('a member cut off before a migration starts refuses writes once its lease lapsed (no migration tag), reads go on', async () => {
    await writeAppStates(cp, { shop: { mode: 'serve' } });
    const relay = await startStallableRelay(server);
    cleanups.push(() => relay.close());
    const m = await startMember('gw-cut', {
      connectString: `127.0.0.1:${relay.port}`,
      sessionTimeoutMs: 6000,
      leaseMs: 1000,
      reconcileMs: 200,
    });
    const url = m.gateway.listeners[0]!.url;
    assert.equal((await call(url, '/kv/before', { method: 'PUT', body: 'x' })).status, 200);

    relay.stall(true);
    await eventually(() => !m.lease.valid(), { timeoutMs: 5000, message: 'the lease lapses while ZooKeeper is out of reach' });
    const writesAtN1 = n1.seen.filter((r) => r.method === 'PUT').length;
    const refused = await call(url, '/kv/after', { method: 'PUT', body: 'y' });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(JSON.parse(refused.text).error.code, 'NW_GW_LEASE_EXPIRED');
    assert.equal(refused.headers['retry-after'], '1');
    const read = await call(url, '/kv/before');
    assert.equal(read.status, 200, 'reads go on');
    assert.equal(read.headers['x-northwest-deployment'], 'n1');
    assert.equal(n1.seen.filter((r) => r.method === 'PUT').length, writesAtN1, 'N1 received no write');
    assert.equal(n1.store.has('after'), false);

    relay.stall(false);
    await eventually(async () => (await call(url, '/kv/after', { method: 'PUT', body: 'y' })).status === 200, {
      timeoutMs: 10_000,
      message: 'writes go through again once the member re-read the state',
    });
    assert.equal(n1.store.get('after'), 'y');
  });

  it('refuses to start when the server grants a session timeout too short for the lease (NW_CP_SESSION_TIMEOUT_TOO_SHORT)', async () => {
    // Requested 90 s, so the config's own check (lease <= 2/3 of the requested timeout) passes; the
    // ensemble's maxSessionTimeout (60 s, scripts/services.sh) clamps it, and 45 s > 2/3 of 60 s.
    await writeAppStates(cp, { shop: { mode: 'serve' } });
    await assert.rejects(startMember('gw-short', { sessionTimeoutMs: 90_000, leaseMs: 45_000 }), {
      code: 'NW_CP_SESSION_TIMEOUT_TOO_SHORT',
      message: /granted a session timeout of 60000 ms; a lease of 45000 ms needs at least 67500 ms/,
    });
    assert.equal(await cp.get(layout.member('gw-short')), undefined, 'never registered');
    const m = await startMember('gw-ok', { sessionTimeoutMs: 90_000, leaseMs: 40_000 });
    assert.equal(m.coordinator.negotiatedSessionTimeoutMs(), 60_000);
  });

  it(
    'a second gateway with a live member id is refused (NW_CP_MEMBER_ID_IN_USE) after one and a half session timeouts; ' +
      'the first keeps its nodes',
    async () => {
      await writeAppStates(cp, { shop: { mode: 'serve' } });
      const first = await startMember('gw-dup', { sessionTimeoutMs: 2000, leaseMs: 1000, reconcileMs: 300 });
      const holder = first.coordinator.sessionId();
      const started = performance.now();
      await assert.rejects(startMember('gw-dup', { sessionTimeoutMs: 2000, leaseMs: 1000 }), {
        code: 'NW_CP_MEMBER_ID_IN_USE',
        message: new RegExp(`gw-dup is held by session ${holder}`),
      });
      assert.ok(performance.now() - started >= 2900, 'waited for a predecessor session to end first');
      assert.equal((await cp.get(layout.member('gw-dup')))?.ephemeralOwner, holder);
      assert.equal((await cp.get(layout.ack('shop', 'gw-dup')))?.ephemeralOwner, holder, 'its ack stays');
      const targets = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1' } });
      const report = await waitForFleet(cp, targets, { timeoutMs: 10_000 });
      assert.equal(report.ok, true, JSON.stringify(report.missing));
      assert.deepEqual(report.members, ['gw-dup'], 'the barrier still waits for the first one');
    },
  );

  it('a gateway restarted under the id of a crashed one joins once the crashed session has expired', async () => {
    await writeAppStates(cp, { shop: { mode: 'serve' } });
    const relay = await startStallableRelay(server);
    cleanups.push(() => relay.close());
    const crashed = await session(`127.0.0.1:${relay.port}`, 1000, 'member');
    await crashed.mkdirp(layout.members);
    await crashed.create(
      layout.member('gw-r'),
      encodeJson({ kind: 'gateway', host: 'old', pid: 1, startedAt: '', apps: ['shop'] }),
      'ephemeral',
    );
    relay.stall(true); // the process is gone: the server expires its session after 1 s of silence
    const m = await startMember('gw-r', { sessionTimeoutMs: 2000, leaseMs: 1000 });
    assert.equal((await cp.get(layout.member('gw-r')))?.ephemeralOwner, m.coordinator.sessionId());
    assert.equal((await call(m.gateway.listeners[0]!.url, '/kv/k', { method: 'PUT', body: 'v' })).status, 200);
  });
}
