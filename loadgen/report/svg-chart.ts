/**
 * chart.svg, hand-written: responses per second per deployment (top panel)
 * and p99 latency per deployment (bottom panel) over the run, with a
 * dashed vertical marker per phase mark and a solid one at the handover
 * command, so the moment traffic moves from N1 to N2 is visible at a glance.
 * Every axis has a title with its unit; the phase and handover labels sit on
 * as many rows above the plot as it takes for none to overlap another.
 */
import type { Sample, ServedBy } from '../load-model.js';
import { bucketSamples, throughputPerSecond } from '../analysis/time-series.js';
import { labelRows } from './label-rows.js';
import type { SwitchoverRun } from './report-model.js';
import { textWidth } from './text-metrics.js';

const W = 1000;
const LEFT = 80;
const RIGHT = 30;
const PLOT_W = W - LEFT - RIGHT;
const TITLE_SIZE = 17;
const TITLE_LINE_H = 21;
const LABEL_SIZE = 11;
const LABEL_ROW_H = 15;
/** Space between a label's text and its marker line's anchor. */
const LABEL_DX = 3;
const H_A = 250;
const H_B = 170;

const COLORS: Readonly<Record<ServedBy, string>> = { n1: '#1f63b4', n2: '#e8730c', none: '#7a7a7a', unknown: '#a05fc0' };
const FAILED_COLOR = '#d62728';
const LABELS: Readonly<Record<ServedBy, string>> = { n1: 'N1', n2: 'N2', none: 'gateway (none)', unknown: 'unknown' };

export interface ChartOptions {
  /** Window for rates and p99, ms (default 250: fine enough to show a sub-second handover, smooth enough to read). */
  readonly windowMs?: number;
}

/** Escapes text and attribute values for XML. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Ticks at 1/2/5 × 10^k covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v / step) * step);
  return ticks;
}

function niceMax(v: number): number {
  const ticks = niceTicks(0, v > 0 ? v : 1, 5);
  const last = ticks[ticks.length - 1] ?? 1;
  const step = ticks.length > 1 ? last - (ticks[ticks.length - 2] ?? 0) : last;
  return last >= v ? last : last + step;
}

interface Panel {
  readonly top: number;
  readonly height: number;
  readonly yMax: number;
}

function yAxis(p: Panel, x0: number, label: string): string {
  const parts: string[] = [];
  const y = (v: number): number => p.top + p.height - (v / p.yMax) * p.height;
  for (const v of niceTicks(0, p.yMax, 5)) {
    parts.push(`<line x1="${LEFT}" y1="${fmt(y(v))}" x2="${LEFT + PLOT_W}" y2="${fmt(y(v))}" stroke="#e6e6e6"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${fmt(y(v) + 4)}" text-anchor="end" font-size="11">${fmt(v)}</text>`);
  }
  parts.push(`<rect x="${LEFT}" y="${p.top}" width="${PLOT_W}" height="${p.height}" fill="none" stroke="#444"/>`);
  const cy = p.top + p.height / 2;
  parts.push(
    `<text x="${x0}" y="${fmt(cy)}" transform="rotate(-90 ${x0} ${fmt(cy)})" ` +
      `text-anchor="middle" font-size="12">${xmlEscape(label)}</text>`,
  );
  return parts.join('\n');
}

function polyline(points: readonly [number, number][], color: string, cls: string, dash = ''): string {
  if (points.length === 0) return '';
  const d = points.map(([x, y]) => `${fmt(x)},${fmt(y)}`).join(' ');
  return (
    `<polyline class="${cls}" points="${d}" fill="none" stroke="${color}" ` +
    `stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} stroke-linejoin="round"/>`
  );
}

/** Splits a title into lines that fit `width` at `size` px bold, at spaces. */
function wrapTitle(title: string, size: number, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of title.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, size, true) > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

/** A label above the plot: its text, the x its marker line is at, where its text starts, and its row. */
interface PlacedLabel {
  readonly text: string;
  readonly bold: boolean;
  readonly lineX: number;
  readonly textX: number;
  row: number;
}

/** Labels anchored at their marker's x (text just right of it; pulled left at the right edge), staggered into rows. */
function placeLabels(labels: ReadonlyArray<{ text: string; x: number; bold: boolean }>): PlacedLabel[] {
  const placed = labels.map((l) => {
    const width = textWidth(l.text, LABEL_SIZE, l.bold);
    return { text: l.text, bold: l.bold, lineX: l.x, textX: Math.max(2, Math.min(l.x + LABEL_DX, W - 2 - width)), width, row: 0 };
  });
  const rows = labelRows(placed.map((p) => ({ x: p.textX, width: p.width, lineX: p.lineX })));
  placed.forEach((p, i) => {
    p.row = rows[i] ?? 0;
  });
  return placed;
}

