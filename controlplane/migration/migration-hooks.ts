import type { DataMode } from '../../protocol/app-state.js';
import type { DatastoreAckReport } from '../../protocol/coordinator-paths.js';
import type { MigrationLog } from './migration-log.js';
import type { MigrationPlan } from './plan.js';

/** What a sync hook gets: the migration, and a signal that fires if it must stop. */
export interface SyncContext {
  readonly migrationId: string;
  readonly plan: MigrationPlan;
  readonly log: MigrationLog;
  readonly signal: AbortSignal;
  /** Progress lines for the control plane's log (kept short). */
  readonly progress: (detail: string, data?: Record<string, unknown>) => void;
  /**
   * A `note` event in the migration log, fenced like every log write: progress an operator sees in
   * `northwest watch` and the events API. The log keeps 1,000 events: a few per step, not per page.
   */
  readonly note: (detail: string, data?: Record<string, unknown>) => Promise<void>;
  /**
   * Switches the data layers of every app in the plan (merged with what earlier
   * hooks set), persists it in the log, rewrites the sync state and waits for
   * every member (gateways and data layers) to ack it. Idempotent. Only the main
   * step and `beforeFence` may call it (the gateways are in the sync state then).
   */
  readonly setDataMode: (patch: Partial<DataMode>) => Promise<DataLayerBarrier>;
  /**
   * Writes the current phase's states again (same content, new epochs) and waits for the data
   * layers alone. Called after a barrier that waited for the gateways (`atFence`), every write
   * through the fleet had finished before the data layers take the new epoch: their acks' reports
   * count each of those writes (a failed one included).
   */
  readonly confirmDataLayers: () => Promise<DataLayerBarrier>;
}

/** One data layer's ack of a barrier, with its report on its datastore writes (none from an older member). */
export interface DataLayerAck {
  readonly member: string;
  readonly app: string;
  readonly datastore?: DatastoreAckReport;
  /** How many datastore layers it has for the app (0: it writes no datastore through Northwest); absent: unknown. */
  readonly datastoreTargets?: number;
}

/** A barrier after a state the data layers follow: the epochs written, its time, and the data layers' acks. */
export interface DataLayerBarrier {
  readonly epochs: Readonly<Record<string, number>>;
  readonly barrierMs: number;
  readonly dataLayers: readonly DataLayerAck[];
  /**
   * The fleet's member list's changes so far, read after the barrier (the coordinator's cversion of
   * the members node): equal at two barriers means no member (gateway or data layer) joined, left
   * or came back in between, however briefly. Undefined from a coordinator that does not say.
   */
  readonly membersChanges?: number;
}

/** A hook's step in a phase; undefined: nothing to do for this plan (left out of the phase's figures). */
export type SyncHookStep = (ctx: SyncContext) => Promise<Record<string, unknown> | undefined>;

/** The steps a hook may have in the phases after sync, run by the phases themselves (the rollback's is `atRollback`). */
export const PHASE_STEPS = ['atPrepare', 'beforeFence', 'atFence', 'beforeProxy', 'atProxy', 'atDone'] as const;
export type PhaseStepName = (typeof PHASE_STEPS)[number];

/**
 * A named step of the sync phase (metadata, cache, datastore); returns figures
 * for the log. Optional lifecycle steps, each run for every hook of the plan in order:
 * - `atPrepare` in prepare, before its flip (after N2's health checks): e.g. make N2 a replica.
 * - `beforeFence` in the fence phase before its flip, writes still flowing: e.g. wait until a
 *   replica's lag is within the plan's limit.
 * - `atFence` runs in the fence phase after every member acked the fence (no
 *   write in flight any more): the last chance to bring N2 up to date before it
 *   takes traffic (e.g. flush a change follower, drain a replica).
 * - `beforeProxy` in proxy before its flip (writes still held): e.g. promote N2.
 * - `atProxy` in proxy once every member acked it (before the analysis gates): e.g. N1 follows N2.
 * - `atDone` in done once every member acked the final state: e.g. let go of N1.
 * - `atRollback` runs in a rollback after its fence barrier (no write in flight
 *   to either side) and before N1 serves again; `n2TookWrites` says whether the
 *   rollback comes from a phase where N2 took writes. The last chance to bring
 *   N1 up to date with them (e.g. drain an engine's replication toward N1). A
 *   failure is a failed rollback step (tried again, then the migration fails).
 * None may rely on memory of an earlier step: a new leader may run it after the old one died,
 * and a phase that was started but not completed runs again.
 * - `release` runs once the migration is done or rolled back (stop followers,
 *   drop checkpoints); failures are logged, never fatal.
 * - `finalize` runs on an operator's `northwest finalize` of a done migration:
 *   retires N1's copy (e.g. repair, drop N1's datacenter from replication);
 *   `finalizes` says whether a plan gives it anything to do (default: yes).
 * A step that fails with an error whose `transient` is true (a store unreachable for a while) is
 * run again, with backoff, for up to the plan's `sync.retryForMs`; so every step must be
 * idempotent. A failure that `pausesMigration` pauses the migration instead of rolling it back.
 * Only the main step and `beforeFence` may call `setDataMode`.
 */
export type SyncHook = ((ctx: SyncContext) => Promise<Record<string, unknown>>) &
  Partial<Record<PhaseStepName, SyncHookStep>> & {
    atRollback?: (ctx: SyncContext, n2TookWrites: boolean) => Promise<Record<string, unknown> | undefined>;
    finalize?: (ctx: FinalizeContext) => Promise<Record<string, unknown>>;
    finalizes?: (plan: MigrationPlan) => boolean;
    release?: (migrationId: string, outcome: 'done' | 'rolled-back') => Promise<void>;
  };

/** What a hook's `finalize` gets: the done migration, and a note for its log. */
export interface FinalizeContext {
  readonly migrationId: string;
  readonly plan: MigrationPlan;
  readonly signal: AbortSignal;
  readonly note: (detail: string, data?: Record<string, unknown>) => Promise<void>;
}

/**
 * Whether a sync step's failure asks the migration to pause for an operator rather than roll back
 * (the error, or one it wraps, has `pausesMigration`; e.g. a lag limit with `onLagLimit: pause`).
 */
export function pausesMigration(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    if ((e as { pausesMigration?: unknown }).pausesMigration === true) return true;
  return false;
}

/** Whether a sync step's failure may pass if the step is run again (the error says so). */
export function isTransientHookFailure(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { transient?: unknown }).transient === true;
}

/** The DNS side of a migration; the control plane builds it from a DnsProvider. */
export interface DnsSteps {
  /** Lowers TTLs ahead of time; returns when the switch may happen at the earliest, and what to restore. */
  lowerTtl(plan: MigrationPlan): Promise<{ notBefore: string; before: readonly unknown[]; data: Record<string, unknown> }>;
  /** Sends the record change as one batch and waits until it is in sync. */
  switch(plan: MigrationPlan): Promise<Record<string, unknown>>;
  /** Puts records back as they were (rollback). */
  restore(plan: MigrationPlan, before: readonly unknown[]): Promise<Record<string, unknown>>;
}
