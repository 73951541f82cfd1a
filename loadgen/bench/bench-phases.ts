import { runAutocannon, type LoadResult } from './autocannon-run.js';
import type { BenchOptions } from './bench-options.js';
import { formatMs, formatInt, type FixedSample, type RunSample, type TargetId } from './bench-report.js';
import type { Target } from './bench-targets.js';
import { startCpuMeter, type CpuUse } from './cpu-accounting.js';
import { WORKLOADS, type Workload, type WorkloadName } from './bench-workloads.js';
import { runH2Load } from './h2-load.js';
import { runPaced } from './paced-load.js';
import { runWrk, type WrkGenerator } from './wrk-run.js';

/**
 * Targets measured at the fixed rate: the brief's direct, gateway and nginx; the floor (what any
 * Node proxy on node:http pays at that rate), the llhttp floor (what any HTTP engine on Node's
 * llhttp pays) and the TCP pipe (what any Node proxy pays: no HTTP at all); the baseline and
 * compiled gateways when they run.
 */
export const FIXED_TARGETS: readonly TargetId[] = [
  'direct',
  'gateway-raw',
  'gateway-undici',
  'gateway-baseline',
  'gateway-compiled',
  'floor',
  'llhttp-floor',
  'tcp-pipe',
  'nginx-1w',
];

export interface PhaseContext {
  readonly targets: readonly Target[];
  /** Every process of the bench (upstream, all targets), for CPU accounting. */
  readonly benchPids: readonly number[];
  readonly opts: BenchOptions;
  readonly log: (line: string) => void;
  /** Set when `opts.generator` is 'wrk'. */
  readonly wrk?: WrkGenerator | undefined;
}

function sample(target: TargetId, workload: WorkloadName, round: number, r: LoadResult, cpu: CpuUse): RunSample {
  return {
    target,
    workload,
    round,
    rps: r.rps,
    completed: r.completed,
    errors: r.errors,
    non2xx: r.non2xx,
    latencyUs: r.latencyUs,
    cpuUsPerRequest: cpu.targetUsPerRequest,
    otherCores: cpu.otherCores,
  };
}

/** Runs `load` with the target's and the machine's CPU time measured around it. */
async function measured<T extends LoadResult>(ctx: PhaseContext, t: Target, load: () => Promise<T>): Promise<[T, CpuUse]> {
  const meter = startCpuMeter(t.pid, ctx.benchPids);
  const r = await load();
  return [r, meter.stop(r.completed)];
}

function describe(r: LoadResult, cpu: CpuUse): string {
  const fails = r.errors + r.non2xx > 0 ? `  FAILED ${r.errors} errors ${r.non2xx} non-2xx` : '';
  const cpuText =
    cpu.targetUsPerRequest === undefined ? '' : `  cpu ${cpu.targetUsPerRequest} µs/req  others ${cpu.otherCores ?? '?'} cores`;
  const latency = `p50 ${formatMs(r.latencyUs.p50)} ms  p99 ${formatMs(r.latencyUs.p99)} ms`;
  return `${formatInt(r.rps).padStart(7)} req/s  ${latency}${cpuText}${fails}`;
}

/**
 * The targets in the order one round runs them: every other round reversed,
 * so no target always runs right after the same neighbour (the load
 * generator shares the machine, and a run inherits the state the previous one left).
 */
export function roundOrder<T>(targets: readonly T[], round: number): readonly T[] {
  return round % 2 === 1 ? targets : [...targets].reverse();
}

/**
 * One closed-loop run: for plain HTTP/1.1 the chosen generator (autocannon or wrk), for HTTPS/1.1
 * autocannon, each with `connections` connections; the h2 loop for h2 targets with `h2Sessions`
 * sessions of `h2Streams` streams each.
 */
