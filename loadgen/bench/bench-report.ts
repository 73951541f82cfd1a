/**
 * Pure reduction of proxy-bench samples into medians, ratios and added
 * latencies, and their rendering as a plain-text or Markdown table.
 */
import type { WorkloadName } from './bench-workloads.js';
import type { LatencySummary } from './latency-histogram.js';

export type TargetId =
  | 'direct'
  | 'gateway-raw'
  | 'gateway-undici'
  | 'gateway-http-proxy'
  | 'gateway-baseline'
  | 'gateway-compiled'
  | 'floor'
  | 'llhttp-floor'
  | 'tcp-pipe'
  | 'nginx-1w'
  | 'nginx-auto'
  | 'gateway-raw-tls'
  | 'nginx-1w-tls'
  | 'gateway-h2'
  | 'h2-floor'
  | 'gateway-h2-compiled'
  | 'h2-floor-compiled'
  | 'nginx-1w-h2';

/** Every target, in the order the bench runs them. */
export const TARGET_IDS: readonly TargetId[] = [
  'direct',
  'gateway-raw',
  'gateway-undici',
  'gateway-http-proxy',
  'gateway-baseline',
  'gateway-compiled',
  'floor',
  'llhttp-floor',
  'tcp-pipe',
  'nginx-1w',
  'nginx-auto',
  'gateway-raw-tls',
  'nginx-1w-tls',
  'gateway-h2',
  'h2-floor',
  'gateway-h2-compiled',
  'h2-floor-compiled',
  'nginx-1w-h2',
];

export const TARGET_LABELS: Readonly<Record<TargetId, string>> = Object.freeze({
  direct: 'upstream direct',
  'gateway-raw': 'gateway (raw engine: llhttp, byte pipe)',
  'gateway-undici': 'gateway (undici)',
  'gateway-http-proxy': 'gateway (http-proxy)',
  'gateway-baseline': 'gateway (undici, baseline checkout)',
  'gateway-compiled': 'gateway (raw engine, compiled: plain node, as deployed)',
  floor: 'floor (node:http + undici, nothing else)',
  'llhttp-floor': 'llhttp floor (llhttp parse both ways, headers rewritten, bytes piped: the limit for an HTTP engine in Node)',
  'tcp-pipe': 'TCP pipe (no HTTP: the limit for a Node proxy)',
  'nginx-1w': 'nginx (1 worker)',
  'nginx-auto': 'nginx (auto = 2 workers)',
  'gateway-raw-tls': 'gateway (raw engine), HTTPS/1.1',
  'nginx-1w-tls': 'nginx (1 worker), HTTPS/1.1',
  'gateway-h2': 'gateway, h2 (node:http2)',
  'h2-floor': 'h2 floor (node:http2 + undici, nothing else)',
  'gateway-h2-compiled': 'gateway, h2, compiled (plain node, as deployed)',
  'h2-floor-compiled': 'h2 floor, compiled (plain node)',
  'nginx-1w-h2': 'nginx (1 worker), h2',
});

/** Goal: gateway saturation req/s at least this fraction of nginx with one worker. */
export const GOAL_RPS_VS_NGINX = 0.5;
/** Goal (issue 13): the raw engine's saturation req/s at least this fraction of nginx with one worker. */
export const GOAL_RAW_RPS_VS_NGINX = 0.8;
/** Goal (issue 13): the raw engine at least this many times http-proxy's req/s. */
export const GOAL_RAW_RPS_VS_HTTP_PROXY = 3;
/** Goal (issue 13): the raw engine's CPU time per request at most this many times nginx's (one worker). */
export const GOAL_RAW_CPU_VS_NGINX = 1.3;
/** Goal: p99 added over direct at the fixed rate, µs. */
export const GOAL_ADDED_P99_US = 2000;

/** One measured run (one target, one workload, one round). */
export interface RunSample {
  readonly target: TargetId;
  readonly workload: WorkloadName;
  readonly round: number;
  readonly rps: number;
  readonly completed: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly latencyUs: LatencySummary;
  /** CPU µs the target's processes spent per request (Linux only). */
  readonly cpuUsPerRequest?: number | undefined;
  /** Cores other processes on the machine kept busy during the run (Linux only). */
  readonly otherCores?: number | undefined;
}

export type FixedGenerator = 'paced' | 'autocannon';

export interface FixedSample extends RunSample {
  readonly generator: FixedGenerator;
  /** The rate asked for, req/s. */
  readonly rate: number;
  /** Paced runs: how late the generator sent requests after their due time (p99 and max, µs). */
  readonly sendLateUs?: { readonly p99: number; readonly max: number } | undefined;
}

