/**
 * The control plane of the handover model test, cut down to one app and the
 * phases that move writes: serve → fence → proxy → done, with the runner's
 * rollbacks (controlplane/migration/phases/*.ts: from prepare or fence back
 * to serve; from proxy or done through a rollback fence first). It drives
 * the fleet with the real primitives the runner uses — writeAppStates, then
 * waitForFleet — and writes a next state only after the barrier of the last
 * one passed; a barrier that fails starts the rollback, whose steps are
 * tried up to 3 times each before the migration is marked failed.
 *
 * It also keeps what the safety invariants are judged by: which side owns
 * writes when, on the test's sequence clock — N1 at first; nobody once a
 * fence barrier passed (no write is in flight anywhere and every gateway
 * holds new ones); a side again from the moment a state that sends writes
 * to it is written (proxy: N2; the rollback's serve: N1) — and the data a
 * passed fence carries from N1 to N2 (what the real sync hooks copy before
 * proxy; nothing is carried back on a rollback, as with
 * `mirrorWritesToN1: false`).
 */
import { waitForFleet } from '../../fleet/fleet-barrier.js';
import { writeAppStates, type DesiredAppState } from '../../fleet/state-writer.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import type { Deployment } from '../../protocol/app-state.js';
import type { Commit, SequenceClock } from './commit-log-app.js';

export type Phase = 'idle' | 'prepare' | 'fence' | 'proxy' | 'done';
export type DriverStatus = 'idle' | 'running' | 'rolling-back' | 'failed' | 'done';
type RollbackStep = 'fence' | 'serve';

/** From `seq` on, only `owner` may commit writes ('none': nobody, after a fence barrier passed). */
export interface OwnershipChange {
  readonly seq: number;
  readonly owner: Deployment | 'none';
  readonly why: string;
}

export interface HandoverDriverOptions {
  readonly coordinator: Coordinator;
  readonly app: string;
  readonly clock: SequenceClock;
  /** N1's commit log: a passed fence towards N2 carries what is in it to N2. */
  readonly n1Commits: readonly Commit[];
  readonly barrierTimeoutMs: number;
  /** One line per state written and barrier outcome, for the failure report. */
  readonly trace: (line: string) => void;
}

const ROLLBACK_FROM: Record<Exclude<Phase, 'idle'>, readonly RollbackStep[]> = {
  prepare: ['serve'],
  fence: ['serve'],
  proxy: ['fence', 'serve'],
  done: ['fence', 'serve'],
};

export class HandoverDriver {
  status: DriverStatus = 'idle';
  /** The last phase whose barrier passed (idle: none, or rolled back). */
  phase: Phase = 'idle';
  migrations = 0;
  readonly ownership: OwnershipChange[] = [];
  /** Write ids carried to N2 by a passed fence (the sync's copy). */
  readonly carriedToN2 = new Set<string>();
  /** An untagged state was written and no barrier of a tagged one has passed since: a member may be on an untagged state. */
  private untaggedPending = true;
  private rollbackSteps: RollbackStep[] = [];
  private rollbackAttempts = 0;
  private migrationId = '';

  constructor(private readonly opts: HandoverDriverOptions) {}

  /** The side the app ends on (meaningful once `terminal`): N2 after done, else N1. */
  get side(): Deployment {
    return this.status === 'done' ? 'n2' : 'n1';
  }

  /** True once every live member has applied a state with a migration tag (so the lease guards its writes). */
  get everyMemberTagged(): boolean {
    return !this.untaggedPending;
  }

  /** The first state, before any member starts. */
  async init(): Promise<void> {
    await this.write({ mode: 'serve' }, 'initial serve');
  }

  get terminal(): boolean {
    return this.status === 'done' || this.status === 'idle';
  }

  /** One step of the runner: the next phase's flip, or the next rollback step. Returns what it did. */
  async advance(): Promise<string> {
    switch (this.status) {
      case 'done':
        return 'done: nothing to do';
      case 'failed':
        // What an operator does with a failed migration: run its rollback again.
        this.status = 'rolling-back';
        this.rollbackAttempts = 0;
        return this.rollbackStep();
      case 'rolling-back':
        return this.rollbackStep();
      case 'idle':
        this.migrations += 1;
        this.migrationId = `m${this.migrations}`;
        this.status = 'running';
        this.phase = 'idle';
        return this.forward('prepare', { mode: 'serve', migration: this.tag('prepare') });
      case 'running':
        switch (this.phase) {
          case 'idle':
            throw new Error('a running migration has passed at least prepare');
          case 'prepare':
            return this.forward('fence', { mode: 'fence', readFrom: 'n1', migration: this.tag('fence') });
          case 'fence':
            return this.forward('proxy', { mode: 'proxy', mirrorWritesToN1: false, migration: this.tag('proxy') });
          case 'proxy':
            return this.forward('done', { mode: 'proxy', mirrorWritesToN1: false });
          case 'done':
            return 'done: nothing to do';
        }
    }
  }

  /** An operator's abort: roll back from the last phase that passed, as the runner does between steps. */
  abort(): string {
    if (this.status !== 'running' || this.phase === 'idle' || this.phase === 'done') return `abort: nothing to abort (${this.status})`;
    this.status = 'rolling-back';
    this.rollbackSteps = [...ROLLBACK_FROM[this.phase]];
    this.rollbackAttempts = 0;
    this.opts.trace(`cp: abort requested in ${this.phase}; rollback ${this.rollbackSteps.join(' → ')}`);
    return `aborted in ${this.phase}`;
  }

