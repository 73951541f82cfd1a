/** report.json and report.md of a load run: who took part, each agent's figures and the merged ones. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LatencySummary } from '../bench/latency-histogram.js';
import type { ServedBy } from '../load-model.js';
import { markdownTable } from '../report/markdown-report.js';
import type { LoadRunReport } from './load-run-merge.js';

/** Longest per-second table in report.md; report.json has every second. */
const MAX_SECOND_ROWS = 600;

export function renderLoadRunJson(report: LoadRunReport): string {
  // NaN (an empty histogram's percentiles) is not JSON: null.
  return `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

const ms = (us: number | undefined): string => (us !== undefined && Number.isFinite(us) ? `${(us / 1000).toFixed(2)} ms` : '–');
const count = (n: number | null): string => (n === null ? '–' : String(n));
const latencyCells = (l: LatencySummary | null): string[] => [ms(l?.p50), ms(l?.p90), ms(l?.p99), ms(l?.p999), ms(l?.max)];
const servedBy = (by: Partial<Record<ServedBy, number>>): string =>
  Object.entries(by)
    .map(([d, n]) => `${d} ${n}`)
    .join(', ') || '–';

export function renderLoadRunMarkdown(report: LoadRunReport): string {
  const { spec, merged } = report;
  const head = ['agent', 'host', 'status', 'start', 'requests', 'errors', 'unanswered', 'p50', 'p90', 'p99', 'p99.9', 'max', 'served by'];
  const rows = report.agents.map((a) => [
    a.agent,
    a.host === null ? '–' : `${a.host} (pid ${a.pid ?? '?'})`,
    a.status === 'reported' ? 'reported' : `${a.status}: ${a.code ?? ''}`,
    a.startDelayMs === null ? '–' : `+${a.startDelayMs.toFixed(0)} ms`,
    count(a.requests),
    count(a.errors),
    count(a.unfinished),
    ...latencyCells(a.latencyUs),
    servedBy(a.requestsByServedBy),
  ]);
  const mergedByServedBy: Partial<Record<ServedBy, number>> = {};
  for (const [d, l] of Object.entries(merged.latencyUsByServedBy)) mergedByServedBy[d as ServedBy] = l.count;
  rows.push([
    `**merged (${merged.agents} of ${report.agents.length})**`,
    '',
    '',
    report.starts.spreadMs === null ? '–' : `spread ${report.starts.spreadMs.toFixed(0)} ms`,
    String(merged.requests),
    String(merged.errors),
    String(merged.unfinished),
    ...latencyCells(merged.latencyUs),
    servedBy(mergedByServedBy),
  ]);
  const parts = [
    `# Load run ${report.run}`,
    `${report.agents.length} agents, start ${new Date(report.startAtEpochMs).toISOString()} (tolerance ${report.toleranceMs} ms): ` +
      `${spec.rate} requests/s in all for ${spec.durationS} s against ${spec.targets.join(', ')}` +
      `${spec.host ? ` (Host ${spec.host})` : ''}, ${Math.round(spec.workload.readRatio * 100)} % reads. ` +
      (report.ok ? 'Every agent reported, each within the start tolerance.' : 'NOT OK: see the agents below.'),
    '## Agents',
    markdownTable(head, rows),
  ];
  const problems = report.agents.filter((a) => a.status !== 'reported');
  if (problems.length > 0)
    parts.push(
      '## Missing agents',
      markdownTable(
        ['agent', 'code', 'why'],
        problems.map((a) => [a.agent, a.code ?? '', a.detail ?? '']),
      ),
    );
  const errors = Object.entries(merged.byError).sort((a, b) => b[1] - a[1]);
  if (errors.length > 0)
    parts.push(
      '## Errors',
      markdownTable(
        ['error', 'count'],
        errors.map(([e, n]) => [e, String(n)]),
      ),
    );
  if (report.series.length > 0) {
    const shown = report.series.slice(0, MAX_SECOND_ROWS);
    parts.push(
      '## Requests per second (all agents, by completion)',
      markdownTable(
        ['second', 'served by', 'requests', 'errors'],
        shown.map((p) => [String(p.second), p.servedBy, String(p.requests), String(p.errors)]),
      ),
    );
    if (shown.length < report.series.length) parts.push(`(first ${shown.length} rows; report.json has all ${report.series.length})`);
  }
  return `${parts.join('\n\n')}\n`;
}

/** Writes report.json and report.md into `dir`; returns their paths. */
export function writeLoadRunReport(dir: string, report: LoadRunReport): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, 'report.json'), join(dir, 'report.md')];
  writeFileSync(files[0]!, renderLoadRunJson(report));
  writeFileSync(files[1]!, renderLoadRunMarkdown(report));
  return files;
}
