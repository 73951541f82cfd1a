/**
 * Milliseconds on CLOCK_MONOTONIC (process.hrtime), the one clock every process of a host reads
 * alike. performance.now() is not: it counts from each process's own start. The primary of a
 * multi-worker gateway dates its lease on this clock, so a worker compares the same instant with
 * its own reading, whatever the delay of the message that carried it.
 */
export function monotonicNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
