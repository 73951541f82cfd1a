// Smoke test: the two single-node Cassandra clusters (N1, N2) from scripts/services.sh, through cassandra-driver.
import { strict as assert } from 'node:assert';
import cassandra from 'cassandra-driver';
import { requireService, type CassandraEndpoint, type CassandraEndpoints } from '../support/service-endpoints.js';

const { Client, types } = cassandra;

function clientFor(ep: CassandraEndpoint): cassandra.Client {
  return new Client({
    contactPoints: [ep.contactPoint],
    localDataCenter: ep.localDataCenter,
    protocolOptions: { port: ep.port },
    socketOptions: { connectTimeout: 10_000, readTimeout: 60_000 },
  });
}

describe('services: Cassandra n1 and n2', function () {
  // schema changes on a cold node can take several seconds each
  this.timeout(120_000);

  let eps: CassandraEndpoints;
  let n1: cassandra.Client | undefined;
  let n2: cassandra.Client | undefined;
  const keyspace = `nw_smoke_${process.pid}_${Date.now()}`;

  before(async () => {
    eps = requireService('cassandra');
    n1 = clientFor(eps.n1);
    n2 = clientFor(eps.n2);
    await Promise.all([n1.connect(), n2.connect()]);
  });

  after(async () => {
    for (const c of [n1, n2]) {
      if (!c) continue;
      await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      await c.shutdown();
    }
  });

  it('n1 and n2 are different clusters', async () => {
    assert.ok(n1 && n2);
    const [r1, r2] = await Promise.all([
      n1.execute('SELECT cluster_name, data_center, release_version FROM system.local'),
      n2.execute('SELECT cluster_name, data_center, release_version FROM system.local'),
    ]);
    const c1 = r1.first().get('cluster_name') as string;
    const c2 = r2.first().get('cluster_name') as string;
    assert.equal(c1, eps.n1.clusterName);
    assert.equal(c2, eps.n2.clusterName);
    assert.notEqual(c1, c2);
    assert.equal(r1.first().get('data_center'), eps.n1.localDataCenter);
    assert.match(r1.first().get('release_version') as string, /^5\.0\./);
    // each is a single node that knows no peers
    const peers = await n1.execute('SELECT peer FROM system.peers_v2');
    assert.equal(peers.rowLength, 0);
  });

  it('writes USING TIMESTAMP and reads WRITETIME back; data on n1 is not visible on n2', async () => {
    assert.ok(n1 && n2);
    for (const c of [n1, n2]) {
      await c.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
      await c.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.kv (k text PRIMARY KEY, v text)`);
    }

    // microseconds since the epoch, explicit so that last-write-wins can be tested later
    const writeMicros = BigInt(Date.now()) * 1000n + 123n;
    const writeTime = types.Long.fromString(writeMicros.toString());
    await n1.execute(`INSERT INTO ${keyspace}.kv (k, v) VALUES (?, ?) USING TIMESTAMP ?`, ['a', 'from-n1', writeTime], {
      prepare: true,
    });

    const got = await n1.execute(`SELECT v, WRITETIME(v) AS wt FROM ${keyspace}.kv WHERE k = ?`, ['a'], {
      prepare: true,
    });
    assert.equal(got.rowLength, 1);
    assert.equal(got.first().get('v'), 'from-n1');
    const wt = got.first().get('wt') as cassandra.types.Long;
    assert.equal(wt.toString(), writeTime.toString());

    const onN2 = await n2.execute(`SELECT v FROM ${keyspace}.kv WHERE k = ?`, ['a'], { prepare: true });
    assert.equal(onN2.rowLength, 0, 'row written to n1 must not appear on n2');

    // a write with an older timestamp, arriving later, loses (last write wins by write time)
    const older = types.Long.fromString((writeMicros - 1_000_000n).toString());
    await n1.execute(`INSERT INTO ${keyspace}.kv (k, v) VALUES (?, ?) USING TIMESTAMP ?`, ['a', 'older', older], {
      prepare: true,
    });
    const after = await n1.execute(`SELECT v FROM ${keyspace}.kv WHERE k = ?`, ['a'], { prepare: true });
    assert.equal(after.first().get('v'), 'from-n1');
  });
});
