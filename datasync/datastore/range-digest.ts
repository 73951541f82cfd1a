import { createHash, type Hash } from 'node:crypto';
import type { Client } from 'cassandra-driver';
import { scanLayout, scanRange } from './range-query.js';
import type { TableSchema } from './table-schema.js';
import { isLongLike, tokenToBigInt, type TokenRange } from './token-ranges.js';

/**
 * An md5 over one token range's content in token order: per row the key
 * values, then each value column's value and write time (TTLs are left out:
 * they count down between the two reads). Equal digests at N1 and N2 mean
 * equal data, write times included.
 */

/**
 * Value cells by row: the row's key (encoded, see digestRange) to the indexes
 * of its cells in TableSchema.values.
 */
export type CellSet = ReadonlyMap<string, ReadonlySet<number>>;

export interface RangeDigest {
  readonly md5: string;
  /** Rows read (digested, digested with cells left out, or skipped). */
  readonly rows: number;
  /** Value cells found written at or after the cutoff on this side. */
  readonly recent: CellSet;
}

/**
 * Cells a digest leaves out. `cutoffUs`: a value cell written at or after it
 * (µs, as Cassandra's writetime) is late: written while every write went to
 * both sides with one timestamp, so the two sides agree on it once the write
 * has landed on both, but a digest may catch it on one side before the other.
 * `exclude`: cells found late on either side by an earlier pass, left out on
 * both.
 *
 * Per cell, not per row, so that a write made before the cutoff that one side
 * missed cannot hide behind a late write to another cell of its row: the
 * row's other cells are still compared. A row with a left-out cell is digested
 * with a fixed marker in place of that cell's value and write time, unless
 * none of its remaining cells holds a value: then it is skipped, so that a
 * row inserted after the cutoff that one side holds and the other does not
 * (on the wire, or a failed write that reached one side) does not make the
 * digests differ. What the rule still catches:
 * - a row deleted before the cutoff on one side only, then given a late cell
 *   on both: the side that kept the row has old, non-late values in it and
 *   digests the row; the other skips it: the digests differ;
 * - a column updated (or deleted) before the cutoff and missed by one side,
 *   next to a late write to another column of the row: the stale column is
 *   compared; a static column likewise, in every clustering row of its
 *   partition the scan returns (it is compared per row it appears in);
 * and what it leaves out, safely: a late write to the very cell one side
 * missed supersedes the missed write (the late write is newer).
 * Not seen: the presence of a row's primary key (its row marker, as an
 * INSERT leaves it) in a row whose value cells are all late or null, since
 * the write time of key columns cannot be selected. Not known late: a late
 * delete (a tombstone reads as a null cell without a write time), so one
 * that has landed on one side only makes the digests differ until it lands
 * on the other (a false alarm, not a hole).
 */
export interface DigestFilter {
  readonly cutoffUs?: number;
  readonly exclude?: CellSet;
}

/** Cells in a set. */
export function cellCount(cells: CellSet): number {
  let n = 0;
  for (const columns of cells.values()) n += columns.size;
  return n;
}

/** The union of cell sets, as a new set. */
export function unionCells(...sets: readonly CellSet[]): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const set of sets) {
    for (const [key, columns] of set) {
      const mine = out.get(key);
      if (mine) for (const c of columns) mine.add(c);
      else out.set(key, new Set(columns));
    }
  }
  return out;
}

