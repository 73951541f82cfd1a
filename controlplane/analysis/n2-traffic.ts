import { parsePromText } from './prometheus-text.js';
import type { TrafficCounters } from './traffic-window.js';

/** What one gateway's /metrics says about N2's traffic for one app, as counters since the gateway started. */
export type N2Traffic = TrafficCounters;

/** The gateway's metric names and labels (gateway/observability/metrics.ts) that the gates read. */
export const GATEWAY_METRICS = {
  requests: 'northwest_gateway_requests_total',
  latencyBucket: 'northwest_gateway_request_duration_seconds_bucket',
} as const;

/**
 * Replies the gateway made itself (`deployment="none"`) that stand for N2 failing while the app
 * sends its traffic there: 502 (N2 refused or reset the connection, or answered garbage) and 504
 * (N2 timed out). A 503 of the gateway's own is left out: it also means a lapsed lease, a full fence
 * hold or a shutdown, which say nothing about N2.
 */
const N2_MODES: ReadonlySet<string> = new Set(['proxy', 'redirect']);
const N2_GATEWAY_FAILURES: ReadonlySet<string> = new Set(['502', '504']);

export const isServerError = (status: string): boolean => status.length === 3 && status.startsWith('5');

/** N2's traffic per app of `apps` in one scrape (apps without any N2 traffic yet are absent). */
export function n2TrafficByApp(metricsText: string, apps: readonly string[]): Map<string, N2Traffic> {
  const wanted = new Set(apps);
  const acc = new Map<string, { requests: number; errors: number; buckets: Map<number, number> }>();
  const of = (app: string) => {
    let a = acc.get(app);
    if (!a) {
      a = { requests: 0, errors: 0, buckets: new Map() };
      acc.set(app, a);
    }
    return a;
  };
  for (const s of parsePromText(metricsText)) {
    const app = s.labels.app;
    if (app === undefined || !wanted.has(app)) continue;
    const { deployment, status = '', mode = '' } = s.labels;
    if (s.name === GATEWAY_METRICS.requests) {
      const n2Failure = deployment === 'none' && N2_MODES.has(mode) && N2_GATEWAY_FAILURES.has(status);
      if (deployment !== 'n2' && !n2Failure) continue;
      const a = of(app);
      a.requests += s.value;
      if (isServerError(status)) a.errors += s.value;
    } else if (s.name === GATEWAY_METRICS.latencyBucket && deployment === 'n2') {
      const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      if (Number.isNaN(le)) continue;
      const buckets = of(app).buckets;
      buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    }
  }
  return acc;
}
