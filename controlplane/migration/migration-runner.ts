import type { Logger } from '../../platform/logger.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { ControlError, isControlError } from '../errors.js';
import { describeRefusal, waitForFleet, type BarrierRefusal, type BarrierReport } from '../../fleet/fleet-barrier.js';
import { writeAppStates, type DesiredAppState } from '../../fleet/state-writer.js';
import { layout, type MemberInfo } from '../../protocol/coordinator-paths.js';
import { LOCAL_DATA_MODE, type DataMode } from '../../protocol/app-state.js';
import {
  type DataLayerAck,
  type DataLayerBarrier,
  type DnsSteps,
  isTransientHookFailure,
  pausesMigration,
  type PhaseStepName,
  type SyncHook,
} from './migration-hooks.js';
import { setTimeout as sleepFor } from 'node:timers/promises';
import {
  controlPath,
  type LogHandle,
  parseControl,
  TERMINAL,
  type LogChange,
  type LogEvent,
  type MigrationControl,
  type PhaseName,
} from './migration-log.js';
import { PHASE_TABLE, phaseAfter, rollbackSteps } from './phase-table.js';
import type { PhaseContext } from './phases/phase.js';
import { rollbackState } from './phases/rollback.js';
import { rollbackFenceData } from './phases/data-modes.js';
import { logInvalidDocuments, type InvalidDocumentReport } from '../../fleet/coordinator-documents.js';
import { readLiveMembers } from '../live-members.js';

export interface RunnerDeps {
  readonly coordinator: Coordinator;
  readonly logger: Logger;
  readonly syncHooks: ReadonlyMap<string, SyncHook>;
  readonly dns: DnsSteps | undefined;
  /** False once this process is no longer leader; the runner stops at the next step. */
  readonly isLeader: () => boolean;
  /** Fetch used for N2 health checks (tests may point it elsewhere). */
  readonly fetch?: typeof fetch;
}

/** The data layers' acks of a barrier, with their reports. */
function dataLayerAcks(acked: BarrierReport['acked']): DataLayerAck[] {
  return acked
    .filter((a) => a.kind === 'datalayer')
    .map((a) => ({
      member: a.member,
      app: a.app,
      ...(a.ack.datastore ? { datastore: a.ack.datastore } : {}),
      ...(a.ack.datastoreTargets === undefined ? {} : { datastoreTargets: a.ack.datastoreTargets }),
    }));
}

function barrierSummary(r: BarrierReport): NonNullable<LogEvent['barrier']> {
  return { ok: r.ok, elapsedMs: Math.round(r.elapsedMs * 10) / 10, members: r.members, missing: r.missing, departed: r.departed };
}

/** A barrier that failed: a timeout, or a member's refusal. The plan's `onBarrierTimeout` decides for both. */
const BARRIER_FAILURES: ReadonlySet<string> = new Set(['NW_CP_BARRIER_TIMEOUT', 'NW_CP_BARRIER_REFUSED']);

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

/**
 * Drives one migration through its phases (PHASE_TABLE: what each writes and
 * does, and what a rollback from it means). Every transition is persisted
 * before it is acted on; a runner started on a log in any state (a new leader
 * taking over) resumes from it: a phase that was started but not completed is
 * run again (each phase's actions are idempotent). Abort, pause and resume
 * are read from the control node between phases. A failed phase rolls back
 * (or, for a barrier that timed out or was refused with `onBarrierTimeout: pause`, pauses).
 */
export class MigrationRunner {
  private wake: () => void = () => undefined;
  private control: MigrationControl | undefined;
  private controlChanged = true;
  /** Epoch of each app's state as this runner last wrote it: the next flip's compare-and-set needs no read. */
  private readonly written = new Map<string, number>();
  private readonly abortController = new AbortController();
  private readonly invalid: InvalidDocumentReport;

  constructor(
    private readonly deps: RunnerDeps,
    private readonly handle: LogHandle,
  ) {
    this.invalid = logInvalidDocuments(deps.logger, 'controlplane.document_invalid');
  }

