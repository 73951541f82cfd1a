/**
 * Client-side write timestamps in microseconds since the Unix epoch, as
 * Cassandra's last-write-wins compares them. Strictly increasing per
 * generator (wall clock in µs, or the last value + 1 when the clock has not
 * moved on or went back), so two writes from one process to one key never
 * tie, and a copy-on-write sends the very same value to both clusters.
 * Microsecond values stay below 2^53 until the year 2255, so a plain number
 * is exact.
 */
export class WriteTimestampGenerator {
  private last = 0;

  constructor(private readonly nowMs: () => number = Date.now) {}

  /** The next timestamp (µs); always greater than every one returned before. */
  next(): number {
    const wall = Math.floor(this.nowMs() * 1000);
    this.last = wall > this.last ? wall : this.last + 1;
    return this.last;
  }

  /** The last timestamp handed out (0 before the first). */
  peek(): number {
    return this.last;
  }
}

/** One generator per process, shared by every data layer in it so versions grow across them. */
export const processWriteTimestamps = new WriteTimestampGenerator();