export function renderSvgChart(run: SwitchoverRun, options: ChartOptions = {}): string {
  const windowMs = options.windowMs ?? 250;
  const samples: readonly Sample[] = run.samples;
  let tEnd = run.handoverAt;
  for (const s of samples) tEnd = Math.max(tEnd, s.end);
  for (const m of run.marks) tEnd = Math.max(tEnd, m.t);
  const t0 = 0;
  const t1 = Math.max(tEnd, 1000);
  const x = (t: number): number => LEFT + ((t - t0) / (t1 - t0)) * PLOT_W;

  // Phase marks a few pixels apart (phases that follow each other within milliseconds) share one
  // label; the handover gets its own. Rows above the plot are as many as the labels need.
  const marks = [...run.marks].filter((m) => m.t >= t0 && m.t <= t1).sort((a, b) => a.t - b.t);
  const clusterOf: number[] = [];
  const clusterLabels: string[][] = [];
  marks.forEach((m, i) => {
    const prev = i > 0 ? marks[i - 1]! : undefined;
    if (prev && x(m.t) - x(prev.t) < 8) clusterOf.push(clusterOf[i - 1]!);
    else {
      clusterOf.push(clusterLabels.length);
      clusterLabels.push([]);
    }
    const labels = clusterLabels[clusterOf[i]!]!;
    if (!labels.includes(m.label)) labels.push(m.label);
  });
  const firstOfCluster = marks.map((_, i) => i === 0 || clusterOf[i] !== clusterOf[i - 1]);
  const clusterText = (i: number): string => clusterLabels[clusterOf[i]!]!.join(' · ');
  const labelled = marks.flatMap((m, i) => (firstOfCluster[i] ? [{ text: clusterText(i), x: x(m.t), bold: false, mark: i }] : []));
  const placed = placeLabels([...labelled, { text: 'T (handover)', x: x(run.handoverAt), bold: true }]);
  const handoverLabel = placed.at(-1)!;
  const labelOfMark = new Map(labelled.map((l, i) => [l.mark, placed[i]!]));
  const rowCount = Math.max(1, ...placed.map((p) => p.row + 1));

  // Vertical layout: title lines, legend, label rows, panel A, panel B, time axis.
  const titleLines = wrapTitle(run.title, TITLE_SIZE, W - 40);
  const legendY = 24 + (titleLines.length - 1) * TITLE_LINE_H + 26;
  const TOP_A = legendY + 22 + rowCount * LABEL_ROW_H + 6;
  const TOP_B = TOP_A + H_A + 45;
  const H = TOP_B + H_B + 55;
  const rowBaseline = (row: number): number => TOP_A - 8 - row * LABEL_ROW_H;

  // The window after the last request start only holds stragglers; it would draw a fake drop to zero.
  let lastStart = 0;
  for (const s of samples) lastStart = Math.max(lastStart, s.start);
  const lastWindow = Math.floor(lastStart / windowMs) * windowMs;
  const rates = throughputPerSecond(samples, windowMs).filter((r) => r.t < lastWindow);
  const deployments = [...new Set(rates.map((r) => r.servedBy))];
  const failedPerWindow = new Map<number, number>();
  for (const r of rates) failedPerWindow.set(r.t, (failedPerWindow.get(r.t) ?? 0) + r.errorsPerSecond);
  const anyFailed = [...failedPerWindow.values()].some((v) => v > 0);
  const panelA: Panel = { top: TOP_A, height: H_A, yMax: niceMax(Math.max(0, ...rates.map((r) => r.rps))) };
  const yA = (v: number): number => panelA.top + panelA.height - (v / panelA.yMax) * panelA.height;

  const series = bucketSamples(samples, windowMs).filter((p) => p.t < lastWindow);
  const panelB: Panel = { top: TOP_B, height: H_B, yMax: niceMax(Math.max(0, ...series.map((p) => p.p99).filter(Number.isFinite))) };
  const yB = (v: number): number => panelB.top + panelB.height - (v / panelB.yMax) * panelB.height;
  const mid = (t: number): number => x(t + windowMs / 2);

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
      `font-family="Helvetica, Arial, sans-serif">`,
  );
  // The accessible name (screen readers, an image's tooltip): the run's title.
  out.push(`<title>${xmlEscape(run.title)}</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  titleLines.forEach((line, i) => {
    out.push(
      `<text class="title" x="${W / 2}" y="${24 + i * TITLE_LINE_H}" text-anchor="middle" font-size="${TITLE_SIZE}" ` +
        `font-weight="bold">${xmlEscape(line)}</text>`,
    );
  });

  // Legend, one row under the title.
  const legend: { label: string; color: string; dash?: string }[] = deployments.map((d) => ({
    label: `served by ${LABELS[d]}`,
    color: COLORS[d],
  }));
  if (anyFailed) legend.push({ label: 'failed requests', color: FAILED_COLOR });
  legend.push({ label: 'handover command (T)', color: '#111' }, { label: 'phase mark', color: '#555', dash: '5,4' });
  let lx = LEFT;
  out.push(`<g class="legend">`);
  for (const item of legend) {
    out.push(
      `<line x1="${lx}" y1="${legendY - 4}" x2="${lx + 24}" y2="${legendY - 4}" stroke="${item.color}" ` +
        `stroke-width="${item.dash ? 1.5 : 3}"${item.dash ? ` stroke-dasharray="${item.dash}"` : ''}/>`,
    );
    out.push(`<text x="${lx + 30}" y="${legendY}" font-size="12">${xmlEscape(item.label)}</text>`);
    lx += 44 + textWidth(item.label, 12);
  }
  out.push(`</g>`);

  // Panel A: responses per second per deployment.
  out.push(`<g class="panel throughput">`);
  out.push(yAxis(panelA, 26, 'throughput (responses/s)'));
  for (const d of deployments) {
    const pts = rates.filter((r) => r.servedBy === d).map((r): [number, number] => [mid(r.t), yA(r.rps)]);
    out.push(polyline(pts, COLORS[d], `series ${d}`));
  }
  // Failures as red bars from the axis: they must stand out even when they are a handful.
  const barW = Math.max(2, x(windowMs) - x(0) - 1);
  for (const [t, v] of failedPerWindow) {
    if (v > 0)
      out.push(
        `<rect class="failed" x="${fmt(x(t))}" y="${fmt(yA(v))}" width="${fmt(barW)}" ` +
          `height="${fmt(panelA.top + panelA.height - yA(v))}" fill="${FAILED_COLOR}" fill-opacity="0.8"/>`,
      );
  }
  out.push(`</g>`);

  // Panel B: p99 latency per deployment.
  out.push(`<g class="panel latency">`);
  out.push(yAxis(panelB, 26, 'p99 latency (ms)'));
  for (const d of deployments) {
    const pts = series.filter((p) => p.servedBy === d && Number.isFinite(p.p99)).map((p): [number, number] => [mid(p.t), yB(p.p99)]);
    out.push(polyline(pts, COLORS[d], `series p99 ${d}`));
  }
  out.push(`</g>`);

  // Shared time axis under panel B, with light gridlines through panel A too.
  out.push(`<g class="x-axis">`);
  for (const tick of niceTicks(t0 / 1000, t1 / 1000, 10)) {
    const tx = fmt(x(tick * 1000));
    out.push(`<line x1="${tx}" y1="${panelB.top + panelB.height}" x2="${tx}" y2="${panelB.top + panelB.height + 5}" stroke="#444"/>`);
    out.push(`<line x1="${tx}" y1="${panelA.top + panelA.height}" x2="${tx}" y2="${panelA.top + panelA.height + 5}" stroke="#444"/>`);
    out.push(`<text x="${tx}" y="${panelB.top + panelB.height + 19}" text-anchor="middle" font-size="11">${fmt(tick)}</text>`);
  }
  out.push(
    `<text class="axis-title" x="${LEFT + PLOT_W / 2}" y="${H - 12}" text-anchor="middle" font-size="12">` +
      `time since the run started (s) · rates and p99 per ${windowMs} ms window</text>`,
  );
  out.push(`</g>`);

  // Phase markers over both panels, each line from its label's row down; the handover's is solid.
  out.push(`<g class="phase-marks">`);
  marks.forEach((m, i) => {
    const mx = fmt(x(m.t));
    const label = labelOfMark.get(clusterOf.indexOf(clusterOf[i]!));
    const top = rowBaseline(label?.row ?? 0) + 3;
    out.push(`<g class="phase-mark" data-t="${fmt(m.t)}" data-label="${xmlEscape(m.label)}">`);
    out.push(`<line x1="${mx}" y1="${top}" x2="${mx}" y2="${TOP_B + H_B}" stroke="#555" stroke-width="1" stroke-dasharray="5,4"/>`);
    if (firstOfCluster[i] && label)
      out.push(
        `<text class="mark-label" x="${fmt(label.textX)}" y="${rowBaseline(label.row)}" font-size="${LABEL_SIZE}" fill="#333">` +
          `${xmlEscape(label.text)}</text>`,
      );
    out.push(`</g>`);
  });
  const hx = fmt(x(run.handoverAt));
  out.push(`<g class="handover" data-t="${fmt(run.handoverAt)}">`);
  out.push(`<line x1="${hx}" y1="${rowBaseline(handoverLabel.row) + 3}" x2="${hx}" y2="${TOP_B + H_B}" stroke="#111" stroke-width="2"/>`);
  out.push(
    `<text class="mark-label" x="${fmt(handoverLabel.textX)}" y="${rowBaseline(handoverLabel.row)}" font-size="${LABEL_SIZE}" ` +
      `font-weight="bold">${xmlEscape(handoverLabel.text)}</text>`,
  );
  out.push(`</g>`);
  out.push(`</g>`);
  out.push(`</svg>`);
  return `${out.filter((s) => s !== '').join('\n')}\n`;
}