  get id(): string {
    return this.handle.log.id;
  }

  /** Stops at the next step (leadership lost or shutdown). */
  stop(): void {
    this.abortController.abort();
    this.wake();
  }

  private checkLeader(): void {
    if (this.abortController.signal.aborted || !this.deps.isLeader())
      throw new ControlError('NW_CP_NOT_LEADER', `runner for ${this.id} stopped`);
  }

  /**
   * The control node (pause/abort requests). Read with a watch; until the watch
   * fires (or the connection was in doubt) the last read stands, so a phase
   * boundary costs no round trip when nobody asked for anything.
   */
  private async readControl(): Promise<MigrationControl> {
    if (this.control && !this.controlChanged) return this.control;
    this.controlChanged = false;
    const node = await this.deps.coordinator.get(controlPath(this.id), () => {
      this.controlChanged = true;
      this.wake();
    });
    this.control = parseControl(node?.data);
    return this.control;
  }

  async run(): Promise<void> {
    // Watches can be lost with a session: re-read the control node after any session event.
    const unsubscribe = this.deps.coordinator.onSession(() => {
      this.controlChanged = true;
      this.wake(); // a paused runner re-reads (its watch may be gone)
    });
    try {
      await this.runLoop();
    } finally {
      unsubscribe();
    }
  }

  private async runLoop(): Promise<void> {
    for (;;) {
      try {
        await this.loop();
        return;
      } catch (err) {
        if (isControlError(err, 'NW_CP_NOT_LEADER')) {
          this.deps.logger.warn('controlplane.migration.runner_stopped', { id: this.id, reason: (err as Error).message });
          return;
        }
        if (!isControlError(err, 'NW_CP_COORDINATOR_UNAVAILABLE')) {
          this.deps.logger.error('controlplane.migration.runner_failed', { id: this.id, err });
          throw err;
        }
        // Connection loss is not a failed phase: a write may or may not have landed, so
        // re-read the log and carry on from it (every step is idempotent).
        this.deps.logger.warn('controlplane.migration.coordinator_unavailable', { id: this.id, message: (err as Error).message });
        this.controlChanged = true; // a watch may have been lost with the connection
        await new Promise((r) => setTimeout(r, 500));
        try {
          if (!this.deps.isLeader() || this.abortController.signal.aborted) return;
          await this.handle.reload();
        } catch {
          // still unreachable: try again
        }
      }
    }
  }

