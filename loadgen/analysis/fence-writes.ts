/**
 * The write hold as a client sees it, for runs where the gateways' own hold times are out of
 * reach (attach mode: the gateways are other processes). A write sent while the fence was in
 * force is held until the next state releases it to N2, so its latency is the hold plus N2's
 * answer: the longest such latency bounds the longest hold from above.
 */
import type { LogEvent } from '../../controlplane/index.js';
import type { Sample } from '../load-model.js';

/** Events after which no write is held any more (the fence was lifted or the migration left it). */
const FENCE_OVER: ReadonlySet<LogEvent['event']> = new Set(['phase-failed', 'rollback-started', 'rolled-back', 'failed', 'done']);

/**
 * When writes could be held, ms since the run started: from the last fence phase's start until the
 * next phase's state is in force everywhere (its completion: proxy releases the held writes) or the
 * migration leaves the fence otherwise; undefined if the log has no fence.
 */
export function fenceWindow(history: readonly LogEvent[], runStartEpochMs: number): { from: number; to: number } | undefined {
  let from: number | undefined;
  let to = Number.POSITIVE_INFINITY;
  for (const e of history) {
    const at = Date.parse(e.at) - runStartEpochMs;
    if (Number.isNaN(at)) continue;
    if (e.event === 'phase-started' && e.phase === 'fence') {
      from = at;
      to = Number.POSITIVE_INFINITY;
    } else if (from !== undefined && to === Number.POSITIVE_INFINITY) {
      if ((e.event === 'phase-completed' && e.phase !== 'fence') || FENCE_OVER.has(e.event)) to = at;
    }
  }
  return from === undefined ? undefined : { from, to };
}

/** Longest latency of a write or delete sent while the fence was in force; 0 if none was. */
export function longestFencedWriteMs(samples: readonly Sample[], history: readonly LogEvent[], runStartEpochMs: number): number {
  const w = fenceWindow(history, runStartEpochMs);
  if (!w) return 0;
  let longest = 0;
  for (const s of samples) {
    if (s.op !== 'read' && s.start >= w.from && s.start < w.to) longest = Math.max(longest, s.latencyMs);
  }
  return longest;
}
