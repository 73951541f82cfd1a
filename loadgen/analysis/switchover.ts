/**
 * Pure analysis of one switchover run: when N2 started answering and N1
 * stopped, which requests failed in which phase, and whether the write
 * safety property held (no write served by N1 after N2 served one).
 */
import { isSuccess, type Operation, type PhaseMark, type Sample } from '../load-model.js';

/** Label of the phase a request started in before the first mark. */
export const BEFORE_FIRST_MARK = 'before first mark';

export interface FailuresInPhase {
  readonly phase: string;
  /** When that phase's mark was placed (ms since run start); null for {@link BEFORE_FIRST_MARK}. */
  readonly from: number | null;
  readonly count: number;
  /** Count per error: `x-northwest-error`, the socket error code, or `HTTP <status>`. */
  readonly byError: Readonly<Record<string, number>>;
  readonly samples: readonly Sample[];
}

export interface OperationCounts {
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
  readonly n1: number;
  readonly n2: number;
}

export interface WriteSafety {
  readonly ok: boolean;
  /** Completion of the first write (or delete) answered by N2; null if N2 answered none. */
  readonly firstN2WriteEnd: number | null;
  /** Writes answered by N1 that started after {@link firstN2WriteEnd}. */
  readonly violations: readonly Sample[];
}

export interface SwitchoverAnalysis {
  /** The handover command time T, ms since run start. */
  readonly handoverAt: number;
  /** First response served by N2 that completed at or after T. */
  readonly firstN2: Sample | null;
  /** firstN2.end - T. */
  readonly firstN2AfterMs: number | null;
  /** Last response served by N1 (by completion time), anywhere in the run. */
  readonly lastN1: Sample | null;
  /** lastN1.end - T; negative if N1's last answer came before the command. */
  readonly lastN1AfterMs: number | null;
  readonly failedTotal: number;
  /** Failed requests grouped by the phase they started in, in timeline order; phases without failures are left out. */
  readonly failedByPhase: readonly FailuresInPhase[];
  readonly byOperation: Readonly<Record<Operation, OperationCounts>>;
  readonly writeSafety: WriteSafety;
}

const isMutation = (s: Sample): boolean => s.op === 'write' || s.op === 'delete';

/** The label of the last mark at or before `t`. */
export function phaseAt(marks: readonly PhaseMark[], t: number): { phase: string; from: number | null } {
  let found: PhaseMark | undefined;
  for (const m of marks) if (m.t <= t && (!found || m.t >= found.t)) found = m;
  return found ? { phase: found.label, from: found.t } : { phase: BEFORE_FIRST_MARK, from: null };
}

export function errorLabel(s: Sample): string {
  if (s.error) return s.error;
  return s.status === 0 ? 'socket error' : `HTTP ${s.status}`;
}

/**
 * The safety check. A write answered by N2 (any status but a socket error:
 * a 5xx may still have been applied) is the cut-off; a write answered by N1
 * that *started* after it completed is a violation.
 */
export function checkWriteSafety(samples: readonly Sample[]): WriteSafety {
  let firstN2WriteEnd: number | null = null;
  for (const s of samples) {
    if (isMutation(s) && s.servedBy === 'n2' && s.status !== 0 && (firstN2WriteEnd === null || s.end < firstN2WriteEnd))
      firstN2WriteEnd = s.end;
  }
  const cut = firstN2WriteEnd;
  const violations = cut === null ? [] : samples.filter((s) => isMutation(s) && s.servedBy === 'n1' && s.start > cut);
  return { ok: violations.length === 0, firstN2WriteEnd, violations };
}

function countOperations(samples: readonly Sample[]): Record<Operation, OperationCounts> {
  const zero = (): { total: number; ok: number; failed: number; n1: number; n2: number } => ({ total: 0, ok: 0, failed: 0, n1: 0, n2: 0 });
  const counts = { read: zero(), write: zero(), delete: zero() };
  for (const s of samples) {
    const c = counts[s.op];
    c.total++;
    if (isSuccess(s)) c.ok++;
    else c.failed++;
    if (s.servedBy === 'n1') c.n1++;
    if (s.servedBy === 'n2') c.n2++;
  }
  return counts;
}

function groupFailures(samples: readonly Sample[], marks: readonly PhaseMark[]): FailuresInPhase[] {
  const groups = new Map<string, { phase: string; from: number | null; samples: Sample[] }>();
  for (const s of samples) {
    if (isSuccess(s)) continue;
    const { phase, from } = phaseAt(marks, s.start);
    // Keyed by mark time as well: a phase that runs twice (resume) gets two rows.
    const key = `${from ?? '-'}|${phase}`;
    const g = groups.get(key);
    if (g) g.samples.push(s);
    else groups.set(key, { phase, from, samples: [s] });
  }
  return [...groups.values()]
    .sort((a, b) => (a.from ?? -Infinity) - (b.from ?? -Infinity))
    .map((g) => {
      const byError: Record<string, number> = {};
      for (const s of g.samples) byError[errorLabel(s)] = (byError[errorLabel(s)] ?? 0) + 1;
      return { phase: g.phase, from: g.from, count: g.samples.length, byError, samples: g.samples };
    });
}

export function analyzeSwitchover(samples: readonly Sample[], marks: readonly PhaseMark[], handoverAt: number): SwitchoverAnalysis {
  let firstN2: Sample | null = null;
  let lastN1: Sample | null = null;
  for (const s of samples) {
    if (s.servedBy === 'n2' && s.end >= handoverAt && (!firstN2 || s.end < firstN2.end)) firstN2 = s;
    if (s.servedBy === 'n1' && (!lastN1 || s.end > lastN1.end)) lastN1 = s;
  }
  const failedByPhase = groupFailures(samples, marks);
  return {
    handoverAt,
    firstN2,
    firstN2AfterMs: firstN2 ? firstN2.end - handoverAt : null,
    lastN1,
    lastN1AfterMs: lastN1 ? lastN1.end - handoverAt : null,
    failedTotal: failedByPhase.reduce((n, g) => n + g.count, 0),
    failedByPhase,
    byOperation: countOperations(samples),
    writeSafety: checkWriteSafety(samples),
  };
}
