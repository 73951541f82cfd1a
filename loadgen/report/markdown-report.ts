/** report.md: the switchover, trials and overhead tables a person reads first. */
import { countByMode } from '../analysis/by-mode.js';
import { formatMeanStdev, formatValue, twoSignificant } from '../analysis/trials.js';
import { analyzeRun, PAPER_OVERHEAD, relativeOverhead, trialRows, type OverheadRow, type SwitchoverRun } from './report-model.js';

const escapeCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const ms = (v: number | null | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? `${Math.round(v)} ms` : '–');
const seconds = (v: number | null | undefined): string =>
  typeof v === 'number' && Number.isFinite(v) ? (v < 1000 ? ms(v) : `${(v / 1000).toFixed(1)} s`) : '–';
const percent = (x: number): string => `${(x * 100).toFixed(1)} %`;

export function switchoverTable(run: SwitchoverRun): string {
  const a = analyzeRun(run);
  const failedDetail = a.failedByPhase.map((g) => `${g.phase}: ${g.count}`).join(', ');
  const lost = run.lostWrites ? `${run.lostWrites.lost.length} of ${run.lostWrites.checked} keys` : 'not checked';
  const safety = a.writeSafety.ok ? 'held' : `VIOLATED by ${a.writeSafety.violations.length} writes`;
  return markdownTable(
    ['figure', 'value'],
    [
      ['handover command T', `${(a.handoverAt / 1000).toFixed(3)} s after start`],
      ['first N2 response', a.firstN2 ? `T + ${ms(a.firstN2AfterMs)}` : 'none'],
      ['last N1 response', a.lastN1 ? `T ${(a.lastN1AfterMs ?? 0) < 0 ? '−' : '+'} ${ms(Math.abs(a.lastN1AfterMs ?? 0))}` : 'none'],
      ['flip (all members acked)', ms(run.flipMs)],
      ['write hold', ms(run.writeHoldMs)],
      ['failed requests', `${a.failedTotal}${failedDetail ? ` (${failedDetail})` : ''}`],
      ['lost writes', lost],
      ['no N1 write after first N2 write', safety],
      ['DNS change → INSYNC', seconds(run.dnsToInsyncMs)],
    ],
  );
}

export function operationsTable(run: SwitchoverRun): string {
  const a = analyzeRun(run);
  return markdownTable(
    ['operation', 'total', 'ok', 'failed', 'served by N1', 'served by N2'],
    (['read', 'write', 'delete'] as const).map((op) => {
      const c = a.byOperation[op];
      return [op, String(c.total), String(c.ok), String(c.failed), String(c.n1), String(c.n2)];
    }),
  );
}

/** Requests by the gateway mode they were routed under, from `x-northwest-mode` (empty without the header). */
export function modesTable(run: SwitchoverRun): string {
  const rows = countByMode(run.samples);
  if (rows.every((r) => r.mode === 'unknown')) return '';
  return markdownTable(
    ['gateway mode', 'requests', 'failed', 'served by N1', 'served by N2', 'epochs'],
    rows.map((r) => [
      r.mode,
      String(r.total),
      String(r.failed),
      String(r.n1),
      String(r.n2),
      r.epochs === null ? '–' : r.epochs.min === r.epochs.max ? String(r.epochs.min) : `${r.epochs.min}–${r.epochs.max}`,
    ]),
  );
}

export function trialsTable(run: SwitchoverRun): string {
  const rows = trialRows(run.trials ?? []);
  return markdownTable(
    ['figure', 'n', 'min', 'mean', 'stdev', 'max', 'mean ± stdev'],
    rows.map((r) => {
      // Seconds and counts get a decimal (a mean of 0.3 failures is not 0); milliseconds do not need one.
      const digits = r.unit === 'ms' ? 0 : 1;
      const stdev = Number.isFinite(r.stats.stdev) ? `${twoSignificant(r.stats.stdev)}${r.unit ? ` ${r.unit}` : ''}` : '–';
      return [
        r.label,
        String(r.stats.n),
        formatValue(r.stats.min, r.unit, digits),
        formatValue(r.stats.mean, r.unit, digits),
        stdev,
        formatValue(r.stats.max, r.unit, digits),
        formatMeanStdev(r.stats, r.unit, digits),
      ];
    }),
  );
}

export function overheadTable(ours: readonly OverheadRow[]): string {
  const rows = PAPER_OVERHEAD.map((paper) => {
    const mine = ours.find((r) => r.readRatioPercent === paper.readRatioPercent);
    return [
      `${paper.readRatioPercent} %`,
      `${paper.normalMs.toFixed(1)} ms`,
      `${paper.migrationMs.toFixed(1)} ms`,
      percent(relativeOverhead(paper)),
      mine ? `${mine.normalMs.toFixed(1)} ms` : '–',
      mine ? `${mine.migrationMs.toFixed(1)} ms` : '–',
      mine ? percent(relativeOverhead(mine)) : '–',
    ];
  });
  const header = ['reads', 'paper N', 'paper M', 'paper (M−N)/N', 'ours N', 'ours M', 'ours (M−N)/N'];
  // Runs that measured p99 (and failures) get those columns too; the paper gave means only.
  const withP99 = ours.filter((r) => r.normalP99Ms !== undefined && r.migrationP99Ms !== undefined);
  if (!withP99.length) return markdownTable(header, rows);
  const extra = (pct: number): string[] => {
    const mine = withP99.find((r) => r.readRatioPercent === pct);
    if (!mine) return ['–', '–', '–', '–'];
    const n = mine.normalP99Ms ?? Number.NaN;
    const m = mine.migrationP99Ms ?? Number.NaN;
    return [`${n.toFixed(1)} ms`, `${m.toFixed(1)} ms`, percent((m - n) / n), `${mine.failedRequests ?? '–'}`];
  };
  const extraRows = ours
    .filter((r) => !PAPER_OVERHEAD.some((p) => p.readRatioPercent === r.readRatioPercent))
    .map((mine) => [
      `${mine.readRatioPercent} %`,
      '–',
      '–',
      '–',
      `${mine.normalMs.toFixed(1)} ms`,
      `${mine.migrationMs.toFixed(1)} ms`,
      percent(relativeOverhead(mine)),
    ]);
  return markdownTable(
    [...header, 'ours p99 N', 'ours p99 M', 'ours p99 (M−N)/N', 'failed'],
    [...rows, ...extraRows].map((r) => [...r, ...extra(Number.parseInt(r[0]!, 10))]),
  );
}

export function renderMarkdownReport(run: SwitchoverRun, chartFile = 'chart.svg'): string {
  const parts = [
    `# ${run.title}`,
    `Run started ${new Date(run.startedAtEpochMs).toISOString()}, ${run.samples.length} requests, ${run.marks.length} phase marks.`,
    `![throughput and p99 latency per deployment](${chartFile})`,
    '## Switchover',
    switchoverTable(run),
    '## Requests by operation',
    operationsTable(run),
  ];
  const modes = modesTable(run);
  if (modes) parts.push('## Requests by gateway mode', modes);
  if (run.trials && run.trials.length > 0) parts.push(`## Trials (n = ${run.trials.length})`, trialsTable(run));
  if (run.overhead && run.overhead.length > 0) {
    parts.push(
      '## Latency overhead during migration',
      'Mean latency without (N) and during (M) a migration, beside Table 2 of the North by Northwest paper. ' +
        'The paper quotes 7.4 % for 20 % reads, which is (M−N)/M; this table prints (M−N)/N for both.',
      overheadTable(run.overhead),
    );
  }
  return `${parts.join('\n\n')}\n`;
}
