// The snapshot copy survives a crash of the N2 Cassandra node in the middle of the copy: ranges
// retry with backoff (or the copy fails typed and a second run resumes from the checkpoints), and
// in the end N2 equals N1. This restarts the shared N2 node: keep it to this one test.
import assert from 'node:assert/strict';
import type cassandra from 'cassandra-driver';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { isSyncError } from '../../datasync/errors.js';
import { runSnapshot, type SnapshotOptions, type SnapshotResult } from '../../datasync/datastore/snapshot-copy.js';
import { flushSchema, killCassandra, startCassandra } from '../support/cassandra-restart.js';
import { requireService } from '../support/service-endpoints.js';
import { EVENTS_DDL, cassandraClient, createKeyspace, dumpTable, loadEvents, uniqueKeyspace } from '../support/snapshot-fixture.js';

describe('sync: snapshot copy while the N2 Cassandra node restarts', function () {
  this.timeout(600_000);

  const ks = uniqueKeyspace('snaprestart');
  const events = { keyspace: ks, table: 'events' };
  let n1: cassandra.Client;
  let n2: cassandra.Client;
  let restarting: Promise<void> | undefined;

  before(async () => {
    const eps = requireService('cassandra');
    n1 = cassandraClient(eps.n1);
    n2 = cassandraClient(eps.n2, { socketOptions: { connectTimeout: 3000, readTimeout: 10_000 } });
    await Promise.all([n1.connect(), n2.connect()]);
    for (const c of [n1, n2]) {
      await createKeyspace(c, ks);
      await c.execute(EVENTS_DDL(ks));
    }
    // the schema must survive the crash (see flushSchema)
    await flushSchema(eps.n2);
  });

  after(async () => {
    // never leave N2 down for the others
    if (restarting) await restarting.catch(() => startCassandra());
    for (const c of [n1, n2]) {
      await c.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
      await c.shutdown().catch(() => undefined);
    }
  });

  it('completes with nothing lost after N2 is killed mid-copy and started again', async () => {
    const total = await loadEvents(n1, ks, { tenants: 5, buckets: 6, seqs: 200 });
    const eps = requireService('cassandra');
    const coordinator = new EmbeddedCoordinator(new EmbeddedStore());
    await coordinator.connect();
    const base: SnapshotOptions = {
      source: n1,
      target: n2,
      tables: [events],
      coordinator,
      checkpointRoot: layout.syncDatastore('restart-test'),
      ranges: 32,
      concurrency: 2,
      pageSize: 50,
      writeConcurrency: 2,
      batchStatements: 1,
      // long enough to span a node start on a busy machine
      retry: { attempts: 40, baseDelayMs: 500, maxDelayMs: 5000 },
    };
    let killedAtRows = -1;
    const first = runSnapshot({
      ...base,
      onProgress: (p) => {
        if (killedAtRows < 0 && p.phase === 'copy' && p.rows >= total / 4) {
          killedAtRows = p.rows;
          restarting = killCassandra(eps.n2).then(() => startCassandra());
        }
      },
    });
    let result: SnapshotResult;
    try {
      result = await first;
      assert.ok(result.retries > 0, 'ranges were retried across the restart');
    } catch (err) {
      assert.ok(
        isSyncError(err, 'NW_SYNC_SNAPSHOT_FAILED'),
        `typed failure expected, got ${err instanceof Error ? err.stack : String(err)}`,
      );
      await restarting;
      result = await runSnapshot(base);
      assert.ok(result.rangesSkipped > 0, 'the second run resumed from checkpoints');
    }
    assert.ok(killedAtRows > 0, 'N2 was killed during the copy');
    await restarting;
    assert.equal(result.verify?.rangesChecked, 32);
    const [a, b] = await Promise.all([dumpTable(n1, events), dumpTable(n2, events)]);
    assert.equal(a.size, total);
    assert.deepEqual(b, a);
  });
});
