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

/** Pages through (after, end] with the driver's paging state; the next page is fetched while the caller works on this one. */
export async function* scanRange(
  client: Client,
  schema: TableSchema,
  after: bigint,
  end: bigint,
  pageSize: number,
): AsyncGenerator<ScanPage> {
  const cql = scanCql(schema);
  const params = [tokenParam(after), tokenParam(end)];
  const fetch = (pageState: string | undefined): Promise<cassandra.types.ResultSet> =>
    client.execute(cql, params, { prepare: true, fetchSize: pageSize, pageState, consistency: READ_CONSISTENCY, isIdempotent: true });
  let pending: Promise<cassandra.types.ResultSet> | undefined = fetch(undefined);
  while (pending) {
    const rs: cassandra.types.ResultSet = await pending;
    const state = rs.pageState ?? undefined;
    pending = state ? fetch(state) : undefined;
    // a prefetched page whose consumer stopped must not become an unhandled rejection
    pending?.catch(() => undefined);
    const rows = rs.rows.map((r) => r.values() as unknown[]);
    yield { rows, tokens: rows.map((v) => tokenToBigInt(v[0])), last: pending === undefined };
  }
}
