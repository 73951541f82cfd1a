import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { AdminServer, type AdminTarget } from '../admin/admin-server.js';
import type { GatewayConfig } from '../config/config-schema.js';
import { ConfigReloads } from '../config/config-reloads.js';
import { reloadRefusals } from '../config/reload-check.js';
import { GatewayError } from '../errors.js';
import type { AgentTarget } from '../fleet/gateway-agent.js';
import type { AppsFollower } from '../gateway.js';
import type { ListenerAddress } from '../listener-address.js';
import { countsOnly, mergeMetricTexts, type MergeRule } from '../observability/metrics-merge.js';
import type { ReloadResult } from '../state/app-runtimes.js';
import type { AppApplyResult, ApplyResult } from '../state/state-store.js';
import { ListenerCertificates } from '../tls/certificate-store.js';
import type { Logger } from '../../platform/logger.js';
import type { AppState } from '../../protocol/app-state.js';
import { ConnectionDispatcher } from './connection-dispatcher.js';
import { monotonicNowMs } from './monotonic-clock.js';
import { NodeStates } from './node-states.js';
import { PrimaryMetrics } from './primary-metrics.js';
import type { RelayedLease } from './relayed-lease.js';
import { applyResultSchema } from './worker-messages.js';
import { WorkerPool } from './worker-pool.js';
import { WorkerGone, type WorkerProcess } from './worker-process.js';

/** How much longer than its own deadline a worker may take to answer before it counts as hung and is killed. */
const ANSWER_SLACK_MS = 5_000;
const METRICS_ANSWER_MS = 2_000;
const INIT_TIMEOUT_MS = 30_000;

/**
 * How the workers' series merge: counts add up; a server is in rotation only if every worker has it
 * in rotation; an app's epoch is the one every worker has applied. Reloads are the primary's own.
 */
const WORKER_RULES: ReadonlyMap<string, MergeRule> = new Map([
  ['northwest_gateway_upstream_healthy', 'min'],
  ['northwest_gateway_state_epoch', 'min'],
  ['northwest_gateway_config_reloads_total', 'omit'],
]);

export interface WorkersPrimaryOptions {
  readonly config: GatewayConfig;
  /** Worker processes (at least 2; a single process is a plain Gateway). */
  readonly count: number;
  readonly logger: Logger;
  readonly configFile?: string;
  readonly adminToken?: string;
  /** A fleet member's lease: relayed to every worker, whose write guard checks it. */
  readonly lease?: RelayedLease;
  /** Where the workers' stdout and stderr go (default: inherited). */
  readonly workerOutput?: (chunk: string) => void;
}

/** A worker's entry in GET /workers. */
export interface WorkerView {
  readonly worker: number;
  readonly pid: number | undefined;
  readonly status: string;
  readonly startedAt: string;
  /** Epoch each app was last applied at by this worker (states given at init not included). */
  readonly applied: Record<string, number>;
}

/**
 * The primary process of a multi-worker gateway (`workers` > 1). It serves no request itself: it
 * holds the listeners (ConnectionDispatcher, passing each connection to a serving worker), the
 * admin API, and on a fleet member the coordinator session, the lease and the agent, for which it
 * is the AgentTarget. Each state goes to every worker; the node has applied it (and may ack it) once
 * every live worker answered that it applied it and its forbidden writes drained, and writes a dead
 * worker may have left at an app have had their unknown-outcome grace. A reload is checked here
 * whole, then handed to each worker. /metrics merges the workers' own.
 */
