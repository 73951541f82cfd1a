// The datastore's replicate strategy with its control planes as real processes (`northwest serve`)
// on the ZooKeeper ensemble: the leader is killed with SIGKILL while `nodetool rebuild` streams to
// dc2, and the standby, elected once the dead leader's session expired, runs the sync again and
// ends the migration. Writes flow through two gateways for the whole migration; the checks read
// what dc2 alone holds. It starts (and stops) the two-datacenter cluster of scripts/cassandra-dc.sh,
// as the replicate suite does: `npm test` runs it on its own after that suite (scripts/test.sh),
// also `npm run test:cassandra-dc`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import cassandra from 'cassandra-driver';
import { request } from 'undici';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import type { MigrationPlanInput } from '../../controlplane/migration/plan.js';
import { CassandraDataLayer } from '../../datasync/layer/cassandra-data-layer.js';
import { DataLayerMember } from '../../datasync/layer/data-layer-member.js';
import { CassandraStore } from '../../loadgen/reference-app/cassandra-store.js';
import { startReferenceApp } from '../../loadgen/reference-app/reference-app.js';
import { createLogger } from '../../platform/logger.js';
import { startTwoDataCenters, type TwoDataCenters } from '../support/cassandra-dc.js';
import { spawnControlPlane, type ControlPlaneChild } from '../support/control-plane-process.js';
import { eventually } from '../support/eventually.js';
import { startFleet } from '../support/fleet-harness.js';
import { descendantsOf, stillRunning } from '../support/process-tree.js';
import { recordingConsistency } from '../support/recording-client.js';
import { assertNoWriteFailed, missingAt, rowsAt, startWrites } from '../support/replicate-writes.js';
import { requireService } from '../support/service-endpoints.js';
import { controlPlaneCoordinatorConfig, provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const TOKEN = 'replicate-leader-kill-token';
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
/** The control planes' session: the standby is elected this long after the leader died. */
const CP_SESSION_MS = 4000;
const PRELOAD = 20_000;
const silent = createLogger('silent');

async function adminGet<T>(cp: ControlPlaneChild, path: string): Promise<T> {
  const res = await request(`${cp.adminUrl}${path}`, { headers: AUTH });
  const body = (await res.body.json()) as T;
  assert.equal(res.statusCode, 200, `GET ${path}: ${JSON.stringify(body)}`);
  return body;
}

/** Why a migration stopped where it did: its error and its last events, for an assertion's message. */
const why = (l: MigrationLog): string =>
  JSON.stringify({
    status: l.status,
    phase: l.phase,
    error: l.error,
    last: l.history.slice(-8).map((e) => `${e.event} ${e.phase ?? ''} ${e.detail ?? ''}`.trim()),
  });

describe('datastore replicate strategy: the control-plane leader process killed (SIGKILL) mid-rebuild', function () {
  this.timeout(300_000);
  const zk = requireService('zookeeper');
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

  it('the standby is elected, runs the sync again and ends it: no write failed, every row and acked write at dc2', async () => {
    const cleanups: Array<() => Promise<unknown>> = [];
    const chroot = `/nw-rep-kill-${randomBytes(4).toString('hex')}`;
    const where = { connectString: zk.connectString, chroot, sessionTimeoutMs: 15_000, connectTimeoutMs: 15_000, opTimeoutMs: 15_000 };
    const keyspace = `nw_repkill_${randomBytes(4).toString('hex')}`;
    const table = `${keyspace}.kv`;
    let leader: ControlPlaneChild | undefined;
    let standby: ControlPlaneChild | undefined;
    try {
      await provisionTree(where);
      cleanups.push(() => removeChroot(zk.connectString, chroot));
      await admin1.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 1}`);
      cleanups.push(() => admin1.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined));
      await admin1.execute(`CREATE TABLE ${table} (k text PRIMARY KEY, v text)`);
      // Values that do not compress (the streamed SSTables are compressed): the rebuild carries about 4 MB.
      const preloaded = Array.from({ length: PRELOAD }, (_, i) => ({
        key: `pre-${i}`,
        value: `p${i}-${randomBytes(150).toString('base64')}`,
      }));
      for (let i = 0; i < preloaded.length; i += 256)
        await Promise.all(
          preloaded
            .slice(i, i + 256)
            .map((p) => admin1.execute(`INSERT INTO ${table} (k, v) VALUES (?, ?)`, [p.key, p.value], { prepare: true })),
        );

      // N1's and N2's app servers, each writing its own datacenter through a data layer that is a
      // fleet member on the ensemble (the window's switch and the fence's barriers wait for it).
      const clients = { n1: dcs.client('dc1'), n2: dcs.client('dc2') };
      cleanups.push(() => Promise.allSettled([clients.n1.shutdown(), clients.n2.shutdown()]));
      const n1Consistencies: Array<number | undefined> = [];
      const dataLayer = async (side: 'n1' | 'n2') => {
        let member: DataLayerMember | undefined;
        const layer = new CassandraDataLayer({
          local: side === 'n1' ? recordingConsistency(clients.n1, n1Consistencies) : clients.n2,
          logger: silent,
          writeGuard: () => member?.writeGuard('shop')(),
        });
        cleanups.push(() => layer.close());
        const coordinator = zkClient('member', where);
        cleanups.push(() => coordinator.close());
        member = new DataLayerMember({ coordinator, memberId: `datalayer-${side}`, apps: { shop: [layer] } });
        await member.start();
        const started = member;
        cleanups.push(() => started.stop());
        const app = await startReferenceApp({ deployment: side, store: new CassandraStore(layer, { keyspace }) });
        cleanups.push(() => app.close());
        return app;
      };
      const apps = { n1: await dataLayer('n1'), n2: await dataLayer('n2') };
      const fleet = await startFleet({
        size: 2,
        coordinator: () => zkClient('member', where),
        apps: ['shop'],
        upstreams: { n1: apps.n1.url, n2: apps.n2.url },
      });
      cleanups.push(() => fleet.close());

      // Two control-plane processes, each with the datastore hook of the replicate strategy.
      const cpConfig = (id: string) => ({
        id,
        coordinator: controlPlaneCoordinatorConfig({ connectString: zk.connectString, chroot, sessionTimeoutMs: CP_SESSION_MS }),
        admin: { host: '127.0.0.1', port: 0 },
        log: { level: 'info' },
        sync: {
          datastore: {
            n1: { contactPoints: [dcs.dc1.contactPoint], port: dcs.dc1.port, localDataCenter: 'dc1' },
            n2: { contactPoints: [dcs.dc2.contactPoint], port: dcs.dc2.port, localDataCenter: 'dc2' },
            tables: [table],
            ranges: 16,
            concurrency: 4,
            replicate: {
              nodetool: { command: [...dcs.nodetoolCommand], timeoutMs: 60_000 },
              n2Nodes: [{ host: '127.0.0.1', jmxPort: dcs.dc2.jmxPort }],
              rebuildTimeoutMs: 120_000,
              writeTimeoutMs: 2000,
            },
          },
        },
      });
      leader = await spawnControlPlane(cpConfig('cp-1'), TOKEN);
      cleanups.push(() => leader!.stop());
      assert.match(leader.output(), /"cp-1" is up \(zookeeper coordinator, leader\)/);
      standby = await spawnControlPlane(cpConfig('cp-2'), TOKEN);
      cleanups.push(() => standby!.stop());
      assert.match(standby.output(), /"cp-2" is up \(zookeeper coordinator, standby\)/);

      const writes = startWrites(fleet, 'c');
      cleanups.push(() => writes.stop());
      await eventually(() => writes.acked().length >= 20, { timeoutMs: 20_000, message: 'N1 serves writes' });
      const plan: MigrationPlanInput = {
        apps: ['shop'],
        barrierTimeoutMs: 10_000,
        sync: { mode: 'none', hooks: ['datastore'], retryForMs: 120_000 },
        fence: { maxHoldMs: 45_000 },
        proxy: { mirrorWritesToN1: false },
        datastore: { strategy: 'replicate', replicate: { lagWaitMs: 30_000, drainTimeoutMs: 20_000 } },
      };
      // The rebuild (about 4 MB) at 200 KB/s each way: it still streams when the standby takes over
      // (the leader's session expires 4 s after the kill), so the new leader finds it running and
      // waits; then the link is given its speed back (the app's writes replicate over it too).
      await dcs.slowLink(200);
      cleanups.push(() => dcs.slowLink(undefined));
      const res = await request(`${leader.adminUrl}/migrations`, { method: 'POST', headers: AUTH, body: JSON.stringify(plan) });
      const created = (await res.body.json()) as MigrationLog;
      assert.equal(res.statusCode, 201, JSON.stringify(created));

      await eventually(
        async () => {
          const rs = await admin2.execute('SELECT operation, status FROM system_views.streaming');
          return rs.rows.some((r) => r.get('operation') === 'Rebuild' && ['init', 'start'].includes(String(r.get('status'))));
        },
        { timeoutMs: 120_000, intervalMs: 50, message: 'the rebuild streams to dc2' },
      );
      // What the leader runs at that moment: its nodetool rebuild. Killed, the leader leaves it behind
      // (re-parented, it waits on the rebuild in dc2, which goes on); checked at the end.
      const orphans = descendantsOf(leader.pid);
      assert.ok(
        orphans.some((p) => /NodeTool/.test(p.cmdline) && / rebuild /.test(p.cmdline)),
        `the leader's nodetool rebuild runs when it is killed: ${JSON.stringify(orphans.map((p) => p.cmdline.slice(0, 200)))}`,
      );
      leader.child.kill('SIGKILL');
      assert.equal(await leader.exited, 'SIGKILL');
      await eventually(
        async () => {
          const l = await adminGet<MigrationLog>(standby!, `/migrations/${created.id}`);
          return l.history.some((e) => e.event === 'note' && /started earlier still streams: waiting for it/.test(e.detail ?? ''));
        },
        { timeoutMs: 60_000, intervalMs: 100, message: "the new leader waits for the dead leader's rebuild" },
      );
      await dcs.slowLink(undefined);

      const log = await eventually(
        async () => {
          const l = await adminGet<MigrationLog>(standby!, `/migrations/${created.id}`);
          assert.ok(l.status !== 'running', `still running (phase ${l.phase})`);
          return l;
        },
        { timeoutMs: 120_000, intervalMs: 250, message: 'the migration ends under the standby' },
      );
      assert.equal(log.status, 'done', `${why(log)}\n--- cp-2:\n${standby.output().slice(-4000)}`);
      await eventually(() => writes.acked().filter((r) => r.served === 'n2').length >= 20, {
        timeoutMs: 20_000,
        message: 'N2 serves writes after the handover',
      });
      const all = await writes.stop();
      assert.deepEqual(
        log.history.filter((e) => e.event === 'leader').map((e) => e.detail),
        ['run by cp-1', 'run by cp-2'],
        'cp-1 ran it, then cp-2 took over',
      );
      assert.equal(
        log.history.filter((e) => e.event === 'phase-started' && e.phase === 'sync').length,
        2,
        'the sync ran again under the new leader',
      );
      const sync = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'sync')?.data?.hooks as {
        datastore: { rebuild: { rebuilds: number; waitedForRunning: number } };
      };
      assert.equal(sync.datastore.rebuild.waitedForRunning, 1, "the new leader found the dead leader's rebuild streaming and waited");
      assert.equal(sync.datastore.rebuild.rebuilds, 1, 'then its own rebuild (resumed) ran to its end');
      assert.equal((await adminGet<{ leader: string }>(standby, '/status')).leader, 'cp-2');
      assert.ok(n1Consistencies.includes(cassandra.types.consistencies.eachQuorum), 'N1 wrote at EACH_QUORUM in the window');

      assertNoWriteFailed(all);
      const acked = all.filter((r) => r.status === 200);
      const atDc2 = await rowsAt(admin2, table);
      assert.deepEqual(missingAt(atDc2, preloaded).slice(0, 10), [], 'every preloaded row reached dc2');
      assert.deepEqual(missingAt(atDc2, acked).slice(0, 10), [], 'every acknowledged write is at dc2');

      // Nothing of the killed process runs on: its nodetool ended with the rebuild it had asked for.
      await eventually(() => orphans.filter(stillRunning).length === 0, {
        timeoutMs: 30_000,
        message: `nothing of the killed leader left running: ${orphans.map((p) => `${p.pid} ${p.cmdline.slice(0, 120)}`).join('; ')}`,
      });
    } finally {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }
  });
});
