import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type cassandra from 'cassandra-driver';
import { checkLostWrites } from '../../loadgen/analysis/lost-writes.js';
import { CassandraDataLayer } from '../../datasync/layer/cassandra-data-layer.js';
import { isSyncError } from '../../datasync/errors.js';
import { CassandraStore } from '../../loadgen/reference-app/cassandra-store.js';
import { startReferenceApp } from '../../loadgen/reference-app/reference-app.js';
import { cassandraClient } from '../support/data-layer-fixture.js';
import { requireService } from '../support/service-endpoints.js';

describe('CassandraStore (reference app KvStore on the data layer, real Cassandra n1/n2)', function () {
  this.timeout(120_000);
  const keyspace = `nw_dlstore_${randomBytes(4).toString('hex')}`;
  let n1: cassandra.Client;
  let n2: cassandra.Client;
  let layer: CassandraDataLayer;
  let store: CassandraStore;

  before(async () => {
    const eps = requireService('cassandra');
    n1 = cassandraClient(eps.n1);
    n2 = cassandraClient(eps.n2);
    layer = new CassandraDataLayer({ local: n1, n2 });
    store = new CassandraStore(layer, { keyspace });
    await store.ensureSchema();
    await store.ensureSchema(); // idempotent
  });

  after(async () => {
    await layer?.close();
    for (const c of [n1, n2]) {
      await c?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      await c?.shutdown().catch(() => undefined);
    }
  });

  it('ensureSchema creates the keyspace and table on both clusters', async () => {
    for (const c of [n1, n2]) {
      const rs = await c.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace], { prepare: true });
      assert.deepEqual(
        rs.rows.map((r) => r.get('table_name')),
        ['kv'],
      );
    }
  });

  it('versions are write timestamps and only grow per key, also across delete and re-create', async () => {
    assert.equal(await store.get('a'), undefined);
    const v1 = await store.put('a', 'one');
    assert.deepEqual(await store.get('a'), { value: 'one', version: v1 });
    const v2 = await store.put('a', 'two');
    assert.ok(v2 > v1);
    assert.equal(await store.delete('a'), true);
    assert.equal(await store.get('a'), undefined);
    assert.equal(await store.delete('a'), false, 'deleting an absent key reports it');
    const v3 = await store.put('a', 'three');
    assert.ok(v3 > v2, 're-created key has a larger version');
    const rs = await n1.execute(`SELECT writetime(v) AS wt FROM ${keyspace}.kv WHERE k = ?`, ['a'], { prepare: true });
    assert.equal(Number(rs.first()?.get('wt')), v3);
  });

  it('in copy-on-write a value has the same version at N1 and N2; after the switch to n2 reads see it unchanged', async () => {
    await layer.apply({ datastore: 'copy-on-write', cache: 'local' }, 1);
    const v = await store.put('b', 'copied');
    await layer.apply({ datastore: 'n2', cache: 'local' }, 2);
    assert.deepEqual(await store.get('b'), { value: 'copied', version: v });
    assert.equal(await store.get('a'), undefined, "n2 mode reads N2, which never got 'a'");
    await layer.apply({ datastore: 'local', cache: 'local' }, 3);
    assert.equal((await store.get('a'))?.value, 'three');
  });

  it('serves the reference app over HTTP; the lost-write checker reads back through it', async () => {
    const app = await startReferenceApp({ deployment: 'n1', store });
    try {
      const put = await fetch(`${app.url}/kv/http-key`, { method: 'PUT', body: 'hello' });
      const { version } = (await put.json()) as { version: number };
      const got = (await (await fetch(`${app.url}/kv/http-key`)).json()) as { value: string; version: number };
      assert.deepEqual([got.value, got.version], ['hello', version]);
      const del = await fetch(`${app.url}/kv/http-key`, { method: 'DELETE' });
      assert.equal(del.status, 200);
      assert.equal((await fetch(`${app.url}/kv/http-key`)).status, 404);
      const report = await checkLostWrites(
        {
          acknowledged: [
            { key: 'b', op: 'write', value: 'copied', start: 0, end: 1 },
            { key: 'http-key', op: 'delete', start: 2, end: 3 },
          ],
        },
        async (k) => (await store.get(k))?.value,
      );
      assert.ok(report.ok, JSON.stringify(report.lost));
    } finally {
      await app.close();
    }
  });

  it('lists the entries under a prefix from the cluster the layer reads (its own, or N2 in n2 mode)', async () => {
    await store.put('list.k1', 'one');
    await store.put('list.k2', 'two');
    await store.put('other.k1', 'not listed');
    const sorted = (e: Array<[string, string]>) => e.sort(([a], [b]) => (a < b ? -1 : 1));
    assert.deepEqual(sorted(await store.entries('list.')), [
      ['list.k1', 'one'],
      ['list.k2', 'two'],
    ]);
    await layer.apply({ datastore: 'n2', cache: 'local' }, 10);
    assert.deepEqual(await store.entries('list.'), [], 'N2 never got them');
    await layer.apply({ datastore: 'local', cache: 'local' }, 11);
  });

  it('refuses names that are not CQL identifiers', () => {
    assert.throws(
      () => new CassandraStore(layer, { keyspace: 'x; DROP' }),
      (e: unknown) => isSyncError(e, 'NW_SYNC_CONFIG_INVALID'),
    );
  });
});