export class WorkersPrimary implements AgentTarget, AdminTarget {
  readonly metrics: { render(): Promise<string> };
  readonly logger: Logger;
  private currentConfig: GatewayConfig;
  private readonly states: NodeStates;
  private readonly pool: WorkerPool;
  private readonly dispatcher: ConnectionDispatcher;
  private readonly own = new PrimaryMetrics();
  private readonly ticketKeys = randomBytes(48).toString('base64');
  /** Each worker's last /metrics answer: stands in for one that does not answer a scrape in time. */
  private readonly lastMetrics = new WeakMap<WorkerProcess, string>();
  /**
   * What workers that exited had counted (their counters and histograms at their last scrape), kept
   * in the sums: a restarted worker counts from zero, and the node's counters must not go down (the
   * analysis gates, like Prometheus, would read that as a reset and count everything again).
   */
  private retiredCounts = '';
  private admin: AdminServer | undefined;
  private fleetMemberId: string | undefined;
  private appsFollower: AppsFollower | undefined;
  private readonly reloads: ConfigReloads<ReloadResult>;
  private closing: Promise<void> | undefined;
  listeners: ListenerAddress[] = [];

  private constructor(opts: WorkersPrimaryOptions) {
    this.currentConfig = opts.config;
    this.logger = opts.logger;
    this.reloads = new ConfigReloads({
      configFile: opts.configFile,
      counter: this.own.reloads,
      logger: this.logger,
      apply: (next, source) => this.reloadNow(next, source),
    });
    this.states = new NodeStates(() => this.currentConfig);
    this.fleetMemberId = opts.config.fleet ? (opts.config.fleet.memberId ?? opts.config.name) : undefined;
    this.pool = new WorkerPool({
      count: opts.count,
      logger: opts.logger,
      initTimeoutMs: INIT_TIMEOUT_MS,
      init: (slot) => ({
        t: 'init',
        worker: slot,
        config: workerConfig(this.currentConfig),
        ...this.states.snapshot(),
        leaseConfirmedAt: opts.lease?.confirmedAtMonotonic() ?? null,
        listeners: this.listeners,
        ticketKeys: this.ticketKeys,
      }),
      onServing: () => this.dispatcher.flush(),
      onUnexpectedExit: (w, how) => {
        this.retire(w);
        this.own.workerExits.inc([typeof how === 'string' ? how : `exit ${how}`]);
        this.logger.error('gateway.workers.exited', {
          code: 'NW_GW_WORKER_EXITED',
          worker: w.slot,
          pid: w.pid,
          how,
          served: w.servingSince !== undefined,
          message: 'restarted; it takes connections again once it has applied the states in force',
        });
      },
      ...(opts.workerOutput ? { output: opts.workerOutput } : {}),
    });
    this.dispatcher = new ConnectionDispatcher({
      listeners: opts.config.listeners,
      next: () => this.pool.next(),
      waitMs: opts.config.timeouts.clientHeadersMs,
      logger: opts.logger,
      onDropped: () => this.own.errors.inc(['-', 'NW_GW_NO_WORKER']),
    });
    this.own.workers.collect(() => {
      const byStatus = new Map<string, number>();
      for (const w of this.pool.all) byStatus.set(w.status, (byStatus.get(w.status) ?? 0) + 1);
      return [...byStatus].map(([status, n]) => [[status], n]);
    });
    this.metrics = { render: () => this.renderMetrics() };
    if (opts.lease) {
      const lease = opts.lease;
      lease.onChange = () => {
        const confirmedAt = lease.confirmedAtMonotonic();
        for (const w of this.pool.initialised) w.post({ t: 'lease', confirmedAt });
      };
    }
  }

  /** Binds the listeners, starts every worker and waits until each serves, then the admin API. */
  static async start(opts: WorkersPrimaryOptions): Promise<WorkersPrimary> {
    const primary = new WorkersPrimary(opts);
    // Every certificate is read and checked before anything listens, as a single gateway does.
    checkCertificates(opts.config);
    primary.listeners = await primary.dispatcher.listen();
    try {
      await primary.pool.start();
      const admin = opts.config.admin;
      if (admin) {
        const token = opts.adminToken ?? process.env[admin.tokenEnv];
        if (!token)
          opts.logger.warn('gateway.admin.no_token', { message: `admin state changes are disabled until ${admin.tokenEnv} is set` });
        primary.admin = await AdminServer.start(primary, admin.host, admin.port, token);
      }
    } catch (err) {
      primary.dispatcher.close();
      await primary.pool.kill();
      throw err;
    }
    opts.logger.info('gateway.workers.started', { workers: opts.count, pids: primary.pool.all.map((w) => w.pid) });
    return primary;
  }