export interface SaturationCell {
  readonly target: TargetId;
  readonly workload: WorkloadName;
  readonly rounds: number;
  readonly rps: number;
  readonly rpsMin: number;
  readonly rpsMax: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Median CPU µs per request of the target; NaN when not measured. */
  readonly cpuUsPerRequest: number;
  /** Median cores kept busy by processes outside the bench; NaN when not measured. */
  readonly otherCores: number;
  readonly failures: number;
}

export interface RatioFigure {
  readonly numerator: TargetId;
  readonly denominator: TargetId;
  readonly workload: WorkloadName;
  /** Median over rounds of the within-round ratio (pairs runs made close together). */
  readonly value: number;
  /** Set when the ratio has a lower bound as its goal (req/s). */
  readonly goalAtLeast?: number;
  /** Set when the ratio has an upper bound as its goal (CPU per request). */
  readonly goalAtMost?: number;
}

export interface FixedCell {
  readonly target: TargetId;
  readonly workload: WorkloadName;
  readonly generator: FixedGenerator;
  readonly rate: number;
  readonly achievedRps: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  /** Median cores kept busy by processes outside the bench; NaN when not measured. */
  readonly otherCores: number;
  /** Median CPU time of the target's own processes per request at this rate (µs); NaN when not measured. */
  readonly cpuUsPerRequest: number;
  readonly failures: number;
  /** Median over rounds of (this p99 − direct p99) in the same round; undefined for direct. */
  readonly addedP99Us?: number;
  /** Lowest and highest of those per-round differences. */
  readonly addedP99RangeUs?: { readonly min: number; readonly max: number };
  /** Paced runs: the most any of its rounds' requests left late (generator stall), µs; NaN when not measured. */
  readonly sendLateMaxUs: number;
}

/** Median; NaN for an empty list. */
export function median(values: readonly number[]): number {
  const xs = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** a / b; NaN when b is 0 or either is NaN. */
export function ratio(a: number, b: number): number {
  return b === 0 || Number.isNaN(a) || Number.isNaN(b) ? NaN : a / b;
}

/** f of each run of `a` and the run of `b` from the same round (rounds without both are left out). */
export function pairedValues<T extends RunSample>(a: readonly T[], b: readonly T[], f: (x: T, y: T) => number): number[] {
  const byRound = new Map(b.map((s) => [s.round, s]));
  return a.flatMap((x) => {
    const y = byRound.get(x.round);
    return y ? [f(x, y)] : [];
  });
}

/** Median of f(a, b) over rounds present on both sides. */
export function pairedMedian<T extends RunSample>(a: readonly T[], b: readonly T[], f: (x: T, y: T) => number): number {
  return median(pairedValues(a, b, f));
}

function pick<T extends RunSample>(samples: readonly T[], target: TargetId, workload: WorkloadName): T[] {
  return samples.filter((s) => s.target === target && s.workload === workload);
}

/** Median and largest load other processes put on the machine during the runs, cores; undefined if unmeasured. */
export function otherLoad(samples: readonly RunSample[]): { median: number; max: number } | undefined {
  const xs = samples.flatMap((s) => (s.otherCores === undefined ? [] : [s.otherCores]));
  return xs.length === 0 ? undefined : { median: median(xs), max: Math.max(...xs) };
}

export function summarizeSaturation(
  samples: readonly RunSample[],
  targets: readonly TargetId[],
  workloads: readonly WorkloadName[],
): SaturationCell[] {
  return workloads.flatMap((workload) =>
    targets.flatMap((target) => {
      const runs = pick(samples, target, workload);
      if (runs.length === 0) return [];
      const rps = runs.map((r) => r.rps);
      return [
        {
          target,
          workload,
          rounds: runs.length,
          rps: median(rps),
          rpsMin: Math.min(...rps),
          rpsMax: Math.max(...rps),
          p50Us: median(runs.map((r) => r.latencyUs.p50)),
          p99Us: median(runs.map((r) => r.latencyUs.p99)),
          cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest ?? NaN)),
          otherCores: median(runs.map((r) => r.otherCores ?? NaN)),
          failures: runs.reduce((n, r) => n + r.errors + r.non2xx, 0),
        },
      ];
    }),
  );
}

