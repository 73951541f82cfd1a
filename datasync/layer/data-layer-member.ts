import { createLogger, type Logger } from '../../platform/logger.js';
import { LOCAL_DATA_MODE, parseAppState, type DataMode } from '../../protocol/app-state.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import { StateFollower, type AckReports, type AppSyncStatus } from '../../fleet/state-follower.js';
import type { DataModeTarget } from './data-mode-target.js';
import { isSyncError, SyncError } from '../errors.js';

export interface DataLayerMemberOptions {
  /** A coordinator client of its own (its session carries the member and ack nodes); connected by start(). */
  readonly coordinator: Coordinator;
  /** Unique member id in the fleet (e.g. `app-server-3`). */
  readonly memberId: string;
  /** For each app this app server serves: the data-layer components that follow its data mode. */
  readonly apps: Readonly<Record<string, readonly DataModeTarget[]>>;
  /**
   * Lease for self-fencing (as gateways do): renewed by every complete re-read
   * of the states, dropped when the session expires. While it has lapsed,
   * `writeGuard(app)` refuses writes for every app, because a barrier may
   * already have passed without this member (default 5000 ms; at most two
   * thirds of the negotiated session timeout, or start() refuses).
   */
  readonly leaseMs?: number;
  /** Period of the full re-read (default leaseMs / 3). */
  readonly reconcileMs?: number;
  readonly logger?: Logger;
  /** Clock of the lease (default performance.now); for tests. */
  readonly now?: () => number;
}

/**
 * An app server's data layer as a fleet member (kind 'datalayer'): follows
 * each app's state like a gateway does and acks the epoch only once every
 * target's `apply` with the state's data mode (LOCAL_DATA_MODE when the state
 * has none) resolved, so the control plane's barrier after a data-mode switch
 * means "no operation under the old mode can still commit". A state that does
 * not parse is never applied or acked; until an app's state was applied (or
 * found absent), writeGuard refuses its writes.
 */
export class DataLayerMember {
  private readonly follower: StateFollower;
  private readonly modes = new Map<string, DataMode>();
  /** Apps whose state was applied, or found absent (then the targets keep their own initial mode). */
  private readonly ready = new Set<string>();
  /** Renewed by complete re-reads; checked by writeGuard(). */
  readonly lease: CoordinatorLease;

  constructor(private readonly opts: DataLayerMemberOptions) {
    // A target follows one app: two apps' epochs are independent (it would skip the switch of the
    // one with the lower epochs, yet the member acks it) and their modes may differ.
    const appOf = new Map<DataModeTarget, string>();
    for (const [app, targets] of Object.entries(opts.apps)) {
      for (const t of targets) {
        const other = appOf.get(t);
        if (other !== undefined && other !== app)
          throw new SyncError(
            'NW_SYNC_CONFIG_INVALID',
            `one ${t.name} target is listed for two apps (${other}, ${app}): give each app its own`,
          );
        appOf.set(t, app);
      }
    }
    this.lease = new CoordinatorLease(opts.leaseMs ?? 5000, opts.now);
    this.follower = new StateFollower({
      coordinator: opts.coordinator,
      memberId: opts.memberId,
      kind: 'datalayer',
      apps: Object.keys(opts.apps),
      reconcileMs: opts.reconcileMs ?? Math.max(50, Math.floor(this.lease.leaseMs / 3)),
      logger: opts.logger ?? createLogger('silent'),
      logPrefix: 'sync.datalayer',
      apply: (app, doc, epoch) => this.applyState(app, doc, epoch),
      isPermanent: (err) => isSyncError(err, 'NW_SYNC_STATE_REJECTED'),
      onNoState: (app) => this.ready.add(app),
      leaseMs: this.lease.leaseMs,
      onConfirmed: (issuedAt) => this.lease.confirm(issuedAt),
      onExpired: () => this.lease.revoke(),
      now: opts.now,
    });
  }

  get memberId(): string {
    return this.follower.memberId;
  }

