import { join } from 'node:path';
import { startCampaignEnvironment } from './campaign-environment.js';
import type { CampaignOptions } from './chaos-options.js';
import { scheduleFaults } from './fault-schedule.js';
import { runMigration, type MigrationResult } from './run-migration.js';

export interface CampaignResult {
  readonly options: CampaignOptions;
  readonly runId: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly migrations: readonly MigrationResult[];
  /** Why the campaign stopped before its last migration, if it did. */
  readonly aborted?: string;
}

/** Consecutive migrations the harness may fail to run (a process that would not start) before the campaign stops. */
const MAX_HARNESS_FAILURES = 3;

function harnessFailure(index: number, app: string, runId: string, err: unknown): MigrationResult {
  const none = { total: 0, ok: 0, rejected: 0, failed: {}, noAnswer: {} };
  return {
    index,
    id: `${runId}-m${index}`,
    app,
    outcome: { status: 'harness-error', error: (err as Error).message },
    faults: [],
    violations: [],
    writes: none,
    reads: none,
    lostByDesign: 0,
    settleMs: 0,
  };
}

/** Called after each migration (progress lines). */
export type OnMigration = (r: MigrationResult, done: number, total: number) => void;

/** The app a migration moves: one per migration, so every migration starts from serve on N1. */
export const appName = (index: number): string => `m${index}`;

/**
 * A fault campaign: the environment once, then the migrations one after the other, each on an
 * app of its own (a done app stays on N2). Every `appsPerRound` migrations the gateways (and in
 * the Cassandra variant the app servers) are restarted with the next round's apps, so no member
 * follows more than that many states.
 */
export async function runCampaign(o: CampaignOptions, onMigration: OnMigration = () => {}): Promise<CampaignResult> {
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const schedules = scheduleFaults({
    seed: o.seed,
    first: o.first,
    migrations: o.migrations,
    faultsPerMigration: o.faultsPerMigration,
    kinds: o.faults,
    gateways: o.gateways,
  });
  const env = await startCampaignEnvironment({
    store: o.store,
    gateways: o.gateways,
    workers: o.workers,
    controlPlanes: o.controlPlanes,
    sessionTimeoutMs: o.sessionTimeoutMs,
    leaseMs: o.leaseMs,
    logDir: join(o.out, 'logs'),
  });
  const results: MigrationResult[] = [];
  let aborted: string | undefined;
  let failures = 0;
  try {
    for (const schedule of schedules) {
      const app = appName(schedule.index);
      let r: MigrationResult;
      try {
        const k = schedule.index - o.first;
        if (k % o.appsPerRound === 0) {
          const count = Math.min(o.appsPerRound, o.migrations - k);
          const round = Array.from({ length: count }, (_, k) => appName(schedule.index + k));
          await env.apps.useApps(round);
          await env.gateways.useApps(round);
        }
        r = await runMigration(env, schedule, app, {
          seed: o.seed,
          deadlineMs: o.deadlineMs,
          barrierTimeoutMs: o.barrierTimeoutMs,
          writers: o.writers,
          readers: o.readers,
          webSockets: o.webSockets,
        });
        failures = 0;
      } catch (err) {
        // the campaign's own machinery failed (not the system under test): note it, go on while it recovers
        r = harnessFailure(schedule.index, app, env.runId, err);
        failures += 1;
      }
      results.push(r);
      onMigration(r, results.length, schedules.length);
      if (failures >= MAX_HARNESS_FAILURES) {
        aborted = `${failures} migrations in a row could not be run; the last: ${'error' in r.outcome ? String(r.outcome.error) : ''}`;
        break;
      }
    }
  } finally {
    await env.close();
  }
  return { options: o, runId: env.runId, startedAt, durationMs: Date.now() - t0, migrations: results, ...(aborted ? { aborted } : {}) };
}
