/**
 * overhead-rtt.svg: the migration's latency overhead against N2's round-trip time, one line per
 * data strategy (and read share), mean in the top panel and p99 in the bottom one, with the 5 %
 * goal and the paper's overhead at the same read share as reference lines, and the paper's Table 2
 * printed beside the plots. Each point is one `npm run experiment -- overhead` run.
 */
import { relativeOverhead, PAPER_OVERHEAD, type OverheadRow } from './report-model.js';
import { xmlEscape } from './svg-chart.js';
import { textWidth } from './text-metrics.js';

/** One overhead run at one read share: its strategy, N2's RTT, and the row it measured. */
export interface OverheadPoint {
  readonly strategy: string;
  readonly rttMs: number;
  readonly row: OverheadRow;
}

export interface OverheadRttChartOptions {
  readonly title?: string;
  /** The overhead goal, % of mean latency (default 5). */
  readonly goalPercent?: number;
}

const W = 1000;
const LEFT = 80;
const PLOT_W = 560;
const TABLE_X = LEFT + PLOT_W + 40;
const PANEL_H = 220;
const STRATEGY_COLORS: Readonly<Record<string, string>> = { 'copy-on-write': '#1f63b4', replicate: '#e8730c' };
const DASHES = ['', '6,3', '2,3'];
const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();
/** sign(v) · log10(1 + |v|): linear near 0, logarithmic beyond ±10. */
export const symlog = (v: number): number => Math.sign(v) * Math.log10(1 + Math.abs(v));
/** Candidate ticks, percent, in the order they are kept when two would overlap (round ones first). */
const SYMLOG_TICKS = [
  0, 10, 100, 1000, 10_000, -10, -100, -1000, 5, 50, 500, 5000, -5, -50, -500, 2, 20, 200, 2000, 20_000, -2, -20, -200, 1, -1,
];
const pct = (x: number): string => `${(Math.round(x * 10) / 10).toFixed(1)} %`;

/** p99 overhead of a row, when it has p99 figures. */
export function p99Overhead(r: OverheadRow): number | undefined {
  if (r.normalP99Ms === undefined || r.migrationP99Ms === undefined || !(r.normalP99Ms > 0)) return undefined;
  return (r.migrationP99Ms - r.normalP99Ms) / r.normalP99Ms;
}

interface Series {
  readonly key: string;
  readonly label: string;
  readonly color: string;
  readonly dash: string;
  readonly points: readonly OverheadPoint[];
}

function seriesOf(points: readonly OverheadPoint[]): Series[] {
  const groups = new Map<string, OverheadPoint[]>();
  for (const p of points) {
    const key = `${p.strategy} · ${p.row.readRatioPercent} % reads`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const ratios = [...new Set(points.map((p) => p.row.readRatioPercent))].sort((a, b) => a - b);
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, pts]) => ({
      key,
      label: key,
      color: STRATEGY_COLORS[pts[0]!.strategy] ?? '#555',
      dash: DASHES[ratios.indexOf(pts[0]!.row.readRatioPercent) % DASHES.length] ?? '',
      points: [...pts].sort((a, b) => a.rttMs - b.rttMs),
    }));
}

