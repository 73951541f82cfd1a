import type { Mutation } from '../analysis/lost-writes.js';
import { percentile } from '../analysis/time-series.js';
import type { Progress } from '../load/progress.js';
import { keyName, Workload, type WorkloadOptionsInput } from '../load/workload.js';
import type { SwitchoverRun, TrialFigures } from '../report/report-model.js';
import { parsePlan, type MigrationLog } from '../../controlplane/index.js';
import { APP, type ExperimentEnvironment } from './experiment-environment.js';
import { startGatewayLoads } from './gateway-loads.js';
import { measureSwitchover } from './switchover-measurement.js';
import { N2_VALUES } from './trial-dns.js';

export interface TrialOptions {
  /** Seconds of load at least; it goes on until the migration ended plus a second. */
  readonly durationS: number;
  /** When the handover command is sent, seconds after the load starts. */
  readonly handoverAtS: number;
  /** Connections per gateway (closed loop), or the most the open-loop client opens per gateway. */
  readonly connectionsPerGateway: number;
  /** Open-loop load at this many requests per second per gateway (latency from due time) instead of closed loop. */
  readonly ratePerGateway?: number;
  readonly workload: WorkloadOptionsInput;
  readonly progress?: Progress;
}

export interface TrialResult {
  readonly run: SwitchoverRun;
  readonly figures: TrialFigures;
  readonly log: MigrationLog;
}

const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

/** Longest a trial waits for its migration to end. */
const MAX_MIGRATION_S = 120;
/** Load kept up after the migration ended (N2 serving), at least. */
const TAIL_S = 1;

/**
 * One switchover under load: closed-loop (or fixed-rate) load through every gateway, the
 * migration command at T, then the figures (measureSwitchover): T → first response served by N2,
 * T → last response served by N1, the fleet flip (proxy barrier) from the
 * control plane's log, the longest write hold, failed requests by phase, lost
 * writes (every acknowledged write read back at N2), DNS change → INSYNC.
 */
export async function runSwitchoverTrial(env: ExperimentEnvironment, trial: number, opts: TrialOptions): Promise<TrialResult> {
  env.holdTimes.length = 0;
  await env.dns.resetRecord();
  // N1 starts with every key, as an app with data would; the sync phase must carry it to N2.
  // Those pre-load writes are acknowledged writes too: each key must reach N2 (with this value or a later one).
  const preloaded: Mutation[] = [];
  for (let i = 0; i < opts.workload.keys; i++) {
    const m: Mutation = { key: keyName(i, opts.workload.keys), op: 'write', value: `initial-${i}`, start: -1, end: -1 };
    await env.n1Store.put(m.key, m.value!);
    preloaded.push(m);
  }
  const origin = performance.now();
  const startedAtEpochMs = Date.now();
  // The load runs at least durationS, and on until the migration ended plus a tail, so a slow
  // sync phase (a large snapshot) still has clients to hand over.
  const stopLoad = new AbortController();
  const loads = startGatewayLoads({
    urls: env.gatewayUrls,
    host: env.host,
    connectionsPerGateway: opts.connectionsPerGateway,
    ...(opts.ratePerGateway === undefined ? {} : { ratePerGateway: opts.ratePerGateway }),
    maxDurationS: opts.durationS + MAX_MIGRATION_S + TAIL_S,
    signal: stopLoad.signal,
    workload: (i) => new Workload({ ...opts.workload, seed: trial * 1000 + i, runId: `t${trial}g${i}` }),
    ...(opts.progress ? { progress: opts.progress } : {}),
  });
  await new Promise((r) => setTimeout(r, opts.handoverAtS * 1000));
  const migrateAt = performance.now() - origin;
  const plan = parsePlan({
    id: `trial-${trial}-${startedAtEpochMs}`,
    apps: [APP],
    barrierTimeoutMs: 10_000,
    sync: env.sync,
    ...env.planExtras,
    redirect: { enabled: false },
    dns: {
      zoneId: env.dns.zoneId,
      lowerTtlTo: 5,
      skipTtlWait: true,
      pollMs: 100,
      records: [{ name: env.dns.record, type: 'A', ttl: 60, values: [...N2_VALUES] }],
    },
  });
  const created = await env.controlPlane.migrate(plan);
  const log = await env.controlPlane.waitForMigration(created.id, finished, MAX_MIGRATION_S * 1000).finally(async () => {
    const elapsedMs = performance.now() - origin;
    await new Promise((r) => setTimeout(r, Math.max(TAIL_S * 1000, opts.durationS * 1000 - elapsedMs)));
    stopLoad.abort();
  });
  // Acknowledged writes must be where the app now lives: N2 after a handover, N1 after a rollback.
  const holder = log.status === 'rolled-back' ? env.n1Store : env.n2ReadBack;
  // Sorted once; a spread into Math.max overflows the stack past ~100k held writes (a long trial under load).
  const holds = [...env.holdTimes].sort((a, b) => a - b);
  const { run, figures } = await measureSwitchover({
    title: `Northwest switchover N1 → N2 (trial ${trial}, ${env.gatewayUrls.length} gateways, ${log.status})`,
    loads: await Promise.all(loads),
    origin,
    startedAtEpochMs,
    migrateAt,
    log,
    preloaded,
    readBack: async (key) => (await holder.get(key))?.value,
    writeHoldMs: holds.at(-1) ?? 0,
  });
  return { run, figures: { ...figures, writeHoldP99Ms: holds.length ? percentile(holds, 99) : 0 }, log };
}
