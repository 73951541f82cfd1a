/**
 * A fleet member that shuts down stays in the fleet until no write it sent
 * can still commit. Its shutdown cuts writes still running at the deadline
 * (shutdownMs): their outcome is unknown, and the app may commit them up to
 * unknownWriteOutcomeMs later. Leaving the fleet (closing the coordinator
 * session) before that lets a fence barrier pass without this member while
 * N1 may still commit. The handover model test found it (a member restarted
 * while a write it had sent was still running at N1, then a fence passed);
 * checked here deterministically against what the app committed.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { request } from 'undici';
import { waitForFleet } from '../../fleet/fleet-barrier.js';
import { writeAppStates } from '../../fleet/state-writer.js';
import { parseGatewayConfig } from '../../gateway/index.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { eventually } from '../support/eventually.js';
import { startFleetNode, WORKER_COUNTS } from '../support/fleet-node.js';

/** An app that commits each write `commitMs` after its body arrived, whether or not anyone still waits. */
async function startSlowApp(commitMs: number): Promise<{ url: string; received: number[]; commits: number[]; close(): Promise<void> }> {
  const received: number[] = [];
  const commits: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(performance.now());
      const t = setTimeout(() => {
        timers.delete(t);
        commits.push(performance.now());
        if (!res.destroyed) res.end('ok');
      }, commitMs);
      timers.add(t);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    commits,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearTimeout(t);
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

// Once as one process, once as 2 worker processes (each worker waits out its cut writes before the primary leaves).
for (const workers of WORKER_COUNTS)
  describe(`gateway fleet member: shutdown (${workers} worker${workers > 1 ? 's' : ''})`, function () {
    memberShutdownSuite.call(this, workers);
  });

function memberShutdownSuite(this: Mocha.Suite, workers: number): void {
  it('keeps its session until a write cut at the shutdown deadline can no longer commit (a fence barrier waits for it)', async function () {
    this.timeout(15_000);
    const n1 = await startSlowApp(400);
    const n2 = await startSlowApp(0);
    const store = new EmbeddedStore();
    const cp = new EmbeddedCoordinator(store);
    await cp.connect();
    const [serve] = await writeAppStates(cp, { shop: { mode: 'serve', migration: { id: 'm1', phase: 'prepare' } } });
    const config = parseGatewayConfig({
      name: 'gw-shutdown',
      listeners: [{ host: '127.0.0.1', port: 0 }],
      log: { level: 'silent' },
      timeouts: { shutdownMs: 100, unknownWriteOutcomeMs: 1_000, drainMs: 2_000 },
      fleet: { coordinator: { kind: 'embedded' }, leaseMs: 2_000, reconcileMs: 100 },
      apps: { shop: { hosts: ['shop.test'], n1: { servers: [{ url: n1.url }] }, n2: { servers: [{ url: n2.url }] } } },
    });
    const member = await startFleetNode(config, workers, { logger: createLogger('silent'), coordinator: new EmbeddedCoordinator(store) });
    let closing: Promise<void> | undefined;
    try {
      assert.ok((await waitForFleet(cp, [serve!], { timeoutMs: 2_000 })).ok);
      const answer = request(`${member.gateway.listeners[0]!.url}/kv/a`, { method: 'PUT', headers: { host: 'shop.test' }, body: 'v' })
        .then((r) => r.statusCode)
        .catch((err: unknown) => (err as Error).name);
      await eventually(() => n1.received.length === 1, { timeoutMs: 2_000, message: 'N1 got the write' });

      // The gateway shuts down while N1 is still working on the write; its deadline cuts it.
      closing = member.close();
      const [fence] = await writeAppStates(cp, { shop: { mode: 'fence', readFrom: 'n1', migration: { id: 'm1', phase: 'fence' } } });
      const report = await waitForFleet(cp, [fence!], { timeoutMs: 5_000, pollMs: 20 });
      const passedAt = performance.now();
      assert.ok(report.ok, 'the fence passes once the member has left');
      assert.deepEqual(report.departed, ['gw-shutdown']);
      await answer;
      await eventually(() => n1.commits.length === 1, { timeoutMs: 2_000, message: 'N1 committed the cut write' });
      assert.ok(
        n1.commits[0]! <= passedAt,
        `N1 committed the write ${Math.round(n1.commits[0]! - passedAt)} ms after the fence barrier passed without the member`,
      );
      await closing;
      assert.equal(store.read(layout.member('gw-shutdown')), undefined, 'the member left in the end');
    } finally {
      await (closing ?? member.close()).catch(() => undefined);
      await cp.close();
      await n1.close();
      await n2.close();
    }
  });
}
