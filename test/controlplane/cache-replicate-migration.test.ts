import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { request } from 'undici';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { SyncHook, SyncHookStep } from '../../controlplane/migration/migration-hooks.js';
import type { LogEvent, MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import { syncConfigSchema } from '../../controlplane/sync/sync-config.js';
import { createSyncHooks, type SyncHooks } from '../../controlplane/sync/sync-hooks.js';
import { parseReplicationInfo, type ReplicationInfo } from '../../datasync/cache/replication/replication-info.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { type CacheApp, startN1CacheApp, startN2CacheApp } from '../support/cache-app-servers.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { startRedisServer, type RedisServerProcess } from '../support/redis-server-process.js';

const silent = createLogger('silent');
const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

interface Write {
  readonly key: string;
  readonly value: string;
  readonly status: number;
  readonly deployment: string;
}

/** A step that blocks until released (or until its runner stops): holds a migration inside a phase. */
function holdStep(): { step: SyncHookStep & SyncHook; entered: Promise<void>; release(): void } {
  let release!: () => void;
  let enter!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const entered = new Promise<void>((r) => (enter = r));
  return {
    entered,
    release,
    step: async (ctx: Parameters<SyncHook>[0]) => {
      enter();
      await Promise.race([released, new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }))]);
      return {};
    },
  };
}

/**
 * The replicate strategy for the cache through every phase, on redis-server processes of this test's
 * own (N1's and N2's), real gateways and app servers whose writes are cache writes: N1's through the
 * data layer as a fleet member, N2's straight to its Redis. Clients write through the gateways the
 * whole time; what each was told is checked against what N1's and N2's Redis hold.
 */
