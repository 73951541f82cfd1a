import type { Client } from 'cassandra-driver';
import { SyncError, type SyncErrorCode } from '../errors.js';

/**
 * A table's shape as the snapshot copy needs it, read from system_schema on
 * each cluster, and the checks that make the copy safe: same keys and types
 * at N1 and N2, and only single-cell columns (a multi-cell collection's or
 * counter's write time cannot be copied cell by cell with USING TIMESTAMP).
 */

export interface TableRef {
  readonly keyspace: string;
  readonly table: string;
}

export interface ColumnSchema {
  readonly name: string;
  readonly kind: 'partition_key' | 'clustering' | 'regular' | 'static';
  readonly position: number;
  /** CQL type as system_schema spells it, e.g. `text`, `frozen<list<int>>`. */
  readonly type: string;
  readonly clusteringOrder: 'asc' | 'desc' | 'none';
}

export interface TableSchema extends TableRef {
  readonly partitionKey: readonly ColumnSchema[];
  readonly clustering: readonly ColumnSchema[];
  /** Regular and static columns, by name. */
  readonly values: readonly ColumnSchema[];
}

/** `ks.table` as used in messages and checkpoint paths. */
export function tableName(ref: TableRef): string {
  return `${ref.keyspace}.${ref.table}`;
}

/** A CQL identifier, always quoted so case and odd characters survive. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(ref: TableRef): string {
  return `${ident(ref.keyspace)}.${ident(ref.table)}`;
}

const NATIVE = new Set([
  'ascii',
  'bigint',
  'blob',
  'boolean',
  'date',
  'decimal',
  'double',
  'duration',
  'float',
  'inet',
  'int',
  'smallint',
  'text',
  'time',
  'timestamp',
  'timeuuid',
  'tinyint',
  'uuid',
  'varchar',
  'varint',
]);

/** Why a column cannot be copied with per-cell write times, or undefined if it can. */
export function unsupportedReason(col: ColumnSchema): string | undefined {
  const t = col.type.trim();
  if (t === 'counter') return 'counter columns cannot be written with USING TIMESTAMP';
  if (/^(list|set|map)</.test(t)) return 'multi-cell (non-frozen) collections have one write time per element';
  if (NATIVE.has(t) || t.startsWith('frozen<') || t.startsWith('vector<')) return undefined;
  // tuples are always frozen; anything else by bare name is a non-frozen (multi-cell) user type
  if (t.startsWith('tuple<')) return undefined;
  return 'non-frozen user-defined types are multi-cell';
}

interface ColumnRow {
  column_name: string;
  kind: string;
  position: number;
  type: string;
  clustering_order: string;
}

