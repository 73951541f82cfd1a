import type { MigrationEvidence, Violation } from './evidence.js';

/** Every live gateway ends on the epoch of the app's state node (read from each gateway's admin /state). */
export function checkSameEpoch(ev: Pick<MigrationEvidence, 'migrationId' | 'app' | 'tree' | 'gatewayStates'>): Violation[] {
  const want = ev.tree.stateEpoch;
  const off = ev.gatewayStates.filter((g) => g.error !== undefined || g.epoch !== want);
  if (off.length === 0) return [];
  return [
    {
      invariant: 'same-epoch',
      migrationId: ev.migrationId,
      summary: `${off.length} of ${ev.gatewayStates.length} live gateway(s) are not on epoch ${want ?? '(no state)'} of ${ev.app}`,
      trace: ev.gatewayStates.map(
        (g) => `${g.gateway}: ${g.error ? `/state failed: ${g.error}` : `epoch ${g.epoch ?? '-'} mode ${g.mode ?? '-'}`}`,
      ),
    },
  ];
}