describe('cache replicate strategy: migrations end to end (own Redis servers, gateways, data layer)', function () {
  this.timeout(90_000);
  let store: EmbeddedStore;
  let redis1: RedisServerProcess;
  let redis2: RedisServerProcess;
  let r1: Redis;
  let r2: Redis;
  let app1: CacheApp;
  let app2: CacheApp;
  let fleet: Fleet;
  let sync: SyncHooks;
  let hooks: Map<string, SyncHook>;
  let planes: ControlPlane[];
  let writers: { stop(): Promise<Write[]>; acked(d: string): Write[] } | undefined;

  const info = async (c: Redis): Promise<ReplicationInfo> => parseReplicationInfo(await c.info('replication'));

  async function startControlPlane(id: string): Promise<ControlPlane> {
    const cp = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id, logger: silent, syncHooks: hooks });
    planes.push(cp);
    await cp.start();
    return cp;
  }

  /** Closed-loop writers through both gateways, each write a new key: what each client was told, and by which side. */
  function startWriters(count = 4): NonNullable<typeof writers> {
    const results: Write[] = [];
    let stopping = false;
    const loops = Array.from({ length: count }, async (_, w) => {
      const gateway = fleet.members[w % fleet.members.length]!.gateway.listeners[0]!.url;
      for (let i = 0; !stopping; i++) {
        const key = `w${w}-${i}`;
        const value = `value of ${key}`;
        try {
          const res = await request(`${gateway}/kv/${key}`, { method: 'PUT', headers: { host: 'shop.test' }, body: value });
          await res.body.dump();
          results.push({ key, value, status: res.statusCode, deployment: String(res.headers['x-northwest-deployment']) });
        } catch {
          results.push({ key, value, status: 0, deployment: 'none' });
        }
      }
    });
    return {
      acked: (d) => results.filter((r) => r.status === 200 && r.deployment === d),
      async stop() {
        stopping = true;
        await Promise.all(loops);
        return results;
      },
    };
  }

  /** Keys (of `writes`) that `c` does not hold with the value the client wrote. */
  async function missingOn(c: Redis, writes: readonly Write[]): Promise<string[]> {
    // In pages: the writers run flat out, and one MGET spread over every key they acknowledged
    // (100k and more on a fast run) overflows the call stack.
    const missing: string[] = [];
    for (let from = 0; from < writes.length; from += 1000) {
      const page = writes.slice(from, from + 1000);
      const values = await c.mget(...page.map((w) => w.key));
      for (const [i, w] of page.entries()) if (values[i] !== w.value) missing.push(w.key);
    }
    return missing;
  }

  function plan(replicate: Record<string, unknown> = {}, extra: Record<string, unknown> = {}, hookNames = ['cache']) {
    return parsePlan({
      apps: ['shop'],
      barrierTimeoutMs: 5000,
      fence: { maxHoldMs: 15_000 },
      sync: { mode: 'none', hooks: hookNames, cache: { strategy: 'replicate', replicate } },
      ...extra,
    });
  }

  const phaseData = (log: MigrationLog, phase: string): Record<string, unknown> | undefined =>
    log.history.find((e: LogEvent) => e.event === 'phase-completed' && e.phase === phase)?.data;
  const notes = (log: MigrationLog): string[] => log.history.filter((e) => e.event === 'note').map((e) => e.detail ?? '');

  beforeEach(async () => {
    planes = [];
    writers = undefined;
    store = new EmbeddedStore();
    [redis1, redis2] = await Promise.all([startRedisServer({ name: 'n1' }), startRedisServer({ name: 'n2' })]);
    [r1, r2] = await Promise.all([redis1.client(), redis2.client()]);
    app1 = await startN1CacheApp({ redis: redis1, coordinator: new EmbeddedCoordinator(store), app: 'shop' });
    app2 = await startN2CacheApp({ redis: redis2 });
    fleet = await startFleet({
      size: 2,
      coordinator: () => new EmbeddedCoordinator(store),
      apps: ['shop'],
      upstreams: { n1: app1.url, n2: app2.url },
    });
    const config = syncConfigSchema.parse({
      cache: { n1: { host: redis1.host, port: redis1.port }, n2: { host: redis2.host, port: redis2.port } },
    });
    sync = createSyncHooks(config, { coordinator: new EmbeddedCoordinator(store), logger: silent });
    hooks = new Map([['cache', sync.hooks.get('cache')!]]);
    // Data N1's cache had before the migration: the initial sync carries it.
    for (let i = 0; i < 500; i++) await r1.set(`old-${i}`, `old value ${i}`);
  });

  afterEach(async () => {
    await writers?.stop();
    for (const cp of planes) await cp.stop();
    await sync?.close();
    await fleet?.close();
    await Promise.allSettled([app1?.close(), app2?.close()]);
    await Promise.allSettled([redis1?.stop(), redis2?.stop()]);
  });

  it('every phase under writes: N2 follows N1, drains at the fence, is promoted; N1 follows N2 until done', async () => {
    const holdSync = holdStep();
    const holdProxy = holdStep();
    hooks.set('hold', Object.assign(holdSync.step, { atProxy: holdProxy.step }));
    const cp = await startControlPlane('cp-1');
    writers = startWriters();
    await eventually(() => writers!.acked('n1').length >= 20, { timeoutMs: 10_000, message: 'N1 takes writes before the migration' });
    const created = await cp.migrate(plan({}, {}, ['cache', 'hold']));

    await holdSync.entered;
    const n2Replica = await info(r2);
    assert.equal(n2Replica.role, 'replica');
    assert.equal(n2Replica.masterPort, redis1.port);
    assert.equal(await r2.get('old-499'), 'old value 499', 'the initial sync brought what N1 had');
    // Writes N1 acknowledges during the sync phase reach N2 by replication alone (the data layers stay local).
    const duringSync = writers.acked('n1').length;
    await eventually(() => writers!.acked('n1').length >= duringSync + 50, { timeoutMs: 10_000, message: 'writes flow during sync' });
    const sample = writers.acked('n1').slice(-50);
    await eventually(async () => assert.deepEqual(await missingOn(r2, sample), []), {
      timeoutMs: 5000,
      message: 'sync-phase writes on N2',
    });
    holdSync.release();

    await holdProxy.entered;
    assert.equal((await info(r2)).role, 'master', 'N2 promoted at proxy');
    const n1Following = await info(r1);
    assert.equal(n1Following.role, 'replica');
    assert.equal(n1Following.masterPort, redis2.port);
    assert.equal(n1Following.linkUp, true);
    const viaN2 = writers.acked('n2').length;
    await eventually(() => writers!.acked('n2').length >= viaN2 + 50, { timeoutMs: 10_000, message: 'N2 takes writes' });
    const proxied = writers.acked('n2').slice(-50);
    await eventually(async () => assert.deepEqual(await missingOn(r1, proxied), []), { timeoutMs: 5000, message: "N2's writes reach N1" });
    holdProxy.release();

    const log = await cp.waitForMigration(created.id, finished, 30_000);
    const results = await writers.stop();
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    const fence = phaseData(log, 'fence') as { beforeFence: { cache: { lagBytes: number } }; hooks: { cache: Record<string, number> } };
    assert.ok(fence.beforeFence.cache.lagBytes <= 1_048_576);
    const drained = fence.hooks.cache;
    assert.ok(drained.n2Offset! >= drained.drainedToOffset!, `the fence drained the lag to 0: ${JSON.stringify(drained)}`);
    assert.equal((await info(r1)).role, 'master', 'N1 released at done');
    // Every write a client was told succeeded is in N2's cache, where the app now reads.
    const ackedN1 = results.filter((r) => r.status === 200 && r.deployment === 'n1');
    const ackedN2 = results.filter((r) => r.status === 200 && r.deployment === 'n2');
    // At least what the waits above saw: 20 before the migration and 50 in sync via N1, 50 in proxy via N2.
    assert.ok(ackedN1.length >= 70 && ackedN2.length >= 50, `${ackedN1.length} via N1, ${ackedN2.length} via N2`);
    assert.deepEqual(await missingOn(r2, ackedN1), [], 'no write acknowledged at N1 is missing at N2');
    assert.deepEqual(await missingOn(r2, ackedN2), []);
    assert.equal(results.filter((r) => r.status !== 200).length, 0, 'no client write failed');
    // Mirrored back to N1 during proxy, its cache layer left them to replication (N1's Redis was read-only).
    assert.deepEqual(app1.failures, [], "N1's app server failed no write");
    assert.ok(
      notes(log).some((n) => n.includes("N2's Redis promoted")),
      notes(log).join('\n'),
    );
  });

  it('a rollback after proxy keeps N1 warm: every write N2 took is in N1 when it serves again', async () => {
    const holdProxy = holdStep();
    hooks.set(
      'hold',
      Object.assign(async () => ({}), { atProxy: holdProxy.step }),
    );
    const cp = await startControlPlane('cp-1');
    writers = startWriters();
    const created = await cp.migrate(plan({}, {}, ['cache', 'hold']));
    await holdProxy.entered;
    const viaN2 = writers.acked('n2').length;
    await eventually(() => writers!.acked('n2').length >= viaN2 + 100, { timeoutMs: 10_000, message: 'N2 takes writes' });
    await cp.abort(created.id, 'test: roll back after proxy');
    holdProxy.release();
    const log = await cp.waitForMigration(created.id, finished, 30_000);
    assert.equal(log.status, 'rolled-back', JSON.stringify(log.error));
    const afterRollback = writers.acked('n1').length;
    await eventually(() => writers!.acked('n1').length >= afterRollback + 20, { timeoutMs: 10_000, message: 'N1 takes writes again' });
    const results = await writers.stop();
    // Mirrored back to N1's app server, N2's writes were left to replication by its cache layer (follow):
    // only replication can have brought them to N1's Redis.
    const ackedN2 = results.filter((r) => r.status === 200 && r.deployment === 'n2');
    assert.ok(ackedN2.length >= 100);
    assert.deepEqual(await missingOn(r1, ackedN2), [], 'N1 holds every write N2 acknowledged');
    assert.deepEqual(
      await missingOn(
        r1,
        results.filter((r) => r.status === 200 && r.deployment === 'n1'),
      ),
      [],
    );
    assert.equal((await info(r1)).role, 'master');
    const n2 = await info(r2);
    assert.equal(n2.role, 'replica', 'N2 follows N1 after the rollback');
    assert.equal(n2.masterPort, redis1.port);
    assert.deepEqual(app1.failures, [], 'N1 took its writes again once promoted');
    const step = log.history.find((e) => e.event === 'rollback-step' && e.detail === 'sync-hooks');
    assert.ok(step, JSON.stringify(log.history.map((e) => `${e.event} ${e.detail ?? ''}`)));
  });

  for (const onLagLimit of ['pause', 'rollback'] as const) {
    const outcome = onLagLimit === 'pause' ? 'pauses (resume passes it)' : 'rolls back';
    it(`a replica over the lag limit holds the fence, then ${outcome}`, async () => {
      const holdSync = holdStep();
      hooks.set('hold', holdSync.step);
      const cp = await startControlPlane('cp-1');
      writers = startWriters();
      const created = await cp.migrate(plan({ lagLimit: { maxBytes: 500 }, lagWaitMs: 1500, onLagLimit }, {}, ['cache', 'hold']));
      await holdSync.entered;
      redis2.pause(); // the replica stops: N1's stream runs ahead of it
      try {
        const stoppedAt = writers.acked('n1').length;
        await eventually(() => writers!.acked('n1').length >= stoppedAt + 50, { timeoutMs: 10_000, message: 'N1 runs ahead' });
        holdSync.release();
        const log = await cp.waitForMigration(created.id, (l) => l.status !== 'running', 30_000);
        assert.equal(log.error?.code, 'NW_CP_SYNC_FAILED', JSON.stringify(log.error));
        // Refused before the fence (its beforeFence step), not found out under it by the drain.
        assert.match(log.error?.message ?? '', /^.*cache \(beforeFence\): .*behind N1/);
        assert.equal(
          log.history.some((e) => e.event === 'phase-started' && e.phase === 'fence'),
          true,
        );
        // The fence was never written: no write was held for the lag.
        assert.equal(
          log.history.some((e) => e.event === 'phase-completed' && e.phase === 'fence'),
          false,
        );
        if (onLagLimit === 'pause') {
          assert.equal(log.status, 'paused');
          for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve', 'still serving from N1, unfenced');
          const paused = writers.acked('n1').length;
          await eventually(() => writers!.acked('n1').length >= paused + 20, { timeoutMs: 10_000, message: 'N1 serves while paused' });
        } else {
          const ended = await cp.waitForMigration(created.id, finished, 30_000);
          assert.equal(ended.status, 'rolled-back');
        }
      } finally {
        redis2.resume();
      }
      if (onLagLimit === 'pause') {
        await cp.resume(created.id);
        const log = await cp.waitForMigration(created.id, finished, 30_000);
        assert.equal(log.status, 'done', JSON.stringify(log.error));
        const results = await writers.stop();
        assert.deepEqual(
          await missingOn(
            r2,
            results.filter((r) => r.status === 200 && r.deployment === 'n1'),
          ),
          [],
        );
        assert.deepEqual(
          await missingOn(
            r2,
            results.filter((r) => r.status === 200 && r.deployment === 'n2'),
          ),
          [],
        );
      } else {
        const results = await writers.stop();
        for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve');
        assert.equal((await info(r1)).role, 'master');
        assert.deepEqual(
          await missingOn(
            r1,
            results.filter((r) => r.status === 200),
          ),
          [],
        );
      }
    });
  }

  it('the replica restarted mid-sync (killed, empty): the sync resumes and no acknowledged write is lost', async () => {
    // A full sync that waits 2 s before sending: time to kill the replica while the sync step waits for it.
    await r1.config('SET', 'repl-diskless-sync-delay', '2');
    const cp = await startControlPlane('cp-1');
    writers = startWriters();
    const created = await cp.migrate(plan());
    await eventually(async () => (await info(r1)).replicas.length > 0, { timeoutMs: 10_000, message: 'N2 asked N1 for a sync' });
    await redis2.kill();
    await new Promise((r) => setTimeout(r, 300)); // kept as a sleep: the replica is down for a while, nothing to wait for
    await redis2.restart();
    await r1.config('SET', 'repl-diskless-sync-delay', '0');
    const log = await cp.waitForMigration(created.id, finished, 60_000);
    const results = await writers.stop();
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    const seen = notes(log).join('\n');
    assert.match(seen, /restarted\?|NW_SYNC_CACHE_UNAVAILABLE/, 'the log says the replica went away and was attached again');
    r2 = await redis2.client();
    assert.equal(await r2.get('old-0'), 'old value 0');
    assert.deepEqual(
      await missingOn(
        r2,
        results.filter((r) => r.status === 200),
      ),
      [],
      '0 lost writes',
    );
  });

  it('the leader stopped after promoting N2 (writes held): the next leader re-runs proxy and finishes, 0 lost writes', async () => {
    const holdProxy = holdStep();
    // After the cache's beforeProxy (N2 promoted), before the flip: the fence still holds writes.
    hooks.set(
      'hold',
      Object.assign(async () => ({}), { beforeProxy: holdProxy.step }),
    );
    const first = await startControlPlane('cp-1');
    writers = startWriters();
    const created = await first.migrate(plan({}, {}, ['cache', 'hold']));
    await holdProxy.entered;
    assert.equal((await info(r2)).role, 'master');
    await first.stop();
    hooks.set('hold', async () => ({}));
    const second = await startControlPlane('cp-2');
    const log = await second.waitForMigration(created.id, finished, 30_000);
    const results = await writers.stop();
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    const rerun = log.history.filter((e) => e.event === 'phase-completed' && e.phase === 'proxy').at(-1)?.data as {
      beforeProxy: { cache: { already?: boolean } };
    };
    assert.equal(rerun.beforeProxy.cache.already, true, 'the re-run found N2 promoted and left it so');
    assert.deepEqual(
      await missingOn(
        r2,
        results.filter((r) => r.status === 200),
      ),
      [],
      '0 lost writes',
    );
    assert.equal(results.filter((r) => r.status !== 200).length, 0, 'held writes were released to N2, none failed');
  });
});
