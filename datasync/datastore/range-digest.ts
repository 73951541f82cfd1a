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

export interface RangeDigest {
  readonly md5: string;
  /** Rows read (digested or set aside). */
  readonly rows: number;
  /** Keys (encoded) of rows set aside: written at or after the cutoff, or in the exclusion set. */
  readonly recent: ReadonlySet<string>;
}

/**
 * Rows a digest leaves out. `cutoffUs`: a row with any cell written at or
 * after it (µs, as Cassandra's writetime) is set aside: it was written while
 * every data layer was copying writes to both clusters with one timestamp, so
 * the two sides agree on it once the write has landed on both — but a digest
 * may catch it on one side before the other. `exclude`: keys set aside on
 * either side by an earlier pass, left out on both.
 */
export interface DigestFilter {
  readonly cutoffUs?: number;
  readonly exclude?: ReadonlySet<string>;
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

/** Digests (range.start, range.end] at one cluster, leaving out the rows `filter` names. */
export async function digestRange(
  client: Client,
  schema: TableSchema,
  range: TokenRange,
  pageSize: number,
  filter: DigestFilter = {},
): Promise<RangeDigest> {
  const { keyStart, keyCount, valueStart } = scanLayout(schema);
  const hash = createHash('md5');
  const recent = new Set<string>();
  const filtering = filter.cutoffUs !== undefined || (filter.exclude?.size ?? 0) > 0;
  let rows = 0;
  for await (const page of scanRange(client, schema, range.start, range.end, pageSize)) {
    for (const row of page.rows) {
      rows++;
      if (filtering) {
        const keyHash = createHash('md5');
        for (let k = keyStart; k < keyStart + keyCount; k++) feed(keyHash, row[k]);
        const key = keyHash.digest('base64');
        let late = filter.exclude?.has(key) ?? false;
        for (let i = 0; !late && filter.cutoffUs !== undefined && i < schema.values.length; i++) {
          // writetime, a 64-bit µs count as the driver decodes it (Long or bigint); null for an unset cell
          const written = row[valueStart + 3 * i + 1];
          if (written !== null && written !== undefined && Number(tokenToBigInt(written)) >= filter.cutoffUs) late = true;
        }
        if (late) {
          recent.add(key);
          continue;
        }
      }
      hash.update('R');
      for (let k = keyStart; k < keyStart + keyCount; k++) feed(hash, row[k]);
      for (let i = 0; i < schema.values.length; i++) {
        feed(hash, row[valueStart + 3 * i]);
        feed(hash, row[valueStart + 3 * i + 1]);
      }
    }
  }
  return { md5: hash.digest('hex'), rows, recent };
}
