import { checkLostWrites, mutationsFromSamples, type Mutation } from '../analysis/lost-writes.js';
import { marksFromMigrationHistory, phaseDurationMs } from '../analysis/phase-marks.js';
import { analyzeSwitchover } from '../analysis/switchover.js';
import type { Sample } from '../load-model.js';
import { runClosedLoop, type UnfinishedRequest } from '../load/closed-loop.js';
import { runFixedRate } from '../load/fixed-rate.js';
import type { Progress } from '../load/progress.js';
import { keyName, Workload, type WorkloadOptionsInput } from '../load/workload.js';
import type { SwitchoverRun, TrialFigures } from '../report/report-model.js';
import { parsePlan, type MigrationLog } from '../../controlplane/index.js';
import { APP, type ExperimentEnvironment } from './experiment-environment.js';
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

/** What the trial needs of a load run, closed or open loop. */
interface GatewayLoad {
  readonly samples: readonly Sample[];
  readonly unfinished: readonly UnfinishedRequest[];
  readonly origin: number;
}

/**
 * One switchover under load: closed-loop (or fixed-rate) load through every gateway, the
 * migration command at T, then the figures: T → first response served by N2,
 * T → last response served by N1, the fleet flip (proxy barrier) from the
 * control plane's log, the longest write hold, failed requests by phase, lost
 * writes (every acknowledged write read back at N2), DNS change → INSYNC.
 */
/** Longest a trial waits for its migration to end. */
const MAX_MIGRATION_S = 120;
/** Load kept up after the migration ended (N2 serving), at least. */
const TAIL_S = 1;

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
  const loads: Array<Promise<GatewayLoad>> = env.gatewayUrls.map((url, i) => {
    const common = {
      target: url,
      host: env.host,
      connections: opts.connectionsPerGateway,
      durationS: opts.durationS + MAX_MIGRATION_S + TAIL_S,
      signal: stopLoad.signal,
      workload: new Workload({ ...opts.workload, seed: trial * 1000 + i, runId: `t${trial}g${i}` }),
      ...(opts.progress ? { onSample: opts.progress.onSample } : {}),
    };
    return opts.ratePerGateway === undefined ? runClosedLoop(common) : runFixedRate({ ...common, rate: opts.ratePerGateway });
  });
  await new Promise((r) => setTimeout(r, opts.handoverAtS * 1000));
  const migrateAt = performance.now() - origin;
  const plan = parsePlan({
    id: `trial-${trial}-${startedAtEpochMs}`,
    apps: [APP],
    barrierTimeoutMs: 10_000,
    sync: env.sync,
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
  const results = await Promise.all(loads);
  // Put every run on one clock: the trial's origin.
  const samples: Sample[] = results.flatMap((r) =>
    r.samples.map((s) => ({ ...s, start: s.start + (r.origin - origin), end: s.end + (r.origin - origin) })),
  );
  const marks = marksFromMigrationHistory(log.history, startedAtEpochMs);
  // The handover command is the fence: prepare and sync (TTL lowering, data copy) come before it
  // and change nothing for clients. The migrate command's time is kept as a mark.
  const fenceStarted = log.history.find((e) => e.event === 'phase-started' && e.phase === 'fence');
  const handoverAt = fenceStarted ? Date.parse(fenceStarted.at) - startedAtEpochMs : migrateAt;
  marks.push({ t: migrateAt, label: 'migrate command' });
  marks.sort((a, b) => a.t - b.t);
  const analysis = analyzeSwitchover(samples, marks, handoverAt);
  const input = mutationsFromSamples(samples);
  const unfinished = results.flatMap((r) =>
    r.unfinished
      .filter((u) => u.op !== 'read')
      .map((u) => ({
        key: u.key,
        op: u.op as 'write' | 'delete',
        ...(u.value === undefined ? {} : { value: u.value }),
        start: u.start + (r.origin - origin),
        end: Number.POSITIVE_INFINITY,
      })),
  );
  // Acknowledged writes must be where the app now lives: N2 after a handover, N1 after a rollback.
  const holder = log.status === 'rolled-back' ? env.n1Store : env.n2ReadBack;
  const lostWrites = await checkLostWrites(
    { acknowledged: [...preloaded, ...input.acknowledged], uncertain: [...(input.uncertain ?? []), ...unfinished] },
    async (key) => (await holder.get(key))?.value,
  );
  const proxy = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'proxy');
  const flipMs = proxy?.barrier?.elapsedMs;
  const writeHoldMs = env.holdTimes.length ? Math.max(...env.holdTimes) : 0;
  const dnsToInsyncMs =
    (log.history.find((e) => e.event === 'phase-completed' && e.phase === 'dns')?.data?.dns as { submitToInsyncMs?: number } | undefined)
      ?.submitToInsyncMs ?? phaseDurationMs(log.history, 'dns');
  const run: SwitchoverRun = {
    title: `Northwest switchover N1 → N2 (trial ${trial}, ${env.gatewayUrls.length} gateways, ${log.status})`,
    startedAtEpochMs,
    samples,
    marks,
    handoverAt,
    ...(flipMs === undefined ? {} : { flipMs }),
    writeHoldMs,
    ...(dnsToInsyncMs === undefined ? {} : { dnsToInsyncMs }),
    lostWrites,
  };
  const figures: TrialFigures = {
    firstN2AfterMs: analysis.firstN2AfterMs,
    lastN1AfterMs: analysis.lastN1AfterMs,
    flipMs: flipMs ?? null,
    writeHoldMs,
    failedRequests: analysis.failedTotal,
    lostWrites: lostWrites.lost.length,
    dnsToInsyncMs: dnsToInsyncMs ?? null,
  };
  return { run, figures, log };
}
