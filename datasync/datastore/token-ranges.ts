/**
 * The Murmur3 token ring split into contiguous ranges for the snapshot copy.
 * Tokens are signed 64-bit; Murmur3Partitioner never gives a key the minimum
 * token (it maps it to the maximum), so (-2^63, 2^63-1] covers every key.
 * Ranges are (start, end]: start exclusive, end inclusive, as in
 * `token(pk) > start AND token(pk) <= end`.
 */

export const MIN_TOKEN = -(2n ** 63n);
export const MAX_TOKEN = 2n ** 63n - 1n;
const RING_SPAN = MAX_TOKEN - MIN_TOKEN;

/** One slice of the ring: tokens t with start < t <= end. */
export interface TokenRange {
  readonly index: number;
  readonly start: bigint;
  readonly end: bigint;
}

/** Splits the whole ring into `count` ranges of (nearly) equal width, in token order. */
export function splitRing(count: number): TokenRange[] {
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
    throw new RangeError(`range count must be an integer in 1..1000000, got ${count}`);
  }
  const n = BigInt(count);
  const ranges: TokenRange[] = [];
  let start = MIN_TOKEN;
  for (let i = 0; i < count; i++) {
    const end = i === count - 1 ? MAX_TOKEN : MIN_TOKEN + (RING_SPAN * BigInt(i + 1)) / n;
    ranges.push({ index: i, start, end });
    start = end;
  }
  return ranges;
}

/** Fraction (0..1) of a range's width that lies at or below `token`. */
export function coveredFraction(range: TokenRange, token: bigint): number {
  if (token <= range.start) return 0;
  if (token >= range.end) return 1;
  return Number(((token - range.start) * 1_000_000n) / (range.end - range.start)) / 1_000_000;
}

/** Width of a range relative to the whole ring (0..1). */
export function ringShare(range: TokenRange): number {
  return Number(((range.end - range.start) * 1_000_000_000n) / RING_SPAN) / 1_000_000_000;
}

/**
 * A token as the driver decodes it (types.Long by default, bigint with
 * `encoding.useBigIntAsLong`) turned into a bigint.
 */
export function tokenToBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (isLongLike(value)) return (BigInt(value.high) << 32n) | BigInt(value.low >>> 0);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (value !== null && typeof value === 'object' && typeof (value as { toString: unknown }).toString === 'function') {
    const s = String(value);
    if (/^-?\d+$/.test(s)) return BigInt(s);
  }
  throw new TypeError(`not a token: ${String(value)}`);
}

interface LongLike {
  readonly high: number;
  readonly low: number;
}

/** The driver's types.Long (high/low 32-bit halves); read directly, since Long's toString is slow. */
export function isLongLike(value: unknown): value is LongLike {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as LongLike).high === 'number' &&
    typeof (value as LongLike).low === 'number'
  );
}

/** A cheap map key for a 64-bit value as the driver decodes it (Long, bigint or number). */
export function int64Key(value: unknown): string {
  return isLongLike(value) ? `${value.high}:${value.low}` : String(value);
}

/**
 * A token as a bind parameter: the driver encodes bigint columns from a
 * decimal string whichever way the client decodes them.
 */
export function tokenParam(token: bigint): string {
  return token.toString();
}