/** A decoded value written in one unambiguous form, the same for both clusters' decodings. */
function feed(hash: Hash, v: unknown): void {
  if (v === null || v === undefined) {
    hash.update('N;');
  } else if (Buffer.isBuffer(v)) {
    hash.update(`B${v.length}:`);
    hash.update(v);
  } else if (typeof v === 'string') {
    hash.update(`S${Buffer.byteLength(v)}:`);
    hash.update(v);
  } else if (isLongLike(v)) {
    hash.update(`J${v.high}:${v.low};`);
  } else if (v instanceof Date) {
    hash.update(`D${v.getTime()};`);
  } else if (Array.isArray(v)) {
    hash.update(`L${v.length}[`);
    for (const x of v) feed(hash, x);
    hash.update(']');
  } else if (v instanceof Map) {
    hash.update(`M${v.size}[`);
    for (const [k, x] of v) {
      feed(hash, k);
      feed(hash, x);
    }
    hash.update(']');
  } else if (v instanceof Set) {
    hash.update(`T${v.size}[`);
    for (const x of v) feed(hash, x);
    hash.update(']');
  } else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    // a user-defined type value
    const entries = Object.entries(v as Record<string, unknown>);
    hash.update(`U${entries.length}[`);
    for (const [k, x] of entries) {
      feed(hash, k);
      feed(hash, x);
    }
    hash.update(']');
  } else {
    // numbers, bigint, Long, Uuid, InetAddress, LocalDate, BigDecimal, Integer, Tuple...: their text form
    const s = String(v);
    hash.update(`${typeof v}${s.length}:${s}`);
  }
}

/** In place of a left-out cell's value and write time; no encoding of feed() starts with X. */
const LEFT_OUT = 'X;';

/** The row's key values as a short string, the same for both clusters' decodings. */
function encodeKey(row: readonly unknown[], keyStart: number, keyCount: number): string {
  const keyHash = createHash('md5');
  for (let k = keyStart; k < keyStart + keyCount; k++) feed(keyHash, row[k]);
  return keyHash.digest('base64');
}

/** Digests (range.start, range.end] at one cluster, leaving out the cells `filter` names. */
export async function digestRange(
  client: Client,
  schema: TableSchema,
  range: TokenRange,
  pageSize: number,
  filter: DigestFilter = {},
): Promise<RangeDigest> {
  const { keyStart, keyCount, valueStart } = scanLayout(schema);
  const hash = createHash('md5');
  const recent = new Map<string, Set<number>>();
  const { cutoffUs, exclude } = filter;
  const excluding = exclude !== undefined && exclude.size > 0;
  const columns = schema.values.length;
  const isLate = (row: readonly unknown[], i: number): boolean => {
    if (cutoffUs === undefined) return false;
    // writetime, a 64-bit µs count as the driver decodes it (Long or bigint); null for an unset cell
    const written = row[valueStart + 3 * i + 1];
    return written !== null && written !== undefined && Number(tokenToBigInt(written)) >= cutoffUs;
  };
  let rows = 0;
  for await (const page of scanRange(client, schema, range.start, range.end, pageSize)) {
    for (const row of page.rows) {
      rows++;
      // Cells left out of this row: late here, or in the exclusion set. The key is encoded only
      // when the row has a late cell or there is an exclusion set to look it up in.
      let late: Set<number> | undefined;
      for (let i = 0; cutoffUs !== undefined && i < columns; i++) {
        if (!isLate(row, i)) continue;
        late ??= new Set();
        late.add(i);
      }
      let leftOut = late;
      if (late !== undefined || excluding) {
        const key = encodeKey(row, keyStart, keyCount);
        if (late !== undefined) recent.set(key, late);
        const excluded = exclude?.get(key);
        if (excluded !== undefined) leftOut = new Set([...(late ?? []), ...excluded]);
      }
      if (leftOut !== undefined) {
        let holdsValue = false;
        for (let i = 0; i < columns && !holdsValue; i++) {
          const v = row[valueStart + 3 * i];
          holdsValue = !leftOut.has(i) && v !== null && v !== undefined;
        }
        // Nothing but left-out cells: a row that exists, as far as the digest can tell, only
        // through writes made after the cutoff (see DigestFilter).
        if (!holdsValue) continue;
      }
      hash.update('R');
      for (let k = keyStart; k < keyStart + keyCount; k++) feed(hash, row[k]);
      for (let i = 0; i < columns; i++) {
        if (leftOut?.has(i)) {
          hash.update(LEFT_OUT);
        } else {
          feed(hash, row[valueStart + 3 * i]);
          feed(hash, row[valueStart + 3 * i + 1]);
        }
      }
    }
  }
  return { md5: hash.digest('hex'), rows, recent };
}
