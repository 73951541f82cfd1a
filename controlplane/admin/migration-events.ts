import type { ControlPlane } from '../control-plane.js';
import { isControlError } from '../errors.js';
import { TERMINAL, type LogEvent, type MigrationLog } from '../migration/migration-log.js';

/** Longest a long-poll waits for new events before it answers anyway. */
export const MAX_EVENTS_WAIT_MS = 30_000;

/** One history entry with its position in the migration's history. */
export type IndexedLogEvent = LogEvent & { readonly index: number };

/** What GET /migrations/<id>/events answers: new history entries plus where the migration stands. */
export interface MigrationEventsPage {
  readonly id: string;
  readonly status: MigrationLog['status'];
  readonly phase: MigrationLog['phase'];
  readonly phaseStatus: MigrationLog['phaseStatus'];
  /** True once the migration is done, rolled back or failed: no more events will come. */
  readonly finished: boolean;
  /** Index of the newest history entry; pass it as `after` in the next poll. */
  readonly last: number;
  readonly events: readonly IndexedLogEvent[];
  readonly error?: MigrationLog['error'];
}

/** The part of the control plane a long-poll needs. */
export type MigrationReader = Pick<ControlPlane, 'getMigration' | 'waitForMigration'>;

/** Longest single wait, so an aborted poll (client gone, server closing) stops soon. */
const SLICE_MS = 1000;

function page(log: MigrationLog, after: number): MigrationEventsPage {
  return {
    id: log.id,
    status: log.status,
    phase: log.phase,
    phaseStatus: log.phaseStatus,
    finished: TERMINAL.has(log.status),
    last: log.history.length - 1,
    events: log.history.map((e, index) => ({ ...e, index })).filter((e) => e.index > after),
    ...(log.error ? { error: log.error } : {}),
  };
}

/**
 * History entries with index > `after`. Answers at once if there are some or
 * the migration has finished; otherwise waits up to `waitMs` for the next
 * ones (watch-driven, through the control plane) and answers with whatever is
 * there then, possibly nothing.
 */
export async function pollMigrationEvents(
  cp: MigrationReader,
  id: string,
  after: number,
  waitMs: number,
  signal: AbortSignal,
): Promise<MigrationEventsPage> {
  const ready = (l: MigrationLog): boolean => l.history.length - 1 > after || TERMINAL.has(l.status);
  const deadline = Date.now() + Math.min(waitMs, MAX_EVENTS_WAIT_MS);
  let log = await cp.getMigration(id);
  while (!ready(log) && !signal.aborted) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      log = await cp.waitForMigration(id, ready, Math.min(left, SLICE_MS));
    } catch (err) {
      // waitForMigration reports its own deadline with this code; anything else is real.
      if (!isControlError(err, 'NW_CP_BARRIER_TIMEOUT')) throw err;
      log = await cp.getMigration(id);
    }
  }
  return page(log, after);
}
