import type { LogEvent } from '../../migration/migration-log.js';

/** What a viewer of a migration's timeline needs to catch up: the events it has not seen, or all of them. */
export interface TimelineStep {
  /** True: `events` is the whole history (first sight, or the history moved under us); false: append them. */
  readonly reset: boolean;
  readonly events: readonly LogEvent[];
}

const same = (a: LogEvent | undefined, b: LogEvent | undefined): boolean => a !== undefined && JSON.stringify(a) === JSON.stringify(b);

/**
 * The events of `next` after those of `prev` (the history as last sent). A log keeps only its
 * newest events (MAX_HISTORY): once full, old ones drop off the front as new ones come, so
 * positions shift and the last event seen is looked for where it is now. If it is gone, the whole
 * history is sent again.
 */
export function eventsSince(prev: readonly LogEvent[] | undefined, next: readonly LogEvent[]): TimelineStep {
  if (prev === undefined) return { reset: true, events: next };
  const last = prev.at(-1);
  if (last === undefined) return { reset: false, events: next };
  if (same(next[prev.length - 1], last)) return { reset: false, events: next.slice(prev.length) };
  for (let i = Math.min(next.length, prev.length) - 1; i >= 0; i--) {
    if (same(next[i], last)) return { reset: false, events: next.slice(i + 1) };
  }
  return { reset: true, events: next };
}
