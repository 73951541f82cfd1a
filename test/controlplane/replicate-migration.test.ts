// The datastore's replicate strategy on a real two-datacenter Cassandra cluster (scripts/cassandra-dc.sh:
// dc1 = N1's datacenter, dc2 = N2's): N1's and N2's reference apps write their own datacenter through
// the data layer, gateways route between them, and the control plane adds dc2 to the keyspace, rebuilds
// it, verifies, gates on the replication lag and drains at the fence. The checks read what each
// datacenter holds, not response headers. `npm test` runs it on its own (scripts/test.sh), also
// `npm run test:cassandra-dc` (about 7 minutes; with --exit, as snapshot-restart: after a node was
// killed, cassandra-driver can keep a reconnecting socket open past Client.shutdown()).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import cassandra from 'cassandra-driver';
import { ControlPlane } from '../../controlplane/control-plane.js';
import type { DnsSteps } from '../../controlplane/migration/migration-hooks.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan, type MigrationPlanInput } from '../../controlplane/migration/plan.js';
import { createSyncHooks, type SyncHooks } from '../../controlplane/sync/sync-hooks.js';
import { ControlError } from '../../controlplane/errors.js';
import { CassandraDataLayer } from '../../datasync/layer/cassandra-data-layer.js';
import type { DataModeTarget } from '../../datasync/layer/data-mode-target.js';
import { DataLayerMember } from '../../datasync/layer/data-layer-member.js';
import { CassandraStore } from '../../loadgen/reference-app/cassandra-store.js';
import { startReferenceApp, type ReferenceApp } from '../../loadgen/reference-app/reference-app.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { measureLag, overLimit } from '../../datasync/replication/replication-lag.js';
import { startTwoDataCenters, type TwoDataCenters, CASSANDRA_DC_SCRIPT } from '../support/cassandra-dc.js';
import { eventually } from '../support/eventually.js';
import { recordingConsistency } from '../support/recording-client.js';
import { startFleet, type Fleet } from '../support/fleet-harness.js';
import { assertNoWriteFailed, isHostSpeedFailure, missingAt, rowsAt, startWrites, type Ack } from '../support/replicate-writes.js';

const silent = createLogger('silent');
const cassandraTypes = cassandra.types;
// NW_TEST_CP_LOG=info: the control plane's log (sync progress, retries) on stderr, to see where a step waits.
const cpLogger = process.env.NW_TEST_CP_LOG
  ? createLogger(process.env.NW_TEST_CP_LOG as 'info', {}, (l) => process.stderr.write(l))
  : silent;
const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';
/**
 * Resumes a paused migration and waits until its runner took the resume: a read right after
 * `resume()` can still find the pause, and a wait for "paused or finished" would end on it.
 */
async function resumeMigration(cp: ControlPlane, id: string): Promise<void> {
  const resumes = (l: MigrationLog) => l.history.filter((e) => e.event === 'resumed').length;
  const before = resumes(await cp.getMigration(id));
  await cp.resume(id);
  await cp.waitForMigration(id, (l) => resumes(l) > before || finished(l), 60_000);
}

/** Why a migration stopped where it did: its error and its last events, for an assertion's message. */
const why = (l: MigrationLog): string =>
  JSON.stringify({
    status: l.status,
    phase: l.phase,
    error: l.error,
    last: l.history.slice(-6).map((e) => `${e.event} ${e.phase ?? ''} ${e.detail ?? ''}`.trim()),
  });

/**
 * Waits until the lag toward dc2 has stayed within the plan's default limit for `forMs` (hints are
 * listed only once their file is closed, ~10 s after the writes that made them): what an operator
 * watches before resuming a migration that the lag paused.
 */
async function lagSettled(admin1: cassandra.Client, admin2: cassandra.Client, forMs: number): Promise<number> {
  const t0 = performance.now();
  let since: number | undefined;
  await eventually(
    async () => {
      const over = overLimit(await measureLag({ from: admin1, fromDc: 'dc1', to: admin2, toDc: 'dc2' }), {
        hintFiles: 0,
        outboundMessages: 100,
        streams: 0,
      });
      const now = performance.now();
      since = over === undefined ? (since ?? now) : undefined;
      return since !== undefined && now - since >= forMs;
    },
    { timeoutMs: 180_000, intervalMs: 500, message: `the lag toward dc2 within the limit for ${forMs} ms` },
  );
  return Math.round(performance.now() - t0);
}

/** N1 goes on acknowledging writes (20 more) while the migration is held. */
async function keepsServing(writes: { acked(): Ack[] }, message: string): Promise<void> {
  const before = writes.acked().length;
  await eventually(() => writes.acked().length >= before + 20, { timeoutMs: 20_000, message });
}

async function replicationOf(client: cassandra.Client, keyspace: string): Promise<Record<string, string>> {
  const rs = await client.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], { prepare: true });
  return rs.first().get('replication') as Record<string, string>;
}

