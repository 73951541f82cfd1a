import { histogramQuantile, type TrafficDelta } from './traffic-window.js';

/** The limits of a plan's analysis section that one evaluation needs. */
export interface GateLimits {
  readonly minRequests: number;
  readonly metrics: { readonly errorRate?: { readonly max: number } | undefined; readonly p99Ms?: { readonly max: number } | undefined };
}

export type GateMetric = 'errorRate' | 'p99Ms';

/** One limit N2 went over: which metric, what was measured, and the plan's maximum. */
export interface GateBreach {
  readonly metric: GateMetric;
  readonly measured: number;
  readonly max: number;
}

/**
 * One evaluation of one app's N2 over its window: `pass` (every metric of the plan within its
 * limit), `fail` (one or more over it) or `inconclusive` (fewer requests than `minRequests`: too
 * few to judge, neither a pass nor a failure).
 */
export interface AppVerdict {
  readonly app: string;
  readonly outcome: 'pass' | 'fail' | 'inconclusive';
  readonly requests: number;
  readonly errors: number;
  /** errors / requests; null without requests. */
  readonly errorRate: number | null;
  /** From the latency histogram; null without requests. */
  readonly p99Ms: number | null;
  readonly breaches: readonly GateBreach[];
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

/** Judges one app's N2 traffic over a window against the plan's limits. */
export function judge(app: string, delta: TrafficDelta, limits: GateLimits): AppVerdict {
  const { requests, errors } = delta;
  const errorRate = requests > 0 ? round(errors / requests, 4) : null;
  const p99 = histogramQuantile(0.99, delta.buckets);
  const p99Ms = Number.isFinite(p99) && requests > 0 ? round(p99 * 1000, 1) : null;
  const base = { app, requests, errors, errorRate, p99Ms };
  if (requests < limits.minRequests) return { ...base, outcome: 'inconclusive', breaches: [] };
  const breaches: GateBreach[] = [];
  const { errorRate: rateLimit, p99Ms: p99Limit } = limits.metrics;
  if (rateLimit && errorRate !== null && errorRate > rateLimit.max)
    breaches.push({ metric: 'errorRate', measured: errorRate, max: rateLimit.max });
  if (p99Limit && p99Ms !== null && p99Ms > p99Limit.max) breaches.push({ metric: 'p99Ms', measured: p99Ms, max: p99Limit.max });
  return { ...base, outcome: breaches.length ? 'fail' : 'pass', breaches };
}

const pct = (v: number): string => `${round(v * 100, 2)} %`;

/** How a metric reads to an operator: "error rate 62.5 % (max 5 %)". */
export function describeMetric(metric: GateMetric, measured: number | null, max: number): string {
  if (metric === 'errorRate') return `error rate ${measured === null ? '-' : pct(measured)} (max ${pct(max)})`;
  return `p99 ${measured === null ? '-' : `${measured} ms`} (max ${max} ms)`;
}

/** One line per app for the event log: requests, each gated metric against its limit, the outcome. */
export function describeVerdict(v: AppVerdict, limits: GateLimits): string {
  const parts = [`${v.app}: ${v.requests} N2 requests, ${v.errors} 5xx`];
  if (limits.metrics.errorRate) parts.push(describeMetric('errorRate', v.errorRate, limits.metrics.errorRate.max));
  if (limits.metrics.p99Ms) parts.push(describeMetric('p99Ms', v.p99Ms, limits.metrics.p99Ms.max));
  const outcome = v.outcome === 'inconclusive' ? `inconclusive (under ${limits.minRequests} requests)` : v.outcome;
  return `${parts.join(', ')}: ${outcome}`;
}
