// Fixtures for the datastore snapshot tests: clients for N1/N2, a keyspace of our own,
// a table with composite partition and clustering keys filled with rows whose cells have
// different write times and TTLs, and a dump (values + write times) to compare both sides.
import cassandra from 'cassandra-driver';
import { randomBytes } from 'node:crypto';
import { readTableSchema, ident, qualified, type TableRef } from '../../datasync/datastore/table-schema.js';
import { runBounded } from '../../datasync/datastore/bounded-pool.js';
import type { CassandraEndpoint } from './service-endpoints.js';

const { Client, policies, types } = cassandra;

export function cassandraClient(
  ep: { contactPoint: string; port: number; localDataCenter: string },
  extra: Partial<cassandra.ClientOptions> = {},
): cassandra.Client {
  return new Client({
    contactPoints: [ep.contactPoint],
    localDataCenter: ep.localDataCenter,
    protocolOptions: { port: ep.port },
    socketOptions: { connectTimeout: 5_000, readTimeout: 30_000 },
    policies: { reconnection: new policies.reconnection.ConstantReconnectionPolicy(500) },
    ...extra,
  });
}

export function uniqueKeyspace(area: string): string {
  return `nw_${area}_${randomBytes(4).toString('hex')}`;
}

export async function createKeyspace(client: cassandra.Client, keyspace: string): Promise<void> {
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
}

export const EVENTS_DDL = (keyspace: string): string =>
  `CREATE TABLE IF NOT EXISTS ${keyspace}.events (tenant text, bucket int, seq int, name text, payload blob, score double, ` +
  `tags frozen<set<text>>, note text,
   PRIMARY KEY ((tenant, bucket), seq, name)) WITH CLUSTERING ORDER BY (seq DESC, name ASC)`;

/** Base write time (µs) of the fixture rows; cells get base + small offsets. */
export const BASE_MICROS = BigInt(Date.now() - 3_600_000) * 1000n;

export function micros(v: bigint): cassandra.types.Long {
  return types.Long.fromString(v.toString());
}

/**
 * Fills `events` at N1: tenants × buckets × seqs rows. Each row is inserted at one time; every
 * third row's score is updated later (a second write time), every seventh row gets a TTL on its
 * note, every fifth row has no tags (a null cell).
 */
export async function loadEvents(
  client: cassandra.Client,
  keyspace: string,
  shape = { tenants: 5, buckets: 6, seqs: 100 },
): Promise<number> {
  const rows: Array<{ tenant: string; bucket: number; seq: number }> = [];
  for (let t = 0; t < shape.tenants; t++)
    for (let b = 0; b < shape.buckets; b++) for (let s = 0; s < shape.seqs; s++) rows.push({ tenant: `t${t}`, bucket: b, seq: s });
  await runBounded(rows, 64, async ({ tenant, bucket, seq }, i) => {
    const wt = micros(BASE_MICROS + BigInt(i));
    const tags = i % 5 === 0 ? null : [`a${i % 3}`, `b${i % 4}`];
    await client.execute(
      `INSERT INTO ${keyspace}.events (tenant, bucket, seq, name, payload, score, tags) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`,
      [tenant, bucket, seq, `n${seq % 7}`, randomBytes(64 + (i % 200)), i / 3, tags, wt],
      { prepare: true },
    );
    if (i % 3 === 0) {
      await client.execute(
        `UPDATE ${keyspace}.events USING TIMESTAMP ? SET score = ? WHERE tenant = ? AND bucket = ? AND seq = ? AND name = ?`,
        [micros(BASE_MICROS + 10_000_000n + BigInt(i)), -i, tenant, bucket, seq, `n${seq % 7}`],
        { prepare: true },
      );
    }
    if (i % 7 === 0) {
      await client.execute(
        `UPDATE ${keyspace}.events USING TIMESTAMP ? AND TTL 86400 SET note = ? WHERE tenant = ? AND bucket = ? AND seq = ? AND name = ?`,
        [micros(BASE_MICROS + 20_000_000n + BigInt(i)), `note ${i}`, tenant, bucket, seq, `n${seq % 7}`],
        { prepare: true },
      );
    }
  });
  return rows.length;
}

/** Every row of a table as `key → values and write times`, as text, for deep comparison. */
export async function dumpTable(client: cassandra.Client, ref: TableRef): Promise<Map<string, string>> {
  const schema = await readTableSchema(client, ref);
  if (!schema) throw new Error(`no table ${ref.keyspace}.${ref.table}`);
  const keys = [...schema.partitionKey, ...schema.clustering].map((c) => ident(c.name));
  const vals = schema.values.flatMap((c) => [ident(c.name), `writetime(${ident(c.name)})`]);
  const out = new Map<string, string>();
  const fmt = (v: unknown): string =>
    Buffer.isBuffer(v)
      ? v.toString('hex')
      : v === null || v === undefined
        ? 'null'
        : Array.isArray(v)
          ? `[${v.map(fmt).join(',')}]`
          : String(v);
  const cql = `SELECT ${[...keys, ...vals].join(', ')} FROM ${qualified(ref)}`;
  let pageState: string | undefined;
  do {
    const rs = await client.execute(cql, [], { prepare: true, fetchSize: 1000, pageState });
    for (const row of rs.rows) {
      const v = row.values() as unknown[];
      out.set(v.slice(0, keys.length).map(fmt).join('|'), v.slice(keys.length).map(fmt).join('|'));
    }
    pageState = rs.pageState ?? undefined;
  } while (pageState);
  return out;
}

export type { CassandraEndpoint };