  get config(): GatewayConfig {
    return this.currentConfig;
  }

  get adminAddress(): ListenerAddress | undefined {
    return this.admin?.address;
  }

  get fleetMember(): string | undefined {
    return this.fleetMemberId;
  }

  private get requireState(): boolean {
    return this.currentConfig.waitForState || this.fleetMemberId !== undefined;
  }

  markFleetMember(memberId: string): void {
    this.fleetMemberId = memberId;
  }

  followApps(follower: AppsFollower): void {
    this.appsFollower = follower;
  }

  markReady(app: string): void {
    // Every re-read that finds no state node says so again: the workers were told the first time.
    if (this.states.isReady(app)) return;
    this.states.markReady(app);
    for (const w of this.pool.initialised) w.post({ t: 'ready', apps: [app] });
  }

  /** Takes traffic: some worker serves, the node is not closing, and (where states are required) the app's state is applied. */
  isReady(app?: string): boolean {
    if (this.closing !== undefined || this.pool.serving.length === 0) return false;
    if (!this.requireState) return true;
    const apps = app === undefined ? Object.keys(this.currentConfig.apps) : [app];
    return apps.every((a) => this.states.isReady(a));
  }

  getState(): Record<string, AppState> {
    return this.states.inForce();
  }

  /** A promise rejection nobody handled in the primary (the last-resort handler): counted in its errors. */
  countUnhandled(): void {
    this.own.errors.inc(['-', 'NW_GW_UNHANDLED_REJECTION']);
  }

  workers(): WorkerView[] {
    return this.pool.all.map((w) => ({
      worker: w.slot,
      pid: w.pid,
      status: w.status,
      startedAt: w.startedAt.toISOString(),
      applied: Object.fromEntries(w.applied),
    }));
  }

  /** A fleet state: resolves once every worker applied it and drained, or throws what one refused it with. */
  async applyForAck(app: string, state: Record<string, unknown>): Promise<void> {
    await this.dispatch({ [app]: state }, true);
  }

  /** The admin API's PUT /state of a gateway that is no fleet member. */
  applyStates(states: Readonly<Record<string, unknown>>): Promise<ApplyResult> {
    return this.dispatch(states, false);
  }

  private async dispatch(raw: Readonly<Record<string, unknown>>, forAck: boolean): Promise<ApplyResult> {
    let next: Map<string, AppState>;
    try {
      next = this.states.validate(raw);
    } catch (err) {
      for (const app of Object.keys(raw)) this.own.stateApplies.inc([app, err instanceof GatewayError ? err.code : 'error']);
      throw err;
    }
    // Recorded before it is sent: a worker that says hello from now on gets it at init.
    this.states.record(next);
    const states = Object.fromEntries(next);
    const targets = this.pool.initialised;
    const waitMs = this.currentConfig.timeouts.drainMs + ANSWER_SLACK_MS;
    const outcomes = await Promise.allSettled(
      targets.map(async (w) => {
        const result = applyResultSchema.parse(await w.request((id) => ({ t: 'apply', id, states, forAck }), waitMs));
        for (const r of result.apps) w.applied.set(r.app, r.epoch);
        return result;
      }),
    );
    let failure: unknown;
    const results: ApplyResult[] = [];
    for (const [i, o] of outcomes.entries()) {
      if (o.status === 'fulfilled') results.push(o.value);
      else if (o.reason instanceof WorkerGone) await this.gone(targets[i]!, o.reason, 'apply');
      else failure ??= o.reason;
    }
    if (failure !== undefined) throw failure;
    // A worker that died while it served may have left writes at an app that still commit (its
    // upstream connections died with it, not the requests the app had received): as for a write cut
    // in a gateway, nothing is acked until they are unknownWriteOutcomeMs old.
    await this.cutWritesSettled();
    for (const app of next.keys()) this.states.markReady(app);
    return { apps: [...next.keys()].map((app) => mergeAppResults(app, next.get(app)!, results)) };
  }