function closedLoop(ctx: PhaseContext, t: Target, w: Workload, durationS: number): Promise<LoadResult> {
  const { opts } = ctx;
  if (t.protocol === 'h2') {
    if (t.tls === undefined) throw new Error(`${t.id}: an h2 target without the bench CA`);
    return runH2Load({
      baseUrl: t.url,
      workload: w,
      sessions: opts.h2Sessions,
      streamsPerSession: opts.h2Streams,
      durationS,
      tls: t.tls,
    });
  }
  if (t.protocol === 'http' && opts.generator === 'wrk') {
    if (ctx.wrk === undefined) throw new Error('proxy-bench: --generator wrk without wrk prepared');
    return runWrk({ baseUrl: t.url, workload: w, connections: opts.connections, durationS, wrk: ctx.wrk });
  }
  return runAutocannon({
    baseUrl: t.url,
    workload: w,
    connections: opts.connections,
    durationS,
    ...(t.tls === undefined ? {} : { tls: t.tls }),
  });
}

/** Closed-loop saturation: every round runs every workload against every target (order alternating per round). */
export async function runSaturationPhase(ctx: PhaseContext): Promise<RunSample[]> {
  const { opts, log } = ctx;
  const samples: RunSample[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const w of WORKLOADS) {
      for (const t of roundOrder(ctx.targets, round)) {
        if (opts.warmupS > 0) await closedLoop(ctx, t, w, opts.warmupS);
        const [r, cpu] = await measured(ctx, t, () => closedLoop(ctx, t, w, opts.durationS));
        samples.push(sample(t.id, w.name, round, r, cpu));
        log(`[saturation ${round}/${opts.rounds}] ${w.name.padEnd(7)} ${t.id.padEnd(18)} ${describe(r, cpu)}`);
      }
    }
  }
  return samples;
}

/**
 * Fixed rate: each target gets the same rate per workload, first from the
 * paced open-loop generator, then from autocannon's `overallRate`.
 */
export async function runFixedPhase(ctx: PhaseContext, rates: ReadonlyMap<WorkloadName, number>): Promise<FixedSample[]> {
  const { opts, log } = ctx;
  const targets = ctx.targets.filter((t) => FIXED_TARGETS.includes(t.id));
  const samples: FixedSample[] = [];
  for (let round = 1; round <= opts.fixedRounds; round++) {
    for (const w of WORKLOADS) {
      const rate = Math.round(rates.get(w.name) ?? NaN);
      if (!(rate > 0)) continue;
      for (const t of roundOrder(targets, round)) {
        const tag = `[fixed ${round}/${opts.fixedRounds}] ${w.name.padEnd(7)} ${t.id.padEnd(18)} @${rate}/s`;
        const [paced, pacedCpu] = await measured(ctx, t, () =>
          runPaced({
            baseUrl: t.url,
            workload: w,
            rate,
            warmupS: opts.warmupS,
            durationS: opts.fixedDurationS,
            connections: opts.connections,
          }),
        );
        samples.push({
          ...sample(t.id, w.name, round, paced, pacedCpu),
          generator: 'paced',
          rate,
          sendLateUs: { p99: paced.sendLateUs.p99, max: paced.sendLateUs.max },
        });
        log(
          `${tag} paced      ${describe(paced, pacedCpu)}  (service p99 ${formatMs(paced.serviceUs.p99)} ms, ` +
            `sent late max ${formatMs(paced.sendLateUs.max)} ms)`,
        );
        const base = { baseUrl: t.url, workload: w, connections: opts.connections, overallRate: rate };
        if (opts.warmupS > 0) await runAutocannon({ ...base, durationS: opts.warmupS });
        const [ac, acCpu] = await measured(ctx, t, () => runAutocannon({ ...base, durationS: opts.fixedDurationS }));
        samples.push({ ...sample(t.id, w.name, round, ac, acCpu), generator: 'autocannon', rate });
        log(`${tag} autocannon ${describe(ac, acCpu)}`);
      }
    }
  }
  return samples;
}
