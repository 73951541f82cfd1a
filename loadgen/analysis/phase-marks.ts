/**
 * Turns a migration log's history (ISO times) into the run's phase marks
 * (ms since the run started), so the chart and the failure breakdown use the
 * control plane's own timeline.
 */
import type { LogEvent, PhaseName } from '../../controlplane/index.js';
import type { PhaseMark } from '../load-model.js';

function labelOf(e: LogEvent): string | undefined {
  switch (e.event) {
    case 'phase-started':
      return e.phase;
    case 'phase-failed':
      return `${e.phase ?? 'phase'} failed`;
    case 'rollback-started':
      return 'rollback';
    case 'paused':
    case 'resumed':
    case 'rolled-back':
    case 'done':
    case 'failed':
      return e.event;
    default:
      // created, phase-completed, notes and leader changes would crowd the timeline.
      return undefined;
  }
}

/** One mark per phase start and per status change, in log order; events with an unreadable time are skipped. */
export function marksFromMigrationHistory(history: readonly LogEvent[], runStartEpochMs: number): PhaseMark[] {
  const marks: PhaseMark[] = [];
  for (const e of history) {
    const label = labelOf(e);
    const at = Date.parse(e.at);
    if (label === undefined || Number.isNaN(at)) continue;
    marks.push({ t: at - runStartEpochMs, label });
  }
  return marks.sort((a, b) => a.t - b.t);
}

/** Duration of the last completed run of a phase (e.g. 'dns': Route 53 change to INSYNC), or undefined. */
export function phaseDurationMs(history: readonly LogEvent[], phase: PhaseName): number | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i];
    if (e && e.event === 'phase-completed' && e.phase === phase && typeof e.durationMs === 'number') return e.durationMs;
  }
  return undefined;
}
