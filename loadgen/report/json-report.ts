/** report.json: the raw figures of a run (not every sample), for later comparison across runs. */
import { countByMode } from '../analysis/by-mode.js';
import { bucketSamples } from '../analysis/time-series.js';
import { analyzeRun, PAPER_OVERHEAD, relativeOverhead, trialRows, type SwitchoverRun } from './report-model.js';

/** At most this many failed / violating samples per list, so one bad run does not produce a huge file. */
const MAX_LISTED = 50;

export function buildJsonReport(run: SwitchoverRun): Record<string, unknown> {
  const a = analyzeRun(run);
  return {
    title: run.title,
    startedAt: new Date(run.startedAtEpochMs).toISOString(),
    samples: run.samples.length,
    marks: run.marks,
    switchover: {
      handoverAt: a.handoverAt,
      firstN2: a.firstN2,
      firstN2AfterMs: a.firstN2AfterMs,
      lastN1: a.lastN1,
      lastN1AfterMs: a.lastN1AfterMs,
      flipMs: run.flipMs ?? null,
      writeHoldMs: run.writeHoldMs ?? null,
      dnsToInsyncMs: run.dnsToInsyncMs ?? null,
      failedTotal: a.failedTotal,
      failedByPhase: a.failedByPhase.map((g) => ({ ...g, samples: g.samples.slice(0, MAX_LISTED) })),
      byOperation: a.byOperation,
      byMode: countByMode(run.samples),
      writeSafety: {
        ...a.writeSafety,
        violationCount: a.writeSafety.violations.length,
        violations: a.writeSafety.violations.slice(0, MAX_LISTED),
      },
    },
    lostWrites: run.lostWrites ?? null,
    trials: run.trials ? { figures: run.trials, stats: trialRows(run.trials) } : null,
    overhead: run.overhead
      ? {
          ours: run.overhead.map((r) => ({ ...r, relative: relativeOverhead(r) })),
          paper: PAPER_OVERHEAD.map((r) => ({ ...r, relative: relativeOverhead(r) })),
        }
      : null,
    series: bucketSamples(run.samples),
  };
}

export function renderJsonReport(run: SwitchoverRun): string {
  // NaN (an empty percentile) is not JSON; write null instead of a silent "null" cast by accident.
  return `${JSON.stringify(buildJsonReport(run), (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}
