import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../platform/logger.js';
import type { Coordinator, TransactionOp, Watcher } from '../platform/coordinator/coordinator.js';
import { ControlError, isControlError } from './errors.js';
import { encodeJson, layout, TREE_ROOTS, type AckRefusal } from '../protocol/coordinator-paths.js';
import { ackInfoOf, logInvalidDocuments } from '../fleet/coordinator-documents.js';
import { readLiveMembers, type MemberStatus } from './live-members.js';
import { LeaderElection } from './leader-election.js';
import type { DnsSteps, SyncHook } from './migration/migration-hooks.js';
import { controlPath, LogHandle, parseControl, parseLog, TERMINAL, type MigrationLog } from './migration/migration-log.js';
import { MigrationRunner, releaseAppLocks } from './migration/migration-runner.js';
import type { MigrationPlan } from './migration/plan.js';

export interface ControlPlaneOptions {
  readonly coordinator: Coordinator;
  /** Candidate id in the leader election (unique per process). */
  readonly id: string;
  readonly logger: Logger;
  readonly dns?: DnsSteps;
  readonly syncHooks?: ReadonlyMap<string, SyncHook>;
  readonly fetch?: typeof fetch;
}

export interface AppStatus {
  readonly app: string;
  readonly epoch: number | undefined;
  readonly state: unknown;
  readonly stateError?: string;
  readonly lock: string | undefined;
  /** Per member serving the app: the epoch it acked, whether that is the current one, and the epoch it refused, if it did. */
  readonly acks: ReadonlyArray<{
    readonly member: string;
    readonly epoch: number | null;
    readonly current: boolean;
    readonly refused?: AckRefusal;
  }>;
}

export interface FleetStatus {
  readonly leader: string | undefined;
  readonly members: readonly MemberStatus[];
  readonly apps: readonly AppStatus[];
  /** `error`: why a migration failed a phase (and rolled back, paused or failed), e.g. an analysis gate's verdict. */
  readonly migrations: ReadonlyArray<
    Pick<MigrationLog, 'id' | 'status' | 'phase' | 'phaseStatus' | 'updatedAt'> & {
      readonly apps: readonly string[];
      readonly error?: { readonly code: string; readonly message: string };
    }
  >;
}

