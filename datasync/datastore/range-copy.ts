import type { Client } from 'cassandra-driver';
import cassandra from 'cassandra-driver';
import { runBounded } from './bounded-pool.js';
import { scanLayout, scanRange, type ScanLayout, type ScanPage } from './range-query.js';
import { ident, qualified, type TableSchema } from './table-schema.js';
import { int64Key, type TokenRange } from './token-ranges.js';

/**
 * Copies one token range from N1 to N2. Every cell is written with its N1
 * write time (`USING TIMESTAMP`), columns that share a write time and TTL in
 * one INSERT, so a newer live write at N2 always wins and re-copying a range
 * changes nothing. Null cells are not written (they would be tombstones).
 */

/** Which cluster a failed request went to; the orchestrator names it in its error. */
export class RangeIoError extends Error {
  override readonly name = 'RangeIoError';
  constructor(
    readonly side: 'n1' | 'n2',
    cause: unknown,
  ) {
    super(`${side === 'n1' ? 'read from N1' : 'write to N2'} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export interface RangePage {
  readonly rows: number;
  readonly bytes: number;
  /** Every partition with a token at or below this one is fully copied. */
  readonly completeThrough: bigint;
  readonly done: boolean;
}

export interface CopyRangeOptions {
  readonly source: Client;
  readonly target: Client;
  readonly schema: TableSchema;
  readonly range: TokenRange;
  /** Resume point: copy tokens after this (default range.start). */
  readonly after?: bigint;
  readonly pageSize: number;
  /** Requests (INSERTs or batches) in flight per range. */
  readonly writeConcurrency: number;
  /**
   * Unlogged batches of up to this many INSERTs (1 = no batches). They save
   * per-request work at N2; Cassandra warns above 5 KiB or 10 partitions per batch.
   */
  readonly batchStatements: number;
  /** A batch is closed once its values reach this many bytes. */
  readonly batchBytes: number;
  readonly signal?: AbortSignal;
  /** Called after each page is written (checkpoint, progress); awaited. */
  readonly onPage?: (page: RangePage) => Promise<void> | void;
}

export interface RangeCopyResult {
  readonly rows: number;
  readonly bytes: number;
  /** False when stopped by the signal before the range's end. */
  readonly done: boolean;
}

const WRITE_CONSISTENCY = cassandra.types.consistencies.localQuorum;

/** Rough size of a decoded value, for the bytes figure. */
export function valueBytes(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (Buffer.isBuffer(v)) return v.length;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || typeof v === 'bigint' || v instanceof Date) return 8;
  if (typeof v === 'boolean') return 1;
  if (Array.isArray(v)) return v.reduce((n: number, x: unknown) => n + valueBytes(x), 0);
  if (v instanceof Map) return [...v].reduce((n, [k, x]) => n + valueBytes(k) + valueBytes(x), 0);
  if (v instanceof Set) return [...v].reduce((n: number, x: unknown) => n + valueBytes(x), 0);
  const buf = (v as { buffer?: unknown }).buffer;
  if (Buffer.isBuffer(buf)) return buf.length;
  return String(v).length;
}

interface Insert {
  readonly cql: string;
  readonly params: unknown[];
  /** Rough size of the values, for batch sizing. */
  readonly bytes: number;
}

/** Builds (and caches) the INSERT statements for one table. */
class InsertBuilder {
  private readonly cache = new Map<string, string>();
  private readonly layout: ScanLayout;

  constructor(private readonly schema: TableSchema) {
    this.layout = scanLayout(schema);
  }

  /** The INSERTs that recreate one scanned row at N2, plus the row's size. */
  forRow(row: readonly unknown[]): { inserts: Insert[]; bytes: number } {
    const { keyStart, keyCount, partitionKeyCount, valueStart } = this.layout;
    const keys = row.slice(keyStart, keyStart + keyCount);
    // a partition holding only static cells comes back with null clustering values
    const staticOnly = keys.slice(partitionKeyCount).some((k) => k === null || k === undefined);
    const keyValues = staticOnly ? keys.slice(0, partitionKeyCount) : keys;
    let bytes = keyValues.reduce((n: number, k) => n + valueBytes(k), 0);
    const groups = new Map<string, { wt: unknown; ttl: number | null; cols: number[] }>();
    this.schema.values.forEach((col, i) => {
      const v = row[valueStart + 3 * i];
      if (v === null || v === undefined) return;
      if (staticOnly && col.kind !== 'static') return;
      bytes += valueBytes(v);
      const wt = row[valueStart + 3 * i + 1];
      const ttlRaw = row[valueStart + 3 * i + 2];
      const ttl = typeof ttlRaw === 'number' && ttlRaw > 0 ? ttlRaw : null;
      const key = `${int64Key(wt)}|${ttl ?? ''}`;
      let g = groups.get(key);
      if (!g) {
        g = { wt, ttl, cols: [] };
        groups.set(key, g);
      }
      g.cols.push(i);
    });
    const inserts: Insert[] = [];
    for (const g of groups.values()) {
      const values = g.cols.map((i) => row[valueStart + 3 * i]);
      inserts.push({
        cql: this.cql(keyValues.length, g.cols, g.ttl !== null),
        params: [...keyValues, ...values, g.wt, ...(g.ttl !== null ? [g.ttl] : [])],
        bytes: values.reduce((n: number, v) => n + valueBytes(v), 0) + 16,
      });
    }
    if (inserts.length === 0 && !staticOnly) {
      // a row with only its primary key: its row marker's write time cannot be read, so write it
      // with the oldest possible time; any live write or delete at N2 then wins over it
      inserts.push({ cql: this.cql(keyValues.length, [], false), params: [...keyValues, '1'], bytes: 16 });
    }
    return { inserts, bytes };
  }

  private cql(keyCount: number, cols: readonly number[], ttl: boolean): string {
    const cacheKey = `${keyCount}|${cols.join(',')}|${ttl}`;
    let cql = this.cache.get(cacheKey);
    if (!cql) {
      const keyNames = [...this.schema.partitionKey, ...this.schema.clustering].slice(0, keyCount).map((c) => ident(c.name));
      const names = [...keyNames, ...cols.map((i) => ident(this.schema.values[i]!.name))];
      cql =
        `INSERT INTO ${qualified(this.schema)} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ` +
        `USING TIMESTAMP ?${ttl ? ' AND TTL ?' : ''}`;
      this.cache.set(cacheKey, cql);
    }
    return cql;
  }
}

/** Groups INSERTs into requests of at most `max` statements and about `maxBytes` bytes. */
function toRequests(inserts: readonly Insert[], max: number, maxBytes: number): Insert[][] {
  if (max <= 1) return inserts.map((i) => [i]);
  const out: Insert[][] = [];
  let cur: Insert[] = [];
  let size = 0;
  for (const ins of inserts) {
    if (cur.length > 0 && (cur.length >= max || size + ins.bytes > maxBytes)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(ins);
    size += ins.bytes;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Copies (after, range.end] page by page; pages are written with bounded concurrency. */
export async function copyRange(opts: CopyRangeOptions): Promise<RangeCopyResult> {
  const builder = new InsertBuilder(opts.schema);
  let rows = 0;
  let bytes = 0;
  let completeThrough = opts.after ?? opts.range.start;
  const pages = scanRange(opts.source, opts.schema, completeThrough, opts.range.end, opts.pageSize);
  try {
    while (true) {
      if (opts.signal?.aborted) return { rows, bytes, done: false };
      let next: IteratorResult<ScanPage>;
      try {
        next = await pages.next();
      } catch (err) {
        throw new RangeIoError('n1', err);
      }
      if (next.done) break;
      const page = next.value;
      const built = page.rows.map((r) => builder.forRow(r));
      const inserts = built.flatMap((b) => b.inserts);
      const pageBytes = built.reduce((n, b) => n + b.bytes, 0);
      try {
        await runBounded(toRequests(inserts, opts.batchStatements, opts.batchBytes), opts.writeConcurrency, async (req) => {
          if (req.length === 1) {
            await opts.target.execute(req[0]!.cql, req[0]!.params, { prepare: true, consistency: WRITE_CONSISTENCY, isIdempotent: true });
          } else {
            await opts.target.batch(
              req.map((i) => ({ query: i.cql, params: i.params })),
              { prepare: true, logged: false, consistency: WRITE_CONSISTENCY, isIdempotent: true },
            );
          }
        });
      } catch (err) {
        throw new RangeIoError('n2', err);
      }
      rows += page.rows.length;
      bytes += pageBytes;
      // the last partition of a page may go on in the next page: only tokens below it are complete
      const lastToken = page.tokens[page.tokens.length - 1];
      if (page.last) completeThrough = opts.range.end;
      else if (lastToken !== undefined) {
        for (let i = page.tokens.length - 1; i >= 0; i--) {
          if (page.tokens[i]! < lastToken) {
            if (page.tokens[i]! > completeThrough) completeThrough = page.tokens[i]!;
            break;
          }
        }
      }
      await opts.onPage?.({ rows: page.rows.length, bytes: pageBytes, completeThrough, done: page.last });
      if (page.last) return { rows, bytes, done: true };
    }
    // an empty range ends with no page at all only if the driver returned none
    await opts.onPage?.({ rows: 0, bytes: 0, completeThrough: opts.range.end, done: true });
    return { rows, bytes, done: true };
  } finally {
    await pages.return(undefined);
  }
}
