import { hostname } from 'node:os';
import type { Logger } from '../platform/logger.js';
import type { Coordinator } from '../platform/coordinator/coordinator.js';
import { isCoordinatorError } from '../platform/coordinator/coordinator-errors.js';
import {
  encodeJson,
  layout,
  MAX_REFUSAL_DETAIL_CHARS,
  type AckInfo,
  type AckRefusal,
  type MemberInfo,
} from '../protocol/coordinator-paths.js';
import { isValidMemberId } from '../protocol/identifiers.js';
import { assertSessionOutlastsLease } from './lease-margin.js';
import { registerMember } from './member-registration.js';
import { MAX_STATE_DOCUMENT_BYTES } from '../protocol/app-state.js';

/** What a member may say with an ack besides the epoch (the ack document's reports). */
export type AckReports = Pick<AckInfo, 'datastore' | 'datastoreTargets'>;

/** Outcome of the last attempt to apply an app's state; exposed for status and tests. */
export interface AppSyncStatus {
  readonly appliedEpoch: number | undefined;
  readonly error: string | undefined;
  /** Epoch of a state document that can never apply (unparsable or invalid); not retried. */
  readonly rejectedEpoch?: number | undefined;
}

export interface StateFollowerOptions {
  readonly coordinator: Coordinator;
  /** Unique member id in the fleet. */
  readonly memberId: string;
  /** What the member registers as; barriers wait on gateways and data layers. */
  readonly kind: MemberInfo['kind'];
  readonly apps: readonly string[];
  /** Published in the member document: where this member's admin API (and its /metrics) listens. */
  readonly adminUrl?: string | undefined;
  /** Published in the member document: where this member takes traffic (a gateway's listeners). */
  readonly trafficUrls?: readonly string[] | undefined;
  /** Period of the full re-read that catches missed watches. */
  readonly reconcileMs: number;
  readonly logger: Logger;
  /** Prefix of log events ("fleet.agent" → "fleet.agent.recovered"). */
  readonly logPrefix: string;
  /**
   * Applies one app's whole state (the JSON object of the state node) at
   * `epoch`; resolves once it is in force, after which the epoch is acked.
   * Throwing leaves the last applied state in force and acks nothing. What it resolves with goes
   * into the ack beside the epoch (a data layer's report on its writes, taken after the apply).
   */
  readonly apply: (app: string, doc: Record<string, unknown>, epoch: number) => Promise<AckReports | undefined>;
  /**
   * Whether a failed apply can never succeed for that epoch: then it is not retried, and the member
   * writes a refusal of the epoch (the error's code and message) to its ack node, so a barrier
   * waiting for it ends at once. Default: never (retried on the next read, no refusal).
   */
  readonly isPermanent?: (err: unknown) => boolean;
  /** A read found no state node for the app: there is nothing to apply (the app runs on the member's built-in default). */
  readonly onNoState?: (app: string) => void;
  /**
   * The member's lease: a session whose negotiated timeout is shorter than 1.5 times it is refused
   * (NW_CP_SESSION_TIMEOUT_TOO_SHORT), at start and after an expiry.
   */
  readonly leaseMs?: number;
  /**
   * A reconcile read every app successfully while this member's node was registered in the current
   * session; `issuedAt` is the `now()` it started at.
   */
  readonly onConfirmed?: (issuedAt: number) => void;
  /** Clock for `issuedAt` (default performance.now); pass the lease's clock. */
  readonly now?: () => number;
  /** The coordinator session expired (before recovery starts). */
  readonly onExpired?: () => void;
}

/**
 * The generic half of a fleet member: registers an ephemeral member node,
 * watches each app's desired state, re-reads it on every watch, on reconnect
 * and on a periodic reconcile (watches fire once and can be missed), hands
 * the whole document to `apply` and acks the epoch once `apply` resolved.
 * Applies for one app run one at a time, in order. A state it cannot parse
 * is never applied or acked; the last good one stays. A state the member can
 * never take (unparsable, or `isPermanent` says so) is refused: the refusal
 * goes to the ack node instead of an ack, so a barrier stops waiting for it.
 */