describe('datastore replicate strategy (two-datacenter Cassandra, scripts/cassandra-dc.sh)', function () {
  this.timeout(300_000);
  let dcs: TwoDataCenters;
  let admin1: cassandra.Client;
  let admin2: cassandra.Client;

  before(async function () {
    this.timeout(320_000);
    dcs = await startTwoDataCenters();
    admin1 = dcs.client('dc1');
    admin2 = dcs.client('dc2');
    await Promise.all([admin1.connect(), admin2.connect()]);
  });
  after(async function () {
    this.timeout(120_000);
    await Promise.allSettled([admin1?.shutdown(), admin2?.shutdown()]);
    await dcs?.stop();
  });

  interface Env {
    readonly keyspace: string;
    readonly table: string;
    readonly store: EmbeddedStore;
    readonly fleet: Fleet;
    readonly cp: ControlPlane;
    /** The coordinator session of `cp` (expire() it to crash the leader). */
    readonly cpCoordinator: EmbeddedCoordinator;
    /** Another control-plane process: its own coordinator session and sync hooks (own Cassandra clients). */
    standby(id: string): Promise<ControlPlane>;
    readonly apps: { readonly n1: ReferenceApp; readonly n2: ReferenceApp };
    readonly preloaded: Array<{ key: string; value: string }>;
    /** The consistency level of every write N1's data layer sent (undefined: the client's default). */
    readonly n1Consistencies: ReadonlyArray<number | undefined>;
    close(): Promise<void>;
  }

  /**
   * A keyspace on dc1 only (NTS, or SimpleStrategy), `preload` rows written before the migration,
   * N1's app on dc1 and N2's on dc2, two gateways, one control plane with the datastore hook.
   */
  async function setup(o: {
    preload: number;
    simpleStrategy?: boolean;
    nodetool?: readonly string[];
    dns?: DnsSteps;
    /** N1's data layer fails this many writes once it is at EACH_QUORUM (standing in for a write timeout). */
    failWindowWrites?: number;
    /**
     * N1's data layer holds its apply of the third state at EACH_QUORUM (the switch, the fence, then
     * the fence's confirmation) for this long: its member does not ack the confirmation in time.
     */
    holdConfirmationMs?: number;
  }): Promise<Env> {
    const keyspace = `nw_rep_${randomBytes(4).toString('hex')}`;
    const table = `${keyspace}.kv`;
    const replication = o.simpleStrategy
      ? "{'class': 'SimpleStrategy', 'replication_factor': 1}"
      : "{'class': 'NetworkTopologyStrategy', 'dc1': 1}";
    await admin1.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${replication}`);
    await admin1.execute(`CREATE TABLE ${table} (k text PRIMARY KEY, v text)`);
    const preloaded = Array.from({ length: o.preload }, (_, i) => ({ key: `pre-${i}`, value: `p${i}-${'x'.repeat(200)}` }));
    for (let i = 0; i < preloaded.length; i += 256)
      await Promise.all(
        preloaded
          .slice(i, i + 256)
          .map((p) => admin1.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [p.key, p.value], { prepare: true })),
      );
    const clients = { n1: dcs.client('dc1'), n2: dcs.client('dc2') };
    const store = new EmbeddedStore();
    // Each app server's data layer is a fleet member (the barrier of a data-mode switch waits for
    // it) and refuses writes while its lease has lapsed, as in production.
    const consistencies: Array<number | undefined> = [];
    let windowFailuresLeft = o.failWindowWrites ?? 0;
    const dataLayer = (side: 'n1' | 'n2') => {
      let member: DataLayerMember | undefined;
      const layer: CassandraDataLayer = new CassandraDataLayer({
        local: side === 'n1' ? recordingConsistency(clients.n1, consistencies) : clients.n2,
        logger: silent,
        writeGuard: () => member?.writeGuard('shop')(),
        beforeSend: () => {
          if (side !== 'n1' || windowFailuresLeft === 0 || layer.mode !== 'each-quorum') return;
          windowFailuresLeft -= 1;
          throw new Error('a write timeout at EACH_QUORUM (injected)');
        },
      });
      let eachQuorumApplies = 0;
      const held: DataModeTarget = {
        name: layer.name,
        apply: async (mode, epoch) => {
          if (side === 'n1' && o.holdConfirmationMs !== undefined && mode.datastore === 'each-quorum' && ++eachQuorumApplies === 3)
            await new Promise((r) => setTimeout(r, o.holdConfirmationMs));
          return layer.apply(mode, epoch);
        },
        ackReport: () => layer.ackReport(),
      };
      member = new DataLayerMember({ coordinator: new EmbeddedCoordinator(store), memberId: `datalayer-${side}`, apps: { shop: [held] } });
      return { layer, member };
    };
    const data = { n1: dataLayer('n1'), n2: dataLayer('n2') };
    await Promise.all([data.n1.member.start(), data.n2.member.start()]);
    const layers = { n1: data.n1.layer, n2: data.n2.layer };
    const apps = {
      n1: await startReferenceApp({ deployment: 'n1', store: new CassandraStore(layers.n1, { keyspace }) }),
      n2: await startReferenceApp({ deployment: 'n2', store: new CassandraStore(layers.n2, { keyspace }) }),
    };
    const fleet = await startFleet({
      size: 2,
      coordinator: () => new EmbeddedCoordinator(store),
      apps: ['shop'],
      upstreams: { n1: apps.n1.url, n2: apps.n2.url },
    });
    const processes: Array<{ cp: ControlPlane; sync: SyncHooks; hooksCoordinator: EmbeddedCoordinator }> = [];
    /** One control-plane process: its coordinator sessions, its sync hooks, its control plane. */
    const controlPlane = async (id: string) => {
      const hooksCoordinator = new EmbeddedCoordinator(store);
      await hooksCoordinator.connect();
      const sync: SyncHooks = createSyncHooks(
        {
          datastore: {
            n1: {
              contactPoints: [dcs.dc1.contactPoint],
              port: 9042,
              localDataCenter: 'dc1',
              requestTimeoutMs: 12_000,
              connectTimeoutMs: 5000,
            },
            n2: {
              contactPoints: [dcs.dc2.contactPoint],
              port: 9042,
              localDataCenter: 'dc2',
              requestTimeoutMs: 12_000,
              connectTimeoutMs: 5000,
            },
            tables: [table],
            ranges: 16,
            concurrency: 4,
            pageSize: 500,
            maxRecopies: 0,
            createMissing: false,
            replicate: {
              nodetool: { command: [...(o.nodetool ?? dcs.nodetoolCommand)], timeoutMs: 60_000 },
              n2Nodes: [{ host: '127.0.0.1', jmxPort: dcs.dc2.jmxPort }],
              rebuildTimeoutMs: 120_000,
              writeTimeoutMs: 2000,
            },
          },
        },
        { coordinator: hooksCoordinator, logger: cpLogger },
      );
      const coordinator = new EmbeddedCoordinator(store);
      const cp = new ControlPlane({
        coordinator,
        id,
        logger: cpLogger,
        syncHooks: sync.hooks,
        ...(o.dns ? { dns: o.dns } : {}),
      });
      await cp.start();
      processes.push({ cp, sync, hooksCoordinator });
      return { cp, coordinator };
    };
    const first = await controlPlane('cp-1');
    return {
      keyspace,
      table,
      store,
      fleet,
      cp: first.cp,
      cpCoordinator: first.coordinator,
      standby: async (id) => (await controlPlane(id)).cp,
      apps,
      preloaded,
      n1Consistencies: consistencies,
      async close() {
        for (const p of processes) {
          await p.cp.stop();
          await p.sync.close();
          await p.hooksCoordinator.close();
        }
        await fleet.close();
        await Promise.allSettled([apps.n1.close(), apps.n2.close()]);
        await Promise.allSettled([data.n1.member.stop(), data.n2.member.stop()]);
        await Promise.allSettled([layers.n1.close(), layers.n2.close()]);
        await Promise.allSettled([clients.n1.shutdown(), clients.n2.shutdown()]);
        await admin1.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      },
    };
  }

  const plan = (p: Partial<MigrationPlanInput> = {}) =>
    parsePlan({
      apps: ['shop'],
      barrierTimeoutMs: 10_000,
      sync: { mode: 'none', hooks: ['datastore'], retryForMs: 120_000 },
      fence: { maxHoldMs: 45_000 },
      proxy: { mirrorWritesToN1: false },
      // 30 s for the lag to come within its limit: a cold cluster's first minute can leave hints that
      // are listed (and delivered) only seconds later. The tests of the lag pause set their own.
      datastore: { strategy: 'replicate', replicate: { lagWaitMs: 30_000, drainTimeoutMs: 20_000 } },
      ...p,
    });

  /** An operator's resume once the lag stayed within the limit for 12 s; the log once it ended or paused again. */
  const resumeOnceSettled = async (cp: ControlPlane, id: string, timeoutMs: number): Promise<MigrationLog> => {
    await lagSettled(admin1, admin2, 12_000);
    await resumeMigration(cp, id);
    return cp.waitForMigration(id, (l) => finished(l) || l.status === 'paused', timeoutMs);
  };

  /** Every preloaded row and every write the clients saw acknowledged is at dc2 (read there alone). */
  const assertAllAtDc2 = async (env: Env, all: readonly Ack[], message: string): Promise<void> => {
    const atDc2 = await rowsAt(admin2, env.table);
    assert.deepEqual(missingAt(atDc2, [...env.preloaded, ...all.filter((r) => r.status === 200)]).slice(0, 10), [], message);
  };

  it('moves the data with the engine under writes: every write N1 acknowledged is at dc2 when N2 serves; finalize drops dc1', async () => {
    const env = await setup({ preload: 3000 });
    try {
      const writes = startWrites(env.fleet, 'a');
      await eventually(() => writes.acked().length >= 50, { timeoutMs: 20_000, message: 'N1 serves writes before the migration' });
      // The window first in the fence phase (the `windowIn: sync` default is the next test's).
      const created = await env.cp.migrate(
        plan({ datastore: { strategy: 'replicate', replicate: { lagWaitMs: 30_000, drainTimeoutMs: 20_000, windowIn: 'fence' } } }),
      );
      // At the fence no write is acknowledged anywhere: record what N1 acknowledged up to then.
      // A pause ends the wait too: the assertion then says why (a lag gate, a barrier) at once.
      const log = await env.cp.waitForMigration(created.id, (l) => finished(l) || l.status === 'paused', 240_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      const acked = all.filter((r) => r.status === 200);
      const byN1 = acked.filter((r) => r.served === 'n1');
      const byN2 = acked.filter((r) => r.served === 'n2');
      assert.ok(byN1.length > 0 && byN2.length > 0, `both sides served writes (n1 ${byN1.length}, n2 ${byN2.length})`);
      assertNoWriteFailed(all);

      // What dc2 alone answers (its own replicas, LOCAL_ONE): the preloaded rows (rebuild), every
      // write N1 acknowledged (replication, drained at the fence) and N2's own.
      const atDc2 = await rowsAt(admin2, env.table);
      assert.deepEqual(missingAt(atDc2, env.preloaded), [], 'the rebuild brought every preloaded row');
      assert.deepEqual(missingAt(atDc2, byN1).slice(0, 10), [], 'every write N1 acknowledged is at dc2');
      assert.deepEqual(missingAt(atDc2, byN2).slice(0, 10), [], "N2's writes are at dc2");

      const sync = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'sync')?.data?.hooks as {
        datastore: {
          strategy: string;
          rebuild: { rebuilds: number };
          verify: { rangesChecked: number };
          replication: Record<string, unknown>;
        };
      };
      assert.equal(sync.datastore.strategy, 'replicate');
      assert.equal(sync.datastore.rebuild.rebuilds, 1);
      assert.ok(sync.datastore.verify.rangesChecked > 0);
      assert.deepEqual(sync.datastore.replication[env.keyspace], { dc1: 1, dc2: 1 });
      // The EACH_QUORUM window (the plan's default), writes still flowing: the switch, then every
      // row written before it compared between the datacenters; at the fence nothing was left to drain.
      const fenceData = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'fence')?.data as {
        beforeFence: { datastore: { window: { windowMs: number; verify: { rowsCompared: number; passes: number } } } };
        hooks: { datastore: { window: string; drainMs: number } };
      };
      const window = fenceData.beforeFence.datastore.window;
      assert.ok(window.verify.passes >= 1 && window.windowMs > 0, JSON.stringify(window));
      assert.ok(window.verify.rowsCompared >= env.preloaded.length, 'the window compared every row written before it');
      // The data layers acked once more at the fence: in the mode since the switch, no failed write.
      assert.deepEqual(
        { ...fenceData.hooks.datastore, durationMs: 0, confirmMs: 0 },
        { window: 'each-quorum', drainMs: 0, durationMs: 0, confirmMs: 0 },
      );
      const eachQuorum = env.n1Consistencies.filter((c) => c === cassandraTypes.consistencies.eachQuorum).length;
      assert.ok(eachQuorum > 0, 'N1 wrote at EACH_QUORUM in the window (writes flowed through it)');
      assert.ok(
        log.history.some((e) => e.event === 'note' && /replicated to dc2 too/.test(e.detail ?? '')),
        'the replication change is in the log',
      );
      assert.deepEqual(await replicationOf(admin1, env.keyspace), {
        class: 'org.apache.cassandra.locator.NetworkTopologyStrategy',
        dc1: '1',
        dc2: '1',
      });

      // N1's datacenter stays a replica until an operator finalizes.
      const fin = await env.cp.finalize(created.id);
      assert.deepEqual((fin.hooks.datastore as { dropped: string[] }).dropped, [env.keyspace]);
      assert.deepEqual(await replicationOf(admin2, env.keyspace), {
        class: 'org.apache.cassandra.locator.NetworkTopologyStrategy',
        dc2: '1',
      });
      const after = await rowsAt(admin2, env.table);
      assert.deepEqual(missingAt(after, [...env.preloaded, ...acked]).slice(0, 10), [], 'dc2 still answers every row after finalize');
      const notes = (await env.cp.getMigration(created.id)).history.filter((e) => e.event === 'note').map((e) => e.detail ?? '');
      assert.ok(notes.some((d) => /datastore \(finalize\): repaired/.test(d)));
      assert.ok(notes.includes('finalized'));
    } finally {
      await env.close();
    }
  });

  it('windowIn sync (the default): the sync ends with the EACH_QUORUM window, the fence phase finds it done; nothing lost', async () => {
    const env = await setup({ preload: 500 });
    try {
      const writes = startWrites(env.fleet, 's');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      const created = await env.cp.migrate(
        plan({ datastore: { strategy: 'replicate', replicate: { lagWaitMs: 30_000, windowIn: 'sync' } } }),
      );
      const log = await env.cp.waitForMigration(created.id, (l) => finished(l) || l.status === 'paused', 240_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      const completed = (phase: string) => log.history.find((e) => e.event === 'phase-completed' && e.phase === phase)?.data;
      const sync = completed('sync') as { hooks: { datastore: { window: { windowMs: number; verify: { rowsCompared: number } } } } };
      assert.ok(sync.hooks.datastore.window.verify.rowsCompared >= env.preloaded.length, 'the sync step ran the window');
      const fence = completed('fence') as { beforeFence: { datastore: { window: string } }; hooks: { datastore: { drainMs: number } } };
      assert.equal(fence.beforeFence.datastore.window, 'done in sync');
      assert.equal(fence.hooks.datastore.drainMs, 0);
      // The switch is noted in the sync phase, once.
      const switches = log.history.filter((e) => e.event === 'note' && /data layers → datastore each-quorum/.test(e.detail ?? ''));
      assert.deepEqual(
        switches.map((e) => e.phase),
        ['sync'],
      );
      assert.ok(env.n1Consistencies.includes(cassandraTypes.consistencies.eachQuorum));
      assertNoWriteFailed(all);
      const atDc2 = await rowsAt(admin2, env.table);
      assert.deepEqual(missingAt(atDc2, [...env.preloaded, ...all.filter((r) => r.status === 200)]).slice(0, 10), [], 'nothing lost');
    } finally {
      await env.close();
    }
  });

  it('a write that failed at EACH_QUORUM in the window: its data layer says so at the fence, which drains; nothing lost', async () => {
    // Such a write may have reached dc1 only, over an older value dc2 never got: no digest can tell.
    const env = await setup({ preload: 300, failWindowWrites: 1 });
    try {
      const writes = startWrites(env.fleet, 'f');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      const created = await env.cp.migrate(plan());
      const log = await env.cp.waitForMigration(created.id, (l) => finished(l) || l.status === 'paused', 240_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      const fence = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'fence')?.data as {
        hooks: { datastore: { window: string; drainMs: number; writeTimeoutMs: number; digest: { passes: number } } };
      };
      // The injected failure, and any window write the slow host timed out besides: the layer counts each.
      const failed = all.filter((r) => r.status !== 200);
      const injected = failed.filter((r) => r.failure?.includes('a write timeout at EACH_QUORUM (injected)'));
      assert.equal(injected.length, 1, `the injected write failed: ${JSON.stringify(failed.slice(0, 3))}`);
      assert.deepEqual(
        failed.filter((r) => !injected.includes(r) && !isHostSpeedFailure(r)),
        [],
        'only the injected write failed, but for window write timeouts (the host)',
      );
      assert.equal(fence.hooks.datastore.window, `drain (data layer datalayer-n1 (shop): ${failed.length} write(s) at EACH_QUORUM failed)`);
      assert.ok(fence.hooks.datastore.drainMs >= fence.hooks.datastore.writeTimeoutMs, JSON.stringify(fence.hooks.datastore));
      assert.ok(fence.hooks.datastore.digest.passes >= 1, 'the drain compared every row with no write in flight');
      await assertAllAtDc2(env, all, 'nothing lost');
    } finally {
      await env.close();
    }
  });

  it("a data layer that does not ack the fence's confirmation in time: the fence drains instead; nothing lost", async () => {
    // The confirmation's barrier waits barrierTimeoutMs (3 s here); the data layer acks 5 s late.
    const env = await setup({ preload: 300, holdConfirmationMs: 5000 });
    try {
      const writes = startWrites(env.fleet, 'h');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      const created = await env.cp.migrate(plan({ barrierTimeoutMs: 3000 }));
      const log = await env.cp.waitForMigration(created.id, (l) => finished(l) || l.status === 'paused', 240_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      const fence = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'fence')?.data as {
        hooks: { datastore: { window: string; drainMs: number; writeTimeoutMs: number } };
      };
      assert.match(fence.hooks.datastore.window, /^drain \(the data layers' confirmation failed: .*datalayer-n1/);
      assert.ok(fence.hooks.datastore.drainMs >= fence.hooks.datastore.writeTimeoutMs, JSON.stringify(fence.hooks.datastore));
      assertNoWriteFailed(all);
      await assertAllAtDc2(env, all, 'nothing lost');
    } finally {
      await env.close();
    }
  });

  it('the lag limit holds the fence: dc2 paused (SIGSTOP) after its rebuild pauses the migration in sync; resumed, it ends', async () => {
    // nodetool through a wrapper that pauses dc2 right after a successful rebuild, while a flag file exists.
    const flag = path.join(tmpdir(), `nw-pause-dc2-${randomBytes(3).toString('hex')}`);
    writeFileSync(flag, '');
    const wrapper = [
      'bash',
      '-c',
      `bash "$0" "$@" || exit $?; if [[ "$*" == *rebuild* && -f ${flag} ]]; then rm -f ${flag}; kill -STOP "$(cat ${dcs.dc2.pidFile})"; fi`,
      CASSANDRA_DC_SCRIPT,
      'nodetool',
    ];
    const env = await setup({ preload: 500, nodetool: wrapper });
    try {
      const writes = startWrites(env.fleet, 'l');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      writes.fault(true); // from here until dc2 is back: the wrapper pauses it right after its rebuild
      const created = await env.cp.migrate(
        plan({ datastore: { strategy: 'replicate', replicate: { lagWaitMs: 30_000, onLagLimit: 'pause' } } }),
      );
      const held = await env.cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), 120_000);
      assert.equal(held.status, 'paused', JSON.stringify(held.error));
      assert.match(held.error?.message ?? '', /NW_SYNC_REPLICATION_LAG|replication toward the next side/);
      assert.match(held.error?.message ?? '', /unreadable: 127\.0\.0\.5/);
      assert.equal(held.phase, 'sync');
      assert.ok(!held.history.some((e) => e.event === 'phase-started' && e.phase === 'fence'), 'no fence while dc2 lags');
      await keepsServing(writes, 'N1 keeps serving while paused');

      // The writes dc2 missed are hints, delivered once it is back: an operator resumes once the lag stays within the limit.
      dcs.resume('dc2');
      writes.fault(false);
      const log = await resumeOnceSettled(env.cp, created.id, 180_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      const acked = all.filter((r) => r.status === 200);
      assertNoWriteFailed(all);
      const atDc2 = await rowsAt(admin2, env.table);
      assert.deepEqual(
        missingAt(atDc2, [...env.preloaded, ...acked]).slice(0, 10),
        [],
        'every acknowledged write is at dc2 (hints delivered)',
      );
    } finally {
      // SIGCONT whatever happened: a node left paused would fail every later test.
      dcs.resume('dc2');
      rmSync(flag, { force: true });
      await env.close();
    }
  });

  it('the lag limit holds the fence phase too: dc2 paused while an operator held the migration after sync; no write held', async () => {
    const env = await setup({ preload: 500 });
    try {
      const writes = startWrites(env.fleet, 'g');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      const created = await env.cp.migrate(
        plan({ datastore: { strategy: 'replicate', replicate: { lagWaitMs: 20_000, drainTimeoutMs: 20_000 } } }),
      );
      const rebuilt = (l: MigrationLog) => l.history.some((e) => e.event === 'note' && /dc2 rebuilt from dc1/.test(e.detail ?? ''));
      await env.cp.waitForMigration(created.id, (l) => rebuilt(l) || finished(l), 120_000);
      // Read when the sync phase ends: the migration stops between sync and fence, its lag gate passed.
      await env.cp.pause(created.id);
      const between = await env.cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), 120_000);
      assert.equal(between.status, 'paused', JSON.stringify(between.error));
      assert.equal(between.phase, 'sync');
      assert.equal(between.phaseStatus, 'completed');

      writes.fault(true);
      dcs.pause('dc2');
      await env.cp.resume(created.id);
      const held = await env.cp.waitForMigration(created.id, (l) => (l.status === 'paused' && l.phase === 'fence') || finished(l), 120_000);
      assert.equal(held.status, 'paused', `the fence phase waits for the lag, no drain with writes held: ${JSON.stringify(held.error)}`);
      assert.match(
        held.error?.message ?? '',
        /datastore \(beforeFence\): replication toward the next side stayed over the plan's lag limit/,
      );
      assert.match(held.error?.message ?? '', /unreadable: 127\.0\.0\.5/);
      for (const m of env.fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'serve', 'no write was held');
      await keepsServing(writes, 'N1 keeps serving while paused');

      // The writes dc2 missed are hints, delivered once it is back: an operator resumes once the lag stays within the limit.
      dcs.resume('dc2');
      writes.fault(false);
      const log = await resumeOnceSettled(env.cp, created.id, 180_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      assertNoWriteFailed(all);
      const atDc2 = await rowsAt(admin2, env.table);
      assert.deepEqual(missingAt(atDc2, [...env.preloaded, ...all.filter((r) => r.status === 200)]).slice(0, 10), [], 'nothing lost');
    } finally {
      dcs.resume('dc2');
      await env.close();
    }
  });

  it('the datacenter link cut (Toxiproxy) in sync, after the rebuild: the sync pauses, no write failed; healed, nothing lost', async () => {
    // nodetool through a wrapper that cuts the link right after a successful rebuild, while a flag file exists.
    const flag = path.join(tmpdir(), `nw-cut-link-${randomBytes(3).toString('hex')}`);
    writeFileSync(flag, '');
    const cut = dcs.link.proxies.map((name) => `curl -fsS -X POST -d '{"enabled": false}' ${dcs.link.apiUrl}/proxies/${name} >/dev/null`);
    const wrapper = [
      'bash',
      '-c',
      `bash "$0" "$@" || exit $?; if [[ "$*" == *rebuild* && -f ${flag} ]]; then rm -f ${flag}; ${cut.join('; ')}; fi`,
      CASSANDRA_DC_SCRIPT,
      'nodetool',
    ];
    const env = await setup({ preload: 500, nodetool: wrapper });
    try {
      const writes = startWrites(env.fleet, 'y');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      writes.fault(true); // from here until the link is healed: the wrapper cuts it right after the rebuild
      // No queued message allowed toward dc2: writes queue on the cut link at once, so the gate
      // right after the rebuild already sees it.
      const created = await env.cp.migrate(
        plan({ datastore: { strategy: 'replicate', replicate: { lagWaitMs: 10_000, lagLimit: { outboundMessages: 0 } } } }),
      );
      const held = await env.cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), 180_000);
      assert.equal(held.status, 'paused', why(held));
      assert.equal(held.phase, 'sync', why(held));
      assert.match(held.error?.message ?? '', /queued message|hint file/);
      assert.ok(!held.history.some((e) => e.event === 'phase-started' && e.phase === 'fence'), 'no fence while the link is cut');
      await keepsServing(writes, 'N1 keeps serving while the link is cut');

      await dcs.healLink();
      writes.fault(false);
      const log = await resumeOnceSettled(env.cp, created.id, 240_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      assertNoWriteFailed(all);
      await assertAllAtDc2(env, all, 'every acknowledged write is at dc2 (hints delivered once the link was back)');
    } finally {
      rmSync(flag, { force: true });
      await dcs.healLink();
      await env.close();
    }
  });

  it('the datacenter link cut (Toxiproxy) before the fence: the lag gate holds it, no write held; healed, nothing lost', async () => {
    const env = await setup({ preload: 500 });
    try {
      const writes = startWrites(env.fleet, 'x');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      const created = await env.cp.migrate(
        plan({ datastore: { strategy: 'replicate', replicate: { lagWaitMs: 15_000, drainTimeoutMs: 20_000 } } }),
      );
      const rebuilt = (l: MigrationLog) => l.history.some((e) => e.event === 'note' && /dc2 rebuilt from dc1/.test(e.detail ?? ''));
      await env.cp.waitForMigration(created.id, (l) => rebuilt(l) || finished(l), 120_000);
      await env.cp.pause(created.id);
      const between = await env.cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), 120_000);
      assert.equal(between.status, 'paused', why(between));
      assert.equal(between.phase, 'sync');

      // Both nodes still answer their clients; only the storage traffic between them is cut. Writes
      // N1 acknowledges meanwhile (LOCAL level) miss dc2: the lag shows them (queued, then hinted).
      writes.fault(true);
      await dcs.cutLink();
      await eventually(
        async () =>
          overLimit(await measureLag({ from: admin1, fromDc: 'dc1', to: admin2, toDc: 'dc2' }), {
            hintFiles: 0,
            outboundMessages: 100,
            streams: 0,
          }) !== undefined,
        { timeoutMs: 90_000, intervalMs: 500, message: 'the lag toward dc2 shows the cut' },
      );
      await env.cp.resume(created.id);
      const held = await env.cp.waitForMigration(created.id, (l) => (l.status === 'paused' && l.phase === 'fence') || finished(l), 120_000);
      assert.equal(held.status, 'paused', why(held));
      assert.match(
        held.error?.message ?? '',
        /datastore \(beforeFence\): replication toward the next side stayed over the plan's lag limit/,
      );
      assert.match(held.error?.message ?? '', /hint file|queued message/);
      for (const m of env.fleet.members) {
        assert.equal(m.gateway.getState().shop!.mode, 'serve', 'no write was held');
        assert.notEqual(m.gateway.getState().shop!.data?.datastore, 'each-quorum', 'no write waits for dc2');
      }
      await keepsServing(writes, 'N1 keeps serving while the link is cut');

      // Healed, the queued messages and hints drain; an operator resumes once the lag stays within the limit.
      await dcs.healLink();
      writes.fault(false);
      const log = await resumeOnceSettled(env.cp, created.id, 240_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      assertNoWriteFailed(all);
      await assertAllAtDc2(env, all, 'every acknowledged write is at dc2 (hints delivered once the link was back)');
    } finally {
      await dcs.healLink();
      await env.close();
    }
  });

  it('dc2 paused in the EACH_QUORUM window: the layers go back to their own level, it pauses; resumed, nothing is lost', async () => {
    const env = await setup({ preload: 500 });
    try {
      const writes = startWrites(env.fleet, 'q');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      const created = await env.cp.migrate(
        // A clock skew allowance of 3 s keeps the window open that long before its digests: the pause lands in it.
        plan({
          datastore: {
            strategy: 'replicate',
            replicate: { lagWaitMs: 20_000, drainTimeoutMs: 20_000, clockSkewMs: 3000, windowIn: 'fence' },
          },
        }),
      );
      // The window's switch is seen in the gateways' state.
      const inWindow = () => env.fleet.members.every((m) => m.gateway.getState().shop?.data?.datastore === 'each-quorum');
      await eventually(inWindow, { timeoutMs: 180_000, intervalMs: 10, message: 'the EACH_QUORUM window opens' });
      dcs.pause('dc2');
      const held = await env.cp.waitForMigration(created.id, (l) => l.status === 'paused' || finished(l), 120_000);
      assert.equal(held.status, 'paused', why(held));
      assert.equal(held.phase, 'fence');
      assert.match(held.error?.message ?? '', /EACH_QUORUM window|unreadable: 127\.0\.0\.5/);
      for (const m of env.fleet.members) {
        assert.equal(m.gateway.getState().shop!.mode, 'serve', 'no write was held');
        assert.equal(m.gateway.getState().shop!.data?.datastore, 'local', 'the layers are back at their own level');
      }
      // Writes at N1's own level pass again while dc2 stays paused; only those that waited on dc2 in the window failed.
      const ackedBefore = writes.acked().length;
      await eventually(() => writes.acked().length >= ackedBefore + 20, { timeoutMs: 20_000, message: 'N1 keeps serving while paused' });
      // The writes dc2 missed while paused are hints, delivered once it is back: an operator resumes once the lag stays within the limit.
      dcs.resume('dc2');
      const log = await resumeOnceSettled(env.cp, created.id, 180_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      // One closed-loop writer per gateway; each write that waited on the paused dc2 failed after the
      // write timeout (2 s) until the window failed (its next reading: 0.5 s, plus 2 s to time out) and
      // the layers went back.
      const failed = all.filter((r) => r.status !== 200);
      assert.ok(failed.length <= 6 * env.fleet.members.length, `only writes of the window failed (${failed.length})`);
      const atDc2 = await rowsAt(admin2, env.table);
      assert.deepEqual(missingAt(atDc2, [...env.preloaded, ...all.filter((r) => r.status === 200)]).slice(0, 10), [], 'nothing lost');
    } finally {
      dcs.resume('dc2');
      await env.close();
    }
  });

  it('rolls back from N2 (a failed DNS switch) with the drain toward dc1: every write N2 acknowledged is at dc1', async () => {
    let failSwitch!: () => void;
    const switchFails = new Promise<void>((r) => (failSwitch = r));
    const dns: DnsSteps = {
      lowerTtl: async () => ({ notBefore: new Date().toISOString(), before: [], data: {} }),
      switch: async () => {
        await switchFails;
        throw new ControlError('NW_CP_DNS_ERROR', 'test: the switch fails once N2 took writes');
      },
      restore: async () => ({}),
    };
    const env = await setup({ preload: 500, dns });
    try {
      const writes = startWrites(env.fleet, 'r');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      const created = await env.cp.migrate(
        plan({ dns: { zoneId: 'Z1', records: [{ name: 'shop.test', type: 'A', values: ['10.0.0.2'] }], skipTtlWait: true } }),
      );
      await eventually(() => writes.acked().filter((r) => r.served === 'n2').length >= 100, {
        timeoutMs: 180_000,
        message: 'N2 serves writes',
      });
      failSwitch();
      const log = await env.cp.waitForMigration(created.id, finished, 120_000);
      const all = await writes.stop();
      assert.equal(log.status, 'rolled-back', why(log));
      const steps = log.history.filter((e) => e.event === 'rollback-step').map((e) => e.detail);
      assert.deepEqual(steps, ['fence', 'dns-restore', 'sync-hooks', 'serve']);
      const drain = log.history.find((e) => e.event === 'rollback-step' && e.detail === 'sync-hooks')?.data as {
        datastore: { drainMs: number; digest: { rowsCompared: number } };
      };
      assert.ok(drain.datastore.digest.rowsCompared >= env.preloaded.length, 'the rollback compared every row at dc1 and dc2');
      const acked = all.filter((r) => r.status === 200);
      const byN2 = acked.filter((r) => r.served === 'n2');
      assert.ok(byN2.length >= 100);
      const atDc1 = await rowsAt(admin1, env.table);
      assert.deepEqual(missingAt(atDc1, acked).slice(0, 10), [], "every acknowledged write, N2's included, is at dc1");
      assert.ok(all.filter((r) => r.served === 'n1' && r.status === 200).length > byN2.length / 10, 'N1 serves again after the rollback');
    } finally {
      failSwitch();
      await env.close();
    }
  });

  it('dc2 killed mid-rebuild: the sync runs the rebuild again once dc2 is back, it resumes, and nothing is lost', async () => {
    const env = await setup({ preload: 20_000 });
    try {
      const writes = startWrites(env.fleet, 'k');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      const created = await env.cp.migrate(plan({ datastore: { strategy: 'replicate', replicate: { lagWaitMs: 30_000 } } }));
      await eventually(
        async () => {
          const rs = await admin2.execute('SELECT operation, status FROM system_views.streaming');
          return rs.rows.some((r) => r.get('operation') === 'Rebuild' && ['init', 'start'].includes(String(r.get('status'))));
        },
        { timeoutMs: 120_000, intervalMs: 50, message: 'the rebuild streams to dc2' },
      );
      await dcs.kill('dc2');
      await dcs.start('dc2');
      // A pause ends the wait too: the assertion then says why (a lag gate, a barrier) at once.
      const log = await env.cp.waitForMigration(created.id, (l) => finished(l) || l.status === 'paused', 240_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      const retries = log.history.filter(
        (e) => e.event === 'note' && /^datastore: NW_SYNC_(REBUILD_FAILED|NODETOOL_FAILED|DATASTORE_UNAVAILABLE)/.test(e.detail ?? ''),
      );
      assert.ok(retries.length >= 1, 'the sync step failed with the node and was run again');
      const acked = all.filter((r) => r.status === 200);
      const atDc2 = await rowsAt(admin2, env.table);
      assert.deepEqual(missingAt(atDc2, env.preloaded).slice(0, 10), [], 'every preloaded row reached dc2');
      assert.deepEqual(missingAt(atDc2, acked).slice(0, 10), [], 'every acknowledged write is at dc2');
    } finally {
      await env.close();
    }
  });

  it('the leader killed mid-rebuild: a second control plane runs the sync again, the rebuild resumes, nothing is lost', async () => {
    const env = await setup({ preload: 20_000 });
    try {
      const standby = await env.standby('cp-2');
      const writes = startWrites(env.fleet, 'c');
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      // This one ends with the other final window: the drain at the fence, writes held.
      const created = await env.cp.migrate(
        plan({ datastore: { strategy: 'replicate', replicate: { lagWaitMs: 30_000, drainTimeoutMs: 20_000, finalWindow: 'drain' } } }),
      );
      await eventually(
        async () => {
          const rs = await admin2.execute('SELECT operation, status FROM system_views.streaming');
          return rs.rows.some((r) => r.get('operation') === 'Rebuild' && ['init', 'start'].includes(String(r.get('status'))));
        },
        { timeoutMs: 120_000, intervalMs: 50, message: 'the rebuild streams to dc2' },
      );
      // A crash: the leader's coordinator session is gone and it stops; the rebuild it asked for goes on in dc2.
      env.cpCoordinator.expire();
      await env.cp.stop();
      const log = await standby.waitForMigration(created.id, finished, 240_000);
      const all = await writes.stop();
      assert.equal(log.status, 'done', why(log));
      assert.ok(
        log.history.some((e) => e.event === 'leader' && e.detail === 'run by cp-2'),
        'cp-2 took over',
      );
      assert.equal(
        log.history.filter((e) => e.event === 'phase-started' && e.phase === 'sync').length,
        2,
        'the sync ran again under the new leader',
      );
      const sync = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'sync')?.data?.hooks as {
        datastore: { rebuild: { rebuilds: number; waitedForRunning: number } };
      };
      assert.equal(sync.datastore.rebuild.rebuilds, 1, "the new leader's rebuild ran to its end");
      const fence = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'fence')?.data?.hooks as {
        datastore: { writeTimeoutMs: number; drainMs: number; digest: { rowsCompared: number } };
      };
      assert.ok(fence.datastore.drainMs >= 2000, `the drain waited out the write timeout, writes held (${fence.datastore.drainMs} ms)`);
      assert.ok(fence.datastore.digest.rowsCompared >= env.preloaded.length, 'the fence compared every row');
      assert.ok(!env.n1Consistencies.includes(cassandraTypes.consistencies.eachQuorum), 'no write at EACH_QUORUM with the drain');
      assertNoWriteFailed(all);
      const acked = all.filter((r) => r.status === 200);
      const atDc2 = await rowsAt(admin2, env.table);
      assert.deepEqual(missingAt(atDc2, env.preloaded).slice(0, 10), [], 'every preloaded row reached dc2');
      assert.deepEqual(missingAt(atDc2, acked).slice(0, 10), [], 'every acknowledged write is at dc2');
    } finally {
      await env.close();
    }
  });
});