  /**
   * After the run: a fence and the terminal state again, which every live member must ack
   * within the deadline. The fence needs every gateway's in-flight writes at zero (a leaked
   * count never drains) and the terminal state releases what it held.
   */
  async finalCheck(timeoutMs: number): Promise<{ ok: boolean; detail: string; members: readonly string[]; departed: readonly string[] }> {
    const terminal: DesiredAppState = this.status === 'done' ? { mode: 'proxy', mirrorWritesToN1: false } : { mode: 'serve' };
    const fence = await this.flip({ mode: 'fence', readFrom: this.side, migration: { id: 'final-check', phase: 'fence' } }, timeoutMs);
    if (!fence.ok) return { ...fence, detail: `final fence: ${fence.detail}` };
    this.own('none', 'final fence passed');
    this.own(this.side, `final ${terminal.mode} written`);
    const end = await this.flip(terminal, timeoutMs);
    return { ...end, detail: `final ${terminal.mode}: ${end.detail}` };
  }

  private tag(phase: string): { id: string; phase: string } {
    return { id: this.migrationId, phase };
  }

  private own(owner: Deployment | 'none', why: string): number {
    const seq = this.opts.clock.next();
    this.ownership.push({ seq, owner, why });
    return seq;
  }

  private async forward(next: Exclude<Phase, 'idle'>, state: DesiredAppState): Promise<string> {
    // Writes may reach N2 from the moment the proxy state is written: the first gateway applies it at once.
    if (next === 'proxy') this.own('n2', 'proxy written');
    const r = await this.flip(state);
    if (r.ok) {
      if (next === 'fence') {
        // Every gateway acked the fence: N1 has no write in flight, so its data is what N2 gets.
        const passedAt = this.own('none', 'fence passed');
        for (const c of this.opts.n1Commits) if (c.seq < passedAt) this.carriedToN2.add(c.writeId);
      }
      this.phase = next;
      if (next === 'done') this.status = 'done';
      return `${next} passed (${r.detail})`;
    }
    this.status = 'rolling-back';
    this.rollbackSteps = [...ROLLBACK_FROM[next]];
    this.rollbackAttempts = 0;
    return `${next} failed (${r.detail}); rollback ${this.rollbackSteps.join(' → ')}`;
  }

  private async rollbackStep(): Promise<string> {
    const step = this.rollbackSteps[0];
    if (step === undefined) {
      this.status = 'idle';
      this.phase = 'idle';
      return 'rolled back';
    }
    // Held writes go to N1 from the moment serve is written (a rollback from proxy passed its fence first).
    if (step === 'serve') this.own('n1', 'rollback serve written');
    const r = await this.flip(step === 'fence' ? { mode: 'fence', readFrom: 'n1', migration: this.tag('rollback') } : { mode: 'serve' });
    if (!r.ok) {
      this.rollbackAttempts += 1;
      if (this.rollbackAttempts >= 3) this.status = 'failed';
      const outcome = this.status === 'failed' ? ': migration failed' : '';
      return `rollback ${step} failed (attempt ${this.rollbackAttempts}: ${r.detail})${outcome}`;
    }
    this.rollbackSteps.shift();
    this.rollbackAttempts = 0;
    if (step === 'fence') {
      this.own('none', 'rollback fence passed');
      this.phase = 'fence';
    }
    if (this.rollbackSteps.length === 0) {
      this.status = 'idle';
      this.phase = 'idle';
      return `rollback ${step} passed: rolled back`;
    }
    return `rollback ${step} passed`;
  }

  private async write(state: DesiredAppState, what: string): Promise<number> {
    const [target] = await writeAppStates(this.opts.coordinator, { [this.opts.app]: state });
    const tagged = state.migration !== undefined;
    if (!tagged) this.untaggedPending = true;
    this.opts.trace(`cp: wrote ${what} epoch ${target!.epoch}`);
    return target!.epoch;
  }

  private async flip(
    state: DesiredAppState,
    timeoutMs = this.opts.barrierTimeoutMs,
  ): Promise<{ ok: boolean; detail: string; members: readonly string[]; departed: readonly string[] }> {
    const what = `${state.mode}${state.migration ? ` [${state.migration.id}/${state.migration.phase}]` : ''}`;
    const epoch = await this.write(state, what);
    const report = await waitForFleet(this.opts.coordinator, [{ app: this.opts.app, epoch }], { timeoutMs, pollMs: 50 });
    const missing = report.missing.map((m) => `${m.member} acked ${m.ackedEpoch ?? 'nothing'}`).join(', ');
    const departed = report.departed.length ? `; departed ${report.departed.join(',')}` : '';
    const detail = report.ok
      ? `epoch ${epoch} acked by ${report.members.join(',') || 'nobody'}${departed}`
      : `epoch ${epoch} missing ${missing}`;
    if (report.ok && state.migration !== undefined) this.untaggedPending = false;
    this.opts.trace(`cp: barrier ${what} epoch ${epoch} ${report.ok ? 'passed' : 'FAILED'}: ${detail}`);
    return { ok: report.ok, detail, members: report.members, departed: report.departed };
  }
}
