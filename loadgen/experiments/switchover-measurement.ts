import { longestFencedWriteMs } from '../analysis/fence-writes.js';
import { checkLostWrites, mutationsFromSamples, type Mutation } from '../analysis/lost-writes.js';
import { marksFromMigrationHistory, phaseDurationMs } from '../analysis/phase-marks.js';
import { analyzeSwitchover } from '../analysis/switchover.js';
import type { Sample } from '../load-model.js';
import type { SwitchoverRun, TrialFigures } from '../report/report-model.js';
import type { MigrationLog } from '../../controlplane/index.js';
import type { GatewayLoad } from './gateway-loads.js';

/** One switchover's load runs and migration log, as the experiment and attach mode both collect them. */
export interface SwitchoverObservation {
  readonly title: string;
  readonly loads: readonly GatewayLoad[];
  /** performance.now() at the measurement's start: every sample is put on this clock. */
  readonly origin: number;
  /** Wall clock at `origin`, epoch ms (the migration log's times are wall-clock). */
  readonly startedAtEpochMs: number;
  /** When the migrate command was sent, ms since origin; absent when someone else started the migration. */
  readonly migrateAt?: number;
  readonly log: MigrationLog;
  /** Writes acknowledged before the load (the app's data at the start): each must still be there. */
  readonly preloaded: readonly Mutation[];
  /** Reads a key where the app lives now (N2 after a handover, N1 after a rollback); undefined: absent. */
  readonly readBack: (key: string) => Promise<string | undefined>;
  /** Longest write hold at the fence as the gateways measured it; absent: bounded from the client's samples. */
  readonly writeHoldMs?: number;
}

export interface SwitchoverMeasurement {
  readonly run: SwitchoverRun;
  readonly figures: TrialFigures;
}

/**
 * The switchover figures of one observed migration: T (the handover command: the fence's start
 * in the log) → first response served by N2, T → last response served by N1, the fleet flip
 * (proxy barrier) from the log, the longest write hold, failed requests by phase, lost writes
 * (every acknowledged write read back where the app now lives), DNS change → INSYNC.
 */
export async function measureSwitchover(o: SwitchoverObservation): Promise<SwitchoverMeasurement> {
  const { log, origin, startedAtEpochMs } = o;
  // Put every run on one clock: the measurement's origin.
  const samples: Sample[] = o.loads
    .flatMap((r) => r.samples.map((s) => ({ ...s, start: s.start + (r.origin - origin), end: s.end + (r.origin - origin) })))
    .sort((a, b) => a.start - b.start);
  const marks = marksFromMigrationHistory(log.history, startedAtEpochMs);
  // The handover command is the fence: prepare and sync (TTL lowering, data copy) come before it
  // and change nothing for clients. The migrate command's time is kept as a mark.
  const fenceStarted = log.history.find((e) => e.event === 'phase-started' && e.phase === 'fence');
  const created = log.history.find((e) => e.event === 'created');
  const handoverAt = fenceStarted
    ? Date.parse(fenceStarted.at) - startedAtEpochMs
    : (o.migrateAt ?? (created ? Date.parse(created.at) - startedAtEpochMs : 0));
  if (o.migrateAt !== undefined) marks.push({ t: o.migrateAt, label: 'migrate command' });
  marks.sort((a, b) => a.t - b.t);
  const analysis = analyzeSwitchover(samples, marks, handoverAt);
  const input = mutationsFromSamples(samples);
  const unfinished = o.loads.flatMap((r) =>
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
  const lostWrites = await checkLostWrites(
    { acknowledged: [...o.preloaded, ...input.acknowledged], uncertain: [...(input.uncertain ?? []), ...unfinished] },
    o.readBack,
  );
  const proxy = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'proxy');
  const flipMs = proxy?.barrier?.elapsedMs;
  const writeHoldMs = o.writeHoldMs ?? longestFencedWriteMs(samples, log.history, startedAtEpochMs);
  // A plan without a dns section still passes through the dns phase, doing nothing: no figure then.
  const dnsToInsyncMs = log.plan.dns
    ? ((log.history.find((e) => e.event === 'phase-completed' && e.phase === 'dns')?.data?.dns as { submitToInsyncMs?: number } | undefined)
        ?.submitToInsyncMs ?? phaseDurationMs(log.history, 'dns'))
    : undefined;
  const run: SwitchoverRun = {
    title: o.title,
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
  return { run, figures };
}
