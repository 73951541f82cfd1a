import assert from 'node:assert/strict';
import { SyncError } from '../../datasync/errors.js';
import { request } from 'undici';
import { createLogger } from '../../platform/logger.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan, type MigrationPlanInput } from '../../controlplane/migration/plan.js';
import { layout } from '../../protocol/coordinator-paths.js';
import type { TransactionOp } from '../../platform/coordinator/coordinator.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';

const silent = createLogger('silent');

function finished(l: MigrationLog): boolean {
  return l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';
}

/** Closed-loop writers through every gateway; records what served each write and when. */
function startLoad(
  fleet: Fleet,
  app: string,
): { served(d: string): number; stop(): Promise<Array<{ d: string; status: number; start: number; end: number }>> } {
  const results: Array<{ d: string; status: number; start: number; end: number }> = [];
  let stopping = false;
  const workers = fleet.members.slice(0, 8).map(async (m, w) => {
    for (let i = 0; !stopping; i++) {
      const start = performance.now();
      const res = await request(`${m.gateway.listeners[0]!.url}/kv/w${w}-${i}`, {
        method: 'PUT',
        headers: { host: `${app}.test` },
        body: `v${i}`,
      });
      await res.body.dump();
      results.push({ d: String(res.headers['x-northwest-deployment']), status: res.statusCode, start, end: performance.now() });
    }
  });
  return {
    served: (d) => results.filter((r) => r.d === d && r.status === 200).length,
    async stop() {
      stopping = true;
      await Promise.all(workers);
      return results;
    },
  };
}

