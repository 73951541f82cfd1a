/**
 * Pure reductions of a run's samples into time series: 100 ms buckets per
 * deployment (by completion time) and request rates per window.
 */
import { BUCKET_MS, isSuccess, type Sample, type SeriesPoint, type ServedBy } from '../load-model.js';

const SERVED_BY_ORDER: readonly ServedBy[] = ['n1', 'n2', 'none', 'unknown'];

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sortedAsc: readonly number[], p: number): number {
  if (sortedAsc.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sortedAsc.length));
  return sortedAsc[Math.min(rank, sortedAsc.length) - 1] ?? NaN;
}

function bucketStart(ms: number, bucketMs: number): number {
  return Math.floor(ms / bucketMs) * bucketMs;
}

function groupBy<K>(samples: readonly Sample[], key: (s: Sample) => K): Map<K, Sample[]> {
  const groups = new Map<K, Sample[]>();
  for (const s of samples) {
    const k = key(s);
    const list = groups.get(k);
    if (list) list.push(s);
    else groups.set(k, [s]);
  }
  return groups;
}

/**
 * Buckets samples by `end` into `bucketMs` windows, one point per
 * (bucket, servedBy) that has samples, ordered by time then deployment.
 * Percentiles are exact (nearest rank): a bucket holds few samples.
 */
export function bucketSamples(samples: readonly Sample[], bucketMs: number = BUCKET_MS): SeriesPoint[] {
  const groups = groupBy(samples, (s) => `${bucketStart(s.end, bucketMs)}|${s.servedBy}`);
  const points: SeriesPoint[] = [];
  for (const list of groups.values()) {
    const first = list[0];
    if (!first) continue;
    const latencies = list.map((s) => s.latencyMs).sort((a, b) => a - b);
    points.push({
      t: bucketStart(first.end, bucketMs),
      servedBy: first.servedBy,
      count: list.length,
      errors: list.filter((s) => !isSuccess(s)).length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? NaN,
    });
  }
  return points.sort((a, b) => a.t - b.t || SERVED_BY_ORDER.indexOf(a.servedBy) - SERVED_BY_ORDER.indexOf(b.servedBy));
}

/** Responses per second in one window, per deployment. */
export interface ThroughputPoint {
  /** Window start, ms since the run started. */
  readonly t: number;
  readonly servedBy: ServedBy;
  /** Completed responses in the window, scaled to per second. */
  readonly rps: number;
  /** Failed responses (not 2xx/3xx, or socket errors) in the window, per second. */
  readonly errorsPerSecond: number;
}

/**
 * Rate of completed responses per deployment, in windows of `windowMs`
 * (default one second). Windows with no response for a deployment that
 * answered at some point in the run are reported as 0, so lines drop to
 * zero instead of skipping the gap.
 */
export function throughputPerSecond(samples: readonly Sample[], windowMs = 1000): ThroughputPoint[] {
  if (samples.length === 0) return [];
  const scale = 1000 / windowMs;
  const deployments = SERVED_BY_ORDER.filter((d) => samples.some((s) => s.servedBy === d));
  let last = 0;
  for (const s of samples) last = Math.max(last, bucketStart(s.end, windowMs));
  let firstWindow = Infinity;
  for (const s of samples) firstWindow = Math.min(firstWindow, bucketStart(s.end, windowMs));
  const counts = groupBy(samples, (s) => `${bucketStart(s.end, windowMs)}|${s.servedBy}`);
  const points: ThroughputPoint[] = [];
  for (let t = Math.min(0, firstWindow); t <= last; t += windowMs) {
    for (const d of deployments) {
      const list = counts.get(`${t}|${d}`) ?? [];
      points.push({ t, servedBy: d, rps: list.length * scale, errorsPerSecond: list.filter((s) => !isSuccess(s)).length * scale });
    }
  }
  return points;
}
