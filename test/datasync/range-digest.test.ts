// The range digest's cutoff, against the real Cassandra clusters N1 and N2 (each side written directly,
// with explicit timestamps, so each test controls what each side holds): cells written at or after the
// cutoff are left out cell by cell, so a write made before it that one side missed cannot hide behind a
// late write to another cell of its row; rows that only late writes made are left out.
import assert from 'node:assert/strict';
import type cassandra from 'cassandra-driver';
import { isSyncError } from '../../datasync/errors.js';
import { digestRange } from '../../datasync/datastore/range-digest.js';
import type { VerifyFigures } from '../../datasync/datastore/snapshot-options.js';
import { readTableSchema, type TableRef } from '../../datasync/datastore/table-schema.js';
import { splitRing } from '../../datasync/datastore/token-ranges.js';
import { verifyReplicas } from '../../datasync/replication/replica-verify.js';
import { requireService } from '../support/service-endpoints.js';
import { cassandraClient, createKeyspace, micros, uniqueKeyspace } from '../support/snapshot-fixture.js';

describe('sync: range digest leaves out late cells, not late rows', function () {
  this.timeout(120_000);

  const ks = uniqueKeyspace('digest');
  let n1: cassandra.Client;
  let n2: cassandra.Client;
  let tables = 0;

  // Write times (µs): t1 < t2 < cutoff <= t3.
  const base = BigInt(Date.now() - 3_600_000) * 1000n;
  const t1 = micros(base);
  const t2 = micros(base + 1_000n);
  const cutoffUs = Number(base + 2_000n);
  const t3 = micros(base + 3_000n);

  /** A new table at both sides: a partition key, a clustering key, a static column and two regular columns. */
  const newTable = async (): Promise<TableRef> => {
    const ref = { keyspace: ks, table: `t${++tables}` };
    const ddl = `CREATE TABLE ${ks}.${ref.table} (k text, c int, s text static, a int, b int, PRIMARY KEY (k, c))`;
    await Promise.all([n1.execute(ddl), n2.execute(ddl)]);
    return ref;
  };
  const at = async (clients: readonly cassandra.Client[], cql: string, params: unknown[]): Promise<void> => {
    for (const c of clients) await c.execute(cql, params, { prepare: true });
  };
  /** `cutoff` null: no cutoff. */
  const verify = (ref: TableRef, cutoff: number | null = cutoffUs): Promise<VerifyFigures> =>
    verifyReplicas({
      source: n1,
      target: n2,
      tables: [ref],
      ranges: 4,
      concurrency: 2,
      pageSize: 100,
      stage: 'test',
      ...(cutoff === null ? {} : { cutoffUs: cutoff }),
    });
  const differs = async (ref: TableRef, cutoff: number | null = cutoffUs): Promise<void> => {
    try {
      await verify(ref, cutoff);
    } catch (err) {
      assert.ok(isSyncError(err, 'NW_SYNC_REPLICA_DIGEST_MISMATCH'), `expected NW_SYNC_REPLICA_DIGEST_MISMATCH, got ${String(err)}`);
      assert.equal((err.details?.ranges as unknown[] | undefined)?.length, 1, 'one range differs');
      return;
    }
    assert.fail('the digests were equal');
  };
  /** Row (k, 0) with a = 1, b = 1 written at t1 at both sides. */
  const rowAtBoth = async (ref: TableRef, k: string): Promise<void> =>
    at([n1, n2], `INSERT INTO ${ks}.${ref.table} (k, c, a, b) VALUES (?, 0, 1, 1) USING TIMESTAMP ?`, [k, t1]);

  before(async () => {
    const eps = requireService('cassandra');
    n1 = cassandraClient(eps.n1);
    n2 = cassandraClient(eps.n2);
    await Promise.all([n1.connect(), n2.connect()]);
    await Promise.all([createKeyspace(n1, ks), createKeyspace(n2, ks)]);
  });

  after(async () => {
    for (const c of [n1, n2]) {
      await c.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => undefined);
      await c.shutdown().catch(() => undefined);
    }
  });

  it('catches a partial update before the cutoff that one side missed, next to a late write to another column', async () => {
    const ref = await newTable();
    await rowAtBoth(ref, 'k');
    await at([n1], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET b = 2 WHERE k = 'k' AND c = 0`, [t2]);
    await at([n1, n2], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET a = 5 WHERE k = 'k' AND c = 0`, [t3]);
    await differs(ref);
  });

  it('catches a column delete before the cutoff that one side missed, next to a late write to another column', async () => {
    const ref = await newTable();
    await rowAtBoth(ref, 'k');
    await at([n2], `DELETE b FROM ${ks}.${ref.table} USING TIMESTAMP ? WHERE k = 'k' AND c = 0`, [t2]);
    await at([n1, n2], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET a = 5 WHERE k = 'k' AND c = 0`, [t3]);
    await differs(ref);
  });

  it('catches a row deleted before the cutoff at one side only, then given a late cell at both', async () => {
    const ref = await newTable();
    await rowAtBoth(ref, 'k');
    await at([n1], `DELETE FROM ${ks}.${ref.table} USING TIMESTAMP ? WHERE k = 'k' AND c = 0`, [t2]);
    await at([n1, n2], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET a = 5 WHERE k = 'k' AND c = 0`, [t3]);
    // n1 holds (k, 0) with only the late a: skipped; n2 holds it with the old b: compared.
    await differs(ref);
  });

  it('catches a static column updated before the cutoff that one side missed, next to a late regular cell of its partition', async () => {
    const ref = await newTable();
    await at([n1, n2], `INSERT INTO ${ks}.${ref.table} (k, c, s, a) VALUES ('k', 0, 'x', 1) USING TIMESTAMP ?`, [t1]);
    await at([n1], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET s = 'y' WHERE k = 'k'`, [t2]);
    await at([n1, n2], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET a = 5 WHERE k = 'k' AND c = 0`, [t3]);
    await differs(ref);
  });

  it('leaves out a late insert of a new row that one side never got', async () => {
    const ref = await newTable();
    await rowAtBoth(ref, 'old');
    await at([n1], `INSERT INTO ${ks}.${ref.table} (k, c, s, a, b) VALUES ('new', 0, 'z', 7, 8) USING TIMESTAMP ?`, [t3]);
    const figures = await verify(ref);
    assert.equal(figures.rangesDiffered, 0, 'the late row is skipped at the side that has it');
    assert.equal(figures.rowsCompared, 2, 'n1 read both rows');
    // Without the cutoff it is a difference.
    await differs(ref, null);
  });

  it('leaves out a late overwrite of a whole row that reached one side only (a failed write)', async () => {
    const ref = await newTable();
    await rowAtBoth(ref, 'k');
    await at([n1], `INSERT INTO ${ks}.${ref.table} (k, c, a, b) VALUES ('k', 0, 9, 9) USING TIMESTAMP ?`, [t3]);
    const figures = await verify(ref);
    assert.equal(figures.rangesDiffered, 0);
    assert.equal(figures.lateCellsLeftOut, 2, 'a and b, left out at both sides');
  });

  it('leaves out a late cell at one side while the other still holds its earlier value (in flight); compares it once landed', async () => {
    const ref = await newTable();
    await rowAtBoth(ref, 'k');
    await at([n1], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET a = 5 WHERE k = 'k' AND c = 0`, [t3]);
    let figures = await verify(ref);
    assert.equal(figures.rangesDiffered, 0, 'equal after the exclusion pass');
    assert.equal(figures.lateCellsLeftOut, 1, 'only a is left out');
    // b is still compared in that row: a difference in it, written before the cutoff, is found.
    await at([n2], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET b = 3 WHERE k = 'k' AND c = 0`, [t2]);
    await differs(ref);
    await at([n1], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET b = 3 WHERE k = 'k' AND c = 0`, [t2]);
    // Landed: the first pass matches, nothing is left out.
    await at([n2], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET a = 5 WHERE k = 'k' AND c = 0`, [t3]);
    figures = await verify(ref);
    assert.equal(figures.rangesDiffered, 0);
    assert.equal(figures.lateCellsLeftOut, 0);
  });

  it('without a cutoff, compares every cell (a late cell in flight is a difference)', async () => {
    const ref = await newTable();
    await rowAtBoth(ref, 'k');
    await verify(ref, null);
    await at([n1], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET a = 5 WHERE k = 'k' AND c = 0`, [t3]);
    await differs(ref, null);
  });

  it('digests a row without left-out cells exactly as without a filter, and one with a left-out cell otherwise', async () => {
    const ref = await newTable();
    await rowAtBoth(ref, 'k');
    await at([n1], `INSERT INTO ${ks}.${ref.table} (k, c, s, a, b) VALUES ('j', 1, 'x', 2, null) USING TIMESTAMP ?`, [t1]);
    const schema = await readTableSchema(n1, ref);
    assert.ok(schema);
    const [whole] = splitRing(1);
    assert.ok(whole);
    const plain = await digestRange(n1, schema, whole, 100);
    const nothingLate = await digestRange(n1, schema, whole, 100, { cutoffUs, exclude: new Map([['no such row', new Set([0])]]) });
    assert.equal(nothingLate.md5, plain.md5);
    assert.equal(nothingLate.recent.size, 0);
    await at([n1], `UPDATE ${ks}.${ref.table} USING TIMESTAMP ? SET a = 5 WHERE k = 'k' AND c = 0`, [t3]);
    const late = await digestRange(n1, schema, whole, 100, { cutoffUs });
    assert.notEqual(late.md5, (await digestRange(n1, schema, whole, 100)).md5);
    assert.equal(late.rows, 2);
    const a = schema.values.findIndex((c) => c.name === 'a');
    assert.deepEqual(
      [...late.recent.values()].map((cells) => [...cells]),
      [[a]],
      'one late cell: a of (k, 0)',
    );
  });
});
