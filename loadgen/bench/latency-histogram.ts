import { build, type Histogram } from 'hdr-histogram-js';

/** Latency percentiles of one run, in microseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** A histogram of latencies in whole microseconds, 1 µs to 120 s at 3 significant digits. */
export function newLatencyHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

/** Percentiles of a microsecond histogram; NaN throughout when it is empty. */
export function summarizeLatency(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
  return {
    count: h.totalCount,
    mean: Math.round(h.mean),
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
  };
}

/** A latency in ms as the whole microseconds a histogram records (at least 1). */
export const latencyMicros = (ms: number): number => Math.max(1, Math.round(ms * 1000));

/**
 * Records latencies in whole microseconds. autocannon's own histogram keeps
 * whole milliseconds, too coarse for "added p99 ≤ 2 ms", so the bench records
 * every response here as well.
 */
export class LatencyRecorder {
  private readonly histogram: Histogram = newLatencyHistogram();

  recordMs(ms: number): void {
    this.histogram.recordValue(latencyMicros(ms));
  }

  summary(): LatencySummary {
    return summarizeLatency(this.histogram);
  }

  destroy(): void {
    this.histogram.destroy();
  }
}