  /** A worker did not answer: it exited (already counted), or it hangs, and is killed (and restarted) so the node can go on. */
  private async gone(w: WorkerProcess, err: WorkerGone, what: string): Promise<void> {
    if (err.reason === 'timeout') {
      this.logger.error('gateway.workers.unresponsive', {
        code: 'NW_GW_WORKER_UNRESPONSIVE',
        worker: w.slot,
        pid: w.pid,
        message: `no answer to ${what}; killed`,
      });
      w.kill();
    }
    await w.exited;
  }

  private async cutWritesSettled(): Promise<void> {
    const left = this.pool.lastServingExitAt + this.currentConfig.timeouts.unknownWriteOutcomeMs - monotonicNowMs();
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  }

  /** Resolves true once no worker has a write of these apps in flight (and a dead worker's are past their grace). */
  async appWritesEnded(apps: readonly string[], timeoutMs: number): Promise<boolean> {
    const targets = this.pool.initialised;
    const answers = await Promise.allSettled(
      targets.map((w) => w.request((id) => ({ t: 'writes-ended', id, apps: [...apps], timeoutMs }), timeoutMs + ANSWER_SLACK_MS)),
    );
    let ended = true;
    for (const [i, a] of answers.entries()) {
      if (a.status === 'fulfilled') ended &&= a.value === true;
      else if (a.reason instanceof WorkerGone) await this.gone(targets[i]!, a.reason, 'writes-ended');
      else ended = false;
    }
    await this.cutWritesSettled();
    return ended;
  }

  private async renderMetrics(): Promise<string> {
    const texts = await Promise.all(
      this.pool.initialised.map((w) =>
        w
          .request((id) => ({ t: 'metrics', id }), METRICS_ANSWER_MS)
          .then(
            (v) => {
              const text = typeof v === 'string' ? v : '';
              this.lastMetrics.set(w, text);
              return text;
            },
            () => this.lastMetrics.get(w) ?? '',
          ),
      ),
    );
    return mergeMetricTexts([mergeMetricTexts([...texts, this.retiredCounts], WORKER_RULES), this.own.render()]);
  }

  private retire(w: WorkerProcess): void {
    const last = this.lastMetrics.get(w);
    if (last !== undefined) this.retiredCounts = mergeMetricTexts([this.retiredCounts, countsOnly(last)], WORKER_RULES);
  }

  /** SIGHUP, POST /reload: reads the config file again and applies it (see reload). */
  reloadFromFile(): Promise<ReloadResult> {
    return this.reloads.fromFile();
  }

  /**
   * Applies a new config on every worker, or refuses it whole before any changed: it is checked
   * here as a single gateway checks it (what only a restart can change, a redirect's publicOrigin,
   * the certificate files read). A worker that fails it all the same (a file gone in between) is
   * restarted, with the new config. Reloads run one at a time.
   */
  reload(next: GatewayConfig, source = '<inline>'): Promise<ReloadResult> {
    return this.reloads.run(next, source);
  }

