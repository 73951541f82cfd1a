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
}

/** Called after each migration (progress lines). */
export type OnMigration = (r: MigrationResult, done: number, total: number) => void;

/** The app a migration moves: one per migration, so every migration starts from serve on N1. */
export const appName = (index: number): string => `m${index}`;

/**
 * A fault campaign: the environment once, then the migrations one after the other, each on an
 * app of its own (a done app stays on N2). Every `appsPerRound` migrations the gateways are
 * restarted with the next round's apps, so no gateway follows more than that many states.
 */
export async function runCampaign(o: CampaignOptions, onMigration: OnMigration = () => {}): Promise<CampaignResult> {
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const schedules = scheduleFaults({
    seed: o.seed,
    migrations: o.migrations,
    faultsPerMigration: o.faultsPerMigration,
    kinds: o.faults,
    gateways: o.gateways,
  });
  const env = await startCampaignEnvironment({
    gateways: o.gateways,
    controlPlanes: o.controlPlanes,
    sessionTimeoutMs: o.sessionTimeoutMs,
    leaseMs: o.leaseMs,
  });
  const results: MigrationResult[] = [];
  try {
    for (const schedule of schedules) {
      if (schedule.index % o.appsPerRound === 0) {
        const round = Array.from({ length: Math.min(o.appsPerRound, o.migrations - schedule.index) }, (_, k) =>
          appName(schedule.index + k),
        );
        await env.gateways.useApps(round);
      }
      const r = await runMigration(env, schedule, appName(schedule.index), {
        seed: o.seed,
        deadlineMs: o.deadlineMs,
        barrierTimeoutMs: o.barrierTimeoutMs,
        writers: o.writers,
        readers: o.readers,
        webSockets: o.webSockets,
      });
      results.push(r);
      onMigration(r, results.length, schedules.length);
    }
  } finally {
    await env.close();
  }
  return { options: o, runId: env.runId, startedAt, durationMs: Date.now() - t0, migrations: results };
}
