import type { Gateway } from '../gateway.js';
import type { Logger } from '../../platform/logger.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import type { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import { StateFollower, type AppSyncStatus } from '../../fleet/state-follower.js';
import { refuseAckOnDivergence } from './divergence-ack-guard.js';

export type { AppSyncStatus } from '../../fleet/state-follower.js';

export interface GatewayAgentOptions {
  readonly gateway: Gateway;
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

  constructor(private readonly opts: GatewayAgentOptions) {
    opts.gateway.markFleetMember(opts.memberId);
    opts.gateway.followApps((apps, removed) => this.appsChangedInTurn(apps, removed));
    this.follower = new StateFollower({
      coordinator: opts.coordinator,
      memberId: opts.memberId,
      kind: 'gateway',
      apps: Object.keys(opts.gateway.config.apps),
      // The control plane's analysis gates read /metrics there (open on loopback, no token needed).
      adminUrl: opts.gateway.adminAddress?.url,
      reconcileMs: opts.reconcileMs,
      logger: opts.logger,
      logPrefix: 'fleet.agent',
      apply: async (app, doc, epoch) => {
        await opts.gateway.applyState(app, { ...doc, epoch });
        refuseAckOnDivergence(opts.gateway, app, opts.logger);
      },
      isPermanent: (err) => PERMANENT.has((err as { code?: string }).code ?? ''),
      onNoState: (app) => opts.gateway.markReady(app),
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
    const { gateway, logger } = this.opts;
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