  private async loop(): Promise<void> {
    /** A phase the previous iteration already marked started (in the same log write that completed the one before). */
    let started: PhaseName | undefined;
    for (;;) {
      this.checkLeader();
      const log = this.handle.log;
      if (TERMINAL.has(log.status)) {
        // Its locks go with it. Also when this runner wrote the end and lost the coordinator before
        // it removed them: runLoop re-reads the log and comes back here (found by the fault campaign).
        if (log.status !== 'failed') await this.releaseLocks();
        return;
      }
      if (log.status === 'rolling-back') return this.rollback();
      let next: PhaseName | undefined;
      if (started !== undefined && log.phase === started && log.phaseStatus === 'started') {
        next = started;
      } else {
        const woke = new Promise<void>((r) => (this.wake = r));
        const control = await this.readControl();
        if (control.abort) {
          await this.handle.update(
            { status: 'rolling-back' },
            { event: 'rollback-started', detail: `abort requested${control.reason ? `: ${control.reason}` : ''}` },
          );
          continue;
        }
        if (control.pause) {
          if (log.status !== 'paused')
            await this.handle.update({ status: 'paused' }, { event: 'paused', ...(log.phase ? { phase: log.phase } : {}) });
          // Every time round, not only when it pauses: a leader that died before it, or a revert that
          // failed, leaves it to the next (a no-op once the layers are back).
          await this.leaveEachQuorumWindow();
          await woke;
          continue;
        }
        if (log.status === 'paused') await this.handle.update({ status: 'running' }, { event: 'resumed' });
        next = this.nextPhase();
        if (!next) return;
        await this.markStarted(next, { phase: next, phaseStatus: 'started' }, { event: 'phase-started', phase: next });
      }
      started = undefined;
      const t0 = performance.now();
      try {
        const result = await this.runPhase(next);
        const completed: Omit<LogEvent, 'at'> = { event: 'phase-completed', phase: next, durationMs: ms(t0), ...result.event };
        // Unless an operator asked to pause or abort, the next phase is marked started in the same
        // log write that completes this one: one coordinator round trip less per phase (the
        // handover's fence → proxy is on the clock). A new leader reads the same log either way.
        const following = phaseAfter(next);
        // Completing the last phase completes the migration.
        const done = following === undefined;
        const control = following ? await this.readControl() : undefined;
        if (following && control && !control.abort && !control.pause) {
          await this.markStarted(following, { phaseStatus: 'started', phase: following, ...(result.change ?? {}) }, completed, {
            event: 'phase-started',
            phase: following,
          });
          started = following;
          continue;
        }
        await this.handle.update(
          { phaseStatus: 'completed', ...(done ? { status: 'done' } : {}), ...(result.change ?? {}) },
          completed,
          ...(done ? [{ event: 'done' as const }] : []),
        );
        if (done) {
          await this.releaseHooks('done');
          await this.releaseLocks();
        }
      } catch (err) {
        if (isControlError(err, 'NW_CP_NOT_LEADER') || isControlError(err, 'NW_CP_COORDINATOR_UNAVAILABLE')) throw err;
        const e = err as Error & { code?: string; details?: Record<string, unknown> };
        const code = e.code ?? 'NW_CP_COORDINATOR_ERROR';
        // A refusal is a barrier that can never pass: the same policy as a timeout, without the wait.
        const barrierPause = BARRIER_FAILURES.has(code) && this.handle.log.plan.onBarrierTimeout === 'pause';
        // A sync step may ask for a pause instead (a replication lag limit with onLagLimit: pause).
        const pause = barrierPause || pausesMigration(err);
        this.deps.logger.warn('controlplane.migration.phase_failed', { id: this.id, phase: next, code, message: e.message });
        await this.handle.update(
          { status: pause ? 'paused' : 'rolling-back', error: { code, message: e.message, ...(e.details ? { details: e.details } : {}) } },
          {
            event: 'phase-failed',
            phase: next,
            durationMs: ms(t0),
            detail: `${code}: ${e.message}`,
            ...(e.details ? { data: e.details } : {}),
          },
          pause
            ? {
                event: 'paused',
                phase: next,
                detail:
                  `${barrierPause ? `barrier ${code === 'NW_CP_BARRIER_REFUSED' ? 'refused' : 'timeout'}` : code}: ` +
                  'waiting for an operator (resume re-runs the phase, abort rolls back)',
              }
            : { event: 'rollback-started', phase: next, detail: code },
        );
        if (pause) {
          await this.deps.coordinator.set(
            controlPath(this.id),
            Buffer.from(JSON.stringify({ pause: true, abort: false, reason: code, updatedAt: new Date().toISOString() })),
          );
          await this.leaveEachQuorumWindow();
        }
      }
    }
  }

  /**
   * Records a phase start (and the completion before it). For a phase whose
   * first write is its state flip, the record is only staged: it goes out in
   * the flip's transaction, one coordinator round trip instead of two on the
   * handover's clock. Otherwise it is written now, before the phase runs.
   */
  private async markStarted(phase: PhaseName, change: LogChange, ...events: Omit<LogEvent, 'at'>[]): Promise<void> {
    this.handle.stage(change, ...events);
    if (!PHASE_TABLE[phase].startsWithFlip) await this.handle.flush();
  }

  private nextPhase(): PhaseName | undefined {
    const { phase, phaseStatus } = this.handle.log;
    if (phase !== undefined && phaseStatus === 'started') return phase;
    return phaseAfter(phase);
  }

