import { ALL_DEPLOYMENTS, parseSeriesKey, trafficByDeployment } from '../../analysis/deployment-traffic.js';
import { processKey, scrapeMetrics, scrapeRefusal } from '../../analysis/gateway-scrape.js';
import { PromTextError } from '../../analysis/prometheus-text.js';
import { histogramQuantile, TrafficWindow } from '../../analysis/traffic-window.js';
import type { MemberStatus } from '../../live-members.js';

export interface DeploymentRate {
  /** `n1`, `n2`, or `none` (replies the gateway made itself: 502, 503, 504 ...). */
  readonly deployment: string;
  readonly rps: number;
  /** 5xx per second. */
  readonly errorRps: number;
  readonly p99Ms: number | null;
}

export interface AppTraffic {
  readonly app: string;
  /** Every deployment's requests per second together. */
  readonly rps: number;
  /** Over every deployment's requests in the window; null without requests. */
  readonly p99Ms: number | null;
  readonly deployments: readonly DeploymentRate[];
}

/** One reading of the fleet's traffic, from the gateways' /metrics. */
export interface TrafficView {
  readonly at: string;
  /** What each rate and p99 covers (the last reads of each gateway this far apart, at most). */
  readonly windowMs: number;
  /** Gateways whose /metrics were read. */
  readonly gateways: number;
  readonly unreadable: ReadonlyArray<{ readonly member: string; readonly reason: string }>;
  readonly apps: readonly AppTraffic[];
}

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;

function p99Of(buckets: ReadonlyMap<number, number>, requests: number): number | null {
  const q = histogramQuantile(0.99, buckets);
  return requests > 0 && Number.isFinite(q) ? round(q * 1000, 1) : null;
}

interface Sum {
  rps: number;
  errorRps: number;
  requests: number;
  buckets: Map<number, number>;
}

/**
 * Requests per second by app and deployment and p99 latency, from every live gateway's /metrics
 * (read as the analysis gates read them: gateway-scrape.ts, prometheus-text.ts, traffic-window.ts).
 * Each `sample()` reads every gateway once; rates are what each gateway's counters grew by since
 * its read nearest `windowMs` back, divided by the time between the two reads, summed over the
 * gateways; a gateway read for the first time adds nothing yet.
 */
export class TrafficMeter {
  private readonly window = new TrafficWindow();

  constructor(
    private readonly fetchFn: typeof fetch,
    private readonly windowMs: number,
    private readonly timeoutMs: number,
  ) {}

  async sample(members: readonly MemberStatus[]): Promise<TrafficView> {
    const gateways = members.filter((m) => m.kind === 'gateway');
    const unreadable: Array<{ member: string; reason: string }> = [];
    const read: Array<{ key: string; series: readonly string[] }> = [];
    await Promise.all(
      gateways.map(async (m) => {
        const refusal = scrapeRefusal(m);
        const res =
          refusal === undefined ? await scrapeMetrics(this.fetchFn, m.adminUrl!, this.timeoutMs) : { ok: false as const, reason: refusal };
        if (!res.ok) return void unreadable.push({ member: m.id, reason: res.reason });
        try {
          const counters = trafficByDeployment(res.text);
          this.window.add(processKey(m), performance.now(), counters);
          read.push({ key: processKey(m), series: [...counters.keys()] });
        } catch (err) {
          if (!(err instanceof PromTextError)) throw err;
          unreadable.push({ member: m.id, reason: `/metrics: ${err.message}` });
        }
      }),
    );
    const sums = new Map<string, Sum>();
    for (const { key, series } of read) {
      for (const s of series) {
        const d = this.window.delta(s, [key], this.windowMs);
        if (d.spanMs <= 0) continue;
        let sum = sums.get(s);
        if (!sum) {
          sum = { rps: 0, errorRps: 0, requests: 0, buckets: new Map() };
          sums.set(s, sum);
        }
        sum.rps += d.requests / (d.spanMs / 1000);
        sum.errorRps += d.errors / (d.spanMs / 1000);
        sum.requests += d.requests;
        for (const [le, n] of d.buckets) sum.buckets.set(le, (sum.buckets.get(le) ?? 0) + n);
      }
    }
    const apps = new Map<string, { all?: Sum; deployments: DeploymentRate[] }>();
    for (const [s, sum] of sums) {
      const { app, deployment } = parseSeriesKey(s);
      const a = apps.get(app) ?? { deployments: [] };
      apps.set(app, a);
      if (deployment === ALL_DEPLOYMENTS) a.all = sum;
      else
        a.deployments.push({
          deployment,
          rps: round(sum.rps, 1),
          errorRps: round(sum.errorRps, 1),
          p99Ms: p99Of(sum.buckets, sum.requests),
        });
    }
    return {
      at: new Date().toISOString(),
      windowMs: this.windowMs,
      gateways: read.length,
      unreadable: unreadable.sort((x, y) => x.member.localeCompare(y.member)),
      apps: [...apps]
        .map(([app, a]) => ({
          app,
          rps: round(a.all?.rps ?? 0, 1),
          p99Ms: a.all ? p99Of(a.all.buckets, a.all.requests) : null,
          deployments: a.deployments.sort((x, y) => x.deployment.localeCompare(y.deployment)),
        }))
        .sort((x, y) => x.app.localeCompare(y.app)),
    };
  }
}