/** The saturation ratios the bench reports: [numerator, denominator, goal]. */
export const RATIO_PAIRS: ReadonlyArray<readonly [TargetId, TargetId, number | undefined]> = [
  ['gateway-raw', 'nginx-1w', GOAL_RAW_RPS_VS_NGINX],
  ['gateway-raw', 'gateway-http-proxy', GOAL_RAW_RPS_VS_HTTP_PROXY],
  ['gateway-raw', 'gateway-undici', undefined],
  ['gateway-raw', 'direct', undefined],
  ['gateway-raw', 'tcp-pipe', undefined],
  ['tcp-pipe', 'nginx-1w', undefined],
  ['gateway-undici', 'nginx-1w', GOAL_RPS_VS_NGINX],
  ['gateway-http-proxy', 'nginx-1w', GOAL_RPS_VS_NGINX],
  ['floor', 'nginx-1w', undefined],
  ['gateway-undici', 'floor', undefined],
  ['gateway-undici', 'gateway-baseline', undefined],
  ['gateway-compiled', 'gateway-raw', undefined],
  ['gateway-compiled', 'nginx-1w', GOAL_RAW_RPS_VS_NGINX],
  ['gateway-compiled', 'gateway-http-proxy', GOAL_RAW_RPS_VS_HTTP_PROXY],
  ['gateway-compiled', 'llhttp-floor', undefined],
  // Whether the floor of any llhttp-based Node proxy meets the raw engine's goals itself.
  ['llhttp-floor', 'nginx-1w', GOAL_RAW_RPS_VS_NGINX],
  ['llhttp-floor', 'gateway-http-proxy', GOAL_RAW_RPS_VS_HTTP_PROXY],
  ['gateway-undici', 'nginx-auto', undefined],
  ['gateway-undici', 'direct', undefined],
  ['gateway-http-proxy', 'direct', undefined],
  ['nginx-1w', 'direct', undefined],
];

/**
 * The CPU-per-request ratios the bench reports: [numerator, denominator, goal (at most)]. CPU time
 * per request is steadier than req/s on a shared machine, and issue 13 sets a goal on it too.
 */
export const CPU_RATIO_PAIRS: ReadonlyArray<readonly [TargetId, TargetId, number | undefined]> = [
  ['gateway-compiled', 'nginx-1w', GOAL_RAW_CPU_VS_NGINX],
  ['gateway-raw', 'nginx-1w', GOAL_RAW_CPU_VS_NGINX],
  // Whether the floor of any llhttp-based Node proxy meets the raw engine's goal itself.
  ['llhttp-floor', 'nginx-1w', GOAL_RAW_CPU_VS_NGINX],
  ['tcp-pipe', 'nginx-1w', undefined],
  ['gateway-compiled', 'llhttp-floor', undefined],
  ['gateway-compiled', 'tcp-pipe', undefined],
];

/** Median over rounds of numerator / denominator of `value`, for each pair with samples on both sides. */
function pairRatios(
  pairs: ReadonlyArray<readonly [TargetId, TargetId, number | undefined]>,
  samples: readonly RunSample[],
  workloads: readonly WorkloadName[],
  value: (s: RunSample) => number,
  goalKey: 'goalAtLeast' | 'goalAtMost',
): RatioFigure[] {
  return pairs.flatMap(([numerator, denominator, goal]) =>
    workloads.flatMap((workload) => {
      const a = pick(samples, numerator, workload);
      const b = pick(samples, denominator, workload);
      if (a.length === 0 || b.length === 0) return [];
      const figure: RatioFigure = { numerator, denominator, workload, value: pairedMedian(a, b, (x, y) => ratio(value(x), value(y))) };
      return [goal === undefined ? figure : { ...figure, [goalKey]: goal }];
    }),
  );
}

export function saturationRatios(samples: readonly RunSample[], workloads: readonly WorkloadName[]): RatioFigure[] {
  return pairRatios(RATIO_PAIRS, samples, workloads, (s) => s.rps, 'goalAtLeast');
}

/** CPU µs per request of numerator over denominator, the median of per-round ratios; NaN where CPU was not measured. */
export function cpuRatios(samples: readonly RunSample[], workloads: readonly WorkloadName[]): RatioFigure[] {
  return pairRatios(CPU_RATIO_PAIRS, samples, workloads, (s) => s.cpuUsPerRequest ?? NaN, 'goalAtMost');
}

/** Whether a ratio meets its goal; undefined when it has none. NaN (unmeasured) meets none. */
export function ratioMet(f: RatioFigure): boolean | undefined {
  if (f.goalAtLeast !== undefined) return f.value >= f.goalAtLeast;
  if (f.goalAtMost !== undefined) return f.value <= f.goalAtMost;
  return undefined;
}

