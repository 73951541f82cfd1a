import { GATEWAY_METRICS, isServerError } from './n2-traffic.js';
import { parsePromText } from './prometheus-text.js';
import type { TrafficCounters } from './traffic-window.js';

/** The deployment key that sums an app's every deployment (its p99 over all its traffic). */
export const ALL_DEPLOYMENTS = '*';

/** The series key of an app's deployment (`n1`, `n2`, `none`: the gateway's own replies) or of all of them. */
export const seriesKey = (app: string, deployment: string): string => `${app} ${deployment}`;

/** The app and deployment of a series key (app names hold no space). */
export function parseSeriesKey(key: string): { readonly app: string; readonly deployment: string } {
  const i = key.indexOf(' ');
  return { app: key.slice(0, i), deployment: key.slice(i + 1) };
}

interface Acc {
  requests: number;
  errors: number;
  buckets: Map<number, number>;
}

/**
 * One gateway's traffic per app and deployment, as counters since it started (the live
 * dashboard's view; the analysis gates read N2's alone with n2TrafficByApp): requests answered,
 * 5xx among them and the latency buckets, under seriesKey(app, deployment), and summed over the
 * app's deployments under seriesKey(app, ALL_DEPLOYMENTS). Requests no app matched (`app="-"`)
 * are left out. Throws PromTextError for a text that is not an exposition.
 */
export function trafficByDeployment(metricsText: string): Map<string, TrafficCounters> {
  const acc = new Map<string, Acc>();
  const of = (key: string): Acc => {
    let a = acc.get(key);
    if (!a) {
      a = { requests: 0, errors: 0, buckets: new Map() };
      acc.set(key, a);
    }
    return a;
  };
  for (const s of parsePromText(metricsText)) {
    const { app, deployment, status = '' } = s.labels;
    if (s.name !== GATEWAY_METRICS.requests && s.name !== GATEWAY_METRICS.latencyBucket) continue;
    if (app === undefined || app === '-' || deployment === undefined) continue;
    const targets = [of(seriesKey(app, deployment)), of(seriesKey(app, ALL_DEPLOYMENTS))];
    if (s.name === GATEWAY_METRICS.requests) {
      for (const a of targets) {
        a.requests += s.value;
        if (isServerError(status)) a.errors += s.value;
      }
    } else {
      const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      if (Number.isNaN(le)) continue;
      for (const a of targets) a.buckets.set(le, (a.buckets.get(le) ?? 0) + s.value);
    }
  }
  return acc;
}
