import type { DataMode } from '../../../protocol/app-state.js';
import type { DesiredAppState } from '../../../fleet/state-writer.js';
import type { MemberStatus } from '../../live-members.js';
import type { DnsSteps, PhaseStepName, SyncHook } from '../migration-hooks.js';
import type { LogChange, LogEvent, MigrationLog, PhaseName } from '../migration-log.js';
import type { MigrationPlan } from '../plan.js';
import type { RollbackStep } from './rollback.js';

/**
 * What a phase's work may use: the migration as this leader holds it, the
 * control plane's DNS and sync hooks, and the few runner powers a phase needs.
 * Everything else (the state flip, the barrier, the log's phase records) is
 * the runner's, the same for every phase.
 */
export interface PhaseContext {
  readonly id: string;
  /** The log as this leader has decided it; read it anew after `record`. */
  readonly log: MigrationLog;
  readonly syncHooks: ReadonlyMap<string, SyncHook>;
  readonly dns: DnsSteps | undefined;
  /** Fetch for N2 health checks (tests may point it elsewhere). */
  readonly fetch: typeof fetch;
  /** Throws NW_CP_NOT_LEADER once this runner must stop (leadership lost, shutdown). */
  checkLeader(): void;
  /** Fires when this runner must stop: a phase that waits (the analysis gates' dwell) wakes on it. */
  readonly signal: AbortSignal;
  /** Whether an operator asked to abort (read from the control node, as between phases): a dwell ends early on it. */
  abortRequested(): Promise<boolean>;
  /** The fleet's live members (for the analysis gates: the gateways and where their /metrics are). */
  liveMembers(): Promise<readonly MemberStatus[]>;
  /** Writes a log change and events now (fenced like every log write), before the phase acts on it. */
  record(change: LogChange, ...events: Omit<LogEvent, 'at'>[]): Promise<void>;
  /** Runs the plan's sync hooks in order (each hook's main step, or another of its steps); returns their figures. */
  runSyncHooks(step: 'sync' | PhaseStepName): Promise<Record<string, unknown>>;
}

/**
 * A phase's work for one hook step: the hooks' figures as `data.hooks`, or nothing at all when no
 * hook of the plan has that step or none had anything to do (so the log reads as it always has).
 */
export async function hookStepWork(ctx: PhaseContext, step: PhaseStepName): Promise<PhaseWork> {
  if (!ctx.log.plan.sync.hooks.some((n) => ctx.syncHooks.get(n)?.[step])) return {};
  const hooks = await ctx.runSyncHooks(step);
  return Object.keys(hooks).length > 0 ? { data: { hooks } } : {};
}

/** What a phase's work reports: figures for its `phase-completed` event, and log fields set when it completes. */
export interface PhaseWork {
  readonly data?: Record<string, unknown>;
  readonly change?: LogChange;
}

/**
 * One migration phase, in one place. The runner does the same for each:
 * record the start, run `before`, write `states` to every app of the plan
 * and wait for the fleet's acks (the flip), run `after`, record the
 * completion. Each step must be idempotent: a new leader re-runs a phase
 * that was started but not completed.
 */
export interface Phase<N extends PhaseName = PhaseName> {
  readonly name: N;
  /**
   * The state every app of the plan gets in this phase: the gateways' mode
   * and, once a sync hook switched the data layers (`synced`), their mode in
   * `data`; undefined when the phase leaves the states as they are. While a
   * migration runs, states carry its tag, so lease fencing applies to its apps.
   */
  states(plan: MigrationPlan, id: string, synced: DataMode | undefined): DesiredAppState | undefined;
  /**
   * Whether the phase writes nothing to the coordinator before its flip: then
   * its start record (with the completion of the phase before) is only staged
   * and goes out in the flip's transaction, one round trip instead of two on
   * the handover's clock. A phase with outside effects before its flip (N2
   * checks, DNS) records its start first, so a new leader knows to undo them.
   * If `states` is undefined for a plan, the staged record is written alone.
   */
  readonly startsWithFlip: boolean;
  /** Whether N2 may have taken writes once this phase started: then a rollback from here must fence first. */
  readonly n2TakesWrites: boolean;
  /** What rolling back from this phase (started or completed) does, in order. */
  readonly rollback: readonly RollbackStep[];
  /** Work before the flip: checks, and changes outside the fleet. Writes nothing to the coordinator if `startsWithFlip`. */
  readonly before?: (ctx: PhaseContext) => Promise<PhaseWork>;
  /** Work once every member acked the phase's states. */
  readonly after?: (ctx: PhaseContext) => Promise<PhaseWork>;
}
