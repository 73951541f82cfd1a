/**
 * What a switchover run hands to the report writers, and the figures they
 * derive from it. Everything here is plain data, so report.json round-trips.
 */
import type { PhaseMark, Sample } from '../load-model.js';
import type { LostWriteReport } from '../analysis/lost-writes.js';
import { analyzeSwitchover, type SwitchoverAnalysis } from '../analysis/switchover.js';
import { statsOf, type TrialStats } from '../analysis/trials.js';

/** One repetition's headline figures (ms unless noted), for the trials table. */
export interface TrialFigures {
  readonly firstN2AfterMs?: number | null;
  readonly lastN1AfterMs?: number | null;
  readonly flipMs?: number | null;
  readonly writeHoldMs?: number | null;
  /** p99 of how long each write the fence held was held (the gateways' figures). */
  readonly writeHoldP99Ms?: number | null;
  readonly failedRequests?: number | null;
  readonly lostWrites?: number | null;
  readonly dnsToInsyncMs?: number | null;
}

/** Mean latency at one read ratio, without (normal) and during a migration. */
export interface OverheadRow {
  /** Percent of requests that are reads: 20, 50, 80. */
  readonly readRatioPercent: number;
  readonly normalMs: number;
  readonly migrationMs: number;
  /** p99 latency of successful requests, normal and during the migration (absent in the paper's table and in older runs). */
  readonly normalP99Ms?: number;
  readonly migrationP99Ms?: number;
  /** Requests that failed in either phase (the goal: 0). */
  readonly failedRequests?: number;
}

/** The paper's Table 2 (mean latency, ms), which our overhead table is printed beside. */
export const PAPER_OVERHEAD: readonly OverheadRow[] = Object.freeze([
  { readRatioPercent: 20, normalMs: 107.2, migrationMs: 115.8 },
  { readRatioPercent: 50, normalMs: 100.2, migrationMs: 103.3 },
  { readRatioPercent: 80, normalMs: 94.0, migrationMs: 94.2 },
]);

export interface SwitchoverRun {
  readonly title: string;
  /** Wall-clock start of the run, epoch ms. */
  readonly startedAtEpochMs: number;
  readonly samples: readonly Sample[];
  readonly marks: readonly PhaseMark[];
  /** The handover command time T, ms since run start. */
  readonly handoverAt: number;
  /** Fleet flip: state written → every member acked, ms. */
  readonly flipMs?: number;
  /** Longest time a write was held at the fence, ms. */
  readonly writeHoldMs?: number;
  /** Route 53 change submitted → INSYNC, ms. */
  readonly dnsToInsyncMs?: number;
  readonly lostWrites?: LostWriteReport;
  /** Figures of every trial, this one included if it is one of them. */
  readonly trials?: readonly TrialFigures[];
  readonly overhead?: readonly OverheadRow[];
}

export const TRIAL_FIELDS: readonly { readonly key: keyof TrialFigures; readonly label: string; readonly unit: 's' | 'ms' | '' }[] = [
  { key: 'dnsToInsyncMs', label: 'DNS change → INSYNC', unit: 's' },
  { key: 'firstN2AfterMs', label: 'T → first N2', unit: 'ms' },
  { key: 'lastN1AfterMs', label: 'T → last N1', unit: 'ms' },
  { key: 'flipMs', label: 'flip (all members acked)', unit: 'ms' },
  { key: 'writeHoldMs', label: 'write hold', unit: 'ms' },
  { key: 'writeHoldP99Ms', label: 'write hold p99', unit: 'ms' },
  { key: 'failedRequests', label: 'failed requests', unit: '' },
  { key: 'lostWrites', label: 'lost writes', unit: '' },
];

export interface TrialRow {
  readonly label: string;
  readonly unit: 's' | 'ms' | '';
  /** In `unit` (seconds rows are converted from ms). */
  readonly stats: TrialStats;
}

export function trialRows(trials: readonly TrialFigures[]): TrialRow[] {
  const rows: TrialRow[] = [];
  for (const f of TRIAL_FIELDS) {
    // Seconds rows (a real Route 53 change takes about a minute) stay in ms when every value is under a second.
    const values = trials.map((t) => t[f.key]).filter((v): v is number => typeof v === 'number');
    const unit = f.unit === 's' && values.every((v) => v < 1000) ? 'ms' : f.unit;
    const scale = unit === 's' ? 1 / 1000 : 1;
    const stats = statsOf(trials, (t) => {
      const v = t[f.key];
      return typeof v === 'number' ? v * scale : undefined;
    });
    if (stats.n > 0) rows.push({ label: f.label, unit, stats });
  }
  return rows;
}

/** Relative overhead (M − N) / N. */
export const relativeOverhead = (r: OverheadRow): number => (r.migrationMs - r.normalMs) / r.normalMs;

export function analyzeRun(run: SwitchoverRun): SwitchoverAnalysis {
  return analyzeSwitchover(run.samples, run.marks, run.handoverAt);
}
