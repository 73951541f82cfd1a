import { setTimeout as sleep } from 'node:timers/promises';
import type { MigrationLog } from '../../controlplane/index.js';
import type { CampaignCoordinator } from './environment/campaign-coordinator.js';
import type { TriggerPhase } from './fault-schedule.js';
import type { PhaseSignals, TriggerOutcome } from './faults/fault-driver.js';

const TERMINAL = new Set(['done', 'rolled-back', 'failed']);

export const isTerminal = (log: MigrationLog | undefined): boolean => log !== undefined && TERMINAL.has(log.status);

/**
 * Follows one migration's log in the coordinator (the campaign's own session, so it keeps
 * working while a control plane is killed) by polling it: phase triggers for the faults, and the
 * end.
 */
export class MigrationWatch implements PhaseSignals {
  private current: MigrationLog | undefined;
  private stopped = false;
  private readonly waiters = new Set<() => void>();
  private readonly polling: Promise<void>;

  constructor(
    private readonly coordinator: CampaignCoordinator,
    readonly id: string,
    private readonly pollMs = 25,
  ) {
    this.polling = this.poll();
  }

  get log(): MigrationLog | undefined {
    return this.current;
  }

  started(phase: TriggerPhase): Promise<TriggerOutcome> {
    if (phase === 'before') return Promise.resolve('phase');
    return this.until((log) => {
      if (!log) return this.stopped ? 'end' : undefined;
      if (log.history.some((e) => e.event === 'phase-started' && e.phase === phase)) return 'phase';
      if (log.status === 'rolling-back' || log.history.some((e) => e.event === 'rollback-started')) return 'rollback';
      if (isTerminal(log) || this.stopped) return 'end';
      return undefined;
    });
  }

  /** The log once it is terminal, or as it is when `timeoutMs` ran out (undefined if it never appeared). */
  async end(timeoutMs: number): Promise<MigrationLog | undefined> {
    const timer = new AbortController();
    const t = sleep(timeoutMs, undefined, { signal: timer.signal }).catch(() => undefined);
    await Promise.race([this.until((log) => (isTerminal(log) || this.stopped ? true : undefined)), t]);
    timer.abort();
    return this.current;
  }

  /** Stops reading; triggers still waiting resolve as `end`. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of [...this.waiters]) w();
    await this.polling;
  }

  private until<T>(test: (log: MigrationLog | undefined) => T | undefined): Promise<T> {
    return new Promise<T>((resolve) => {
      const check = (): void => {
        const r = test(this.current);
        if (r === undefined) return;
        this.waiters.delete(check);
        resolve(r);
      };
      this.waiters.add(check);
      check();
    });
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      try {
        const log = await this.coordinator.migration(this.id);
        if (log) {
          this.current = log;
          for (const w of [...this.waiters]) w();
        }
      } catch {
        // a coordinator blip: the next poll reads it again
      }
      if (isTerminal(this.current)) {
        // keep answering waiters, but stop reading
        for (const w of [...this.waiters]) w();
        if (this.waiters.size === 0 || this.stopped) break;
      }
      await sleep(this.pollMs);
    }
  }
}