/** Reads a table's schema; undefined if the keyspace or table does not exist. */
export async function readTableSchema(client: Client, ref: TableRef): Promise<TableSchema | undefined> {
  const rs = await client.execute(
    'SELECT column_name, kind, position, type, clustering_order FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?',
    [ref.keyspace, ref.table],
    { prepare: true },
  );
  if (rs.rowLength === 0) return undefined;
  const cols: ColumnSchema[] = rs.rows.map((r) => {
    const row = r as unknown as ColumnRow;
    return {
      name: row.column_name,
      kind: row.kind as ColumnSchema['kind'],
      position: row.position,
      type: row.type,
      clusteringOrder: (row.clustering_order as ColumnSchema['clusteringOrder']) ?? 'none',
    };
  });
  const byPos = (a: ColumnSchema, b: ColumnSchema): number => a.position - b.position;
  return {
    keyspace: ref.keyspace,
    table: ref.table,
    partitionKey: cols.filter((c) => c.kind === 'partition_key').sort(byPos),
    clustering: cols.filter((c) => c.kind === 'clustering').sort(byPos),
    values: cols.filter((c) => c.kind === 'regular' || c.kind === 'static').sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/** What differs between N1's and N2's definitions of one table. */
export interface SchemaDifference {
  readonly table: string;
  readonly missingTable?: true;
  readonly missingColumns: readonly string[];
  readonly typeDifferences: readonly { column: string; n1: string; n2: string }[];
  readonly keyDifferences: readonly { column: string; n1: string; n2: string }[];
}

function keyShape(c: ColumnSchema): string {
  return c.kind === 'regular' || c.kind === 'static' ? c.kind : `${c.kind}#${c.position} ${c.clusteringOrder}`;
}

/**
 * Compares N2's table against N1's. Columns that only N2 has are allowed
 * (a newer app version may have added them); everything N1 has must exist
 * at N2 with the same type and the same place in the primary key.
 */
export function compareSchemas(n1: TableSchema, n2: TableSchema | undefined): SchemaDifference | undefined {
  const table = tableName(n1);
  if (!n2) return { table, missingTable: true, missingColumns: [], typeDifferences: [], keyDifferences: [] };
  const theirs = new Map([...n2.partitionKey, ...n2.clustering, ...n2.values].map((c) => [c.name, c]));
  const missingColumns: string[] = [];
  const typeDifferences: { column: string; n1: string; n2: string }[] = [];
  const keyDifferences: { column: string; n1: string; n2: string }[] = [];
  for (const c of [...n1.partitionKey, ...n1.clustering, ...n1.values]) {
    const o = theirs.get(c.name);
    if (!o) {
      missingColumns.push(c.name);
      continue;
    }
    if (o.type !== c.type) typeDifferences.push({ column: c.name, n1: c.type, n2: o.type });
    if (keyShape(o) !== keyShape(c)) keyDifferences.push({ column: c.name, n1: keyShape(c), n2: keyShape(o) });
  }
  for (const o of [...n2.partitionKey, ...n2.clustering]) {
    if (!n1.partitionKey.some((c) => c.name === o.name) && !n1.clustering.some((c) => c.name === o.name)) {
      keyDifferences.push({ column: o.name, n1: 'absent', n2: keyShape(o) });
    }
  }
  if (missingColumns.length + typeDifferences.length + keyDifferences.length === 0) return undefined;
  return { table, missingColumns, typeDifferences, keyDifferences };
}

/** Throws NW_SYNC_UNSUPPORTED_SCHEMA if any column of N1's table cannot be copied. */
export function assertSupported(schema: TableSchema): void {
  const problems = schema.values
    .map((c) => ({ column: c.name, type: c.type, reason: unsupportedReason(c) }))
    .filter((p) => p.reason !== undefined);
  if (problems.length > 0) {
    throw new SyncError('NW_SYNC_UNSUPPORTED_SCHEMA', `${tableName(schema)}: ${problems.map((p) => `${p.column} ${p.type}`).join(', ')}`, {
      details: { table: tableName(schema), columns: problems },
    });
  }
}

/** CREATE TABLE statement for N2 from N1's definition (columns and keys; table options are left default). */
export function createTableCql(schema: TableSchema): string {
  const cols = [...schema.partitionKey, ...schema.clustering, ...schema.values].map(
    (c) => `${ident(c.name)} ${c.type}${c.kind === 'static' ? ' STATIC' : ''}`,
  );
  const pk = `(${schema.partitionKey.map((c) => ident(c.name)).join(', ')})`;
  const key = [pk, ...schema.clustering.map((c) => ident(c.name))].join(', ');
  const orderBy = schema.clustering.map((c) => `${ident(c.name)} ${c.clusteringOrder === 'desc' ? 'DESC' : 'ASC'}`).join(', ');
  const order = schema.clustering.length ? ` WITH CLUSTERING ORDER BY (${orderBy})` : '';
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema)} (${cols.join(', ')}, PRIMARY KEY (${key}))${order}`;
}

/** CREATE KEYSPACE statement for N2 with N1's replication settings. */
export async function createKeyspaceCql(source: Client, keyspace: string): Promise<string> {
  const rs = await source.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [keyspace], { prepare: true });
  const replication = (rs.first()?.get('replication') as Record<string, string> | undefined) ?? {
    class: 'SimpleStrategy',
    replication_factor: '1',
  };
  const map = Object.entries(replication)
    .map(([k, v]) => `'${k.replace(/'/g, "''")}': '${v.replace(/'/g, "''")}'`)
    .join(', ');
  return `CREATE KEYSPACE IF NOT EXISTS ${ident(keyspace)} WITH replication = {${map}}`;
}

/**
 * Reads the table at both clusters and checks it can be copied; with
 * `createMissing`, creates a keyspace or table that N2 lacks from N1's
 * definition. Returns N1's schema.
 */
export async function checkTableSchema(
  source: Client,
  target: Client,
  ref: TableRef,
  opts: { createMissing?: boolean; wrapSource: (err: unknown) => SyncError; wrapTarget: (err: unknown) => SyncError },
): Promise<TableSchema> {
  const n1 = await readTableSchema(source, ref).catch((err: unknown) => {
    throw opts.wrapSource(err);
  });
  if (!n1)
    throw new SyncError('NW_SYNC_SCHEMA_MISMATCH', `${tableName(ref)} does not exist at N1`, {
      details: { table: tableName(ref), missingAtN1: true },
    });
  assertSupported(n1);
  let n2 = await readTableSchema(target, ref).catch((err: unknown) => {
    throw opts.wrapTarget(err);
  });
  if (!n2 && opts.createMissing) {
    try {
      await target.execute(await createKeyspaceCql(source, ref.keyspace));
      await target.execute(createTableCql(n1));
    } catch (err) {
      throw opts.wrapTarget(err);
    }
    n2 = await readTableSchema(target, ref).catch((err: unknown) => {
      throw opts.wrapTarget(err);
    });
  }
  const diff = compareSchemas(n1, n2);
  if (diff) {
    const code: SyncErrorCode = 'NW_SYNC_SCHEMA_MISMATCH';
    const parts = [
      diff.missingTable ? 'table missing at N2' : '',
      diff.missingColumns.length ? `missing at N2: ${diff.missingColumns.join(', ')}` : '',
      ...diff.typeDifferences.map((d) => `${d.column} is ${d.n1} at N1 but ${d.n2} at N2`),
      ...diff.keyDifferences.map((d) => `${d.column} key role ${d.n1} at N1 but ${d.n2} at N2`),
    ].filter(Boolean);
    throw new SyncError(code, `${diff.table}: ${parts.join('; ')}`, { details: { ...diff } });
  }
  return n1;
}
