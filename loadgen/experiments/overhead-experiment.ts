import { type SyncHook, type MigrationLog, parsePlan } from '../../controlplane/index.js';
import { isSuccess, type Sample } from '../load-model.js';
import { runFixedRate } from '../load/fixed-rate.js';
import { keyName, Workload } from '../load/workload.js';
import type { OverheadRow } from '../report/report-model.js';
import { startEmbeddedEnvironment } from './embedded-environment.js';
import { APP, type ExperimentEnvironment } from './experiment-environment.js';

export interface OverheadOptions {
  /** Read shares to measure, in percent (the paper: 20, 50, 80). */
  readonly readRatiosPercent: readonly number[];
  /** Requests per second of the fixed-rate load (per gateway). */
  readonly rate: number;
  readonly durationS: number;
  readonly gateways: number;
  readonly keys: number;
  /** Normal/migration measurement pairs per read ratio (default 3): pairs interleave, so drift of a noisy machine hits both alike. */
  readonly rounds?: number;
  /** Starts the system for one read ratio; default the embedded one. */
  readonly startEnvironment?: (point: number) => Promise<ExperimentEnvironment>;
}

const mean = (samples: readonly Sample[]): number => {
  const ok = samples.filter(isSuccess);
  return ok.reduce((a, s) => a + s.latencyMs, 0) / Math.max(1, ok.length);
};

/**
 * Latency in normal operation against latency while a migration is in its
 * sync phase (writes mirrored to both deployments, data copy running), at
 * several read ratios, with fixed-rate load (latency corrected for
 * coordinated omission). The migration is held in sync by a hook, measured,
 * then aborted, so every measurement starts from the same state.
 */
/** Starts a migration, holds it in its sync phase (after the env's own hooks) while `measure` runs, then aborts it. */
async function measureInSync(env: ExperimentEnvironment, measure: (phase: string) => Promise<number>): Promise<number> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inSync = new Promise<void>((r) => (entered = r));
  const hook: SyncHook = async () => {
    entered();
    await held;
    return {};
  };
  env.syncHooks.set('hold', hook);
  const created = await env.controlPlane.migrate(
    parsePlan({ apps: [APP], sync: { mode: env.sync.mode, hooks: [...env.sync.hooks, 'hold'] } }),
  );
  try {
    await inSync;
    return await measure('m');
  } finally {
    await env.controlPlane.abort(created.id, 'overhead measured');
    release();
    await env.controlPlane.waitForMigration(
      created.id,
      (l: MigrationLog) => l.status === 'rolled-back' || l.status === 'failed' || l.status === 'done',
      30_000,
    );
  }
}

export async function runOverheadExperiment(o: OverheadOptions): Promise<OverheadRow[]> {
  const rows: OverheadRow[] = [];
  const start = o.startEnvironment ?? ((point: number) => startEmbeddedEnvironment({ gateways: o.gateways, dnsPropagationMs: 0 }, point));
  for (const [point, pct] of o.readRatiosPercent.entries()) {
    const env = await start(point + 1);
    try {
      for (let i = 0; i < o.keys; i++) await env.n1Store.put(keyName(i, o.keys), `initial-${i}`);
      const measure = async (phase: string): Promise<number> => {
        const runs = await Promise.all(
          env.gatewayUrls.map((target, g) =>
            runFixedRate({
              target,
              host: env.host,
              rate: o.rate,
              durationS: o.durationS,
              connections: 8,
              workload: new Workload({
                readRatio: pct / 100,
                keys: o.keys,
                distribution: 'zipfian',
                seed: g + 1,
                runId: `${phase}${pct}g${g}`,
              }),
            }),
          ),
        );
        return mean(runs.flatMap((r) => r.samples));
      };
      await measure('w'); // warm-up: JIT, connection pools
      const normal: number[] = [];
      const migration: number[] = [];
      for (let round = 0; round < (o.rounds ?? 3); round++) {
        normal.push(await measure(`n${round}-`));
        migration.push(await measureInSync(env, (phase) => measure(`${phase}${round}-`)));
      }
      const normalMs = normal.reduce((a, b) => a + b, 0) / normal.length;
      const migrationMs = migration.reduce((a, b) => a + b, 0) / migration.length;
      rows.push({ readRatioPercent: pct, normalMs, migrationMs });
    } finally {
      await env.close();
    }
  }
  return rows;
}