describe('migration phases (embedded coordinator)', function () {
  this.timeout(60_000);
  let store: EmbeddedStore;
  let fleet: Fleet;
  let cp: ControlPlane;
  let hooks: Map<string, SyncHook>;

  const plan = (p: Partial<MigrationPlanInput> = {}) => parsePlan({ apps: ['shop', 'cart'], barrierTimeoutMs: 5000, ...p });

  beforeEach(async () => {
    store = new EmbeddedStore();
    fleet = await startFleet({ size: 16, coordinator: () => new EmbeddedCoordinator(store), apps: ['shop', 'cart', 'other'] });
    hooks = new Map();
    cp = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-1', logger: silent, syncHooks: hooks });
    await cp.start();
    assert.equal(cp.isLeader(), true);
  });
  afterEach(async () => {
    await cp.stop();
    await fleet.close();
  });

  it('runs every phase; the fleet ends on N2; writes never go back to N1 once N2 served one', async () => {
    const load = startLoad(fleet, 'shop');
    await eventually(() => load.served('n1') >= 16, { timeoutMs: 10_000, message: 'N1 serves writes before the migration' });
    const created = await cp.migrate(plan());
    const log = await cp.waitForMigration(created.id, finished, 30_000);
    const results = await load.stop();
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    assert.deepEqual(
      log.history.filter((e) => e.event === 'phase-completed').map((e) => e.phase),
      ['prepare', 'sync', 'fence', 'proxy', 'redirect', 'dns', 'done'],
    );
    for (const e of log.history.filter((h) => h.event === 'phase-completed' && h.barrier)) {
      assert.equal(e.barrier!.ok, true);
      assert.equal(e.barrier!.members.length, 16);
    }
    for (const m of fleet.members) {
      assert.equal(m.gateway.getState().shop!.mode, 'proxy');
      assert.equal(m.gateway.getState().shop!.migration, undefined);
      assert.equal(m.gateway.getState().other!.mode, 'serve', 'apps outside the plan are untouched');
    }
    assert.equal(results.filter((r) => r.status !== 200).length, 0, 'no failed writes');
    const n2Writes = results.filter((r) => r.d === 'n2');
    const n1Writes = results.filter((r) => r.d === 'n1');
    assert.ok(n1Writes.length > 0 && n2Writes.length > 0);
    const firstN2Start = Math.min(...n2Writes.map((r) => r.start));
    const lastN1End = Math.max(...n1Writes.map((r) => r.end));
    assert.ok(
      lastN1End <= firstN2Start + 1e-9 || n1Writes.every((r) => r.start < firstN2Start),
      'no N1-served write started after the first N2-served one',
    );
    assert.equal(await store.read(layout.lock('shop')), undefined, 'locks released');
  });

  it('a phase that starts with its flip writes its start to the log in the same transaction as the states', async () => {
    // A second control plane (not leader while cp-1 lives) would not run the migration: stop cp-1 and lead with a recording one.
    await cp.stop();
    const inner = new EmbeddedCoordinator(store);
    const transactions: Array<readonly TransactionOp[]> = [];
    const logSets: string[] = [];
    const recording = new Proxy(inner, {
      get(target, key) {
        if (key === 'transaction')
          return (ops: readonly TransactionOp[]) => {
            transactions.push(ops);
            return target.transaction(ops);
          };
        if (key === 'set')
          return (path: string, data: Buffer, version?: number) => {
            if (path.startsWith(layout.migrations)) logSets.push(lastEvent(data));
            return target.set(path, data, version);
          };
        const v: unknown = Reflect.get(target, key);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    function lastEvent(data: Buffer): string {
      const h = (JSON.parse(data.toString('utf8')) as MigrationLog).history;
      const e = h[h.length - 1]!;
      return `${e.event}${e.phase ? ` ${e.phase}` : ''}`;
    }
    cp = new ControlPlane({ coordinator: recording, id: 'cp-rec', logger: silent, syncHooks: hooks });
    await cp.start();
    const created = await cp.migrate(plan({ apps: ['shop'] }));
    const log = await cp.waitForMigration(created.id, finished, 30_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    for (const phase of ['sync', 'fence', 'proxy'] as const) {
      const withStart = transactions.filter((ops) =>
        ops.some((o) => o.op === 'set' && o.path === layout.migration(created.id) && lastEvent(o.data) === `phase-started ${phase}`),
      );
      assert.equal(withStart.length, 1, `${phase}: one transaction carries its start`);
      const state = withStart[0]!.find((o) => o.op === 'set' && o.path === layout.state('shop'));
      assert.ok(state && state.op === 'set', `${phase}: the same transaction writes the state`);
      assert.ok(!logSets.includes(`phase-started ${phase}`), `${phase}: its start is not a write of its own`);
    }
    // prepare and dns do other work first, and redirect writes no state in this plan: their start is written on its own.
    assert.ok(logSets.includes('phase-started prepare'));
    const fence = log.history.findIndex((e) => e.event === 'phase-started' && e.phase === 'fence');
    assert.ok(
      fence > 0 && log.history[fence - 1]!.event === 'phase-completed' && log.history[fence - 1]!.phase === 'sync',
      'the log reads as before',
    );
  });

  it(
    'sync hooks switch the data layers; ' + 'fence keeps the mode, proxy stops the copy, done sends data to N2, rollback goes local',
    async () => {
      const seen: Array<{ phase: string | undefined; data: unknown }> = [];
      const record = (): void => {
        const node = store.read(layout.state('shop'));
        const doc = JSON.parse(node!.data.toString('utf8')) as { migration?: { phase: string }; data?: unknown };
        seen.push({ phase: doc.migration?.phase, data: doc.data });
      };
      hooks.set('cache', async (ctx) => {
        const r = await ctx.setDataMode({ cache: 'copy' });
        record();
        return { epochs: r.epochs };
      });
      hooks.set('datastore', async (ctx) => {
        await ctx.setDataMode({ datastore: 'copy-on-write' });
        record();
        return {};
      });
      const created = await cp.migrate(
        plan({ apps: ['shop'], sync: { mode: 'none', hooks: ['cache', 'datastore'] }, proxy: { mirrorWritesToN1: false } }),
      );
      const log = await cp.waitForMigration(created.id, finished, 30_000);
      assert.equal(log.status, 'done', JSON.stringify({ error: log.error, history: log.history.slice(-4) }));
      assert.deepEqual(seen, [
        { phase: 'sync', data: { datastore: 'local', cache: 'copy' } },
        { phase: 'sync', data: { datastore: 'copy-on-write', cache: 'copy' } },
      ]);
      assert.deepEqual(log.dataMode, { datastore: 'copy-on-write', cache: 'copy' });
      const final = JSON.parse(store.read(layout.state('shop'))!.data.toString('utf8')) as { data?: unknown };
      assert.deepEqual(final.data, { datastore: 'n2', cache: 'local' }, 'after done, N1 data layers send everything to N2');
      for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'proxy', 'gateways ignore the data section');

      // A rolled-back migration leaves the data layers local (no data section).
      hooks.set('fail', async (ctx) => {
        await ctx.setDataMode({ datastore: 'copy-on-write' });
        throw new Error('snapshot broke');
      });
      const second = await cp.migrate(plan({ apps: ['cart'], sync: { mode: 'none', hooks: ['fail'] } }));
      const rolled = await cp.waitForMigration(second.id, finished, 30_000);
      assert.equal(rolled.status, 'rolled-back');
      assert.equal(rolled.error?.code, 'NW_CP_SYNC_FAILED');
      const cart = JSON.parse(store.read(layout.state('cart'))!.data.toString('utf8')) as { mode: string; data?: unknown };
      assert.equal(cart.mode, 'serve');
      assert.equal(cart.data, undefined);
    },
  );

  it("a hook's atFence step runs once every gateway holds writes, and release runs when the migration ends", async () => {
    const calls: string[] = [];
    hooks.set(
      'follow',
      Object.assign(
        async () => {
          calls.push('sync');
          return { copied: 1 };
        },
        {
          atFence: async () => {
            calls.push(`atFence:${fleet.members.map((m) => m.gateway.getState().shop!.mode).every((mode) => mode === 'fence')}`);
            return { flushed: 2 };
          },
          release: async (id: string, outcome: string) => void calls.push(`release:${outcome}:${id}`),
        },
      ),
    );
    const created = await cp.migrate(plan({ apps: ['shop'], sync: { hooks: ['follow'] } }));
    const log = await cp.waitForMigration(created.id, finished, 30_000);
    assert.equal(log.status, 'done');
    assert.deepEqual(calls, ['sync', 'atFence:true', `release:done:${created.id}`]);
    const fence = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'fence');
    assert.deepEqual((fence?.data?.hooks as Record<string, { flushed: number }> | undefined)?.follow?.flushed, 2);
  });

  it('runs a sync hook again while a store it needs is unreachable (a restart), and the migration goes on', async () => {
    let calls = 0;
    hooks.set('flaky', async () => {
      calls += 1;
      if (calls <= 2) throw new SyncError('NW_SYNC_N2_UNAVAILABLE', 'kv: connect ECONNREFUSED 127.0.0.3:9042');
      return { copied: 3 };
    });
    const created = await cp.migrate(plan({ apps: ['shop'], sync: { hooks: ['flaky'] } }));
    const log = await cp.waitForMigration(created.id, finished, 30_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    assert.equal(calls, 3);
    const retries = log.history.filter((e) => e.event === 'note' && String(e.detail).includes('NW_SYNC_N2_UNAVAILABLE'));
    assert.equal(retries.length, 2, JSON.stringify(log.history));
    const sync = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'sync');
    assert.equal((sync?.data?.hooks as Record<string, { attempts?: number }> | undefined)?.flaky?.attempts, 3);
  });

  it('does not run a sync hook again for a failure that will not pass (a schema mismatch), nor at all with retryForMs 0', async () => {
    let calls = 0;
    hooks.set('mismatch', async () => {
      calls += 1;
      throw new SyncError('NW_SYNC_SCHEMA_MISMATCH', 'kv: column v differs');
    });
    hooks.set('down', async () => {
      calls += 1;
      throw new SyncError('NW_SYNC_CACHE_UNAVAILABLE', 'redis down');
    });
    const cases: Array<[string, { hooks: string[]; retryForMs?: number }]> = [
      ['mismatch', { hooks: ['mismatch'] }],
      ['down', { hooks: ['down'], retryForMs: 0 }],
    ];
    for (const [hook, sync] of cases) {
      calls = 0;
      const created = await cp.migrate(plan({ apps: ['shop'], sync }));
      const log = await cp.waitForMigration(created.id, finished, 30_000);
      assert.equal(log.status, 'rolled-back', hook);
      assert.equal(log.error?.code, 'NW_CP_SYNC_FAILED', hook);
      assert.equal(calls, 1, hook);
    }
  });

  it('refuses unknown apps, a second migration for a busy app, and unknown hooks — changing nothing', async () => {
    await assert.rejects(cp.migrate(plan({ apps: ['nope'] })), { code: 'NW_CP_UNKNOWN_APP' });
    await assert.rejects(cp.migrate(plan({ sync: { hooks: ['missing'] } })), { code: 'NW_CP_UNKNOWN_SYNC_HOOK' });
    let release!: () => void;
    hooks.set('slow', () => new Promise((r) => (release = () => r({}))));
    const first = await cp.migrate(plan({ apps: ['shop'], sync: { hooks: ['slow'] } }));
    await assert.rejects(cp.migrate(plan({ apps: ['cart', 'shop'] })), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NW_CP_APP_BUSY');
      assert.match(err.message, new RegExp(first.id));
      return true;
    });
    assert.equal(store.read(layout.lock('cart')), undefined, 'the failed migration locked nothing');
    assert.deepEqual(
      (await cp.status()).migrations.map((m) => m.id),
      [first.id],
    );
    await cp.waitForMigration(first.id, (l) => l.phase === 'sync', 10_000);
    await eventually(() => release !== undefined, { timeoutMs: 10_000, message: 'the slow hook is running' });
    release();
    assert.equal((await cp.waitForMigration(first.id, finished, 20_000)).status, 'done');
  });

  it('aborts mid-migration and rolls every app back to N1, losing no write', async () => {
    let release!: () => void;
    hooks.set('hold', () => new Promise((r) => (release = () => r({}))));
    const load = startLoad(fleet, 'shop');
    const created = await cp.migrate(plan({ sync: { hooks: ['hold'] } }));
    await cp.waitForMigration(created.id, (l) => l.phase === 'sync' && l.phaseStatus === 'started', 10_000);
    await eventually(() => release !== undefined, { timeoutMs: 10_000, message: 'the hold hook is running' });
    await cp.abort(created.id, 'test abort');
    release();
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    const results = await load.stop();
    assert.equal(log.status, 'rolled-back');
    for (const m of fleet.members) {
      assert.equal(m.gateway.getState().shop!.mode, 'serve');
      assert.equal(m.gateway.getState().cart!.mode, 'serve');
    }
    assert.equal(results.filter((r) => r.status !== 200).length, 0);
    // Every acknowledged write is on N1 (sync mirrored them to both, so N1 has all).
    assert.ok(results.length > 0);
    assert.equal(fleet.n1.store.size >= results.length, true);
    await assert.rejects(cp.abort(created.id), { code: 'NW_CP_MIGRATION_FINISHED' });
  });

  it('rolls back from proxy through a fence, with writes made at N2 already on N1', async () => {
    const load = startLoad(fleet, 'shop');
    const created = await cp.migrate(plan({ apps: ['shop'] }));
    await cp.pause(created.id);
    await cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), 10_000);
    await cp.resume(created.id);
    // Pause while proxy runs: the runner reads the request once proxy has completed and stops there.
    await cp.waitForMigration(created.id, (l) => l.phase === 'proxy', 10_000);
    await cp.pause(created.id);
    const paused = await cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), 10_000);
    assert.equal(paused.status, 'paused');
    assert.ok(
      paused.history.some((e) => e.event === 'phase-completed' && e.phase === 'proxy'),
      'paused after proxy: N2 has taken writes',
    );
    await eventually(() => load.served('n2') >= 16, { timeoutMs: 10_000, message: 'N2 serves writes while paused in proxy' });
    await cp.abort(created.id);
    const log = await cp.waitForMigration(created.id, finished, 20_000);
    const results = await load.stop();
    assert.equal(log.status, 'rolled-back');
    assert.ok(
      log.history.some((e) => e.event === 'rollback-step' && e.detail === 'fence'),
      'fenced before returning to N1',
    );
    assert.equal(results.filter((r) => r.status !== 200).length, 0);
    for (const [key, value] of fleet.n2.store) assert.equal(fleet.n1.store.get(key), value, `N2 write ${key} is on N1`);
  });

  it('a second control plane takes over when the leader goes away and finishes the migration', async () => {
    const cp2 = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-2', logger: silent, syncHooks: hooks });
    await cp2.start();
    assert.equal(cp2.isLeader(), false);
    let entered!: () => void;
    const inHook = new Promise<void>((r) => (entered = r));
    let calls = 0;
    hooks.set('once', async () => {
      calls += 1;
      if (calls === 1) {
        entered();
        await new Promise(() => undefined); // the first leader never returns from this hook
      }
      return { calls };
    });
    const created = await cp.migrate(plan({ sync: { hooks: ['once'] } }));
    await inHook;
    await cp.stop(); // leader leaves mid-sync
    const log = await cp2.waitForMigration(created.id, finished, 30_000);
    await cp2.stop();
    assert.equal(log.status, 'done');
    assert.ok(log.history.some((e) => e.event === 'leader' && e.detail === 'run by cp-2'));
    assert.equal(
      log.history.filter((e) => e.event === 'phase-started' && e.phase === 'sync').length,
      2,
      'sync ran again under the new leader',
    );
    cp = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-3', logger: silent });
    await cp.start();
  });

  it('rolls back automatically when N2 fails its health check, before changing anything', async () => {
    const created = await cp.migrate(plan({ prepare: { n2HealthUrls: ['http://127.0.0.1:1/healthz'], healthAttempts: 1 } }));
    const log = await cp.waitForMigration(created.id, finished, 10_000);
    assert.equal(log.status, 'rolled-back');
    assert.equal(log.error?.code, 'NW_CP_N2_UNHEALTHY');
    for (const m of fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve');
  });

  it('a barrier timeout rolls back and names the member that did not ack', async () => {
    await fleet.members[7]!.agent.stop();
    const created = await cp.migrate(plan({ barrierTimeoutMs: 300 }));
    const log = await cp.waitForMigration(created.id, finished, 15_000);
    assert.notEqual(log.status, 'done');
    assert.equal(log.error?.code, 'NW_CP_BARRIER_TIMEOUT');
    assert.match(log.error?.message ?? '', /gw-07/);
  });
});