function json<T>(data: Buffer | undefined): T | undefined {
  if (!data) return undefined;
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * One control-plane process. Any process accepts commands (they are written
 * to the coordinator); only the elected leader runs migrations. A leader
 * that loses its session stops its runners at once; the next leader resumes
 * every unfinished migration from its log.
 */
export class ControlPlane {
  private readonly election: LeaderElection;
  private readonly runners = new Map<string, MigrationRunner>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  /** The adoption pass in progress; a request for another while it runs sets `adoptAgain`. */
  private adopting: Promise<void> | undefined;
  private adoptAgain = false;
  private adoptFailures = 0;
  private adoptRetry: NodeJS.Timeout | undefined;
  /** Runner crashes per migration, for the backoff before it is adopted again. */
  private readonly crashes = new Map<string, number>();
  /** Finished migrations whose leftover app locks this leader has removed (checked once each). */
  private readonly locksReleased = new Set<string>();
  private readonly invalid: ReturnType<typeof logInvalidDocuments>;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.invalid = logInvalidDocuments(opts.logger, 'controlplane.document_invalid');
    this.election = new LeaderElection(opts.coordinator, opts.id, opts.logger, (leader) => {
      if (leader) this.adopt();
      else this.stopRunners();
    });
  }

  get id(): string {
    return this.opts.id;
  }

  isLeader(): boolean {
    return this.election.isLeader();
  }

  async start(): Promise<void> {
    const c = this.opts.coordinator;
    this.unsubscribe = c.onSession((e) => {
      if (e !== 'expired' || this.stopped) return;
      this.election.lost();
      void this.rejoin();
    });
    await c.connect();
    // Members never create the tree (the ACLs they could give it would shut the control plane out).
    for (const p of TREE_ROOTS) await c.mkdirp(p);
    await this.election.join();
  }

  private async rejoin(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.opts.coordinator.connect();
        await this.election.join();
        return;
      } catch (err) {
        this.opts.logger.warn('controlplane.rejoin_failed', { attempt, err });
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.adoptRetry);
    this.unsubscribe?.();
    this.stopRunners();
    await this.election.resign();
  }

  private stopRunners(): void {
    for (const r of this.runners.values()) r.stop();
    this.runners.clear();
  }

  /**
   * Starts an adoption pass: one at a time (two at once could start two runners for one migration),
   * and one more after it if another was asked for meanwhile. A pass that fails (a coordinator
   * error) is logged with its code and tried again with a backoff while this process leads: the
   * process must not die of it, and the migrations must still be run.
   */
  private adopt(): void {
    if (this.adopting) {
      this.adoptAgain = true;
      return;
    }
    clearTimeout(this.adoptRetry);
    this.adopting = this.adoptMigrations()
      .then(
        () => {
          this.adoptFailures = 0;
        },
        (err: unknown) => {
          const code = isControlError(err) ? err.code : 'NW_CP_INTERNAL';
          const attempt = this.adoptFailures++;
          this.opts.logger.error('controlplane.migration.adopt_failed', { code, attempt, err });
          this.retryAdoption(attempt);
        },
      )
      .finally(() => {
        this.adopting = undefined;
        if (this.adoptAgain) {
          this.adoptAgain = false;
          this.adopt();
        }
      });
  }

  /** Another adoption pass after a backoff that grows with each failure (0.1 s doubling to 5 s), while this process leads. */
  private retryAdoption(attempt: number): void {
    if (this.stopped || !this.isLeader()) return;
    clearTimeout(this.adoptRetry);
    this.adoptRetry = setTimeout(() => this.adopt(), Math.min(5000, 100 * 2 ** attempt));
  }

  /** As leader: run every unfinished migration, now and whenever one is created. */
  private async adoptMigrations(): Promise<void> {
    if (!this.isLeader()) return;
    const c = this.opts.coordinator;
    const ids = (await c.children(layout.migrations, () => this.adopt())) ?? [];
    for (const id of ids) {
      if (this.runners.has(id)) continue;
      let handle: LogHandle;
      try {
        handle = await LogHandle.open(c, id);
      } catch (err) {
        this.opts.logger.error('controlplane.migration.unreadable', { id, err });
        continue;
      }
      if (TERMINAL.has(handle.log.status)) {
        // A leader that died between writing `done` (or `rolled-back`) and removing its app locks
        // left them behind: the next leader removes them, once per migration. A failed migration
        // keeps its locks (its apps need an operator).
        if (handle.log.status !== 'failed' && !this.locksReleased.has(id)) {
          await releaseAppLocks(c, id, handle.log.plan.apps);
          this.locksReleased.add(id);
        }
        continue;
      }
      await handle.update({}, { event: 'leader', detail: `run by ${this.opts.id}` }).catch(() => undefined);
      const runner = new MigrationRunner(
        {
          coordinator: c,
          logger: this.opts.logger,
          syncHooks: this.opts.syncHooks ?? new Map(),
          dns: this.opts.dns,
          isLeader: () => this.isLeader(),
          ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}),
        },
        handle,
      );
      this.runners.set(id, runner);
      runner
        .run()
        .then(
          () => {
            this.crashes.delete(id);
            return false;
          },
          (err: unknown) => {
            // A runner that failed outside a phase (a coordinator error writing the log or reading
            // the control node) leaves its migration running with its locks: adopt it again.
            this.opts.logger.error('controlplane.migration.crashed', { id, code: (err as { code?: unknown }).code, err });
            return true;
          },
        )
        .then((crashed) => {
          if (this.runners.get(id) === runner) this.runners.delete(id);
          if (!crashed) return;
          const attempt = this.crashes.get(id) ?? 0;
          this.crashes.set(id, attempt + 1);
          this.retryAdoption(attempt);
        });
    }
  }

  private liveMembers(): Promise<MemberStatus[]> {
    return readLiveMembers(this.opts.coordinator, this.invalid);
  }

  /**
   * Registers a migration: validates it against the live fleet, then in one
   * transaction creates its log and control node and locks every app it
   * covers. Either the migration exists with all its locks, or nothing changed.
   */
  async migrate(plan: MigrationPlan): Promise<MigrationLog> {
    const c = this.opts.coordinator;
    const members = await this.liveMembers();
    for (const app of plan.apps) {
      if (!members.some((m) => m.kind === 'gateway' && m.apps.includes(app))) throw new ControlError('NW_CP_UNKNOWN_APP', app);
    }
    for (const hook of plan.sync.hooks) if (!this.opts.syncHooks?.has(hook)) throw new ControlError('NW_CP_UNKNOWN_SYNC_HOOK', hook);
    if (plan.dns && !this.opts.dns)
      throw new ControlError('NW_CP_CONFIG_INVALID', 'plan has a dns section but the control plane has no DNS provider configured');
    const id =
      plan.id ??
      `m-${new Date()
        .toISOString()
        .replace(/[-:.TZ]/g, '')
        .slice(0, 14)}-${randomBytes(3).toString('hex')}`;
    const now = new Date().toISOString();
    const log: MigrationLog = {
      id,
      plan: { ...plan, id },
      createdAt: now,
      updatedAt: now,
      status: 'running',
      phase: undefined,
      phaseStatus: undefined,
      dnsChanged: false,
      history: [{ at: now, event: 'created', detail: `by ${this.opts.id} on ${hostname()}` }],
    };
    const ops: TransactionOp[] = [
      { op: 'create', path: layout.migration(id), data: encodeJson(log) },
      { op: 'create', path: controlPath(id), data: encodeJson({ pause: false, abort: false, updatedAt: now }) },
    ];
    for (const app of plan.apps) {
      await c.mkdirp(layout.app(app));
      ops.push({ op: 'create', path: layout.lock(app), data: Buffer.from(id) });
    }
    try {
      await c.transaction(ops);
    } catch (err) {
      if (!isControlError(err, 'NW_CP_NODE_EXISTS')) throw err;
      if (await c.get(layout.migration(id))) throw new ControlError('NW_CP_PLAN_INVALID', `migration id ${id} is already used`);
      for (const app of plan.apps) {
        const holder = (await c.get(layout.lock(app)))?.data.toString('utf8');
        if (holder)
          throw new ControlError('NW_CP_APP_BUSY', `${app} is part of migration ${holder}`, { details: { app, migration: holder } });
      }
      throw err;
    }
    this.opts.logger.info('controlplane.migration.created', { id, apps: plan.apps });
    return log;
  }

  async getMigration(id: string): Promise<MigrationLog> {
    const node = await this.opts.coordinator.get(layout.migration(id));
    if (!node) throw new ControlError('NW_CP_MIGRATION_NOT_FOUND', id);
    return parseLog(id, node.data);
  }

  private async control(id: string, change: { pause?: boolean; abort?: boolean; reason?: string }): Promise<MigrationLog> {
    const log = await this.getMigration(id);
    if (TERMINAL.has(log.status)) throw new ControlError('NW_CP_MIGRATION_FINISHED', `${id} is ${log.status}`);
    const c = this.opts.coordinator;
    for (;;) {
      const node = await c.get(controlPath(id));
      const cur = parseControl(node?.data);
      const next = { ...cur, ...change, updatedAt: new Date().toISOString() };
      try {
        if (node) await c.set(controlPath(id), encodeJson(next), node.version);
        else await c.create(controlPath(id), encodeJson(next));
        return log;
      } catch (err) {
        if (!isControlError(err, 'NW_CP_BAD_VERSION') && !isControlError(err, 'NW_CP_NODE_EXISTS')) throw err;
      }
    }
  }

  pause(id: string): Promise<MigrationLog> {
    return this.control(id, { pause: true });
  }

  resume(id: string): Promise<MigrationLog> {
    return this.control(id, { pause: false });
  }

  abort(id: string, reason?: string): Promise<MigrationLog> {
    return this.control(id, { abort: true, ...(reason ? { reason } : {}) });
  }

  /**
   * `northwest finalize`: runs the `finalize` step of each of a done migration's sync hooks that
   * has one (the replicate strategy: repair, then N1's datacenter dropped from replication), with
   * notes in its log. Any control-plane process can; it runs while the request waits.
   */
  async finalize(id: string, signal: AbortSignal = new AbortController().signal): Promise<{ id: string; hooks: Record<string, unknown> }> {
    const log = await this.getMigration(id);
    if (log.status !== 'done')
      throw new ControlError('NW_CP_FINALIZE_REFUSED', `${id} is ${log.status}: only a done migration is finalized`);
    const names = log.plan.sync.hooks.filter((n) => {
      const hook = this.opts.syncHooks?.get(n);
      return hook?.finalize !== undefined && (hook.finalizes?.(log.plan) ?? true);
    });
    if (names.length === 0)
      throw new ControlError(
        'NW_CP_FINALIZE_REFUSED',
        `${id}: none of its sync hooks (${log.plan.sync.hooks.join(', ') || 'none'}) has a finalize step for its plan`,
      );
    const handle = await LogHandle.open(this.opts.coordinator, id);
    const note = async (detail: string, data?: Record<string, unknown>): Promise<void> => {
      // A done log has no other writer; a conflict (another finalize) re-reads and writes again.
      for (let attempt = 0; ; attempt++) {
        try {
          await handle.update({}, { event: 'note', detail, ...(data ? { data } : {}) });
          return;
        } catch (err) {
          if (!isControlError(err, 'NW_CP_NOT_LEADER') || attempt >= 3) throw err;
          await handle.reload();
        }
      }
    };
    const hooks: Record<string, unknown> = {};
    for (const name of names) {
      const t0 = performance.now();
      try {
        hooks[name] = {
          ...(await this.opts.syncHooks!.get(name)!.finalize!({
            migrationId: id,
            plan: log.plan,
            signal,
            note: (detail, data) => note(`${name} (finalize): ${detail}`, data),
          })),
          durationMs: Math.round(performance.now() - t0),
        };
      } catch (err) {
        const e = err as Error & { code?: string };
        await note(`${name} (finalize) failed: ${e.code ?? ''} ${e.message}`).catch(() => undefined);
        throw new ControlError('NW_CP_FINALIZE_FAILED', `${name}: ${e.code ? `${e.code}: ` : ''}${e.message}`, { cause: err });
      }
    }
    await note('finalized', { hooks });
    this.opts.logger.info('controlplane.migration.finalized', { id, hooks: names });
    return { id, hooks };
  }

  /** Resolves when the migration's log satisfies `until` (watch-driven, with a poll as backstop). */
  async waitForMigration(id: string, until: (log: MigrationLog) => boolean, timeoutMs: number): Promise<MigrationLog> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let wake: () => void = () => undefined;
      const woke = new Promise<void>((r) => (wake = r));
      let node: Awaited<ReturnType<Coordinator['get']>>;
      try {
        node = await this.opts.coordinator.get(layout.migration(id), () => wake());
      } catch (err) {
        // Ride out a coordinator failover until the deadline.
        if (!isControlError(err, 'NW_CP_COORDINATOR_UNAVAILABLE') || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      if (!node) throw new ControlError('NW_CP_MIGRATION_NOT_FOUND', id);
      const log = parseLog(id, node.data);
      if (until(log)) return log;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new ControlError(
          'NW_CP_BARRIER_TIMEOUT',
          `migration ${id} did not reach the expected state in ${timeoutMs} ms (status ${log.status}, phase ${log.phase ?? '-'})`,
        );
      let t: NodeJS.Timeout | undefined;
      await Promise.race([woke, new Promise<void>((r) => (t = setTimeout(r, Math.min(left, 500))))]);
      clearTimeout(t);
    }
  }

  /** `watch` (the live dashboard's) is set on every node read, so any change to what this reports fires it once. */
  async status(watch?: Watcher): Promise<FleetStatus> {
    const c = this.opts.coordinator;
    const members = await readLiveMembers(c, this.invalid, watch);
    const appNames = ((await c.children(layout.apps, watch)) ?? []).sort();
    const apps: AppStatus[] = [];
    for (const app of appNames) {
      const node = await c.get(layout.state(app), watch);
      const parsed = node ? json<unknown>(node.data) : undefined;
      const ackers = (await c.children(layout.acks(app), watch)) ?? [];
      const acks = await Promise.all(
        members
          .filter((m) => m.apps.includes(app))
          .map(async (m) => {
            const path = layout.ack(app, m.id);
            const ackNode = ackers.includes(m.id) ? await c.get(path, watch) : undefined;
            const ack = ackNode && ackInfoOf(path, ackNode.data, this.invalid);
            const epoch = ack?.epoch ?? null;
            // Current: acked the state node's version (not the ack node's own version, which counts its writes).
            return {
              member: m.id,
              epoch,
              current: node !== undefined && epoch === node.version,
              ...(ack?.refused ? { refused: ack.refused } : {}),
            };
          }),
      );
      apps.push({
        app,
        epoch: node?.version,
        state: parsed,
        ...(node && parsed === undefined ? { stateError: 'state is not valid JSON' } : {}),
        lock: (await c.get(layout.lock(app), watch))?.data.toString('utf8'),
        acks,
      });
    }
    const ids = ((await c.children(layout.migrations, watch)) ?? []).sort();
    const migrations: Array<FleetStatus['migrations'][number]> = [];
    for (const id of ids) {
      const node = await c.get(layout.migration(id), watch);
      if (!node) continue;
      try {
        const l = parseLog(id, node.data);
        migrations.push({
          id,
          status: l.status,
          phase: l.phase,
          phaseStatus: l.phaseStatus,
          updatedAt: l.updatedAt,
          apps: l.plan.apps,
          ...(l.error ? { error: { code: l.error.code, message: l.error.message } } : {}),
        });
      } catch {
        migrations.push({ id, status: 'failed', phase: undefined, phaseStatus: undefined, updatedAt: '', apps: [] });
      }
    }
    return { leader: await this.election.currentLeader(), members, apps, migrations };
  }
}

export type { MigrationPlan, MemberStatus };
