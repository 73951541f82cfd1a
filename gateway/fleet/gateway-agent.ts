import type { AppsFollower, Gateway } from '../gateway.js';
import type { GatewayConfig } from '../config/config-schema.js';
import type { ListenerAddress } from '../listener-address.js';
import type { Logger } from '../../platform/logger.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import type { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import { StateFollower, type AppSyncStatus } from '../../fleet/state-follower.js';
import { refuseAckOnDivergence } from './divergence-ack-guard.js';

export type { AppSyncStatus } from '../../fleet/state-follower.js';

/**
 * What an agent drives: one Gateway (gatewayAgentTarget), or the primary of a multi-worker gateway,
 * which hands each state to every worker and resolves only once all of them applied and drained it.
 */
export interface AgentTarget {
  readonly config: GatewayConfig;
  readonly adminAddress: ListenerAddress | undefined;
  /** Its traffic listeners, bound before the agent starts. */
  readonly listeners: readonly ListenerAddress[];
  markFleetMember(memberId: string): void;
  followApps(follower: AppsFollower): void;
  /** No state node: the app runs on the built-in default. */
  markReady(app: string): void;
  appWritesEnded(apps: readonly string[], timeoutMs: number): Promise<boolean>;
  /**
   * Applies the app's state; resolves once it is in force and the writes it forbids have drained,
   * and it may be acked. Throws a permanent error (PERMANENT, below) for a state that must be refused.
   */
  applyForAck(app: string, state: Record<string, unknown>): Promise<void>;
}

/** One in-process gateway as an agent's target: a fence toward N2 is refused while N2 failed writes N1 confirmed. */
export function gatewayAgentTarget(gateway: Gateway, logger: Logger): AgentTarget {
  return {
    get config() {
      return gateway.config;
    },
    get adminAddress() {
      return gateway.adminAddress;
    },
    get listeners() {
      return gateway.listeners;
    },
    markFleetMember: (id) => gateway.markFleetMember(id),
    followApps: (follower) => gateway.followApps(follower),
    markReady: (app) => gateway.markReady(app),
    appWritesEnded: (apps, timeoutMs) => gateway.appWritesEnded(apps, timeoutMs),
    async applyForAck(app, state) {
      await gateway.applyState(app, state);
      refuseAckOnDivergence(gateway, app, logger);
    },
  };
}

export interface GatewayAgentOptions {
  /** The gateway it follows states for: one in-process Gateway, or any AgentTarget (a multi-worker primary). */
  readonly gateway: Gateway | AgentTarget;
  readonly coordinator: Coordinator;
  /** The lease the gateway's write guard checks (pass `leaseWriteGuard(lease)` as the gateway's writeGuard). */
  readonly lease: CoordinatorLease;
  /** Unique member id in the fleet. */
  readonly memberId: string;
  /** Period of the full re-read that renews the lease and catches missed watches. */
  readonly reconcileMs: number;
  readonly logger: Logger;
}

/**
 * Gateway apply errors that no retry of the same document can fix: the agent refuses the epoch (a
 * refusal in its ack node, the barrier ends at once). A drain timeout or a coordinator error is
 * not among them: it is retried on the next read, as a later read may well succeed.
 */
const PERMANENT = new Set(['NW_GW_STATE_INVALID', 'NW_GW_STATE_STALE_EPOCH', 'NW_GW_STATE_UNKNOWN_APP', 'NW_GW_MIRROR_DIVERGED']);

/**
 * Connects one gateway to the fleet: a StateFollower (member registration,
 * watch / reconnect / periodic re-read, acks) that applies each state to the
 * gateway, renews the coordinator lease on every complete re-read and drops
 * it when the session expires. Each app takes traffic once its state is
 * applied (or its state node is found absent: then it runs on the built-in
 * default, serve at epoch 0).
 */
export class GatewayAgent {
  private readonly follower: StateFollower;
  /** Apps a reload removed whose writes were still in flight: listed (a barrier waits for this member) until they end. */
  private readonly draining = new Set<string>();
  private following: Promise<void> = Promise.resolve();
  private recheck: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly target: AgentTarget;

  constructor(private readonly opts: GatewayAgentOptions) {
    const target = 'applyForAck' in opts.gateway ? opts.gateway : gatewayAgentTarget(opts.gateway, opts.logger);
    this.target = target;
    target.markFleetMember(opts.memberId);
    target.followApps((apps, removed) => this.appsChangedInTurn(apps, removed));
    this.follower = new StateFollower({
      coordinator: opts.coordinator,
      memberId: opts.memberId,
      kind: 'gateway',
      apps: Object.keys(target.config.apps),
      // The control plane's analysis gates read /metrics there (open on loopback, no token needed).
      adminUrl: target.adminAddress?.url,
      // A load test attached to the fleet sends its traffic there (northwest-loadtest, fleet targets).
      trafficUrls: target.listeners.map((l) => l.url),
      reconcileMs: opts.reconcileMs,
      logger: opts.logger,
      logPrefix: 'fleet.agent',
      apply: async (app, doc, epoch) => {
        await target.applyForAck(app, { ...doc, epoch });
        return undefined;
      },
      isPermanent: (err) => PERMANENT.has((err as { code?: string }).code ?? ''),
      onNoState: (app) => target.markReady(app),
      leaseMs: opts.lease.leaseMs,
      onConfirmed: (issuedAt) => opts.lease.confirm(issuedAt),
      onExpired: () => opts.lease.revoke(),
    });
  }

  get memberId(): string {
    return this.follower.memberId;
  }

  /**
   * A reload changed the apps. A new one is listed, then its state read and applied (it takes no
   * traffic before). A removed one stays listed until no write of it is in flight any more: a fence
   * barrier must not pass this member while one could still reach N1. Never rejects.
   */
  private appsChangedInTurn(apps: readonly string[], removed: readonly string[]): Promise<void> {
    const run = this.following.then(() => this.appsChanged(apps, removed));
    this.following = run;
    return run;
  }

  private async appsChanged(apps: readonly string[], removed: readonly string[]): Promise<void> {
    const { logger } = this.opts;
    const gateway = this.target;
    clearTimeout(this.recheck);
    for (const app of removed) this.draining.add(app);
    for (const app of apps) this.draining.delete(app);
    const waitMs = gateway.config.timeouts.drainMs;
    for (const app of [...this.draining]) {
      if (await gateway.appWritesEnded([app], waitMs)) this.draining.delete(app);
      else
        logger.warn('fleet.agent.removed_app_writes_in_flight', {
          app,
          message: `writes still in flight after ${waitMs} ms; stays listed`,
        });
    }
    await this.follower.follow([...apps, ...this.draining]).catch((err: unknown) => logger.warn('fleet.agent.follow_failed', { err }));
    if (this.draining.size > 0 && !this.stopped) {
      this.recheck = setTimeout(() => void this.appsChangedInTurn(apps, []), waitMs);
      this.recheck.unref();
    }
  }

  syncStatus(): Record<string, AppSyncStatus> {
    return this.follower.syncStatus();
  }

  /**
   * Registers, reads and applies every app's state, then keeps following it. An app takes traffic
   * once its state is applied; one whose first read failed or whose document did not apply answers
   * 503 NW_GW_NOT_READY until a later read applies it.
   */
  start(): Promise<void> {
    return this.follower.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.recheck);
    await this.follower.stop();
  }

  /** Re-reads every app; renews the lease only if every read succeeded. */
  reconcile(): Promise<void> {
    return this.follower.reconcile();
  }
}
