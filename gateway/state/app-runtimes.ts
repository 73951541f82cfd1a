import { isDeepStrictEqual } from 'node:util';
import { loadUpstreamTls } from '../tls/upstream-tls.js';
import type { AppConfig, GatewayConfig, PoolConfig } from '../config/config-schema.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Deployment } from '../../protocol/app-state.js';
import { HealthChecker } from '../upstream/health-checker.js';
import { UpstreamPool } from '../upstream/upstream-pool.js';
import type { ConnectionOptions, UpstreamServer } from '../upstream/upstream-server.js';
import type { AppRuntime } from './routing-table.js';
import { WriteHold } from './write-hold.js';

/** How often runtimes a reload replaced are checked for their last request. */
const SWEEP_MS = 50;

export interface AppRuntimesOptions {
  readonly conn: Omit<ConnectionOptions, 'connections' | 'pipelining' | 'maxQueued'>;
  readonly logger: Logger;
  /** A write the app's fence held was let go after `heldMs`. */
  readonly onWriteReleased: (app: string, heldMs: number) => void;
  /** Pools a reload took out of service have closed: the raw engine drops its connections to these servers. */
  readonly onServersRetired: (servers: readonly UpstreamServer[]) => void;
}

/** What a reload changed, by app name. */
export interface RuntimeChange {
  readonly runtimes: readonly AppRuntime[];
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  readonly unchanged: readonly string[];
}

/** What a reload reports: the change by app name, and the apps that take no traffic yet (their state is not applied). */
export interface ReloadResult extends Omit<RuntimeChange, 'runtimes'> {
  readonly notReady: readonly string[];
}

/**
 * The apps' runtimes (upstream pools, their health checks, write holds) across reloads. A reload
 * builds the whole new set at once: an app whose config did not change keeps its runtime (pools,
 * health, in-flight counts, held writes); a changed app gets a new runtime that keeps its write
 * hold and every pool whose config did not change; a new app gets a new one. A replaced or removed
 * runtime is retired: its pools that no current runtime uses close (gracefully) only once no
 * request is bound to it any more (see bindRuntime), so no in-flight request loses its upstream.
 */
export class AppRuntimes {
  private list: readonly AppRuntime[] = [];
  private readonly checkers = new Map<UpstreamPool, HealthChecker[]>();
  /** Runtimes a reload replaced or removed that still have requests. */
  private readonly retired = new Set<AppRuntime>();
  /** Pools no current runtime uses, open until no retired runtime's request can use them. */
  private readonly orphans = new Set<UpstreamPool>();
  private sweeper: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly opts: AppRuntimesOptions) {}

  get all(): readonly AppRuntime[] {
    return this.list;
  }

  /**
   * Builds and puts in force the runtimes for `apps`. The caller swaps its routing table to them in
   * the same tick. Held writes of removed apps are refused (NW_GW_APP_REMOVED): nothing could let them go.
   */
  replace(apps: GatewayConfig['apps']): RuntimeChange {
    const before = new Map(this.list.map((r) => [r.name, r]));
    const added: string[] = [];
    const changed: string[] = [];
    const unchanged: string[] = [];
    const runtimes = Object.entries(apps).map(([name, config]): AppRuntime => {
      const old = before.get(name);
      before.delete(name);
      if (old === undefined) added.push(name);
      else if (isDeepStrictEqual(old.config, config)) {
        unchanged.push(name);
        return old;
      } else changed.push(name);
      return {
        name,
        config,
        n1: this.pool(name, 'n1', config, old),
        n2: this.pool(name, 'n2', config, old),
        hold: old?.hold ?? this.hold(name),
        requests: 0,
      };
    });
    const inUse = new Set(runtimes.flatMap((r) => [r.n1, r.n2]));
    for (const old of this.list) {
      if (runtimes.includes(old)) continue;
      // Even one whose pools all live on: a later reload may orphan them while its requests still run.
      if (old.requests > 0) this.retired.add(old);
      for (const p of [old.n1, old.n2]) {
        if (inUse.has(p)) continue;
        this.stopHealthChecks(p);
        this.orphans.add(p);
      }
    }
    const removed = [...before.keys()];
    const refusal = new GatewayError('NW_GW_APP_REMOVED', 'the app is no longer in the config');
    for (const r of before.values()) r.hold.rejectAll(refusal);
    this.list = runtimes;
    if (this.checking) for (const p of inUse) this.checkPool(p);
    if ((this.orphans.size > 0 || this.retired.size > 0) && this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref();
    }
    return { runtimes, added, changed, removed, unchanged };
  }

  /** Starts the active health checks of every pool that has them (and of pools later reloads add). */
  startHealthChecks(): void {
    this.checking = true;
    for (const r of this.list) for (const p of [r.n1, r.n2]) this.checkPool(p);
  }

  /** Shutdown: every pool, current or retired, is closed (cut); the requests were drained before. */
  async close(): Promise<void> {
    this.checking = false;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const p of [...this.checkers.keys()]) this.stopHealthChecks(p);
    const pools = new Set([...this.list.flatMap((r) => [r.n1, r.n2]), ...this.orphans]);
    this.orphans.clear();
    this.retired.clear();
    await Promise.all([...pools].map((p) => p.close()));
  }

  private pool(app: string, d: Deployment, config: AppConfig, old: AppRuntime | undefined): UpstreamPool {
    const was = old?.[d];
    if (was !== undefined && isDeepStrictEqual(was.config, config[d])) return was;
    return new UpstreamPool(app, d, config[d] satisfies PoolConfig, this.opts.conn, loadUpstreamTls(config[d].tls, `apps.${app}.${d}.tls`));
  }

  private hold(app: string): WriteHold {
    const hold = new WriteHold();
    hold.onReleased = (ms) => this.opts.onWriteReleased(app, ms);
    return hold;
  }

  private checkPool(pool: UpstreamPool): void {
    const hc = pool.config.healthCheck;
    if (!hc || this.checkers.has(pool)) return;
    const checkers = pool.servers.map((s) => {
      const checker = new HealthChecker(s, hc, (srv, healthy) =>
        this.opts.logger.warn('gateway.upstream.health_changed', {
          app: pool.app,
          deployment: pool.deployment,
          server: srv.origin,
          healthy,
        }),
      );
      checker.start();
      return checker;
    });
    this.checkers.set(pool, checkers);
  }

  private stopHealthChecks(pool: UpstreamPool): void {
    for (const c of this.checkers.get(pool) ?? []) c.stop();
    this.checkers.delete(pool);
  }

  /** Closes the orphaned pools whose retired runtimes have no request left. */
  private sweep(): void {
    for (const r of this.retired) if (r.requests <= 0) this.retired.delete(r);
    const held = new Set([...this.retired].flatMap((r) => [r.n1, r.n2]));
    for (const p of this.orphans) {
      if (held.has(p)) continue;
      this.orphans.delete(p);
      this.opts.logger.info('gateway.reload.pool_closed', {
        app: p.app,
        deployment: p.deployment,
        servers: p.servers.map((s) => s.origin),
      });
      void p.retire().then(() => this.opts.onServersRetired(p.servers));
    }
    if (this.orphans.size === 0 && this.retired.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}
