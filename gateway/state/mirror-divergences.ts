import type { AppState, Deployment } from '../../protocol/app-state.js';
import type { DivergedSide } from '../proxy/mirror-outcome.js';

/** Whether a state sends writes to one deployment only (or none): mirrored writes end with it. */
function singleWriteSide(state: AppState): boolean {
  switch (state.mode) {
    case 'serve':
      return true;
    case 'mirror':
    case 'fence':
      return false;
    case 'proxy':
    case 'redirect':
      return !state.mirrorWritesToN1;
  }
}

/**
 * Per app: how many mirrored writes one deployment failed (5xx, no reply)
 * although the other confirmed them, since the app last had a single write
 * side (serve, or proxy and redirect without mirroring). A fleet member reads
 * it before acking the fence that hands writes to N2 (divergence-ack-guard.ts):
 * N2 must not take over while it may miss writes clients were told succeeded.
 */
export class MirrorDivergences {
  private readonly unconfirmed = new Map<string, Record<Deployment, number>>();

  /** A mirrored write that `side` failed (5xx, no reply) and the other side confirmed. */
  record(app: string, side: DivergedSide): void {
    if (side === 'both') return;
    const counts = this.unconfirmed.get(app) ?? { n1: 0, n2: 0 };
    counts[side] += 1;
    this.unconfirmed.set(app, counts);
  }

  /** Mirrored writes that `side` failed although the other side confirmed them. */
  unconfirmedOn(app: string, side: Deployment): number {
    return this.unconfirmed.get(app)?.[side] ?? 0;
  }

  /** Called once a state is applied (its drain done): one write side again starts the count over. */
  applied(app: string, state: AppState): void {
    if (singleWriteSide(state)) this.unconfirmed.delete(app);
  }
}