export class StateFollower {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly armed = new Set<string>();
  private readonly status = new Map<string, AppSyncStatus>();
  /** Apps whose ack node this session has created. */
  private readonly ackNodes = new Set<string>();
  /** The last ack written per app in this session: a refusal keeps it, so the node still says what the member took. */
  private readonly lastAck = new Map<string, AckInfo>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private recovering: Promise<void> | undefined;
  /** The session this member's node was last created in ('' before). */
  private registeredIn = '';
  /** Every session this follower registered in: only their member nodes may be replaced without waiting. */
  private readonly ownSessions = new Set<string>();
  /** The apps followed: `opts.apps`, then what follow() was last given. */
  private followed: readonly string[];
  /** The member node as last written in the current session. */
  private info: MemberInfo | undefined;
  /** Apps follow() added that the member node does not list yet: they are not read (nor applied) until it does. */
  private readonly unlisted = new Set<string>();

  constructor(private readonly opts: StateFollowerOptions) {
    if (!isValidMemberId(opts.memberId)) throw new TypeError(`invalid member id ${JSON.stringify(opts.memberId)}`);
    this.followed = [...opts.apps];
  }

  get memberId(): string {
    return this.opts.memberId;
  }

  get apps(): readonly string[] {
    return this.followed;
  }

  /**
   * Follows `apps` from now on (a reloaded config). A new app is listed in the member node before its
   * state is read: a barrier, which reads the member nodes after it wrote its state, then either
   * waits for this member's ack of that state or this member reads that state (its read cannot
   * come before both its listing and the write). Resolves once every new app's state was read and
   * applied, or failed to (the periodic re-read retries). A dropped app is no longer read, listed or
   * acked (its ack node is removed): the caller drops an app only once it serves none of its writes.
   */
  async follow(apps: readonly string[]): Promise<void> {
    const added = apps.filter((a) => !this.followed.includes(a));
    const dropped = this.followed.filter((a) => !apps.includes(a));
    this.followed = [...apps];
    for (const app of added) this.unlisted.add(app);
    for (const app of dropped) {
      this.unlisted.delete(app);
      this.status.delete(app);
      this.ackNodes.delete(app);
    }
    await this.publishApps().catch((err: unknown) =>
      this.opts.logger.warn(`${this.opts.logPrefix}.apps_not_listed`, { member: this.opts.memberId, err }),
    );
    const c = this.opts.coordinator;
    await Promise.allSettled(dropped.map((app) => c.remove(layout.ack(app, this.opts.memberId))));
    await Promise.allSettled(added.map((app) => this.enqueue(app)));
  }

  /** Rewrites the member node with the apps followed (in this session only: a registration to come lists them itself). */
  private async publishApps(): Promise<void> {
    const c = this.opts.coordinator;
    const info = this.info;
    if (info === undefined || this.registeredIn === '' || this.registeredIn !== c.sessionId()) return;
    const next: MemberInfo = { ...info, apps: this.followed };
    await c.set(layout.member(this.opts.memberId), encodeJson(next));
    this.listedNow(next);
  }

  private listedNow(info: MemberInfo): void {
    this.info = info;
    for (const app of info.apps) this.unlisted.delete(app);
  }

  syncStatus(): Record<string, AppSyncStatus> {
    return Object.fromEntries(this.followed.map((a) => [a, this.status.get(a) ?? { appliedEpoch: undefined, error: undefined }]));
  }

  /** Registers, reads and applies every app's state, then keeps following it. */
  async start(): Promise<void> {
    const c = this.opts.coordinator;
    this.unsubscribe = c.onSession((e) => {
      if (e === 'expired') {
        this.opts.onExpired?.();
        this.opts.logger.warn(`${this.opts.logPrefix}.session_expired`, { member: this.opts.memberId });
        void this.recover();
      } else if (e === 'connected') {
        void this.reconcile();
      }
    });
    try {
      await c.connect();
      this.checkSession();
      await this.register();
    } catch (err) {
      // A reconcile the 'connected' event started must not go on applying for a member that never joined.
      this.stopped = true;
      this.unsubscribe();
      throw err;
    }
    await this.reconcile();
    this.timer = setInterval(() => void this.reconcile(), this.opts.reconcileMs);
    this.timer.unref();
  }

  private checkSession(): void {
    if (this.opts.leaseMs !== undefined) assertSessionOutlastsLease(this.opts.coordinator, this.opts.leaseMs);
  }