  /** The data mode last applied (and acked) for an app; undefined before the first state. */
  dataMode(app: string): DataMode | undefined {
    return this.modes.get(app);
  }

  /** Whether the app's state was applied (or found absent), so its components run in the mode the fleet agreed on. */
  isReady(app: string): boolean {
    return this.ready.has(app);
  }

  /**
   * A check for the app's data-layer components to run before every write
   * (CassandraDataLayer's `writeGuard` option): NW_SYNC_NOT_READY until the
   * app's state was applied (a write under the components' initial mode could
   * land at N1 after the fleet moved to N2), NW_SYNC_LEASE_EXPIRED while the
   * lease has lapsed; undefined (go ahead) otherwise.
   */
  writeGuard(app: string): () => SyncError | undefined {
    return () => {
      if (!this.ready.has(app)) return new SyncError('NW_SYNC_NOT_READY', `${app}: its state has not been applied yet`);
      if (this.lease.valid()) return undefined;
      return new SyncError(
        'NW_SYNC_LEASE_EXPIRED',
        `${app}: states last confirmed ${Math.round(this.lease.age())} ms ago, lease ${this.lease.leaseMs} ms`,
      );
    };
  }

  syncStatus(): Record<string, AppSyncStatus> {
    return this.follower.syncStatus();
  }

  /** Registers, applies every app's current state, then keeps following it. */
  start(): Promise<void> {
    return this.follower.start();
  }

  /** Stops following (waits for applies in progress); leaves the coordinator and the targets open. */
  stop(): Promise<void> {
    return this.follower.stop();
  }

  /** Re-reads every app's state now (tests, or after an app server suspects a missed change). */
  reconcile(): Promise<void> {
    return this.follower.reconcile();
  }

  private async applyState(app: string, doc: Record<string, unknown>, epoch: number): Promise<AckReports> {
    let mode: DataMode;
    try {
      mode = parseAppState({ ...doc, epoch }).data ?? LOCAL_DATA_MODE;
    } catch (err) {
      throw new SyncError('NW_SYNC_STATE_REJECTED', `${app} epoch ${epoch}: ${(err as Error).message}`, { cause: err });
    }
    const targets = this.opts.apps[app] ?? [];
    const results = await Promise.allSettled(targets.map((t) => t.apply(mode, epoch)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${targets[i]!.name}: ${(r.reason as Error).message}`] : []));
    if (failed.length > 0) throw new SyncError('NW_SYNC_MODE_APPLY_FAILED', `${app} epoch ${epoch}: ${failed.join('; ')}`);
    this.modes.set(app, mode);
    this.ready.add(app);
    const reports = targets.map((t) => t.ackReport?.());
    // Said even when 0: a member with no datastore layer (cache only) has nothing to report on it.
    const datastoreTargets = reports.filter((r) => r?.datastore !== undefined).length;
    return { ...mergeAckReports(reports), datastoreTargets };
  }
}

/**
 * One ack's reports from several targets (an app server with two datastore layers, say two
 * keyspaces on two clients): the datastore reports combine so that none is lost, toward what the
 * control plane trusts least: the highest epoch and timestamp, the sum of the failures, and a mode
 * that differs between them reads as `local` (none of them vouches for a window then).
 */
export function mergeAckReports(reports: ReadonlyArray<AckReports | undefined>): AckReports | undefined {
  const stores = reports.flatMap((r) => (r?.datastore ? [r.datastore] : []));
  if (stores.length === 0) return undefined;
  const first = stores[0]!;
  return {
    datastore: {
      mode: stores.every((d) => d.mode === first.mode) ? first.mode : 'local',
      sinceEpoch: Math.max(...stores.map((d) => d.sinceEpoch)),
      writesThroughUs: Math.max(...stores.map((d) => d.writesThroughUs)),
      failures: stores.reduce((n, d) => n + d.failures, 0),
      inFlight: stores.reduce((n, d) => n + d.inFlight, 0),
    },
  };
}