export function renderOverheadRttChart(points: readonly OverheadPoint[], o: OverheadRttChartOptions = {}): string {
  const title = o.title ?? 'Migration overhead against N2’s round-trip time';
  const goal = o.goalPercent ?? 5;
  const series = seriesOf(points);
  const maxRtt = Math.max(50, ...points.map((p) => p.rttMs));
  const x = (rtt: number): number => LEFT + (rtt / maxRtt) * PLOT_W;
  const legendY = 56;
  const legendRows = Math.max(1, series.length);
  const TOP_A = legendY + legendRows * 18 + 14;
  const TOP_B = TOP_A + PANEL_H + 50;
  const H = Math.max(TOP_B + PANEL_H + 60, 430);
  const paperAt = new Map(PAPER_OVERHEAD.map((r) => [r.readRatioPercent, relativeOverhead(r) * 100]));

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
      `font-family="Helvetica, Arial, sans-serif">`,
  );
  out.push(`<title>${xmlEscape(title)}</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text class="title" x="${W / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">${xmlEscape(title)}</text>`);

  out.push(`<g class="legend">`);
  series.forEach((s, i) => {
    const y = legendY + i * 18;
    out.push(
      `<line x1="${LEFT}" y1="${y - 4}" x2="${LEFT + 24}" y2="${y - 4}" stroke="${s.color}" stroke-width="3"` +
        `${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    );
    out.push(`<text x="${LEFT + 30}" y="${y}" font-size="12">${xmlEscape(s.label)}</text>`);
  });
  const refX = LEFT + 300;
  out.push(`<line x1="${refX}" y1="${legendY - 4}" x2="${refX + 24}" y2="${legendY - 4}" stroke="#2ca02c" stroke-dasharray="6,4"/>`);
  out.push(`<text x="${refX + 30}" y="${legendY}" font-size="12">goal: ${goal} % of mean latency</text>`);
  out.push(`<line x1="${refX}" y1="${legendY + 14}" x2="${refX + 24}" y2="${legendY + 14}" stroke="#777" stroke-dasharray="2,3"/>`);
  out.push(`<text x="${refX + 30}" y="${legendY + 18}" font-size="12">the paper’s mean overhead (Table 2)</text>`);
  out.push(`</g>`);

  const panel = (
    cls: string,
    top: number,
    label: string,
    value: (p: OverheadPoint) => number | undefined,
    refs: ReadonlyArray<{ v: number; color: string; dash: string; text: string }>,
  ): void => {
    const values = points.map(value).filter((v): v is number => v !== undefined && Number.isFinite(v));
    // A symmetric log scale: overheads run from a few percent (the goal, the paper) to thousands
    // (copy-on-write over a wide-area link), and noise can make them negative.
    const lo = symlog(Math.min(0, ...values, ...refs.map((r) => r.v)));
    const hi = symlog(Math.max(goal * 2, ...values, ...refs.map((r) => r.v)));
    const y0 = lo < 0 ? Math.floor(lo * 2) / 2 : 0;
    const y1 = Math.ceil(hi * 2) / 2;
    const y = (v: number): number => top + PANEL_H - ((symlog(v) - y0) / (y1 - y0 || 1)) * PANEL_H;
    const ticks: number[] = [];
    for (const t of SYMLOG_TICKS) if (symlog(t) >= y0 && symlog(t) <= y1 && ticks.every((u) => Math.abs(y(u) - y(t)) >= 16)) ticks.push(t);
    out.push(`<g class="panel ${cls}">`);
    for (const t of ticks) {
      out.push(`<line x1="${LEFT}" y1="${fmt(y(t))}" x2="${LEFT + PLOT_W}" y2="${fmt(y(t))}" stroke="${t === 0 ? '#999' : '#e6e6e6'}"/>`);
      out.push(`<text x="${LEFT - 6}" y="${fmt(y(t) + 4)}" text-anchor="end" font-size="11">${fmt(t)}</text>`);
    }
    out.push(`<rect x="${LEFT}" y="${top}" width="${PLOT_W}" height="${PANEL_H}" fill="none" stroke="#444"/>`);
    const cy = top + PANEL_H / 2;
    out.push(
      `<text x="26" y="${fmt(cy)}" transform="rotate(-90 26 ${fmt(cy)})" text-anchor="middle" font-size="12">${xmlEscape(label)}</text>`,
    );
    for (const r of refs)
      out.push(
        `<line class="reference" x1="${LEFT}" y1="${fmt(y(r.v))}" x2="${LEFT + PLOT_W}" y2="${fmt(y(r.v))}" stroke="${r.color}" ` +
          `stroke-dasharray="${r.dash}"><title>${xmlEscape(r.text)}</title></line>`,
      );
    for (const s of series) {
      const pts = s.points.flatMap((p) => {
        const v = value(p);
        return v === undefined || !Number.isFinite(v) ? [] : [{ p, v }];
      });
      if (pts.length > 1)
        out.push(
          `<polyline class="series" points="${pts.map(({ p, v }) => `${fmt(x(p.rttMs))},${fmt(y(v))}`).join(' ')}" fill="none" ` +
            `stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
        );
      for (const { p, v } of pts) {
        out.push(
          `<circle class="point" data-strategy="${xmlEscape(p.strategy)}" data-rtt="${p.rttMs}" data-value="${fmt(v)}" ` +
            `cx="${fmt(x(p.rttMs))}" cy="${fmt(y(v))}" r="4" fill="${s.color}"/>`,
        );
        out.push(`<text x="${fmt(x(p.rttMs) + 6)}" y="${fmt(y(v) - 6)}" font-size="10" fill="${s.color}">${xmlEscape(pct(v))}</text>`);
      }
    }
    for (const t of [0, 5, 20, 50].filter((v) => v <= maxRtt)) {
      out.push(`<line x1="${fmt(x(t))}" y1="${top + PANEL_H}" x2="${fmt(x(t))}" y2="${top + PANEL_H + 5}" stroke="#444"/>`);
      out.push(`<text x="${fmt(x(t))}" y="${top + PANEL_H + 18}" text-anchor="middle" font-size="11">${t}</text>`);
    }
    out.push(
      `<text class="axis-title" x="${LEFT + PLOT_W / 2}" y="${top + PANEL_H + 36}" text-anchor="middle" font-size="12">` +
        `N2’s round-trip time (ms)</text>`,
    );
    out.push(`</g>`);
  };

  const ratios = [...new Set(points.map((p) => p.row.readRatioPercent))];
  const paperRefs = ratios.flatMap((r) => {
    const v = paperAt.get(r);
    return v === undefined ? [] : [{ v, color: '#777', dash: '2,3', text: `the paper, ${r} % reads: ${pct(v)}` }];
  });
  const goalRef = { v: goal, color: '#2ca02c', dash: '6,4', text: `goal ${goal} %` };
  panel('mean', TOP_A, 'mean latency overhead (M−N)/N, % (symlog)', (p) => relativeOverhead(p.row) * 100, [goalRef, ...paperRefs]);
  panel(
    'p99',
    TOP_B,
    'p99 latency overhead, % (symlog)',
    (p) => {
      const v = p99Overhead(p.row);
      return v === undefined ? undefined : v * 100;
    },
    [goalRef],
  );

  // The paper's Table 2, beside the plots.
  out.push(`<g class="paper-table">`);
  const rowH = 20;
  const cols = [0, 70, 145, 220];
  out.push(`<text x="${TABLE_X}" y="${TOP_A + 4}" font-size="13" font-weight="bold">The paper’s Table 2 (mean, ms)</text>`);
  const header = ['reads', 'normal', 'migration', '(M−N)/N'];
  header.forEach(
    (h, i) =>
      void out.push(
        `<text x="${TABLE_X + cols[i]!}" y="${TOP_A + 4 + rowH * 1.2}" font-size="12" font-weight="bold">${xmlEscape(h)}</text>`,
      ),
  );
  PAPER_OVERHEAD.forEach((r, j) => {
    const y = TOP_A + 4 + rowH * (j + 2.2);
    const cells = [`${r.readRatioPercent} %`, r.normalMs.toFixed(1), r.migrationMs.toFixed(1), pct(relativeOverhead(r) * 100)];
    cells.forEach(
      (c, i) => void out.push(`<text class="paper-cell" x="${TABLE_X + cols[i]!}" y="${y}" font-size="12">${xmlEscape(c)}</text>`),
    );
  });
  const note = 'Each point: one overhead run (normal and sync phase interleaved); M: migration held in its sync phase.';
  let line = '';
  let ny = TOP_A + 4 + rowH * 6;
  for (const word of note.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, 11) > W - TABLE_X - 20) {
      out.push(`<text x="${TABLE_X}" y="${ny}" font-size="11" fill="#444">${xmlEscape(line)}</text>`);
      ny += 15;
      line = word;
    } else line = next;
  }
  if (line) out.push(`<text x="${TABLE_X}" y="${ny}" font-size="11" fill="#444">${xmlEscape(line)}</text>`);
  out.push(`</g>`);
  out.push(`</svg>`);
  return `${out.join('\n')}\n`;
}
