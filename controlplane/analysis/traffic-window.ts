/**
 * One gateway's counters for one series (an app's N2, or an app and deployment), since the gateway
 * started: requests answered, those that failed (5xx), and the latency histogram's cumulative
 * buckets (upper bound in seconds → count), +Inf included.
 */
export interface TrafficCounters {
  readonly requests: number;
  readonly errors: number;
  readonly buckets: ReadonlyMap<number, number>;
}

/** One series' traffic over a window: what the gateways' counters grew by, summed over the gateways. */
export interface TrafficDelta {
  readonly requests: number;
  readonly errors: number;
  /** Cumulative latency buckets (upper bound in seconds → requests at or under it), +Inf included. */
  readonly buckets: ReadonlyMap<number, number>;
}

interface Read {
  /** When the scrape was taken (ms, monotonic clock). */
  readonly t: number;
  readonly byApp: ReadonlyMap<string, TrafficCounters>;
}

const EMPTY: TrafficCounters = { requests: 0, errors: 0, buckets: new Map() };

/** A counter's growth from `base` to `now`; a counter that went down was reset (the process restarted), so all of it is new. */
const grown = (now: number, base: number): number => (now >= base ? now - base : now);

/**
 * The gateways' scrapes over time, per gateway, and what a series' counters grew by over a window
 * (the gates' series are apps' N2 traffic; the dashboard's are an app's deployments).
 * A gateway's window runs from its read nearest to `windowMs` before its latest one (jitter of the
 * interval timer makes an exact match rare) to its latest; a gateway read only once so far adds
 * nothing yet. Counters that went down were reset, as Prometheus' rate() takes them.
 */
export class TrafficWindow {
  private readonly reads = new Map<string, Read[]>();

  /** Records one scrape of a gateway (`member`: one key per gateway process). */
  add(member: string, t: number, byApp: ReadonlyMap<string, TrafficCounters>): void {
    let list = this.reads.get(member);
    if (!list) {
      list = [];
      this.reads.set(member, list);
    }
    list.push({ t, byApp });
  }

  /**
   * The traffic of series `app` over the last `windowMs`, summed over `members` (those read just now),
   * and the longest span it covers. Reads older than any window can still need are dropped.
   */
  delta(app: string, members: readonly string[], windowMs: number): TrafficDelta & { readonly spanMs: number } {
    let requests = 0;
    let errors = 0;
    let spanMs = 0;
    const buckets = new Map<number, number>();
    for (const member of members) {
      const list = this.reads.get(member);
      if (!list || list.length < 2) continue;
      const latest = list[list.length - 1]!;
      const baseIndex = this.baseIndex(list, latest.t - windowMs);
      const base = list[baseIndex]!;
      spanMs = Math.max(spanMs, latest.t - base.t);
      const now = latest.byApp.get(app) ?? EMPTY;
      const then = base.byApp.get(app) ?? EMPTY;
      // A reset shows first in the request count: then every series of the gateway starts from zero.
      const reset = now.requests < then.requests;
      requests += reset ? now.requests : now.requests - then.requests;
      errors += reset ? now.errors : grown(now.errors, then.errors);
      for (const [le, count] of now.buckets)
        buckets.set(le, (buckets.get(le) ?? 0) + (reset ? count : grown(count, then.buckets.get(le) ?? 0)));
      // Windows only move forward: reads before this base are never a base again.
      list.splice(0, baseIndex);
    }
    return { requests, errors, buckets, spanMs };
  }

  /** The read (not the latest) whose time is nearest `target`. */
  private baseIndex(list: readonly Read[], target: number): number {
    let best = 0;
    for (let i = 1; i < list.length - 1; i++) {
      if (Math.abs(list[i]!.t - target) <= Math.abs(list[best]!.t - target)) best = i;
    }
    return best;
  }
}

/**
 * The q-quantile of a cumulative histogram, as Prometheus' histogram_quantile computes it: linear
 * within the bucket that holds the rank (from 0 for the first bucket); a rank in the +Inf bucket
 * gives the highest finite bound. NaN when the histogram is empty.
 */
export function histogramQuantile(q: number, buckets: ReadonlyMap<number, number>): number {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (sorted.length === 0 || !(total > 0)) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of sorted) {
    // Counts summed over gateways with resets can dip by a bucket: keep them monotonic.
    const cumulative = Math.max(count, below);
    if (cumulative >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lower;
      if (cumulative === below) return le;
      return lower + (le - lower) * ((rank - below) / (cumulative - below));
    }
    lower = le === Number.POSITIVE_INFINITY ? lower : le;
    below = cumulative;
  }
  return lower;
}