  /** Writes states (fenced by the log version) and waits on the fleet barrier. */
  private async flip(states: Record<string, DesiredAppState>): Promise<Pick<LogEvent, 'epochs' | 'barrier'>> {
    return (await this.flipAcked(states)).event;
  }

  /** `flip`, with the acks that passed the barrier; `kinds`: the member kinds it waits for (default all). */
  private async flipAcked(
    states: Record<string, DesiredAppState>,
    kinds?: readonly MemberInfo['kind'][],
  ): Promise<{ event: Pick<LogEvent, 'epochs' | 'barrier'>; acked: BarrierReport['acked'] }> {
    this.checkLeader();
    const plan = this.handle.log.plan;
    // The guard is a staged log change (the phase start) or a check of the log version.
    const targets = await writeAppStates(this.deps.coordinator, states, [this.handle.guard()], this.written).catch((err: unknown) => {
      if (isControlError(err, 'NW_CP_BAD_VERSION'))
        throw new ControlError('NW_CP_NOT_LEADER', `log of ${this.id} moved; not writing states`);
      throw err;
    });
    this.handle.guardCommitted();
    for (const t of targets) this.written.set(t.app, t.epoch);
    const epochs = Object.fromEntries(targets.map((t) => [t.app, t.epoch]));
    const barrier = { timeoutMs: plan.barrierTimeoutMs, logger: this.deps.logger, ...(kinds ? { kinds } : {}) };
    const report = await waitForFleet(this.deps.coordinator, targets, barrier).catch((err: unknown) => {
      if (!isControlError(err, 'NW_CP_BARRIER_REFUSED')) throw err;
      // The same error with the epochs, as a timeout has them: message for the log's detail, data for tools.
      const { refused, report } = err.details as { refused: BarrierRefusal[]; report: BarrierReport };
      throw new ControlError('NW_CP_BARRIER_REFUSED', refused.map(describeRefusal).join('; '), {
        cause: err,
        details: { epochs, barrier: { ...barrierSummary(report), refused } },
      });
    });
    if (!report.ok) {
      throw new ControlError(
        'NW_CP_BARRIER_TIMEOUT',
        report.missing.map((m) => `${m.member}/${m.app} acked ${m.ackedEpoch ?? 'nothing'}`).join(', '),
        {
          details: { epochs, barrier: barrierSummary(report) },
        },
      );
    }
    return { event: { epochs, barrier: barrierSummary(report) }, acked: report.acked };
  }

  /** The same state for every app of the plan (several apps of one migration flip as one). */
  private forEveryApp(state: DesiredAppState): Record<string, DesiredAppState> {
    return Object.fromEntries(this.handle.log.plan.apps.map((a) => [a, state]));
  }

  private statesFor(phase: PhaseName): Record<string, DesiredAppState> | undefined {
    const s = PHASE_TABLE[phase].states(this.handle.log.plan, this.id, this.handle.log.dataMode);
    return s ? this.forEveryApp(s) : undefined;
  }

  /** What a phase's work may use of this runner. */
  private phaseContext(): PhaseContext {
    const handle = this.handle;
    return {
      id: this.id,
      get log() {
        return handle.log;
      },
      syncHooks: this.deps.syncHooks,
      dns: this.deps.dns,
      fetch: this.deps.fetch ?? fetch,
      checkLeader: () => this.checkLeader(),
      signal: this.abortController.signal,
      abortRequested: async () => (await this.readControl()).abort,
      liveMembers: () => readLiveMembers(this.deps.coordinator, this.invalid),
      record: async (change, ...events) => {
        await handle.update(change, ...events);
      },
      runSyncHooks: (step) => this.runSyncHooks(step),
    };
  }

