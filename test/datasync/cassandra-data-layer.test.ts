import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type cassandra from 'cassandra-driver';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { CassandraDataLayer, type SendInfo } from '../../datasync/layer/cassandra-data-layer.js';
import { parseDatastoreConfig } from '../../datasync/datastore/datastore-config.js';
import { WriteTimestampGenerator } from '../../datasync/layer/write-timestamp.js';
import { isSyncError, SyncError, type SyncErrorCode } from '../../datasync/errors.js';
import type { DataMode } from '../../protocol/app-state.js';
import { cassandraClient, connectTwoClusters, gate, settle, type TwoClusters } from '../support/data-layer-fixture.js';
import { eventually } from '../support/eventually.js';
import { recordingConsistency } from '../support/recording-client.js';
import { requireService } from '../support/service-endpoints.js';
import { provisionTree, removeChroot, zkClient } from '../support/zk-identities.js';

const mode = (datastore: DataMode['datastore']): DataMode => ({ datastore, cache: 'local' });

async function rejectsWith(p: Promise<unknown>, code: SyncErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isSyncError(err, code), `expected ${code}, got ${String((err as { code?: string }).code)}: ${(err as Error).message}`);
    return true;
  });
}

describe('CassandraDataLayer (real Cassandra n1/n2)', function () {
  this.timeout(120_000);
  let cl: TwoClusters;
  let kv: string;
  const layers: CassandraDataLayer[] = [];
  const layer = (opts: Partial<ConstructorParameters<typeof CassandraDataLayer>[0]> = {}): CassandraDataLayer => {
    const l = new CassandraDataLayer({ local: cl.n1, n2: cl.n2, ...opts });
    layers.push(l);
    return l;
  };

  /** The row's value and writetime at one cluster (undefined if absent). */
  const rowAt = async (c: cassandra.Client, k: string): Promise<{ v: string; wt: number } | undefined> => {
    const rs = await c.execute(`SELECT v, writetime(v) AS wt FROM ${kv} WHERE k = ?`, [k], { prepare: true });
    const row = rs.first();
    return row ? { v: row.get('v') as string, wt: Number(row.get('wt')) } : undefined;
  };

  before(async () => {
    cl = await connectTwoClusters('dl');
    await cl.createKvTable('kv');
    kv = `${cl.keyspace}.kv`;
  });

  afterEach(async () => {
    await Promise.allSettled(layers.splice(0).map((l) => l.close()));
  });

  after(async () => {
    await cl?.close();
  });

  it(
    'routes by mode: ' + "'local' writes and reads N1 only, 'copy-on-write' writes both with one writetime, 'n2' reads and writes N2 only",
    async () => {
      const dl = layer();
      const local = await dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['a', 'local']);
      assert.deepEqual(local.clusters, ['local']);
      assert.equal((await rowAt(cl.n1, 'a'))?.wt, local.timestamp, 'the client-side timestamp is the writetime');
      assert.equal(await rowAt(cl.n2, 'a'), undefined);

      await dl.apply(mode('copy-on-write'), 1);
      const cow = await dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['b', 'both']);
      assert.deepEqual([...cow.clusters].sort(), ['local', 'n2']);
      const [b1, b2] = [await rowAt(cl.n1, 'b'), await rowAt(cl.n2, 'b')];
      assert.deepEqual(b1, { v: 'both', wt: cow.timestamp });
      assert.deepEqual(b2, b1, 'same value and writetime on both sides');
      assert.equal(
        (await dl.read(`SELECT v FROM ${kv} WHERE k = ?`, ['a'])).first()?.get('v'),
        'local',
        'copy-on-write reads the local cluster',
      );

      const del = await dl.write(`DELETE FROM ${kv} WHERE k = ?`, ['b']);
      assert.ok(del.timestamp > cow.timestamp);
      assert.equal(await rowAt(cl.n1, 'b'), undefined);
      assert.equal(await rowAt(cl.n2, 'b'), undefined, 'deletes are copied too');

      await dl.apply(mode('n2'), 2);
      const n2 = await dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['c', 'n2 only']);
      assert.deepEqual(n2.clusters, ['n2']);
      assert.equal(await rowAt(cl.n1, 'c'), undefined);
      assert.equal((await dl.read(`SELECT v FROM ${kv} WHERE k = ?`, ['c'])).first()?.get('v'), 'n2 only', "'n2' reads N2");
      assert.equal((await dl.read(`SELECT v FROM ${kv} WHERE k = ?`, ['a'])).rowLength, 0, "'n2' does not read N1");
      assert.deepEqual(dl.stats().mode, 'n2');
    },
  );

  it('a logged batch carries one timestamp on both clusters', async () => {
    const dl = layer({ initialMode: 'copy-on-write' });
    const r = await dl.batch([
      { query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['batch-1', 'x'] },
      { query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['batch-2', 'y'] },
    ]);
    for (const c of [cl.n1, cl.n2]) {
      assert.equal((await rowAt(c, 'batch-1'))?.wt, r.timestamp);
      assert.equal((await rowAt(c, 'batch-2'))?.wt, r.timestamp);
    }
  });

  it(
    'copy-on-write succeeds only if both succeed: ' +
      'N2 unreachable → NW_SYNC_N2_UNAVAILABLE, N2 refusing the write → NW_SYNC_WRITE_FAILED',
    async () => {
      const unreachable = cassandraClient({ contactPoint: '127.0.0.1', port: 19_042, localDataCenter: 'datacenter1' }, 1000);
      try {
        const dl = layer({ n2: unreachable, initialMode: 'copy-on-write' });
        await rejectsWith(dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['n2-down', 'x']), 'NW_SYNC_N2_UNAVAILABLE');
      } finally {
        await unreachable.shutdown();
      }
      // N2 is up but has no such table: the write is rejected there.
      const ks2 = `${cl.keyspace}.only_at_n1`;
      await cl.n1.execute(`CREATE TABLE IF NOT EXISTS ${ks2} (k text PRIMARY KEY, v text)`);
      const dl = layer({ initialMode: 'copy-on-write' });
      await rejectsWith(dl.write(`INSERT INTO ${ks2} (k, v) VALUES (?, ?)`, ['x', 'y']), 'NW_SYNC_WRITE_FAILED');
    },
  );

  it(
    'a write that started under local and completes after the switch to copy-on-write ' +
      'is re-sent to N2 with the same timestamp; apply waits for it',
    async () => {
      const held = gate();
      let sends: SendInfo[] = [];
      const dl = layer({
        beforeSend: async (info) => {
          sends.push(info);
          if (info.attempt === 0 && info.cluster === 'local') await held.promise;
        },
      });
      const events: string[] = [];
      const write = dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['straddle', 'v1']).then((r) => {
        events.push('write done');
        return r;
      });
      await settle();
      const applied = dl.apply(mode('copy-on-write'), 5).then(() => events.push('apply done'));
      await settle(20);
      assert.deepEqual(events, [], 'apply waits while a write started under local is in flight');
      held.open();
      const r = await write;
      await applied;
      assert.deepEqual(events, ['write done', 'apply done']);
      assert.equal(r.retries, 1);
      assert.deepEqual(
        sends.map((s) => [s.cluster, s.attempt, s.timestamp === r.timestamp]),
        [
          ['local', 0, true],
          ['n2', 1, true],
        ],
      );
      const [a, b] = [await rowAt(cl.n1, 'straddle'), await rowAt(cl.n2, 'straddle')];
      assert.deepEqual(a, { v: 'v1', wt: r.timestamp });
      assert.deepEqual(b, a, 'the row is at N2 with the same writetime');
      assert.equal(dl.stats().retried, 1);
      sends = [];
    },
  );

  it('a write overtaken by several switches is re-sent to each newly required cluster only', async () => {
    const firstN2 = gate();
    const firstLocal = gate();
    const dl = layer({
      initialMode: 'n2',
      maxRetries: 1,
      beforeSend: async (info) => {
        if (info.attempt === 0) await firstN2.promise;
        if (info.attempt === 1) await firstLocal.promise;
      },
    });
    const write = dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['flip-flop', 'v']);
    await settle();
    const toLocal = dl.apply(mode('local'), 1);
    firstN2.open();
    await settle(20);
    const toCow = dl.apply(mode('copy-on-write'), 2);
    firstLocal.open();
    const r = await write;
    await Promise.all([toLocal, toCow]);
    assert.equal(r.retries, 1);
    assert.deepEqual([...r.clusters].sort(), ['local', 'n2']);
    assert.equal((await rowAt(cl.n1, 'flip-flop'))?.wt, r.timestamp);
    assert.equal((await rowAt(cl.n2, 'flip-flop'))?.wt, r.timestamp);
  });

  it('retries exhausted: a straddling write with no re-sends left fails with NW_SYNC_WRITE_RETRIES_EXHAUSTED', async () => {
    const held = gate();
    const dl = layer({ maxRetries: 0, beforeSend: () => held.promise });
    const write = dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['exhausted', 'v']);
    await settle();
    const applied = dl.apply(mode('copy-on-write'), 1);
    held.open();
    await rejectsWith(write, 'NW_SYNC_WRITE_RETRIES_EXHAUSTED');
    await applied;
    assert.equal(await rowAt(cl.n2, 'exhausted'), undefined, 'never reached N2');
    assert.equal(dl.stats().exhausted, 1);
  });

  it("'each-quorum' writes the local cluster at EACH_QUORUM whatever the caller asked (no N2 client needed)", async () => {
    // The real client, its calls recorded: what the layer asks the driver for (the two-datacenter
    // suite checks that such a write then waits for the other datacenter).
    const asked: Array<number | undefined> = [];
    const recording = recordingConsistency(cl.n1, asked);
    const { types } = (await import('cassandra-driver')).default;
    const dl = new CassandraDataLayer({ local: recording });
    layers.push(dl);
    await dl.apply(mode('each-quorum'), 1);
    const w = await dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['eq', 'v1'], { consistency: types.consistencies.one });
    assert.deepEqual(w.clusters, ['local']);
    await dl.batch([{ query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['eq-batch', 'v'] }]);
    assert.deepEqual((await rowAt(cl.n1, 'eq'))?.v, 'v1');
    assert.equal(await rowAt(cl.n2, 'eq'), undefined, 'N2 (another cluster here) is not written');
    await dl.apply(mode('local'), 2);
    await dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['eq', 'v2'], { consistency: types.consistencies.one });
    const { eachQuorum, one } = types.consistencies;
    assert.deepEqual(asked, [eachQuorum, eachQuorum, one]);
  });

  it('its ack report: the mode, the epoch it entered it with, the last timestamp before, and the writes under it that failed', async () => {
    const timestamps = new WriteTimestampGenerator();
    const dl = layer({ timestamps });
    assert.deepEqual(dl.ackReport(), {}, 'nothing before the first state');
    await dl.apply(mode('local'), 3);
    assert.deepEqual(dl.ackReport().datastore, { mode: 'local', sinceEpoch: 3, writesThroughUs: 0, failures: 0, inFlight: 0 });
    const before = await dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['report', 'local']);
    await dl.apply(mode('each-quorum'), 5);
    const report = () => dl.ackReport().datastore;
    assert.deepEqual(report(), { mode: 'each-quorum', sinceEpoch: 5, writesThroughUs: before.timestamp, failures: 0, inFlight: 0 });
    // A write the cluster refuses (here: a table that does not exist) counts; so would a timeout.
    await assert.rejects(dl.write(`INSERT INTO ${cl.keyspace}.no_such_table (k, v) VALUES (?, ?)`, ['report', 'x']));
    const after = await dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['report', 'each-quorum']);
    assert.ok(after.timestamp > before.timestamp);
    await dl.apply(mode('each-quorum'), 6);
    assert.deepEqual(
      report(),
      { mode: 'each-quorum', sinceEpoch: 5, writesThroughUs: before.timestamp, failures: 1, inFlight: 0 },
      'the same mode: kept',
    );
    await dl.apply(mode('local'), 7);
    assert.deepEqual(
      report(),
      { mode: 'local', sinceEpoch: 7, writesThroughUs: timestamps.peek(), failures: 0, inFlight: 0 },
      'a new mode: counted afresh',
    );
    // A write sent under the old mode that fails once the new one is in force is not the new mode's.
    const held = gate();
    const straddler = layer({ timestamps, beforeSend: () => held.promise });
    await straddler.apply(mode('local'), 1);
    const failing = straddler.write(`INSERT INTO ${cl.keyspace}.no_such_table (k, v) VALUES (?, ?)`, ['report', 'y']);
    await settle();
    const switching = straddler.apply(mode('each-quorum'), 2);
    held.open();
    await assert.rejects(failing);
    await switching;
    assert.equal(straddler.ackReport().datastore?.failures, 0);
  });

  it('refuses modes that need N2 without an N2 client, stale epochs are no-ops, and a closed layer refuses work', async () => {
    const noN2 = new CassandraDataLayer({ local: cl.n1 });
    await rejectsWith(noN2.apply(mode('copy-on-write'), 1), 'NW_SYNC_CONFIG_INVALID');
    const dl = layer();
    await dl.apply(mode('copy-on-write'), 7);
    await dl.apply(mode('local'), 6);
    assert.equal(dl.mode, 'copy-on-write', 'an older epoch does not switch back');
    await dl.close();
    await rejectsWith(dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['closed', 'v']), 'NW_SYNC_DATALAYER_CLOSED');
    await assert.rejects(dl.read(`SELECT v FROM ${kv} WHERE k = ?`, ['closed']), (e: unknown) =>
      isSyncError(e, 'NW_SYNC_DATALAYER_CLOSED'),
    );
  });

  it('a write guard that refuses stops writes, batches and transactions before any cluster is touched', async () => {
    let refuse = true;
    const dl = layer({ writeGuard: () => (refuse ? new SyncError('NW_SYNC_LEASE_EXPIRED', 'test') : undefined) });
    await rejectsWith(dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['guarded', 'v']), 'NW_SYNC_LEASE_EXPIRED');
    await rejectsWith(dl.batch([{ query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['guarded', 'v'] }]), 'NW_SYNC_LEASE_EXPIRED');
    assert.equal(await rowAt(cl.n1, 'guarded'), undefined);
    refuse = false;
    await dl.write(`INSERT INTO ${kv} (k, v) VALUES (?, ?)`, ['guarded', 'v']);
    assert.equal((await rowAt(cl.n1, 'guarded'))?.v, 'v');
  });

  it('write timestamps are strictly increasing even when the clock stands still or goes back', () => {
    let now = 1_700_000_000_000;
    const g = new WriteTimestampGenerator(() => now);
    const a = g.next();
    const b = g.next();
    now -= 5;
    const c = g.next();
    now += 1000;
    const d = g.next();
    assert.deepEqual([a, b, c], [1_700_000_000_000_000, 1_700_000_000_000_001, 1_700_000_000_000_002]);
    assert.equal(d, now * 1000);
  });

  it('config: errors name the field', () => {
    const ok = parseDatastoreConfig({ local: { contactPoints: ['127.0.0.2'], localDataCenter: 'datacenter1' }, keyspace: 'shop' });
    assert.equal(ok.maxRetries, 3);
    assert.equal(ok.local.port, 9042);
    assert.ok(Object.isFrozen(ok));
    assert.throws(
      () =>
        parseDatastoreConfig(
          { local: { contactPoints: [], localDataCenter: 'dc' }, keyspace: 'shop', n2: { contactPoints: ['x'] } },
          'app.yaml',
        ),
      (e: unknown) =>
        isSyncError(e, 'NW_SYNC_CONFIG_INVALID') &&
        /app\.yaml/.test((e as Error).message) &&
        /local\.contactPoints/.test((e as Error).message) &&
        /n2\.localDataCenter/.test((e as Error).message),
    );
    assert.throws(
      () => parseDatastoreConfig({ local: { contactPoints: ['a'], localDataCenter: 'dc' }, keyspace: 'bad-name' }),
      (e: unknown) => /keyspace/.test((e as Error).message),
    );
    assert.throws(
      () => parseDatastoreConfig({ local: { contactPoints: ['a'], localDataCenter: 'dc' }, keyspace: 'ks', retries: 3 }),
      (e: unknown) => isSyncError(e, 'NW_SYNC_CONFIG_INVALID') && /retries/.test((e as Error).message),
    );
  });

  describe('entity-group transactions (ZooKeeper locks)', () => {
    const zk = requireService('zookeeper');
    const chroot = `/nw-dl-${randomBytes(4).toString('hex')}`;
    const sessions: ZooKeeperCoordinator[] = [];
    const where = { connectString: zk.connectString, chroot, sessionTimeoutMs: 10_000, connectTimeoutMs: 15_000, opTimeoutMs: 15_000 };
    // App servers take their locks as fleet members.
    const session = async (): Promise<ZooKeeperCoordinator> => {
      const c = zkClient('member', where);
      await c.connect();
      sessions.push(c);
      return c;
    };

    before(() => provisionTree(where));

    after(async () => {
      await Promise.allSettled(sessions.map((s) => s.close()));
      await removeChroot(zk.connectString, chroot);
    });

    it(
      'serialises two concurrent transactions on one entity group across two app servers; ' +
        'each is one batch with one timestamp on both clusters',
      async () => {
        const events: string[] = [];
        const holdA = gate();
        const a = layer({
          initialMode: 'copy-on-write',
          locks: { coordinator: await session(), app: 'shop' },
          beforeSend: async (i) => {
            if (i.cluster === 'local') events.push('A sends');
            await holdA.promise;
          },
        });
        const b = layer({
          initialMode: 'copy-on-write',
          locks: { coordinator: await session(), app: 'shop' },
          beforeSend: async (i) => {
            // A's batch must be committed on each cluster before B sends there (this hook holds B's own send,
            // so the read sees A's or nothing).
            const c = i.cluster === 'local' ? cl.n1 : cl.n2;
            events.push(`B sends to ${i.cluster}, sees ${(await rowAt(c, 'user:1/cart'))?.v ?? 'nothing'}`);
          },
        });
        const stmts = (who: string) => [
          { query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['user:1', who] },
          { query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['user:1/cart', who] },
        ];
        const txA = a.transaction('user:1', stmts('A'));
        await eventually(() => events.includes('A sends'), { timeoutMs: 10_000, intervalMs: 10, message: 'A holds the lock and sends' });
        const txB = b.transaction('user:1', stmts('B'));
        // Kept as a sleep: B must not send while A holds the lock; give it 300 ms to (wrongly) go ahead.
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual(events, ['A sends'], 'B waits for the lock while A holds it');
        holdA.open();
        const [ra, rb] = await Promise.all([txA, txB]);
        assert.deepEqual(events.slice(0, 1), ['A sends']);
        assert.deepEqual(events.slice(1).sort(), ['B sends to local, sees A', 'B sends to n2, sees A']);
        assert.ok(rb.timestamp > ra.timestamp);
        for (const c of [cl.n1, cl.n2]) {
          assert.deepEqual(await rowAt(c, 'user:1'), { v: 'B', wt: rb.timestamp });
          assert.deepEqual(await rowAt(c, 'user:1/cart'), { v: 'B', wt: rb.timestamp });
        }
        const left = await sessions[0]!.children(layout.dataLock('shop', encodeURIComponent('user:1')));
        assert.ok(left === undefined || left.length === 0, 'no lock node is left behind');
      },
    );

    it('lock timeout: NW_SYNC_LOCK_TIMEOUT, and the waiter removes its node', async () => {
      const holdA = gate();
      const c = await session();
      let aSends = false;
      const a = layer({
        locks: { coordinator: c, app: 'shop' },
        beforeSend: () => {
          aSends = true;
          return holdA.promise;
        },
      });
      const b = layer({ locks: { coordinator: await session(), app: 'shop', timeoutMs: 300 } });
      const txA = a.transaction('order:9', [{ query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['order:9', 'A'] }]);
      await eventually(() => aSends, { timeoutMs: 10_000, intervalMs: 10, message: 'A holds the lock and sends' });
      await rejectsWith(
        b.transaction('order:9', [{ query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['order:9', 'B'] }]),
        'NW_SYNC_LOCK_TIMEOUT',
      );
      const waiting = await c.children(layout.dataLock('shop', encodeURIComponent('order:9')));
      assert.equal(waiting?.length, 1, "only A's lock node remains");
      holdA.open();
      await txA;
      assert.equal((await rowAt(cl.n1, 'order:9'))?.v, 'A');
    });
  });

  it('lock lost: a session that expires while waiting gets NW_SYNC_LOCK_LOST and writes nothing (embedded coordinator)', async () => {
    const store = new EmbeddedStore();
    const holder = new EmbeddedCoordinator(store);
    const waiter = new EmbeddedCoordinator(store);
    await holder.connect();
    await waiter.connect();
    const holdA = gate();
    const a = layer({ locks: { coordinator: holder, app: 'shop' }, beforeSend: () => holdA.promise });
    const b = layer({ locks: { coordinator: waiter, app: 'shop', timeoutMs: 30_000 } });
    const txA = a.transaction('g', [{ query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['lost', 'A'] }]);
    await settle(20);
    const txB = b.transaction('g', [{ query: `INSERT INTO ${kv} (k, v) VALUES (?, ?)`, params: ['lost', 'B'] }]);
    await settle(20);
    waiter.expire();
    await rejectsWith(txB, 'NW_SYNC_LOCK_LOST');
    holdA.open();
    const ra = await txA;
    assert.deepEqual(await rowAt(cl.n1, 'lost'), { v: 'A', wt: ra.timestamp });
    await holder.close();
  });
});