  private async reloadNow(next: GatewayConfig, source: string): Promise<ReloadResult> {
    if (this.closing !== undefined) throw new GatewayError('NW_GW_SHUTTING_DOWN');
    const before = this.currentConfig;
    const refusals = reloadRefusals(before, next, source);
    for (const [app, state] of Object.entries(this.states.inForce())) {
      const spec = next.apps[app];
      if (state.mode === 'redirect' && spec && !spec.n2.publicOrigin)
        refusals.push(`${source}: apps.${app}.n2.publicOrigin: ${app} is in redirect mode (epoch ${state.epoch}), which needs it`);
    }
    if (refusals.length > 0) throw new GatewayError('NW_GW_RELOAD_REFUSED', `\n${refusals.join('\n')}`);
    checkCertificates(next);
    const change = appChange(before, next);
    // From here a starting worker gets the new config at init; the running ones get it now.
    this.currentConfig = next;
    this.states.removed(change.removed);
    const targets = this.pool.initialised;
    const answers = await Promise.allSettled(
      targets.map((w) => w.request((id) => ({ t: 'reload', id, config: workerConfig(next) }), ANSWER_SLACK_MS * 2)),
    );
    for (const [i, a] of answers.entries()) {
      if (a.status === 'fulfilled') continue;
      const w = targets[i]!;
      if (a.reason instanceof WorkerGone) {
        await this.gone(w, a.reason, 'reload');
        continue;
      }
      this.logger.error('gateway.workers.reload_failed', {
        code: (a.reason as { code?: string }).code ?? 'NW_GW_INTERNAL',
        worker: w.slot,
        pid: w.pid,
        message: `${(a.reason as Error).message}; restarted with the new config`,
      });
      w.kill();
    }
    this.own.reloads.inc(['ok']);
    this.logger.info('gateway.reload.applied', { file: source, ...change, workers: targets.length });
    if (this.appsFollower && (change.added.length > 0 || change.removed.length > 0))
      await this.appsFollower(Object.keys(next.apps), change.removed);
    const notReady = this.requireState ? Object.keys(next.apps).filter((a) => !this.states.isReady(a)) : [];
    return { ...change, notReady };
  }

  /**
   * Graceful shutdown: stop accepting, tell every worker to drain (each closes as a gateway does, and
   * with `graceMs` then waits that long at most for its cut writes' outcomes), wait for them to exit.
   */
  close(graceMs: number | null = null): Promise<void> {
    this.closing ??= this.shutdown(graceMs);
    return this.closing;
  }

  private async shutdown(graceMs: number | null): Promise<void> {
    this.dispatcher.close();
    this.pool.stopRestarting();
    const workers = this.pool.all;
    for (const w of workers) w.status = 'stopping';
    const waitMs = this.currentConfig.timeouts.shutdownMs + (graceMs ?? 0) + ANSWER_SLACK_MS;
    await Promise.allSettled(
      workers.map(async (w) => {
        await w.request((id) => ({ t: 'shutdown', id, graceMs }), waitMs).catch(() => w.kill());
        const timer = setTimeout(() => w.kill(), ANSWER_SLACK_MS);
        await w.exited;
        clearTimeout(timer);
      }),
    );
    await this.admin?.close();
  }
}

/** What a worker runs: the node's config without the admin API (the primary serves it, workers have none). */
function workerConfig(config: GatewayConfig): GatewayConfig {
  const { admin: _admin, ...rest } = config;
  return rest;
}

function checkCertificates(config: GatewayConfig): void {
  for (const [i, l] of config.listeners.entries()) if (l.tls) new ListenerCertificates(l.tls, `listeners.${i}.tls`);
}

function appChange(before: GatewayConfig, next: GatewayConfig): Omit<ReloadResult, 'notReady'> {
  const names = Object.keys(next.apps);
  const kept = names.filter((a) => before.apps[a] !== undefined);
  return {
    added: names.filter((a) => before.apps[a] === undefined),
    changed: kept.filter((a) => !isDeepStrictEqual(before.apps[a], next.apps[a])),
    removed: Object.keys(before.apps).filter((a) => next.apps[a] === undefined),
    unchanged: kept.filter((a) => isDeepStrictEqual(before.apps[a], next.apps[a])),
  };
}

/** One app's apply over the workers: writes released in all of them, the longest drain. */
function mergeAppResults(app: string, state: AppState, results: readonly ApplyResult[]): AppApplyResult {
  const mine = results.flatMap((r) => r.apps.filter((a) => a.app === app));
  const first = mine[0];
  return {
    app,
    epoch: state.epoch,
    mode: state.mode,
    previousMode: first?.previousMode ?? state.mode,
    releasedWrites: mine.reduce((n, a) => n + a.releasedWrites, 0),
    drained: first?.drained ?? [],
    drainMs: Math.max(0, ...mine.map((a) => a.drainMs)),
  };
}
