import { setTimeout as sleep } from 'node:timers/promises';
import { SyncError } from '../../errors.js';

export interface PollOptions {
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Pause between rounds (default 50 ms: the fence holds writes while some of these wait). */
  readonly pollMs?: number;
}

/**
 * Runs `round` until it returns a value, at most `timeoutMs` (the last round at the deadline);
 * then throws what `timedOut` makes. A round's own error ends the wait. The migration stopping
 * (the signal) ends it with NW_SYNC_ABORTED.
 */
export async function pollUntil<T>(
  opts: PollOptions,
  round: (elapsedMs: number) => Promise<T | undefined>,
  timedOut: (elapsedMs: number) => SyncError,
): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    if (opts.signal.aborted) throw new SyncError('NW_SYNC_ABORTED', 'migration stopped');
    const elapsed = performance.now() - t0;
    const value = await round(elapsed);
    if (value !== undefined) return value;
    if (elapsed >= opts.timeoutMs) throw timedOut(elapsed);
    const pause = Math.min(opts.pollMs ?? 50, Math.max(0, opts.timeoutMs - elapsed));
    await sleep(pause, undefined, { signal: opts.signal }).catch(() => undefined);
  }
}
