// A fleet member of 2 worker processes on the real ZooKeeper ensemble: one membership (the primary
// holds the session and the lease), an ack only once both workers applied the state and drained, the
// lease's lapse refusing writes in both workers, and a worker killed with a write in flight at N1:
// the next fence is acked only once that write's outcome can no longer change. Each test works
// under its own chroot, on one server of the ensemble, and removes it afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, Client, request } from 'undici';
import { waitForFleet } from '../../fleet/fleet-barrier.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { layout } from '../../protocol/coordinator-paths.js';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { removeTree } from '../support/data-layer-fixture.js';
import { eventually } from '../support/eventually.js';
import { requireService } from '../support/service-endpoints.js';
import { startStallableRelay } from '../support/stallable-relay.js';
import { startWorkersHarness, type WorkersHarness } from '../support/workers-harness.js';
import { memberCoordinatorConfig, provisionTree, zkAdminClient, zkClient } from '../support/zk-identities.js';

const zk = requireService('zookeeper');

/**
 * An app server that logs when it commits each write. A write whose path starts with /kv/slow is
 * committed `commitMs` after it arrived (whether anyone still waits for it) and answered only once
 * the test releases it; everything else at once.
 */
interface GatedApp {
  readonly url: string;
  /** Path and performance.now() of every commit. */
  readonly commits: Array<{ path: string; at: number }>;
  /** Slow writes received so far. */
  readonly slowArrived: number;
  release(): void;
  close(): Promise<void>;
}

