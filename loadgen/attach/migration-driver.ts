import type { AdminClient, FleetStatus, MigrationEventsPage, MigrationLog, MigrationPlan } from '../../controlplane/index.js';
import { AttachError } from './attach-errors.js';

/** How often the fleet status is read while waiting for an operator's migration. */
const WAIT_POLL_MS = 250;
/** Longest one events long-poll waits (the admin API caps it at 30 s). */
const EVENTS_POLL_MS = 10_000;

/** Ids of the migrations that move `app`, as the control plane lists them now. */
export async function migrationsOf(client: AdminClient, app: string): Promise<Set<string>> {
  const status = await client.get<FleetStatus>('/status');
  return new Set(status.migrations.filter((m) => m.apps.includes(app)).map((m) => m.id));
}

/** Starts the plan through the admin API; resolves with the new migration's id. */
export async function startMigration(client: AdminClient, plan: MigrationPlan): Promise<string> {
  const log = await client.post<MigrationLog>('/migrations', plan);
  return log.id;
}

/**
 * Waits for a migration of `app` that is not among `known` (those there before the run): the one
 * an operator starts. Fails with NW_ATTACH_WAIT_TIMEOUT after `timeoutMs`.
 */
export async function waitForNewMigration(
  client: AdminClient,
  app: string,
  known: ReadonlySet<string>,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fresh = [...(await migrationsOf(client, app))].find((id) => !known.has(id));
    if (fresh !== undefined) return fresh;
    if (Date.now() >= deadline)
      throw new AttachError('NW_ATTACH_WAIT_TIMEOUT', `no migration of ${app} started within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

/**
 * Follows a migration's event log (long polls) until it is done, rolled back or failed, calling
 * `onEvent` for each entry; resolves with the whole log. Fails with NW_ATTACH_MIGRATION_TIMEOUT
 * after `timeoutMs` (the migration goes on).
 */
export async function followMigration(
  client: AdminClient,
  id: string,
  timeoutMs: number,
  onEvent: (e: MigrationEventsPage['events'][number]) => void = () => {},
): Promise<MigrationLog> {
  const deadline = Date.now() + timeoutMs;
  let after = -1;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0)
      throw new AttachError('NW_ATTACH_MIGRATION_TIMEOUT', `${id} did not end within ${Math.round(timeoutMs / 1000)} s (it goes on)`);
    const page = await client.get<MigrationEventsPage>(
      `/migrations/${encodeURIComponent(id)}/events?after=${after}&waitMs=${Math.round(Math.min(EVENTS_POLL_MS, left))}`,
    );
    for (const e of page.events) onEvent(e);
    after = Math.max(after, page.last);
    if (page.finished) return client.get<MigrationLog>(`/migrations/${encodeURIComponent(id)}`);
  }
}
