/**
 * The reload-under-load figures: how many reloads applied, how many requests failed (goal: 0),
 * how long each reload took from the signal to the gateway saying it applied it, and the CPU
 * the gateway spent around it. Pure: reduction and table only (reload-phase.ts measures).
 */
import { formatInt, formatMs, median, type Table } from './bench-report.js';
import type { WorkloadName } from './bench-workloads.js';
import type { LatencySummary } from './latency-histogram.js';

export type ReloadVia = 'sighup' | 'admin';

/** One reload. */
export interface ReloadSample {
  readonly index: number;
  /** applied / failed: the gateway's log line; no-answer: none within the time limit. */
  readonly outcome: 'applied' | 'failed' | 'no-answer';
  readonly code?: string;
  /** From the signal (SIGHUP, or the POST sent) to the time on the gateway's gateway.reload.applied line, ms. */
  readonly reloadMs?: number;
  /** From the signal to the bench reading that line (sighup) or the POST's reply (admin), ms. */
  readonly observedMs?: number;
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  /** CPU ms of the gateway's processes in the window from the signal on (windowMs long). */
  readonly cpuMsAfter?: number;
  /** The same in the window of the same length just before the signal (the load alone). */
  readonly cpuMsBefore?: number;
}

/** The fixed load of one workload, over the whole run (every request counts: no warm-up is left out). */
export interface ReloadLoad {
  readonly workload: WorkloadName;
  readonly label: string;
  readonly rate: number;
  readonly completed: number;
  readonly errors: number;
  readonly non2xx: number;
  /** Latency from each request's due time (paced, corrected for coordinated omission), µs. */
  readonly latencyUs: LatencySummary;
}

export interface ReloadRun {
  readonly via: ReloadVia;
  readonly workers: number;
  readonly intervalS: number;
  /** Total rate of the fixed load, req/s. */
  readonly rate: number;
  /** Length of the CPU windows before and after each signal, ms. */
  readonly windowMs: number;
  readonly reloads: readonly ReloadSample[];
  readonly load: readonly ReloadLoad[];
}

export interface ReloadSummary {
  readonly reloads: number;
  readonly applied: number;
  readonly requests: number;
  /** Errors and non-2xx replies over every workload (goal: 0). */
  readonly failedRequests: number;
  readonly reloadMs: { readonly median: number; readonly max: number };
  readonly observedMs: { readonly median: number; readonly max: number };
  /** cpuMsAfter − cpuMsBefore per reload. */
  readonly extraCpuMs: { readonly median: number; readonly max: number };
  readonly cpuMsAfter: number;
  readonly cpuMsBefore: number;
  /** Every reload applied and no request failed. */
  readonly goalMet: boolean;
}

function spread(xs: readonly number[]): { median: number; max: number } {
  return { median: median(xs), max: xs.length === 0 ? NaN : Math.max(...xs) };
}

function defined(xs: ReadonlyArray<number | undefined>): number[] {
  return xs.filter((x): x is number => x !== undefined && !Number.isNaN(x));
}

export function summarizeReload(run: ReloadRun): ReloadSummary {
  const applied = run.reloads.filter((r) => r.outcome === 'applied').length;
  const failedRequests = run.load.reduce((n, l) => n + l.errors + l.non2xx, 0);
  const extra = run.reloads.flatMap((r) =>
    r.cpuMsAfter === undefined || r.cpuMsBefore === undefined ? [] : [r.cpuMsAfter - r.cpuMsBefore],
  );
  return {
    reloads: run.reloads.length,
    applied,
    requests: run.load.reduce((n, l) => n + l.completed + l.errors, 0),
    failedRequests,
    reloadMs: spread(defined(run.reloads.map((r) => r.reloadMs))),
    observedMs: spread(defined(run.reloads.map((r) => r.observedMs))),
    extraCpuMs: spread(extra),
    cpuMsAfter: median(defined(run.reloads.map((r) => r.cpuMsAfter))),
    cpuMsBefore: median(defined(run.reloads.map((r) => r.cpuMsBefore))),
    goalMet: applied === run.reloads.length && failedRequests === 0,
  };
}

function ms(v: number): string {
  return Number.isNaN(v) ? '—' : String(Math.round(v));
}

const medianMax = (s: { median: number; max: number }): string => `${ms(s.median)} (${ms(s.max)})`;

export function reloadTable(run: ReloadRun, s: ReloadSummary): Table {
  const how = run.via === 'sighup' ? 'SIGHUP' : 'POST /reload';
  const seen = run.via === 'sighup' ? 'the bench read the log line' : 'POST /reload answered';
  const window = `${ms(run.windowMs)} ms`;
  return {
    title:
      `Reload under load: ${s.reloads} reloads by ${how}, one every ${run.intervalS} s, each adding or removing an app and ` +
      `changing the served app's pool; the gateway (CLI, HTTPS listener, raw engine, ${run.workers} worker` +
      `${run.workers === 1 ? '' : 's'}) under ${formatInt(run.rate)} req/s paced (${run.load.map((l) => l.label).join(' + ')})`,
    header: ['figure', 'goal', 'value'],
    rows: [
      ['reloads applied', 'all', `${s.applied} of ${s.reloads} ${s.applied === s.reloads ? '✓' : '✗'}`],
      [
        'failed requests (errors + non-2xx) of all sent',
        '0',
        `${formatInt(s.failedRequests)} of ${formatInt(s.requests)} ${s.failedRequests === 0 ? '✓' : '✗'}`,
      ],
      ['reload time, signal → gateway.reload.applied (its log), median (max) ms', '—', medianMax(s.reloadMs)],
      [`signal → ${seen}, median (max) ms`, '—', medianMax(s.observedMs)],
      [`gateway CPU in the ${window} after the signal, median ms`, '—', ms(s.cpuMsAfter)],
      [`gateway CPU in the ${window} before it (the load alone), median ms`, '—', ms(s.cpuMsBefore)],
      ['CPU a reload adds (after − before), median (max) ms', '—', medianMax(s.extraCpuMs)],
      ...run.load.map((l) => [
        `${l.label}: p50 / p99 / max ms over the run (from due time)`,
        '—',
        `${formatMs(l.latencyUs.p50)} / ${formatMs(l.latencyUs.p99)} / ${formatMs(l.latencyUs.max)}`,
      ]),
    ],
  };
}
