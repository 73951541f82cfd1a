import type { AppConfig } from '../config/config-schema.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { AppState } from '../../protocol/app-state.js';
import type { WriteHold } from './write-hold.js';
import { HostMemo } from '../host-memo.js';

/** Long-lived runtime objects of one app; they outlive state swaps, and a reload that leaves the app as it was. */
export interface AppRuntime {
  readonly name: string;
  readonly config: AppConfig;
  readonly n1: UpstreamPool;
  readonly n2: UpstreamPool;
  /** Shared by every runtime of the app across reloads: a held write stays held. */
  readonly hold: WriteHold;
  /** Requests bound to this runtime (see bindRuntime): a runtime a reload replaced closes its pools once none is left. */
  requests: number;
}

/** A request's hold on the runtime it was routed with: undefined before routing, null once it let go for good. */
export interface RuntimeBinding {
  bound: AppRuntime | undefined | null;
}

/** Moves a request's hold to `runtime` (the route it is served by now); nothing once it let go. */
export function bindRuntime(b: RuntimeBinding, runtime: AppRuntime): void {
  const was = b.bound;
  if (was === null || was === runtime) return;
  if (was !== undefined) was.requests -= 1;
  runtime.requests += 1;
  b.bound = runtime;
}

/** The request is over: its runtime no longer waits for it. */
export function releaseRuntime(b: RuntimeBinding): void {
  if (b.bound) b.bound.requests -= 1;
  b.bound = null;
}

/** One app as a request sees it: its runtime plus the state in force. */
export interface AppRoute {
  readonly runtime: AppRuntime;
  readonly state: AppState;
}

/**
 * The complete routing decision input, immutable. A new state produces a new
 * table and one reference swap; a request reads the table once, so it never
 * sees half of an update.
 */
export class RoutingTable {
  private readonly byHost: ReadonlyMap<string, AppRoute>;
  readonly byApp: ReadonlyMap<string, AppRoute>;

  constructor(routes: Iterable<AppRoute>) {
    const byApp = new Map<string, AppRoute>();
    const byHost = new Map<string, AppRoute>();
    for (const r of routes) {
      byApp.set(r.runtime.name, r);
      for (const h of r.runtime.config.hosts) byHost.set(h, r);
    }
    this.byApp = byApp;
    this.byHost = byHost;
  }

  /** Lookups of the Host values seen last; the table is immutable, so they stay true. */
  private readonly seen = new HostMemo((host) => this.find(host));

  /** Looks up by Host header value; the port and letter case are ignored. */
  lookup(hostHeader: string): AppRoute | undefined {
    return this.seen.get(hostHeader);
  }

  private find(hostHeader: string): AppRoute | undefined {
    let host = hostHeader.toLowerCase();
    if (host.startsWith('[')) {
      const end = host.indexOf(']');
      host = end === -1 ? host : host.slice(0, end + 1);
    } else {
      const colon = host.lastIndexOf(':');
      if (colon !== -1) host = host.slice(0, colon);
    }
    return this.byHost.get(host);
  }

  /** A new table with one app's state replaced. */
  withState(app: string, state: AppState): RoutingTable {
    const routes = [...this.byApp.values()].map((r) => (r.runtime.name === app ? { runtime: r.runtime, state } : r));
    return new RoutingTable(routes);
  }
}
