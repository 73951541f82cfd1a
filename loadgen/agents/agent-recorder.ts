/**
 * An agent's running account of its share: every sample into latency histograms (all requests,
 * and per deployment that answered) and into per-second counts, so nothing per request is kept
 * and the result stays small however long the run.
 */
import type { Histogram } from 'hdr-histogram-js';
import { latencyMicros, newLatencyHistogram } from '../bench/latency-histogram.js';
import { isSuccess, type Sample, type ServedBy } from '../load-model.js';
import { errorLabel } from '../analysis/switchover.js';
import type { AgentSeries, CompletedResult } from './agent-result.js';
import { encodeHistogram } from './histogram-codec.js';

const SERVED_BY_ORDER: readonly ServedBy[] = ['n1', 'n2', 'none', 'unknown'];

/** Wall-clock now in epoch ms, at sub-millisecond resolution. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

export class AgentRecorder {
  private readonly all: Histogram = newLatencyHistogram();
  private readonly byServedBy = new Map<ServedBy, Histogram>();
  private readonly perSecond = new Map<ServedBy, { requests: number[]; errors: number[] }>();
  private readonly byError: Record<string, number> = {};
  private requests = 0;
  private errors = 0;

  /**
   * @param startAtEpochMs the run's start time: second 0 of the series, the same for every agent
   * @param clock epoch ms when a sample is recorded (it completed just now)
   */
  constructor(
    private readonly startAtEpochMs: number,
    private readonly clock: () => number = epochNow,
  ) {}

  /** Records one sample; bound, so it can be handed to the load generator as `onSample`. */
  readonly record = (s: Sample): void => {
    const micros = latencyMicros(s.latencyMs);
    this.all.recordValue(micros);
    let h = this.byServedBy.get(s.servedBy);
    if (!h) {
      h = newLatencyHistogram();
      this.byServedBy.set(s.servedBy, h);
    }
    h.recordValue(micros);
    this.requests += 1;
    const failed = !isSuccess(s);
    if (failed) {
      this.errors += 1;
      const label = errorLabel(s);
      this.byError[label] = (this.byError[label] ?? 0) + 1;
    }
    const second = Math.max(0, Math.floor((this.clock() - this.startAtEpochMs) / 1000));
    let series = this.perSecond.get(s.servedBy);
    if (!series) {
      series = { requests: [], errors: [] };
      this.perSecond.set(s.servedBy, series);
    }
    series.requests[second] = (series.requests[second] ?? 0) + 1;
    if (failed) series.errors[second] = (series.errors[second] ?? 0) + 1;
  };

  get count(): number {
    return this.requests;
  }

  /** The published form: histograms encoded, every deployment's series as long as the longest, gaps as 0. */
  result(fields: Pick<CompletedResult, 'agent' | 'host' | 'pid' | 'startedAtEpochMs' | 'durationMs' | 'unfinished'>): CompletedResult {
    const seconds = Math.max(0, ...[...this.perSecond.values()].map((s) => s.requests.length));
    const dense = (xs: readonly (number | undefined)[]): number[] => Array.from({ length: seconds }, (_, i) => xs[i] ?? 0);
    const series: AgentSeries[] = SERVED_BY_ORDER.filter((d) => this.perSecond.has(d)).map((d) => {
      const s = this.perSecond.get(d)!;
      return { servedBy: d, requests: dense(s.requests), errors: dense(s.errors) };
    });
    const latencyByServedBy: Partial<Record<ServedBy, string>> = {};
    for (const d of SERVED_BY_ORDER) {
      const h = this.byServedBy.get(d);
      if (h) latencyByServedBy[d] = encodeHistogram(h);
    }
    return {
      outcome: 'completed',
      ...fields,
      requests: this.requests,
      errors: this.errors,
      byError: { ...this.byError },
      latency: encodeHistogram(this.all),
      latencyByServedBy,
      series,
    };
  }

  destroy(): void {
    this.all.destroy();
    for (const h of this.byServedBy.values()) h.destroy();
  }
}