  /** Stops following; waits for applies in progress. Does not close the coordinator. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    await Promise.allSettled([...this.chains.values()]);
  }

  /** After expiry: new session, register again, re-read everything. */
  private recover(): Promise<void> {
    this.recovering ??= (async () => {
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          this.armed.clear();
          await this.opts.coordinator.connect();
          this.checkSession();
          await this.register();
          await this.reconcile();
          this.opts.logger.info(`${this.opts.logPrefix}.recovered`, {
            member: this.opts.memberId,
            session: this.opts.coordinator.sessionId(),
          });
          return;
        } catch (err) {
          this.opts.logger.warn(`${this.opts.logPrefix}.recover_failed`, { member: this.opts.memberId, attempt, err });
          await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  /** Registers this member's node (see registerMember: a live duplicate id is refused) and re-reads from scratch. */
  private async register(): Promise<void> {
    const c = this.opts.coordinator;
    const apps = this.followed;
    // Acks lists are the control plane's (it creates one before an app's first state): see writeAck.
    await c.mkdirp(layout.members);
    const info: MemberInfo = {
      kind: this.opts.kind,
      host: hostname(),
      pid: process.pid,
      startedAt: new Date().toISOString(),
      apps,
      ...(this.opts.adminUrl ? { adminUrl: this.opts.adminUrl } : {}),
      ...(this.opts.trafficUrls?.length ? { trafficUrls: [...this.opts.trafficUrls] } : {}),
    };
    this.ackNodes.clear();
    this.lastAck.clear();
    const session = await registerMember(c, { memberId: this.opts.memberId, info, ownSessions: this.ownSessions });
    this.ownSessions.add(session);
    this.registeredIn = session;
    this.listedNow(info);
    for (const app of apps) this.status.delete(app);
    // follow() ran meanwhile: its apps are listed before they are read.
    if (this.followed !== apps) await this.publishApps();
  }

  /** Re-reads every app; reports a confirmation only if every read succeeded. */
  async reconcile(): Promise<void> {
    if (this.stopped) return;
    const issuedAt = this.opts.now ? this.opts.now() : performance.now();
    const session = this.opts.coordinator.sessionId();
    if (this.unlisted.size > 0) await this.publishApps().catch(() => undefined);
    const results = await Promise.allSettled(this.followed.map((app) => this.enqueue(app)));
    // A read while unregistered (mid-recovery, or refused a duplicate id) must not renew the lease: no barrier waits for it.
    const registered = session !== '' && this.registeredIn === session && this.opts.coordinator.sessionId() === session;
    if (registered && results.every((r) => r.status === 'fulfilled')) this.opts.onConfirmed?.(issuedAt);
  }

  private enqueue(app: string): Promise<void> {
    const prev = this.chains.get(app) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.syncApp(app));
    this.chains.set(app, next);
    return next;
  }

  private async syncApp(app: string): Promise<void> {
    // Not followed any more (a watch of a dropped app), or not listed yet (follow()).
    if (this.stopped || !this.followed.includes(app) || this.unlisted.has(app)) return;
    const c = this.opts.coordinator;
    const arm = !this.armed.has(app);
    // Marked armed before the read, not after it: the watch can fire before this function resumes
    // (a change right after the read, delivered with its reply), and marking it armed after that
    // would leave the app unwatched until the next reconcile.
    if (arm) this.armed.add(app);
    let node: Awaited<ReturnType<typeof c.get>>;
    try {
      node = await c.get(
        layout.state(app),
        arm
          ? () => {
              this.armed.delete(app);
              void this.enqueue(app).catch(() => undefined);
            }
          : undefined,
      );
    } catch (err) {
      if (arm) this.armed.delete(app);
      throw err;
    }
    if (!node) {
      this.opts.onNoState?.(app);
      return;
    }
    const prev = this.status.get(app);
    if (prev?.appliedEpoch === node.version || prev?.rejectedEpoch === node.version) return;
    // A document that is not one is no state at all: refused like a state the member cannot apply.
    const unreadable = (detail: string): Promise<void> =>
      this.refuse(app, prev, { epoch: node.version, code: 'NW_CP_DOCUMENT_INVALID', detail });
    if (node.data.length > MAX_STATE_DOCUMENT_BYTES)
      return unreadable(`state document is ${node.data.length} bytes, over the limit of ${MAX_STATE_DOCUMENT_BYTES}`);
    let doc: unknown;
    try {
      doc = JSON.parse(node.data.toString('utf8'));
    } catch (err) {
      return unreadable(`state is not JSON: ${(err as Error).message}`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return unreadable('state is not an object');
    const t0 = performance.now();
    let reports: AckReports | undefined;
    try {
      reports = await this.opts.apply(app, doc as Record<string, unknown>, node.version);
    } catch (err) {
      if (isCoordinatorError(err)) {
        this.fail(app, prev, (err as Error).message);
        throw err;
      }
      // A drain timeout is worth retrying on the next reconcile; a bad document, or a state this member must not ack, is not.
      if (!(this.opts.isPermanent?.(err) ?? false)) return this.fail(app, prev, (err as Error).message);
      return this.refuse(app, prev, { epoch: node.version, code: codeOf(err), detail: (err as Error).message });
    }
    if (!this.registeredHere()) return;
    const ack: AckInfo = { epoch: node.version, appliedAt: new Date().toISOString(), applyMs: performance.now() - t0, ...reports };
    await this.writeAck(app, ack);
    this.lastAck.set(app, ack);
    this.status.set(app, { appliedEpoch: node.version, error: undefined });
  }

  /**
   * Unregistered (the id is held by another session, or mid-recovery), an ack could overwrite another
   * member's. Registering clears the status, so the next read applies and acks (or refuses) again.
   */
  private registeredHere(): boolean {
    return this.registeredIn !== '' && this.registeredIn === this.opts.coordinator.sessionId();
  }

  /**
   * This member can never take the epoch: it is not applied again, and the refusal goes to the ack
   * node (beside the last ack of this session), so a barrier waiting for it ends at once instead of
   * at its deadline. If the refusal cannot be written the epoch stays open to retry, refusal and all.
   */
  private async refuse(app: string, prev: AppSyncStatus | undefined, refusal: AckRefusal): Promise<void> {
    const detail =
      refusal.detail.length > MAX_REFUSAL_DETAIL_CHARS ? `${refusal.detail.slice(0, MAX_REFUSAL_DETAIL_CHARS - 1)}…` : refusal.detail;
    const refused = { ...refusal, detail };
    if (!this.registeredHere()) return this.fail(app, prev, refusal.detail, refused);
    try {
      await this.writeAck(app, { ...this.lastAck.get(app), refused });
    } catch (err) {
      this.fail(app, prev, refusal.detail);
      throw err;
    }
    this.fail(app, prev, refusal.detail, refused);
  }

  private fail(app: string, prev: AppSyncStatus | undefined, error: string, refused?: AckRefusal): void {
    this.status.set(app, { appliedEpoch: prev?.appliedEpoch, error, rejectedEpoch: refused?.epoch });
    this.opts.logger.error(`${this.opts.logPrefix}.state_rejected`, {
      member: this.opts.memberId,
      app,
      error,
      ...(refused ? { epoch: refused.epoch, code: refused.code } : {}),
    });
  }

  /** Writes the ack node (an ack or a refusal): one round trip (set) once this session has created the node. */
  private async writeAck(app: string, ack: AckInfo): Promise<void> {
    const c = this.opts.coordinator;
    const path = layout.ack(app, this.opts.memberId);
    if (this.ackNodes.has(app)) {
      try {
        await c.set(path, encodeJson(ack));
        return;
      } catch (err) {
        if (!isCoordinatorError(err, 'NW_CP_NO_NODE')) throw err;
        this.ackNodes.delete(app);
      }
    }
    try {
      await c.create(path, encodeJson(ack), 'ephemeral').catch(async (err: unknown) => {
        if (!isCoordinatorError(err, 'NW_CP_NO_NODE')) throw err;
        // A state written without the state writer (which creates the acks list first).
        await c.mkdirp(layout.acks(app));
        await c.create(path, encodeJson(ack), 'ephemeral');
      });
    } catch (err) {
      if (!isCoordinatorError(err, 'NW_CP_NODE_EXISTS')) throw err;
      await c.set(path, encodeJson(ack));
    }
    this.ackNodes.add(app);
  }
}

/** The refusal code of a permanent apply error: its catalogue code, or (an error without one) the generic invalid-document code. */
function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^NW_[A-Z0-9_]{1,64}$/.test(code) ? code : 'NW_CP_DOCUMENT_INVALID';
}
