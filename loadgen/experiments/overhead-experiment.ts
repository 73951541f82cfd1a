import { type SyncHook, type MigrationLog, parsePlan } from '../../controlplane/index.js';
import { isSuccess } from '../load-model.js';
import { percentile } from '../analysis/time-series.js';
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

/** Latencies of the successful requests of one measurement, and how many failed. */
interface Measured {
  readonly latencies: number[];
  readonly failed: number;
}

const meanOf = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * Latency in normal operation against latency while a migration is in its
 * sync phase (writes mirrored to both deployments, data copy running), at
 * several read ratios, with fixed-rate load (latency corrected for
 * coordinated omission). The migration is held in sync by a hook, measured,
 * then aborted, so every measurement starts from the same state.
 */
/** Starts a migration, holds it in its sync phase (after the env's own hooks) while `measure` runs, then aborts it. */
async function measureInSync<T>(env: ExperimentEnvironment, measure: (phase: string) => Promise<T>): Promise<T> {
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
    parsePlan({ apps: [APP], ...env.planExtras, sync: { mode: env.sync.mode, hooks: [...env.sync.hooks, 'hold'] } }),
  );
  const ended = (l: MigrationLog) => l.status === 'rolled-back' || l.status === 'failed' || l.status === 'done';
  try {
    // A sync that fails before the hold (a replicate rebuild that cannot run) must not leave this waiting forever.
    const failed = env.controlPlane.waitForMigration(created.id, ended, 600_000).then((l) => {
      throw new Error(`the migration ended (${l.status}) before its sync phase was held: ${JSON.stringify(l.error)}`);
    });
    failed.catch(() => undefined);
    await Promise.race([inSync, failed]);
    return await measure('m');
  } finally {
    await env.controlPlane.abort(created.id, 'overhead measured').catch(() => undefined);
    release();
    await env.controlPlane.waitForMigration(created.id, ended, 30_000);
  }
}

export async function runOverheadExperiment(o: OverheadOptions): Promise<OverheadRow[]> {
  const rows: OverheadRow[] = [];
  const start = o.startEnvironment ?? ((point: number) => startEmbeddedEnvironment({ gateways: o.gateways, dnsPropagationMs: 0 }, point));
  for (const [point, pct] of o.readRatiosPercent.entries()) {
    const fresh = async (): Promise<ExperimentEnvironment> => {
      const env = await start(point + 1);
      try {
        for (let i = 0; i < o.keys; i++) await env.n1Store.put(keyName(i, o.keys), `initial-${i}`);
        return env;
      } catch (err) {
        await env.close();
        throw err;
      }
    };
    let env = await fresh();
    try {
      const measure = async (phase: string): Promise<Measured> => {
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
        const samples = runs.flatMap((r) => r.samples);
        const latencies = samples.filter(isSuccess).map((x) => x.latencyMs);
        return { latencies, failed: samples.length - latencies.length };
      };
      const normal: Measured[] = [];
      const migration: Measured[] = [];
      for (let round = 0; round < (o.rounds ?? 3); round++) {
        if (round > 0 && env.singleMigration) {
          await env.close();
          env = await fresh();
        }
        if (round === 0 || env.singleMigration) await measure(`w${round}-`); // warm-up: JIT, connection pools
        normal.push(await measure(`n${round}-`));
        migration.push(await measureInSync(env, (phase) => measure(`${phase}${round}-`)));
      }
      // Means: of each round's mean, as before (rounds weigh alike); p99: over every request of the phase.
      const p99 = (ms: readonly Measured[]) =>
        percentile(
          ms.flatMap((m) => m.latencies).sort((a, b) => a - b),
          99,
        );
      rows.push({
        readRatioPercent: pct,
        normalMs: meanOf(normal.map((m) => meanOf(m.latencies))),
        migrationMs: meanOf(migration.map((m) => meanOf(m.latencies))),
        normalP99Ms: p99(normal),
        migrationP99Ms: p99(migration),
        failedRequests: [...normal, ...migration].reduce((a, m) => a + m.failed, 0),
      });
    } finally {
      await env.close();
    }
  }
  return rows;
}