export function summarizeFixed(
  samples: readonly FixedSample[],
  targets: readonly TargetId[],
  workloads: readonly WorkloadName[],
): FixedCell[] {
  const generators: FixedGenerator[] = ['paced', 'autocannon'];
  return generators.flatMap((generator) =>
    workloads.flatMap((workload) => {
      const mine = samples.filter((s) => s.generator === generator);
      const direct = pick(mine, 'direct', workload);
      return targets.flatMap((target): FixedCell[] => {
        const runs = pick(mine, target, workload);
        if (runs.length === 0) return [];
        const cell: FixedCell = {
          target,
          workload,
          generator,
          rate: runs[0]!.rate,
          achievedRps: median(runs.map((r) => r.rps)),
          p50Us: median(runs.map((r) => r.latencyUs.p50)),
          p90Us: median(runs.map((r) => r.latencyUs.p90)),
          p99Us: median(runs.map((r) => r.latencyUs.p99)),
          p999Us: median(runs.map((r) => r.latencyUs.p999)),
          otherCores: median(runs.map((r) => r.otherCores ?? NaN)),
          cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest ?? NaN)),
          failures: runs.reduce((n, r) => n + r.errors + r.non2xx, 0),
          sendLateMaxUs: runs.some((r) => r.sendLateUs) ? Math.max(...runs.map((r) => r.sendLateUs?.max ?? 0)) : NaN,
        };
        if (target === 'direct' || direct.length === 0) return [cell];
        const added = pairedValues(runs, direct, (x, y) => x.latencyUs.p99 - y.latencyUs.p99);
        return [{ ...cell, addedP99Us: median(added), addedP99RangeUs: { min: Math.min(...added), max: Math.max(...added) } }];
      });
    }),
  );
}

export type TableFormat = 'text' | 'markdown';

export interface Table {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
  /** How many leading columns are text (left-aligned); the rest are figures. Default 1. */
  readonly textColumns?: number;
}

