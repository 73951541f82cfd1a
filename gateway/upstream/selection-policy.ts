import type { UpstreamServer } from './upstream-server.js';

/** Picks one server among the available ones, or undefined if none is. */
export interface SelectionPolicy {
  select(servers: readonly UpstreamServer[], exclude: ReadonlySet<UpstreamServer>, now: number): UpstreamServer | undefined;
}

/** Weighted round robin over available servers (smooth enough for small pools). */
export class RoundRobinPolicy implements SelectionPolicy {
  private cursor = 0;
  private readonly ring: UpstreamServer[];

  constructor(servers: readonly UpstreamServer[]) {
    this.ring = servers.flatMap((s) => Array.from({ length: s.weight }, () => s));
  }

  select(_servers: readonly UpstreamServer[], exclude: ReadonlySet<UpstreamServer>, now: number): UpstreamServer | undefined {
    const n = this.ring.length;
    for (let i = 0; i < n; i++) {
      const s = this.ring[(this.cursor + i) % n]!;
      if (!exclude.has(s) && s.canTake(now)) {
        this.cursor = (this.cursor + i + 1) % n;
        return s;
      }
    }
    return undefined;
  }
}

/** Fewest in-flight requests relative to weight; ties go to the earlier server. */
export class LeastInFlightPolicy implements SelectionPolicy {
  select(servers: readonly UpstreamServer[], exclude: ReadonlySet<UpstreamServer>, now: number): UpstreamServer | undefined {
    let best: UpstreamServer | undefined;
    let bestLoad = Infinity;
    for (const s of servers) {
      if (exclude.has(s) || !s.canTake(now)) continue;
      const load = s.inFlight / s.weight;
      if (load < bestLoad) {
        best = s;
        bestLoad = load;
      }
    }
    return best;
  }
}
