import { type CassandraDataLayer, CQL_IDENTIFIER, SyncError } from '../../datasync/index.js';
import type { KvEntry, KvStore } from './kv-store.js';

export interface CassandraStoreOptions {
  readonly keyspace: string;
  /** Table name (default 'kv'). */
  readonly table?: string;
}

/**
 * The reference app's KvStore on Cassandra, through the migration-aware data
 * layer: one row per key (`k text PRIMARY KEY, v text`). A value's version is
 * its write timestamp (µs), which the data layer hands out strictly
 * increasing and sends unchanged to both clusters in copy-on-write, so
 * versions grow per key, also across a delete and re-create, and a value has
 * the same version at N1 and N2 (the snapshot copy keeps write times too).
 */
export class CassandraStore implements KvStore {
  private readonly qualified: string;

  constructor(
    private readonly layer: CassandraDataLayer,
    private readonly opts: CassandraStoreOptions,
  ) {
    const table = opts.table ?? 'kv';
    for (const [field, name] of [
      ['keyspace', opts.keyspace],
      ['table', table],
    ] as const) {
      if (!CQL_IDENTIFIER.test(name))
        throw new SyncError('NW_SYNC_CONFIG_INVALID', `cassandra store ${field}: ${JSON.stringify(name)} is not a CQL identifier`);
    }
    this.qualified = `${opts.keyspace}.${table}`;
  }

  /** Creates the keyspace (SimpleStrategy, replication factor 1) and the table where missing, on every cluster the layer uses. */
  async ensureSchema(): Promise<void> {
    await this.layer.executeSchema(
      `CREATE KEYSPACE IF NOT EXISTS ${this.opts.keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await this.layer.executeSchema(`CREATE TABLE IF NOT EXISTS ${this.qualified} (k text PRIMARY KEY, v text)`);
  }

  async get(key: string): Promise<KvEntry | undefined> {
    const row = (await this.layer.read(`SELECT v, writetime(v) AS wt FROM ${this.qualified} WHERE k = ?`, [key])).first();
    if (!row) return undefined;
    const value = row.get('v') as string | null;
    if (value === null) return undefined;
    return { value, version: Number(row.get('wt')) };
  }

  async put(key: string, value: string): Promise<number> {
    return (await this.layer.write(`INSERT INTO ${this.qualified} (k, v) VALUES (?, ?)`, [key, value])).timestamp;
  }

  /**
   * Every row of the table whose key starts with `prefix`, read through the layer (so from the
   * cluster the app reads from: its own, or N2's once the data layer sends all access there).
   * A full scan: meant for checks on small tables, not for serving.
   */
  async entries(prefix: string): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    let pageState: string | undefined;
    do {
      const page = await this.layer.read(`SELECT k, v FROM ${this.qualified}`, [], {
        fetchSize: 1000,
        ...(pageState ? { pageState } : {}),
      });
      for (const row of page.rows) {
        const key = row.get('k') as string;
        const value = row.get('v') as string | null;
        if (value !== null && key.startsWith(prefix)) out.push([key, value]);
      }
      pageState = page.pageState ?? undefined;
    } while (pageState);
    return out;
  }

  /**
   * Deletes the key if it is there. A read first (not `IF EXISTS`: a
   * lightweight transaction takes no client timestamp and would not be
   * copied with one), so a put racing the delete is ordered by timestamp.
   */
  async delete(key: string): Promise<boolean> {
    if (!(await this.get(key))) return false;
    await this.layer.write(`DELETE FROM ${this.qualified} WHERE k = ?`, [key]);
    return true;
  }
}