/** Renders one table: text columns left-aligned, figures right-aligned. */
export function renderTable(t: Table, format: TableFormat): string {
  const isText = (i: number): boolean => i < (t.textColumns ?? 1);
  if (format === 'markdown') {
    const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
    const sep = `|${t.header.map((_, i) => (isText(i) ? ' --- ' : ' ---: ')).join('|')}|`;
    return [`**${t.title}**`, '', line(t.header), sep, ...t.rows.map(line)].join('\n');
  }
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (isText(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [t.title, line(t.header), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

export function formatInt(n: number): string {
  return Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US');
}

/** CPU µs per request, to a tenth: the proxies here spend 8-40 µs, so whole µs would hide 5-10 % steps. */
export function formatCpuUs(n: number): string {
  return Number.isNaN(n) ? '—' : n.toFixed(1);
}

export function formatMs(us: number | undefined): string {
  return us === undefined || Number.isNaN(us) ? '—' : (us / 1000).toFixed(2);
}

/** Cores to two decimals. */
export function formatCores(v: number): string {
  return Number.isNaN(v) ? '—' : v.toFixed(2);
}

export function formatRatio(v: number): string {
  return Number.isNaN(v) ? '—' : v.toFixed(2);
}

function mark(met: boolean): string {
  return met ? '✓' : '✗';
}

/** Everything the tables show. */
export interface ReportView {
  readonly heading: string;
  readonly workloads: ReadonlyArray<{ readonly name: WorkloadName; readonly label: string }>;
  readonly targets: readonly TargetId[];
  readonly saturationTitle: string;
  readonly saturation: readonly SaturationCell[];
  readonly ratios: readonly RatioFigure[];
  /** CPU µs per request ratios (cpuRatios). */
  readonly cpuRatios: readonly RatioFigure[];
  readonly fixedTargets: readonly TargetId[];
  readonly fixedTitles: Readonly<Record<FixedGenerator, string>>;
  readonly fixed: readonly FixedCell[];
  /** More tables, after the saturation ratios (the HTTPS and h2 figures, the reload under load). */
  readonly sections?: readonly Table[];
  readonly notes: readonly string[];
}

function label(target: TargetId, failures: number): string {
  return failures > 0 ? `${TARGET_LABELS[target]} (${failures} failed)` : TARGET_LABELS[target];
}

export function saturationTable(v: ReportView): Table {
  const header = ['target', ...v.workloads.flatMap((w) => [`${w.label} req/s`, 'range', 'p99 ms', 'CPU µs/req']), 'others (cores)'];
  const rows = v.targets.flatMap((target) => {
    const cells = v.workloads.map((w) => v.saturation.find((c) => c.target === target && c.workload === w.name));
    if (cells.every((c) => c === undefined)) return [];
    const failures = cells.reduce((n, c) => n + (c?.failures ?? 0), 0);
    return [
      [
        label(target, failures),
        ...cells.flatMap((c) =>
          c
            ? [formatInt(c.rps), `${formatInt(c.rpsMin)}–${formatInt(c.rpsMax)}`, formatMs(c.p99Us), formatCpuUs(c.cpuUsPerRequest)]
            : ['—', '—', '—', '—'],
        ),
        formatCores(median(cells.flatMap((c) => (c ? [c.otherCores] : [])))),
      ],
    ];
  });
  return { title: v.saturationTitle, header, rows };
}

function pairTable(
  v: ReportView,
  title: string,
  firstColumn: string,
  pairs: ReadonlyArray<readonly [TargetId, TargetId, number | undefined]>,
  figures: readonly RatioFigure[],
  goalSign: '≥' | '≤',
): Table {
  const header = [firstColumn, 'goal', ...v.workloads.map((w) => w.label)];
  const rows = pairs.flatMap(([num, den, goal]) => {
    const figs = v.workloads.map((w) => figures.find((r) => r.numerator === num && r.denominator === den && r.workload === w.name));
    if (figs.every((f) => f === undefined)) return [];
    const cells = figs.map((f) => {
      if (!f) return '—';
      const met = ratioMet(f);
      // An unmeasured ratio (NaN) is a dash, not a missed goal.
      return met === undefined || Number.isNaN(f.value) ? formatRatio(f.value) : `${formatRatio(f.value)} ${mark(met)}`;
    });
    return [[`${TARGET_LABELS[num]} / ${TARGET_LABELS[den]}`, goal === undefined ? '—' : `${goalSign} ${goal.toFixed(2)}`, ...cells]];
  });
  return { title, header, rows };
}

export function ratioTable(v: ReportView): Table {
  return pairTable(v, 'Saturation ratios', 'req/s ratio (median of per-round ratios)', RATIO_PAIRS, v.ratios, '≥');
}

export function cpuRatioTable(v: ReportView): Table {
  return pairTable(
    v,
    'CPU per request ratios (median of per-round ratios; lower is better)',
    'CPU µs/req ratio (saturation)',
    CPU_RATIO_PAIRS,
    v.cpuRatios,
    '≤',
  );
}

export function fixedTable(v: ReportView, generator: FixedGenerator): Table {
  const paced = generator === 'paced';
  const header = [
    'target',
    'workload',
    'rate req/s',
    'achieved',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'p99.9 ms',
    'added p99 ms',
    'range',
    'goal',
    'CPU µs/req',
    'others (cores)',
    ...(paced ? ['sent late, max ms'] : []),
  ];
  const rows = v.workloads.flatMap((w) =>
    v.fixedTargets.flatMap((target) => {
      const c = v.fixed.find((x) => x.generator === generator && x.target === target && x.workload === w.name);
      if (!c) return [];
      const goal = c.addedP99Us === undefined ? '—' : `≤ ${formatMs(GOAL_ADDED_P99_US)} ${mark(c.addedP99Us <= GOAL_ADDED_P99_US)}`;
      const signed = (us: number): string => `${us >= 0 ? '+' : ''}${formatMs(us)}`;
      const added = c.addedP99Us === undefined ? '—' : signed(c.addedP99Us);
      const range = c.addedP99RangeUs === undefined ? '—' : `${signed(c.addedP99RangeUs.min)} to ${signed(c.addedP99RangeUs.max)}`;
      const row = [
        label(target, c.failures),
        w.label,
        formatInt(c.rate),
        formatInt(c.achievedRps),
        formatMs(c.p50Us),
        formatMs(c.p90Us),
        formatMs(c.p99Us),
        formatMs(c.p999Us),
        added,
        range,
        goal,
        formatCpuUs(c.cpuUsPerRequest),
        formatCores(c.otherCores),
      ];
      return [paced ? [...row, formatMs(c.sendLateMaxUs)] : row];
    }),
  );
  return { title: v.fixedTitles[generator], header, rows, textColumns: 2 };
}

/** The whole report: heading, tables, notes. */
export function renderReport(v: ReportView, format: TableFormat): string {
  const tables = [
    saturationTable(v),
    ratioTable(v),
    cpuRatioTable(v),
    ...(v.sections ?? []),
    fixedTable(v, 'paced'),
    fixedTable(v, 'autocannon'),
  ].filter((t) => t.rows.length > 0);
  const heading = format === 'markdown' ? `### ${v.heading}` : v.heading;
  const notes = v.notes.map((n) => (format === 'markdown' ? `- ${n}` : `* ${n}`));
  return `${[heading, ...tables.map((t) => renderTable(t, format)), notes.join('\n')].filter((s) => s.length > 0).join('\n\n')}\n`;
}