async function startGatedApp(commitMs: number): Promise<GatedApp> {
  const commits: GatedApp['commits'] = [];
  let slowArrived = 0;
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '/';
      const write = req.method !== 'GET' && req.method !== 'HEAD';
      if (!write) return void res.end('ok');
      if (!path.startsWith('/kv/slow')) {
        commits.push({ path, at: performance.now() });
        return void res.end('ok');
      }
      slowArrived += 1;
      setTimeout(() => commits.push({ path, at: performance.now() }), commitMs);
      void released.then(() => {
        if (!res.destroyed) res.end('ok');
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    commits,
    get slowArrived() {
      return slowArrived;
    },
    release: () => release(),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('gateway fleet member with 2 workers (ZooKeeper ensemble)', function () {
  this.timeout(45_000);
  const server = zk.servers[Math.floor(Math.random() * zk.servers.length)]!;
  const pinned = `${server.host}:${server.port}`;
  let chroot: string;
  let cp: ZooKeeperCoordinator;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    chroot = `/nw-workers-${randomBytes(4).toString('hex')}`;
    await provisionTree({ connectString: pinned, chroot });
    cp = zkClient('controlplane', { connectString: pinned, chroot, sessionTimeoutMs: 6000, connectTimeoutMs: 10_000, opTimeoutMs: 10_000 });
    await cp.connect();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await cp.close();
    const root = zkAdminClient({ connectString: pinned, chroot: '/' });
    await root.connect();
    await removeTree(root, chroot);
    await root.close();
  });

  async function startNode(
    id: string,
    n1: string,
    opts: { connectString?: string; leaseMs?: number; reconcileMs?: number; unknownWriteOutcomeMs?: number } = {},
  ): Promise<WorkersHarness> {
    const h = await startWorkersHarness({
      name: id,
      listeners: [{ host: '127.0.0.1', port: 0 }],
      timeouts: { unknownWriteOutcomeMs: opts.unknownWriteOutcomeMs ?? 1000, drainMs: 10_000 },
      fleet: {
        coordinator: memberCoordinatorConfig({ connectString: opts.connectString ?? pinned, chroot, sessionTimeoutMs: 6000 }),
        leaseMs: opts.leaseMs ?? 3000,
        ...(opts.reconcileMs ? { reconcileMs: opts.reconcileMs } : {}),
      },
      apps: { shop: { hosts: ['shop.test'], n1: { servers: [{ url: n1 }] }, n2: { servers: [{ url: n1 }] } } },
    });
    cleanups.push(() => h.close());
    return h;
  }

  /** A connection of its own to the node, and the pid of the worker that serves it (learnt from a read's access line). */
  async function pinnedConnection(h: WorkersHarness): Promise<{ client: Client; pid: number }> {
    const client = new Client(h.url);
    cleanups.push(() => client.destroy());
    const res = await client.request({ path: '/kv/probe', method: 'GET', headers: { host: 'shop.test' } });
    await res.body.dump();
    const line = await eventually(
      () => {
        const found = h.accessLines().find((l) => l.path === '/kv/probe');
        assert.ok(found);
        return found;
      },
      { timeoutMs: 5000, message: 'the read is logged' },
    );
    return { client, pid: line.pid };
  }

  it('acks a fence only once both workers applied it: one worker draining a write to N1 holds the ack', async () => {
    const n1 = await startGatedApp(0);
    cleanups.push(() => n1.close());
    await writeAppStates(cp, { shop: { mode: 'serve' } });
    const h = await startNode('gw-w2', n1.url);
    assert.equal(h.node.gateway.isReady('shop'), true);
    const { client, pid } = await pinnedConnection(h);
    const write = client.request({ path: '/kv/slow', method: 'PUT', headers: { host: 'shop.test' }, body: 'v' });
    await eventually(() => n1.slowArrived === 1, { timeoutMs: 5000, message: 'the write reached N1' });

    const targets = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1' } });
    const epoch = targets[0]!.epoch;
    await eventually(() => h.node.gateway.workers().some((w) => w.pid !== pid && w.applied.shop === epoch), {
      timeoutMs: 5000,
      message: 'the other worker applied the fence',
    });
    assert.notEqual(h.node.gateway.workers().find((w) => w.pid === pid)?.applied.shop, epoch, 'the draining worker has not');
    const early = await waitForFleet(cp, targets, { timeoutMs: 1000 });
    assert.equal(early.ok, false, 'no ack while one worker still has a write in flight to N1');
    const ack = await cp.get(layout.ack('shop', 'gw-w2'));
    assert.notEqual(ack && JSON.parse(ack.data.toString()).epoch, epoch);

    n1.release();
    const answered = await write;
    await answered.body.dump();
    const releasedAt = performance.now();
    assert.equal(answered.statusCode, 200);
    const report = await waitForFleet(cp, targets, { timeoutMs: 10_000 });
    assert.equal(report.ok, true, JSON.stringify(report.missing));
    assert.deepEqual(report.members, ['gw-w2'], 'one membership for the node');
    assert.ok(
      n1.commits.every((c) => c.at <= releasedAt),
      'the write committed before the fence was acked',
    );
    assert.ok(
      h.node.gateway.workers().every((w) => w.applied.shop === epoch),
      'both workers applied it',
    );
  });

  it('a lapsed lease (the primary cut off from ZooKeeper) refuses writes in both workers; reads go on', async () => {
    const n1 = await startGatedApp(0);
    cleanups.push(() => n1.close());
    await writeAppStates(cp, { shop: { mode: 'serve' } });
    const relay = await startStallableRelay(server);
    cleanups.push(() => relay.close());
    const h = await startNode('gw-cut', n1.url, { connectString: `127.0.0.1:${relay.port}`, leaseMs: 1000, reconcileMs: 200 });
    const lease = h.node.lease!;
    await eventually(() => lease.valid(), { timeoutMs: 5000, message: 'the lease is held' });

    relay.stall(true);
    await eventually(() => !lease.valid(), { timeoutMs: 5000, message: 'the lease lapses while ZooKeeper is out of reach' });
    const before = n1.commits.length;
    const answers = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const dispatcher = new Agent();
        try {
          const res = await request(`${h.url}/kv/after-${i}`, { method: 'PUT', headers: { host: 'shop.test' }, body: 'v', dispatcher });
          const text = await res.body.text();
          return {
            status: res.statusCode,
            code: res.statusCode === 503 ? (JSON.parse(text) as { error: { code: string } }).error.code : text,
          };
        } finally {
          await dispatcher.close();
        }
      }),
    );
    assert.deepEqual(new Set(answers.map((a) => `${a.status} ${a.code}`)), new Set(['503 NW_GW_LEASE_EXPIRED']));
    await eventually(() => h.accessLines().filter((l) => l.path.startsWith('/kv/after-')).length === 12, {
      timeoutMs: 5000,
      message: '12 access lines',
    });
    const refusedBy = new Set(
      h
        .accessLines()
        .filter((l) => l.path.startsWith('/kv/after-'))
        .map((l) => l.pid),
    );
    assert.equal(refusedBy.size, 2, 'both workers refused writes');
    assert.equal(n1.commits.length, before, 'N1 received no write');
    const read = await request(`${h.url}/kv/r`, { headers: { host: 'shop.test' } });
    await read.body.dump();
    assert.equal(read.statusCode, 200, 'reads go on');

    relay.stall(false);
    await eventually(
      async () => {
        const res = await request(`${h.url}/kv/again`, { method: 'PUT', headers: { host: 'shop.test' }, body: 'v' });
        await res.body.dump();
        return res.statusCode === 200;
      },
      { timeoutMs: 15_000, message: 'writes go through again once the primary re-read the state' },
    );
  });

  it('a worker killed with a write in flight at N1 is restarted; the fence is acked only after that write could still commit', async () => {
    // N1 commits the slow write 700 ms after it arrived, whether or not the worker that sent it lives.
    const n1 = await startGatedApp(700);
    cleanups.push(async () => {
      n1.release();
      await n1.close();
    });
    await writeAppStates(cp, { shop: { mode: 'serve' } });
    const h = await startNode('gw-kill', n1.url, { unknownWriteOutcomeMs: 1500 });
    const { client, pid } = await pinnedConnection(h);
    void client.request({ path: '/kv/slow', method: 'PUT', headers: { host: 'shop.test' }, body: 'v' }).catch(() => undefined);
    await eventually(() => n1.slowArrived === 1, { timeoutMs: 5000, message: 'the write reached N1' });
    process.kill(pid, 'SIGKILL');
    const killedAt = performance.now();
    const targets = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1' } });
    const report = await waitForFleet(cp, targets, { timeoutMs: 15_000 });
    const ackedAt = performance.now();
    assert.equal(report.ok, true, JSON.stringify(report.missing));
    const commit = n1.commits.find((c) => c.path === '/kv/slow');
    assert.ok(commit !== undefined && commit.at <= ackedAt, 'the killed worker’s write committed at N1 before the fence was acked');
    assert.ok(ackedAt - killedAt >= 1400, `acked ${Math.round(ackedAt - killedAt)} ms after the kill: the grace was waited out`);
    await eventually(
      () => {
        const ws = h.node.gateway.workers();
        return ws.length === 2 && ws.every((w) => w.status === 'serving' && w.pid !== pid);
      },
      { timeoutMs: 15_000, message: 'the worker is restarted' },
    );
    // The restarted worker got the fence at init: a write on each of several connections is held, none reaches N1.
    const commitsBefore = n1.commits.length;
    const held = Array.from({ length: 6 }, async (_, i) => {
      const dispatcher = new Agent();
      const res = await request(`${h.url}/kv/held-${i}`, { method: 'PUT', headers: { host: 'shop.test' }, body: 'v', dispatcher });
      await res.body.dump();
      await dispatcher.close();
      return res.statusCode;
    });
    await eventually(async () => (await scrapeHeld(h)) === 6, { timeoutMs: 5000, message: 'the 6 writes are held' });
    assert.equal(n1.commits.length, commitsBefore);
    const proxy = await writeAppStates(cp, { shop: { mode: 'proxy', mirrorWritesToN1: false } });
    assert.equal((await waitForFleet(cp, proxy, { timeoutMs: 10_000 })).ok, true);
    assert.deepEqual(new Set(await Promise.all(held)), new Set([200]));
  });
});

async function scrapeHeld(h: WorkersHarness): Promise<number> {
  const res = await request(`${h.adminUrl}/metrics`);
  const text = await res.body.text();
  const line = text.split('\n').find((l) => l.startsWith('northwest_gateway_held_writes{app="shop"} '));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}
