import type { MigrationEvidence, Violation } from './evidence.js';
import { byTime, eventLine, faultLines } from './trace-lines.js';

/** Every migration ends done or rolled back, by itself, within its deadline. */
export function checkMigrationEnds(ev: MigrationEvidence): Violation[] {
  const { status, phase, error, elapsedMs, deadlineMs } = ev.outcome;
  const ended = status === 'done' || status === 'rolled-back';
  if (ended && elapsedMs <= deadlineMs) return [];
  const o = ev.originNs;
  return [
    {
      invariant: 'migration-ends',
      migrationId: ev.migrationId,
      summary: ended
        ? `ended ${status} after ${(elapsedMs / 1000).toFixed(1)} s, past its deadline of ${(deadlineMs / 1000).toFixed(1)} s`
        : `did not end done or rolled back: ${status}${phase ? ` in phase ${phase}` : ''} after ${(elapsedMs / 1000).toFixed(1)} s` +
          `${error ? ` (${error.code}: ${error.message})` : ''}`,
      trace: byTime([...ev.events.map((e) => eventLine(e, o)), ...ev.faults.flatMap((f) => faultLines(f, o))]),
    },
  ];
}