  /** One phase, as its table entry says: its work before the flip, the flip (if it writes states), its work after. */
  private async runPhase(
    name: PhaseName,
  ): Promise<{ event: Pick<LogEvent, 'epochs' | 'barrier' | 'data' | 'detail'>; change?: LogChange }> {
    const phase = PHASE_TABLE[name];
    const ctx = this.phaseContext();
    const before = (await phase.before?.(ctx)) ?? {};
    const states = this.statesFor(name);
    // No flip to carry a staged start record: it is written on its own.
    if (!states) await this.handle.flush();
    const flipped = states ? await this.flip(states) : {};
    const after = (await phase.after?.(ctx)) ?? {};
    const data = { ...before.data, ...after.data };
    const change = { ...before.change, ...after.change };
    return { event: { ...flipped, ...(Object.keys(data).length ? { data } : {}) }, ...(Object.keys(change).length ? { change } : {}) };
  }

  private async runSyncHooks(step: 'sync' | PhaseStepName | 'atRollback', n2TookWrites = false): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const name of this.handle.log.plan.sync.hooks) {
      this.checkLeader();
      const hook = this.deps.syncHooks.get(name);
      if (!hook) throw new ControlError('NW_CP_UNKNOWN_SYNC_HOOK', name);
      const atRollback = hook.atRollback;
      const fn =
        step === 'sync' ? hook : step === 'atRollback' ? atRollback && ((c: typeof ctx) => atRollback(c, n2TookWrites)) : hook[step];
      if (!fn) continue;
      const t0 = performance.now();
      const handle = this.handle;
      const ctx = {
        migrationId: this.id,
        plan: this.handle.log.plan,
        // Read when used: a step that switches the data layers, or a retried one, sees the log as it is now.
        get log() {
          return handle.log;
        },
        signal: this.abortController.signal,
        progress: (detail: string, d?: Record<string, unknown>) =>
          this.deps.logger.info('controlplane.migration.sync_progress', { id: this.id, hook: name, detail, ...d }),
        setDataMode: (patch: Partial<DataMode>) => this.setDataMode(name, patch),
        confirmDataLayers: () => this.confirmDataLayers(),
        note: async (detail: string, d?: Record<string, unknown>) => {
          this.checkLeader();
          await this.handle.update(
            {},
            {
              event: 'note',
              ...(this.handle.log.phase ? { phase: this.handle.log.phase } : {}),
              detail: `${name}: ${detail}`,
              ...(d ? { data: d } : {}),
            },
          );
        },
      };
      const where = step === 'sync' ? '' : step === 'atFence' ? ' (at fence)' : step === 'atRollback' ? ' (in rollback)' : ` (${step})`;
      const label = `${name}${where}`;
      const retryUntil = t0 + this.handle.log.plan.sync.retryForMs;
      for (let attempt = 1, delayMs = 500; ; attempt++, delayMs = Math.min(delayMs * 2, 5000)) {
        try {
          const figures = await fn(ctx);
          if (figures !== undefined) out[name] = { ...figures, durationMs: ms(t0), ...(attempt > 1 ? { attempts: attempt } : {}) };
          break;
        } catch (err) {
          const again = isTransientHookFailure(err) && !this.abortController.signal.aborted && performance.now() + delayMs < retryUntil;
          if (!again) throw new ControlError('NW_CP_SYNC_FAILED', `${label}: ${(err as Error).message}`, { cause: err });
          const code = (err as { code?: string }).code;
          this.deps.logger.warn('controlplane.migration.sync_retry', { id: this.id, hook: name, attempt, code, delayMs });
          await this.handle.update(
            {},
            {
              event: 'note',
              phase: step === 'sync' ? 'sync' : step === 'atFence' ? 'fence' : (this.handle.log.phase ?? 'sync'),
              detail: `${label}: ${code} (${(err as Error).message}); attempt ${attempt + 1} in ${delayMs} ms`,
            },
          );
          await sleepFor(delayMs, undefined, { signal: this.abortController.signal }).catch(() => undefined);
          this.checkLeader();
        }
      }
    }
    return out;
  }

  private async setDataMode(hook: string, patch: Partial<DataMode>): Promise<DataLayerBarrier> {
    this.checkLeader();
    const dataMode: DataMode = { ...(this.handle.log.dataMode ?? LOCAL_DATA_MODE), ...patch };
    await this.handle.update(
      { dataMode },
      {
        event: 'note',
        phase: this.handle.log.phase ?? 'sync',
        detail: `${hook}: data layers → datastore ${dataMode.datastore}, cache ${dataMode.cache}`,
      },
    );
    const t0 = performance.now();
    const r = await this.flipAcked(this.statesFor('sync')!);
    return this.dataLayerBarrier(r, t0);
  }

  /** A barrier's figures for a hook, with the fleet's membership changes read after it. */
  private async dataLayerBarrier(r: Awaited<ReturnType<MigrationRunner['flipAcked']>>, t0: number): Promise<DataLayerBarrier> {
    const barrierMs = ms(t0);
    const membersChanges = (await this.deps.coordinator.get(layout.members))?.childChanges;
    return {
      epochs: { ...(r.event.epochs ?? {}) },
      barrierMs,
      dataLayers: dataLayerAcks(r.acked),
      ...(membersChanges === undefined ? {} : { membersChanges }),
    };
  }

  /**
   * A migration paused before its fence completed, with the data layers at EACH_QUORUM (the
   * replicate strategy's last window: at the end of a sync an operator holds, or opened by a hook
   * that then failed, or before a fence barrier that timed out): every write would wait for N2's
   * datacenter for as long as the pause lasts, and that datacenter may be why it paused. The
   * layers go back to their own level (the sync state, so a fleet the fence reached serves again);
   * the fence phase, run again on resume, opens the window again. Never once the fence completed:
   * its proof would not cover writes N1 took after it. A failure is logged: the pause stands.
   */
  private async leaveEachQuorumWindow(): Promise<void> {
    const { dataMode, phase, phaseStatus, plan } = this.handle.log;
    if (phase !== 'sync' && !(phase === 'fence' && phaseStatus !== 'completed')) return;
    try {
      // The log says local once a revert began; its states may still say each-quorum (the flip
      // failed, or its leader died between the two): those are what the layers follow.
      if (dataMode?.datastore !== 'each-quorum' && !(await this.statesSay('each-quorum', plan.apps))) return;
      await this.setDataMode('pause', { datastore: 'local' });
    } catch (err) {
      this.deps.logger.warn('controlplane.migration.window_revert_failed', { id: this.id, phase, message: (err as Error).message });
    }
  }

  /** Whether any of the apps' state nodes asks the data layers for this datastore mode (an unreadable one: no). */
  private async statesSay(datastore: DataMode['datastore'], apps: readonly string[]): Promise<boolean> {
    for (const app of apps) {
      const node = await this.deps.coordinator.get(layout.state(app));
      if (!node) continue;
      try {
        const doc = JSON.parse(node.data.toString('utf8')) as { data?: { datastore?: unknown } } | null;
        if (doc?.data?.datastore === datastore) return true;
      } catch {
        // not a state this runner wrote: nothing to revert
      }
    }
    return false;
  }

  /**
   * The current phase's states written again (new epochs, same content) and a barrier on the data
   * layers alone: each acks after the barrier before it passed, so its report counts every write
   * that barrier waited for (SyncContext.confirmDataLayers).
   */
  private async confirmDataLayers(): Promise<DataLayerBarrier> {
    const phase = this.handle.log.phase;
    const states = phase && this.statesFor(phase);
    if (!states) throw new ControlError('NW_CP_SYNC_FAILED', `confirmDataLayers: phase ${phase ?? 'none'} writes no state`);
    const t0 = performance.now();
    return this.dataLayerBarrier(await this.flipAcked(states, ['datalayer']), t0);
  }

  /**
   * Returns every app to serving from N1 by the steps the phase's entry
   * lists: fence first if N2 may have taken writes (so none is in flight when
   * N1 takes over; with mirroring back N1 already has them all), restore DNS
   * if it was changed, then serve. Barriers that time out are retried; after
   * repeated failure the migration is marked failed and its locks are kept,
   * so nothing new starts on a fleet in an unknown state.
   */
  private async rollback(): Promise<void> {
    const log = this.handle.log;
    const steps: Array<{ name: string; run: () => Promise<Pick<LogEvent, 'epochs' | 'barrier' | 'data'>> }> = [];
    const fromPhase = rollbackSteps(log.phase);
    for (const step of fromPhase) {
      if (step === 'serve' && log.plan.sync.hooks.some((n) => this.deps.syncHooks.get(n)?.atRollback)) {
        // Before N1 serves again, with no write in flight (after the fence, if N2 took writes).
        const n2TookWrites = fromPhase.includes('fence');
        steps.push({ name: 'sync-hooks', run: async () => ({ data: await this.runSyncHooks('atRollback', n2TookWrites) }) });
      }
      if (step !== 'dns-restore') {
        const data = step === 'fence' ? rollbackFenceData(log.plan) : undefined;
        steps.push({ name: step, run: () => this.flip(this.forEveryApp(rollbackState(step, this.id, data))) });
        continue;
      }
      // Only if the dns phase got as far as changing the records (it marks the log first).
      const dns = this.deps.dns;
      if (log.dnsChanged && dns && log.plan.dns)
        steps.push({ name: step, run: async () => ({ data: await dns.restore(log.plan, log.dnsBefore ?? []) }) });
    }
    for (const step of steps) {
      let attempt = 0;
      for (;;) {
        this.checkLeader();
        const t0 = performance.now();
        try {
          const r = await step.run();
          await this.handle.update({}, { event: 'rollback-step', detail: step.name, durationMs: ms(t0), ...r });
          break;
        } catch (err) {
          if (isControlError(err, 'NW_CP_NOT_LEADER') || isControlError(err, 'NW_CP_COORDINATOR_UNAVAILABLE')) throw err;
          attempt += 1;
          const e = err as Error & { code?: string };
          await this.handle.update(
            {},
            {
              event: 'rollback-step',
              detail: `${step.name} failed (attempt ${attempt}): ${e.code ?? ''} ${e.message}`,
              durationMs: ms(t0),
            },
          );
          if (attempt >= 3) {
            await this.handle.update(
              {
                status: 'failed',
                error: { code: e.code ?? 'NW_CP_COORDINATOR_ERROR', message: `rollback step ${step.name}: ${e.message}` },
              },
              { event: 'failed', detail: step.name },
            );
            return;
          }
        }
      }
    }
    await this.handle.update({ status: 'rolled-back' }, { event: 'rolled-back' });
    await this.releaseHooks('rolled-back');
    await this.releaseLocks();
  }

  /** Lets every sync hook of the plan release what it holds (followers, checkpoints); never fatal. */
  private async releaseHooks(outcome: 'done' | 'rolled-back'): Promise<void> {
    for (const name of this.handle.log.plan.sync.hooks) {
      const release = this.deps.syncHooks.get(name)?.release;
      if (!release) continue;
      await release(this.id, outcome).catch((err: unknown) =>
        this.deps.logger.warn('controlplane.migration.hook_release_failed', { id: this.id, hook: name, err }),
      );
    }
  }

  private async releaseLocks(): Promise<void> {
    await releaseAppLocks(this.deps.coordinator, this.id, this.handle.log.plan.apps);
  }
}

/** Removes the app locks `id` still holds (a lock another migration holds now is left alone). */
export async function releaseAppLocks(coordinator: Coordinator, id: string, apps: readonly string[]): Promise<void> {
  for (const app of apps) {
    const lock = await coordinator.get(layout.lock(app));
    if (lock && lock.data.toString('utf8') === id) await coordinator.remove(layout.lock(app), lock.version).catch(() => undefined);
  }
}
