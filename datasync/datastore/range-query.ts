import type { Client, types } from 'cassandra-driver';
import cassandra from 'cassandra-driver';
import { ident, qualified, type TableSchema } from './table-schema.js';
import { tokenParam, tokenToBigInt } from './token-ranges.js';

/**
 * The paged scan of one token range that both the copy and the digest read:
 * `token, pk..., ck..., then per value column: value, writetime, ttl`, in
 * token order (and clustering order within a partition).
 */

export interface ScanLayout {
  /** Offset of the first key column in a row's values(). */
  readonly keyStart: 1;
  readonly keyCount: number;
  readonly partitionKeyCount: number;
  /** Offset of value column i is valueStart + 3 * i (value, writetime, ttl). */
  readonly valueStart: number;
}

export function scanLayout(schema: TableSchema): ScanLayout {
  const keyCount = schema.partitionKey.length + schema.clustering.length;
  return { keyStart: 1, keyCount, partitionKeyCount: schema.partitionKey.length, valueStart: 1 + keyCount };
}

export function scanCql(schema: TableSchema): string {
  const pk = schema.partitionKey.map((c) => ident(c.name)).join(', ');
  const keys = [...schema.partitionKey, ...schema.clustering].map((c) => ident(c.name));
  const values = schema.values.flatMap((c) => [ident(c.name), `writetime(${ident(c.name)})`, `ttl(${ident(c.name)})`]);
  return `SELECT token(${pk}), ${[...keys, ...values].join(', ')} FROM ${qualified(schema)} WHERE token(${pk}) > ? AND token(${pk}) <= ?`;
}

export interface ScanPage {
  readonly rows: readonly unknown[][];
  /** Token of each row, parallel to rows. */
  readonly tokens: readonly bigint[];
  /** True when this was the range's last page. */
  readonly last: boolean;
}

const READ_CONSISTENCY: types.consistencies = cassandra.types.consistencies.localQuorum;

/** Rough size of a scanned row (values only). */
function rowBytes(row: readonly unknown[]): number {
  let n = 0;
  for (const v of row) {
    if (Buffer.isBuffer(v)) n += v.length;
    else if (typeof v === 'string') n += v.length;
    else n += 8;
  }
  return n;
}

/**
 * Pages through (after, end] with the driver's paging state; the next page
 * is fetched while the caller works on this one. Pages hold at most
 * `pageSize` rows and, once the row size is known, about `pageBytes` bytes.
 */
export async function* scanRange(
  client: Client,
  schema: TableSchema,
  after: bigint,
  end: bigint,
  pageSize: number,
  pageBytes = 1_000_000,
): AsyncGenerator<ScanPage> {
  const cql = scanCql(schema);
  const params = [tokenParam(after), tokenParam(end)];
  // the first page is small until the row size is known (100 KB rows × 500 would be 50 MB)
  let fetchSize = Math.min(pageSize, 100);
  const fetch = (pageState: string | undefined): Promise<cassandra.types.ResultSet> =>
    client.execute(cql, params, { prepare: true, fetchSize, pageState, consistency: READ_CONSISTENCY, isIdempotent: true });
  let pending: Promise<cassandra.types.ResultSet> | undefined = fetch(undefined);
  while (pending) {
    const rs: cassandra.types.ResultSet = await pending;
    const state = rs.pageState ?? undefined;
    if (rs.rowLength > 0) {
      const sample = rs.rows.slice(0, 20).map((r) => rowBytes(r.values() as unknown[]));
      const avg = sample.reduce((a, b) => a + b, 0) / sample.length;
      fetchSize = Math.max(1, Math.min(pageSize, Math.floor(pageBytes / Math.max(avg, 1))));
    }
    pending = state ? fetch(state) : undefined;
    // a prefetched page whose consumer stopped must not become an unhandled rejection
    pending?.catch(() => undefined);
    const rows = rs.rows.map((r) => r.values() as unknown[]);
    yield { rows, tokens: rows.map((v) => tokenToBigInt(v[0])), last: pending === undefined };
  }
}
