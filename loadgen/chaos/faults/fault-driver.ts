import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultRecord } from '../invariants/evidence.js';
import type { ScheduledFault, TriggerPhase } from '../fault-schedule.js';
import { FAULT_ACTIONS, type FaultTargets } from './fault-actions.js';

/** How a trigger came: its phase started, or the migration rolled back or ended without it (then the fault fires at once). */
export type TriggerOutcome = 'phase' | 'rollback' | 'end';

/** Tells when a phase of the migration has started (from its log). */
export interface PhaseSignals {
  started(phase: TriggerPhase): Promise<TriggerOutcome>;
}

const now = (): string => process.hrtime.bigint().toString();

/**
 * Runs a migration's faults: each waits for its phase (or the rollback or end, if the phase never
 * comes), then `delayMs`, is injected, held for `holdMs` and healed. Resolves with what happened
 * once every fault is healed; a fault that throws is recorded, not rethrown.
 */
export async function driveFaults(targets: FaultTargets, faults: readonly ScheduledFault[], phases: PhaseSignals): Promise<FaultRecord[]> {
  return Promise.all(
    faults.map(async (f): Promise<FaultRecord> => {
      const how = await phases.started(f.phase);
      const trigger = `${f.phase}${how === 'phase' ? '' : `→${how}`}+${f.delayMs}ms`;
      const base = { kind: f.kind, target: f.target, trigger };
      await sleep(f.delayMs);
      const injectedNs = now();
      let injected: Awaited<ReturnType<(typeof FAULT_ACTIONS)[typeof f.kind]>>;
      try {
        injected = await FAULT_ACTIONS[f.kind](targets, f);
      } catch (err) {
        return { ...base, status: 'failed', detail: `inject: ${(err as Error).message}` };
      }
      await sleep(f.holdMs);
      try {
        await injected.heal();
      } catch (err) {
        return {
          ...base,
          status: 'injected',
          injectedNs,
          healedNs: now(),
          detail: `${injected.detail}; heal failed: ${(err as Error).message}`,
        };
      }
      return { ...base, status: 'injected', injectedNs, healedNs: now(), detail: injected.detail };
    }),
  );
}
