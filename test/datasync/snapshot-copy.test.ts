// The datastore snapshot copy N1 → N2 against the real Cassandra clusters: values and write times
// copied, newer N2 writes win, re-runs are harmless, resume from checkpoints in ZooKeeper, verify,
// typed errors for schema problems and an unreachable N2.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type cassandra from 'cassandra-driver';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { isSyncError, type SyncError } from '../../datasync/errors.js';
import { createProgressSink, type SnapshotProgress } from '../../datasync/datastore/copy-progress.js';
import { runSnapshot } from '../../datasync/datastore/snapshot-copy.js';
import { SnapshotCheckpoints } from '../../datasync/datastore/snapshot-checkpoints.js';
import { splitRing, MIN_TOKEN, MAX_TOKEN } from '../../datasync/datastore/token-ranges.js';
import { requireService } from '../support/service-endpoints.js';
import { zkClient } from '../support/zk-identities.js';
import {
  BASE_MICROS,
  EVENTS_DDL,
  cassandraClient,
  createKeyspace,
  dumpTable,
  loadEvents,
  micros,
  uniqueKeyspace,
} from '../support/snapshot-fixture.js';

async function rejectsWith(p: Promise<unknown>, code: SyncError['code']): Promise<SyncError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isSyncError(err, code), `expected ${code}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

describe('sync: token ranges', () => {
  it('split the whole Murmur3 ring into contiguous ranges', () => {
    for (const n of [1, 3, 64, 1000]) {
      const r = splitRing(n);
      assert.equal(r.length, n);
      assert.equal(r[0]!.start, MIN_TOKEN);
      assert.equal(r[n - 1]!.end, MAX_TOKEN);
      for (let i = 1; i < n; i++) assert.equal(r[i]!.start, r[i - 1]!.end);
      for (const x of r) assert.ok(x.end > x.start);
    }
  });
});

describe('sync: snapshot progress line', () => {
  const p: SnapshotProgress = {
    phase: 'copy',
    table: 'ks.t',
    rangesTotal: 4,
    rangesDone: 1,
    rangesSkipped: 0,
    rows: 10,
    bytes: 2000,
    rowsPerSec: 5,
    fraction: 0.25,
    etaSeconds: 6,
    elapsedMs: 2000,
  };
  const sinkFor = (isTTY: boolean): { out: string[]; seen: SnapshotProgress[]; sink: ReturnType<typeof createProgressSink> } => {
    const out: string[] = [];
    const seen: SnapshotProgress[] = [];
    const sink = createProgressSink({
      onProgress: (x) => seen.push(x),
      stream: { isTTY, write: (c: string) => out.push(c) > 0 },
      intervalMs: 0,
    });
    return { out, seen, sink };
  };

  it('draws rows/s and ETA on a terminal', () => {
    const { out, seen, sink } = sinkFor(true);
    sink.update(p);
    sink.finish();
    assert.equal(seen.length, 1);
    assert.match(out.join(''), /ranges 1\/4, 10 rows .* 5 rows\/s, 25\.0 %, ETA 6s/);
    assert.ok(out.join('').endsWith('\n'));
  });

  it('cuts redraws to the terminal width; the last line is whole', () => {
    const out: string[] = [];
    const sink = createProgressSink({ stream: { isTTY: true, columns: 40, write: (c: string) => out.push(c) > 0 }, intervalMs: 0 });
    sink.update(p);
    sink.finish();
    assert.equal(out.length, 2);
    assert.match(out[0]!, /^\r\x1b\[K.{39}$/, 'one row, the last column free');
    assert.match(out[1]!, /^\r\x1b\[Ksnapshot copy ks\.t: .*ETA 6s\n$/);
  });

  it('is quiet when stderr is not a terminal, but still calls onProgress', () => {
    const { out, seen, sink } = sinkFor(false);
    sink.update(p);
    sink.finish();
    assert.equal(seen.length, 1);
    assert.deepEqual(out, []);
  });
});

describe('sync: datastore snapshot copy N1 → N2', function () {
  this.timeout(180_000);

  const ks = uniqueKeyspace('snap');
  const events = { keyspace: ks, table: 'events' };
  const chroot = `/nw_snap_${randomBytes(4).toString('hex')}`;
  let n1: cassandra.Client;
  let n2: cassandra.Client;
  let zk: ZooKeeperCoordinator;
  let total = 0;
  const root = (name: string): string => `${chroot}${layout.syncDatastore(name)}`;

  before(async () => {
    const eps = requireService('cassandra');
    const zkEps = requireService('zookeeper');
    n1 = cassandraClient(eps.n1);
    n2 = cassandraClient(eps.n2);
    // Snapshot checkpoints are written by the control plane's sync jobs, in its identity.
    zk = zkClient('controlplane', { connectString: zkEps.connectString, chroot: '/' });
    await Promise.all([n1.connect(), n2.connect(), zk.connect()]);
    await createKeyspace(n1, ks);
    await n1.execute(EVENTS_DDL(ks));
    total = await loadEvents(n1, ks);
  });

  after(async () => {
    await new SnapshotCheckpoints(zk, chroot).clear().catch(() => undefined);
    await zk.close().catch(() => undefined);
    for (const c of [n1, n2]) {
      await c.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
      await c.shutdown().catch(() => undefined);
    }
  });

  it('copies every row with equal values and write times, creating the missing keyspace/table at N2', async () => {
    const res = await runSnapshot({
      source: n1,
      target: n2,
      tables: [events],
      createMissing: true,
      ranges: 16,
      concurrency: 3,
      pageSize: 97,
    });
    assert.equal(res.rows, total);
    assert.equal(res.ranges, 16);
    assert.equal(res.rangesCopied, 16);
    assert.equal(res.rangesSkipped, 0);
    assert.ok(res.bytes > total * 64);
    assert.equal(res.verify?.rangesChecked, 16);
    assert.equal(res.verify?.rangesDiffered, 0);
    assert.equal(res.verify?.rowsCompared, total);
    const [a, b] = await Promise.all([dumpTable(n1, events), dumpTable(n2, events)]);
    assert.equal(a.size, total);
    assert.deepEqual(b, a);
    // a TTL'd cell keeps (about) its remaining TTL
    const ttl = await n2.execute(`SELECT ttl(note) AS t FROM ${ks}.events WHERE tenant = 't0' AND bucket = 0 AND seq = 0 AND name = 'n0'`);
    const t = ttl.first().get('t') as number;
    assert.ok(t > 80_000 && t <= 86_400, `ttl ${t}`);
  });

  it('re-running the copy is harmless', async () => {
    const res = await runSnapshot({ source: n1, target: n2, tables: [events], ranges: 8 });
    assert.equal(res.rows, total);
    assert.equal(res.verify?.rangesDiffered, 0);
    assert.deepEqual(await dumpTable(n2, events), await dumpTable(n1, events));
  });

  it('a row written at N2 with a newer write time is not overwritten; verify names its range after the re-copies', async () => {
    const newer = micros(BASE_MICROS + 3_600_000_000n);
    await n2.execute(
      `UPDATE ${ks}.events USING TIMESTAMP ? SET score = ? WHERE tenant = 't1' AND bucket = 2 AND seq = 3 AND name = 'n3'`,
      [newer, 4242.5],
      { prepare: true },
    );
    const err = await rejectsWith(
      runSnapshot({ source: n1, target: n2, tables: [events], ranges: 8, verify: { maxRecopies: 1 } }),
      'NW_SYNC_VERIFY_FAILED',
    );
    const ranges = err.details?.ranges as Array<{ table: string; range: number }>;
    assert.equal(ranges.length, 1);
    assert.equal(ranges[0]!.table, `${ks}.events`);
    assert.equal(err.details?.recopies, 1);
    const got = await n2.execute(
      `SELECT score, writetime(score) AS wt FROM ${ks}.events WHERE tenant = 't1' AND bucket = 2 AND seq = 3 AND name = 'n3'`,
    );
    assert.equal(got.first().get('score'), 4242.5);
    assert.equal(String(got.first().get('wt')), newer.toString());
    // put N2 back in line with N1 for the next tests
    await n2.execute(`TRUNCATE ${ks}.events`);
  });

  it(
    'resumes after an abort without re-reading finished ranges; ' + 'an unreachable N2 is a typed error that keeps the checkpoints',
    async () => {
      const checkpointRoot = root('resume');
      const ac = new AbortController();
      const seen: SnapshotProgress[] = [];
      const first = runSnapshot({
        source: n1,
        target: n2,
        tables: [events],
        coordinator: zk,
        checkpointRoot,
        ranges: 16,
        concurrency: 2,
        pageSize: 50,
        signal: ac.signal,
        onProgress: (p) => {
          seen.push(p);
          if (p.rangesDone >= 5) ac.abort();
        },
      });
      await rejectsWith(first, 'NW_SYNC_ABORTED');
      const cps = new SnapshotCheckpoints(zk, checkpointRoot);
      const plan = await cps.loadTable(`${ks}.events`, 16);
      const done = [...plan.checkpoints.values()].filter((c) => c.done);
      const doneRows = done.reduce((n, c) => n + c.rows, 0);
      assert.ok(done.length >= 5 && done.length < 16, `done ranges ${done.length}`);
      assert.ok(seen.length > 0);

      // N2 unreachable: typed, and the checkpoints stay as they were
      const eps = requireService('cassandra');
      const dead = cassandraClient({ ...eps.n2, port: 9 }, { socketOptions: { connectTimeout: 1000, readTimeout: 2000 } });
      try {
        const err = await rejectsWith(
          runSnapshot({ source: n1, target: dead, tables: [events], coordinator: zk, checkpointRoot }),
          'NW_SYNC_N2_UNAVAILABLE',
        );
        assert.equal(err.details?.side, 'n2');
      } finally {
        await dead.shutdown().catch(() => undefined);
      }
      const again = await cps.loadTable(`${ks}.events`, 99);
      assert.equal(again.ranges.length, 16, 'the first run fixed the plan');
      assert.equal([...again.checkpoints.values()].filter((c) => c.done).length, done.length);

      const res = await runSnapshot({
        source: n1,
        target: n2,
        tables: [events],
        coordinator: zk,
        checkpointRoot,
        ranges: 16,
        concurrency: 2,
        pageSize: 50,
      });
      assert.equal(res.rangesSkipped, done.length);
      assert.equal(res.rangesCopied, 16 - done.length);
      assert.ok(res.rows <= total - doneRows, `re-read ${res.rows} rows, ${doneRows} were in finished ranges`);
      assert.ok(res.rows > 0);
      assert.equal(res.verify?.rangesDiffered, 0);
      assert.deepEqual(await dumpTable(n2, events), await dumpTable(n1, events));
      const final = await cps.loadTable(`${ks}.events`, 16);
      assert.equal([...final.checkpoints.values()].filter((c) => c.done).length, 16);
      assert.equal([...final.checkpoints.values()].reduce((n, c) => n + c.rows, 0) >= total, true);
    },
  );

  it('verify re-copies a range changed only at N1 behind the copy-on-write (finished ranges are not re-read)', async () => {
    const checkpointRoot = root('resume');
    await n1.execute(
      `UPDATE ${ks}.events USING TIMESTAMP ? SET note = 'changed at N1 only' ` +
        `WHERE tenant = 't2' AND bucket = 4 AND seq = 9 AND name = 'n2'`,
      [micros(BASE_MICROS + 3_600_000_000n)],
      { prepare: true },
    );
    const res = await runSnapshot({
      source: n1,
      target: n2,
      tables: [events],
      coordinator: zk,
      checkpointRoot,
      verify: { maxRecopies: 2 },
    });
    assert.equal(res.rangesSkipped, 16);
    assert.equal(res.verify?.rangesDiffered, 1);
    assert.equal(res.verify?.recopies, 1);
    assert.ok(res.rows > 0 && res.rows < total, 'only the differing range was copied again');
    assert.deepEqual(await dumpTable(n2, events), await dumpTable(n1, events));
  });

  it(
    'verify leaves out a cell written since copy-on-write began that it catches on one side only, ' +
      'but not an older difference in the same row',
    async () => {
      const checkpointRoot = root('resume'); // every range done: only the verify runs
      const since = BigInt(Date.now()) * 1000n;
      const sinceUs = Number(since);
      const where = `WHERE tenant = 't3' AND bucket = 1 AND seq = 8 AND name = 'n1'`; // a row both sides hold
      // A copy-on-write write that has landed at N1 and not yet at N2.
      await n1.execute(`UPDATE ${ks}.events USING TIMESTAMP ? SET note = 'landed at N1 first' ${where}`, [micros(since + 1000n)], {
        prepare: true,
      });
      const res = await runSnapshot({
        source: n1,
        target: n2,
        tables: [events],
        coordinator: zk,
        checkpointRoot,
        verify: { maxRecopies: 0 },
        copyOnWriteSinceUs: sinceUs,
      });
      assert.equal(res.verify?.rangesDiffered, 0, 'the late cell is left out on both sides');
      assert.equal(res.verify?.recopies, 0);
      assert.equal(res.verify?.lateCellsLeftOut, 1, 'and counted');
      // Without the copy-on-write time the same difference is a differing range.
      await rejectsWith(
        runSnapshot({ source: n1, target: n2, tables: [events], coordinator: zk, checkpointRoot, verify: { maxRecopies: 0 } }),
        'NW_SYNC_VERIFY_FAILED',
      );
      await runSnapshot({ source: n1, target: n2, tables: [events], ranges: 8 }); // N2 in line again
      // A difference written before copy-on-write began is still found, in the very row of a late cell
      // (left out; the row's other cells are compared).
      await n1.execute(`UPDATE ${ks}.events USING TIMESTAMP ? SET note = 'late again' ${where}`, [micros(since + 2000n)], {
        prepare: true,
      });
      await n1.execute(
        `UPDATE ${ks}.events USING TIMESTAMP ? SET score = 17.5 ${where}`,
        [micros(BASE_MICROS + 7_200_000_000n - 3_600_000_000n)],
        { prepare: true },
      );
      const err = await rejectsWith(
        runSnapshot({
          source: n1,
          target: n2,
          tables: [events],
          coordinator: zk,
          checkpointRoot,
          verify: { maxRecopies: 0 },
          copyOnWriteSinceUs: sinceUs,
        }),
        'NW_SYNC_VERIFY_FAILED',
      );
      assert.equal((err.details?.ranges as unknown[] | undefined)?.length, 1, 'only the range with the older difference');
      await runSnapshot({ source: n1, target: n2, tables: [events], ranges: 8 });
      assert.deepEqual(await dumpTable(n2, events), await dumpTable(n1, events));
    },
  );

  it('a missing table, a column of another type or another key are NW_SYNC_SCHEMA_MISMATCH', async () => {
    await createKeyspace(n2, ks);
    await n1.execute(`CREATE TABLE ${ks}.kv (k text PRIMARY KEY, v int, w text)`);
    let err = await rejectsWith(
      runSnapshot({ source: n1, target: n2, tables: [{ keyspace: ks, table: 'kv' }] }),
      'NW_SYNC_SCHEMA_MISMATCH',
    );
    assert.equal(err.details?.missingTable, true);
    await n2.execute(`CREATE TABLE ${ks}.kv (k text PRIMARY KEY, v bigint)`);
    err = await rejectsWith(runSnapshot({ source: n1, target: n2, tables: [{ keyspace: ks, table: 'kv' }] }), 'NW_SYNC_SCHEMA_MISMATCH');
    assert.deepEqual(err.details?.missingColumns, ['w']);
    assert.deepEqual(err.details?.typeDifferences, [{ column: 'v', n1: 'int', n2: 'bigint' }]);
    await n1.execute(`CREATE TABLE ${ks}.keyed (a text, b int, v text, PRIMARY KEY (a, b))`);
    await n2.execute(`CREATE TABLE ${ks}.keyed (a text, b int, v text, PRIMARY KEY ((a, b)))`);
    err = await rejectsWith(runSnapshot({ source: n1, target: n2, tables: [{ keyspace: ks, table: 'keyed' }] }), 'NW_SYNC_SCHEMA_MISMATCH');
    assert.equal((err.details?.keyDifferences as unknown[] | undefined)?.length, 1);
    await rejectsWith(runSnapshot({ source: n1, target: n2, tables: [{ keyspace: ks, table: 'nope' }] }), 'NW_SYNC_SCHEMA_MISMATCH');
  });

  it('multi-cell collections and counters are NW_SYNC_UNSUPPORTED_SCHEMA', async () => {
    await n1.execute(`CREATE TABLE ${ks}.listy (k text PRIMARY KEY, l list<text>, f frozen<list<text>>)`);
    const err = await rejectsWith(
      runSnapshot({ source: n1, target: n2, tables: [{ keyspace: ks, table: 'listy' }], createMissing: true }),
      'NW_SYNC_UNSUPPORTED_SCHEMA',
    );
    assert.deepEqual(
      (err.details?.columns as Array<{ column: string }> | undefined)?.map((c) => c.column),
      ['l'],
    );
    await n1.execute(`CREATE TABLE ${ks}.counts (k text PRIMARY KEY, c counter)`);
    await rejectsWith(
      runSnapshot({ source: n1, target: n2, tables: [{ keyspace: ks, table: 'counts' }], createMissing: true }),
      'NW_SYNC_UNSUPPORTED_SCHEMA',
    );
  });

  it('copies static cells, static-only partitions, key-only rows and frozen/tuple values', async () => {
    const odd = { keyspace: ks, table: 'odd' };
    await n1.execute(
      `CREATE TABLE ${ks}.odd (p int, c int, s text STATIC, v frozen<map<text, int>>, t tuple<int, text>, PRIMARY KEY (p, c))`,
    );
    await n1.execute(`INSERT INTO ${ks}.odd (p, c, s, v, t) VALUES (1, 1, 'static one', {'a': 1}, (7, 'x')) USING TIMESTAMP 1000`);
    await n1.execute(`INSERT INTO ${ks}.odd (p, c) VALUES (1, 2) USING TIMESTAMP 2000`);
    await n1.execute(`INSERT INTO ${ks}.odd (p, s) VALUES (2, 'static only') USING TIMESTAMP 3000`);
    await n1.execute(`INSERT INTO ${ks}.odd (p, c) VALUES (3, 1)`);
    const res = await runSnapshot({ source: n1, target: n2, tables: [odd], createMissing: true, ranges: 4 });
    assert.equal(res.rows, 4);
    assert.equal(res.verify?.rangesDiffered, 0);
    assert.deepEqual(await dumpTable(n2, odd), await dumpTable(n1, odd));
  });

  it('a corrupt checkpoint is NW_SYNC_CHECKPOINT_CORRUPT', async () => {
    const checkpointRoot = root('corrupt');
    await zk.mkdirp(`${checkpointRoot}/${ks}.events`);
    await zk.set(`${checkpointRoot}/${ks}.events`, Buffer.from('{"v":1,"ranges":4}'));
    await zk.create(`${checkpointRoot}/${ks}.events/2`, Buffer.from('{"v":1,"done":"yes"}'));
    await rejectsWith(
      runSnapshot({ source: n1, target: n2, tables: [events], coordinator: zk, checkpointRoot }),
      'NW_SYNC_CHECKPOINT_CORRUPT',
    );
  });
});
