/**
 * Requests grouped by the gateway mode they were routed under (`x-northwest-mode`): how much of
 * the load each state of the migration carried, which side answered it, and at which epochs.
 */
import { isSuccess, type Sample } from '../load-model.js';

export interface ModeCounts {
  /** The mode from the response header; 'unknown' for answers without one (socket errors, an app not behind a gateway). */
  readonly mode: string;
  readonly total: number;
  readonly failed: number;
  readonly n1: number;
  readonly n2: number;
  /** Lowest and highest epoch seen under this mode; null without any. */
  readonly epochs: { readonly min: number; readonly max: number } | null;
}

/** The order of a migration's modes, so the rows read as its timeline. */
const ORDER = ['serve', 'mirror', 'fence', 'proxy', 'redirect'];

export function countByMode(samples: readonly Sample[]): ModeCounts[] {
  const groups = new Map<string, { total: number; failed: number; n1: number; n2: number; min: number; max: number }>();
  for (const s of samples) {
    const mode = s.mode ?? 'unknown';
    const g = groups.get(mode) ?? { total: 0, failed: 0, n1: 0, n2: 0, min: Infinity, max: -Infinity };
    g.total++;
    if (!isSuccess(s)) g.failed++;
    if (s.servedBy === 'n1') g.n1++;
    if (s.servedBy === 'n2') g.n2++;
    if (s.epoch !== null) {
      g.min = Math.min(g.min, s.epoch);
      g.max = Math.max(g.max, s.epoch);
    }
    groups.set(mode, g);
  }
  const rank = (m: string): number => (ORDER.includes(m) ? ORDER.indexOf(m) : ORDER.length);
  return [...groups]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([mode, g]) => ({
      mode,
      total: g.total,
      failed: g.failed,
      n1: g.n1,
      n2: g.n2,
      epochs: g.min === Infinity ? null : { min: g.min, max: g.max },
    }));
}
