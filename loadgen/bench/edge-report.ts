/**
 * The TLS and h2 figures of the proxy bench (issue 14's goals), from the saturation samples:
 * - HTTPS/1.1: the gateway's ratio to nginx over TLS 1.3 beside the same ratio in plain HTTP/1.1;
 *   goal: the HTTPS ratio within 10 % of the plain one (no worse than 0.9 × it in req/s, no more
 *   than 1.1 × it in CPU per request);
 * - h2: the gateway's CPU per request against the h2 floor's (goal: at most 1.1 ×), and its ratio
 *   to nginx's h2.
 * Every figure is the median over rounds of the figure within one round (runs made close
 * together), as the other saturation ratios. Pure: reduction and table only.
 */
import { formatRatio, median, type RunSample, type Table, TARGET_LABELS, type TargetId } from './bench-report.js';
import type { WorkloadName } from './bench-workloads.js';

/** How far the HTTPS/1.1 ratio to nginx may fall behind the plain HTTP/1.1 one (a fraction of it). */
export const GOAL_TLS_RATIO_SLACK = 0.1;
/** h2: the gateway's CPU per request at most this × the h2 floor's. */
export const GOAL_H2_CPU_VS_FLOOR = 1.1;

export interface EdgeGoal {
  readonly atLeast?: number;
  readonly atMost?: number;
}

/** How one figure is computed from the runs of one round. */
interface EdgeFigureSpec {
  readonly key: string;
  readonly label: string;
  readonly targets: readonly TargetId[];
  /** From the runs of `targets` (same order) in one round. */
  readonly value: (runs: readonly RunSample[]) => number;
  readonly goal?: EdgeGoal;
}

export interface EdgeFigure {
  readonly key: string;
  readonly label: string;
  readonly workload: WorkloadName;
  readonly value: number;
  readonly rounds: number;
  readonly goal?: EdgeGoal;
  readonly met?: boolean;
}

const rps = (s: RunSample): number => s.rps;
const cpu = (s: RunSample): number => s.cpuUsPerRequest ?? NaN;
const div = (a: number, b: number): number => (b === 0 || Number.isNaN(a) || Number.isNaN(b) ? NaN : a / b);
const name = (t: TargetId): string => TARGET_LABELS[t];

/** (a / b) over TLS against (c / d) in plain HTTP/1.1. */
function ratioOfRatios(f: (s: RunSample) => number): (r: readonly RunSample[]) => number {
  return ([a, b, c, d]) => div(div(f(a!), f(b!)), div(f(c!), f(d!)));
}

function pair(f: (s: RunSample) => number): (r: readonly RunSample[]) => number {
  return ([a, b]) => div(f(a!), f(b!));
}

const TLS_PAIR: readonly TargetId[] = ['gateway-raw-tls', 'nginx-1w-tls'];
const PLAIN_PAIR: readonly TargetId[] = ['gateway-raw', 'nginx-1w'];

export const EDGE_FIGURES: readonly EdgeFigureSpec[] = [
  { key: 'https_rps_vs_nginx', label: `req/s: ${name('gateway-raw-tls')} / ${name('nginx-1w-tls')}`, targets: TLS_PAIR, value: pair(rps) },
  { key: 'plain_rps_vs_nginx', label: `req/s: ${name('gateway-raw')} / ${name('nginx-1w')}`, targets: PLAIN_PAIR, value: pair(rps) },
  {
    key: 'https_rps_ratio_vs_plain',
    label: 'req/s: HTTPS/1.1 ratio to nginx / plain HTTP/1.1 ratio to nginx',
    targets: [...TLS_PAIR, ...PLAIN_PAIR],
    value: ratioOfRatios(rps),
    goal: { atLeast: 1 - GOAL_TLS_RATIO_SLACK },
  },
  {
    key: 'https_cpu_vs_nginx',
    label: `CPU µs/req: ${name('gateway-raw-tls')} / ${name('nginx-1w-tls')}`,
    targets: TLS_PAIR,
    value: pair(cpu),
  },
  { key: 'plain_cpu_vs_nginx', label: `CPU µs/req: ${name('gateway-raw')} / ${name('nginx-1w')}`, targets: PLAIN_PAIR, value: pair(cpu) },
  {
    key: 'https_cpu_ratio_vs_plain',
    label: 'CPU µs/req: HTTPS/1.1 ratio to nginx / plain HTTP/1.1 ratio to nginx',
    targets: [...TLS_PAIR, ...PLAIN_PAIR],
    value: ratioOfRatios(cpu),
    goal: { atMost: 1 + GOAL_TLS_RATIO_SLACK },
  },
  // The goal is judged on the pair as deployed (bundled, plain node): under tsx each function the
  // gateway creates per request costs a keepNames call the floor's few functions do not.
  {
    key: 'h2_compiled_cpu_vs_floor',
    label: `CPU µs/req: ${name('gateway-h2-compiled')} / ${name('h2-floor-compiled')}`,
    targets: ['gateway-h2-compiled', 'h2-floor-compiled'],
    value: pair(cpu),
    goal: { atMost: GOAL_H2_CPU_VS_FLOOR },
  },
  {
    key: 'h2_compiled_rps_vs_floor',
    label: `req/s: ${name('gateway-h2-compiled')} / ${name('h2-floor-compiled')}`,
    targets: ['gateway-h2-compiled', 'h2-floor-compiled'],
    value: pair(rps),
  },
  {
    key: 'h2_compiled_rps_vs_nginx',
    label: `req/s: ${name('gateway-h2-compiled')} / ${name('nginx-1w-h2')}`,
    targets: ['gateway-h2-compiled', 'nginx-1w-h2'],
    value: pair(rps),
  },
  {
    key: 'h2_compiled_cpu_vs_nginx',
    label: `CPU µs/req: ${name('gateway-h2-compiled')} / ${name('nginx-1w-h2')}`,
    targets: ['gateway-h2-compiled', 'nginx-1w-h2'],
    value: pair(cpu),
  },
  {
    key: 'h2_cpu_vs_floor',
    label: `CPU µs/req: ${name('gateway-h2')} / ${name('h2-floor')} (both under tsx)`,
    targets: ['gateway-h2', 'h2-floor'],
    value: pair(cpu),
  },
  {
    key: 'h2_rps_vs_floor',
    label: `req/s: ${name('gateway-h2')} / ${name('h2-floor')}`,
    targets: ['gateway-h2', 'h2-floor'],
    value: pair(rps),
  },
  {
    key: 'h2_rps_vs_nginx',
    label: `req/s: ${name('gateway-h2')} / ${name('nginx-1w-h2')}`,
    targets: ['gateway-h2', 'nginx-1w-h2'],
    value: pair(rps),
  },
  {
    key: 'h2_cpu_vs_nginx',
    label: `CPU µs/req: ${name('gateway-h2')} / ${name('nginx-1w-h2')}`,
    targets: ['gateway-h2', 'nginx-1w-h2'],
    value: pair(cpu),
  },
  {
    key: 'h2_floor_cpu_vs_nginx',
    label: `CPU µs/req: ${name('h2-floor')} / ${name('nginx-1w-h2')}`,
    targets: ['h2-floor', 'nginx-1w-h2'],
    value: pair(cpu),
  },
];

function meets(value: number, goal: EdgeGoal): boolean {
  if (Number.isNaN(value)) return false;
  return (goal.atLeast === undefined || value >= goal.atLeast) && (goal.atMost === undefined || value <= goal.atMost);
}

/** Every figure whose targets all ran in at least one common round, per workload. */
export function edgeFigures(samples: readonly RunSample[], workloads: readonly WorkloadName[]): EdgeFigure[] {
  return EDGE_FIGURES.flatMap((spec) =>
    workloads.flatMap((workload): EdgeFigure[] => {
      const mine = samples.filter((s) => s.workload === workload);
      const rounds = [...new Set(mine.map((s) => s.round))];
      const perRound = rounds.flatMap((round) => {
        const runs = spec.targets.map((t) => mine.find((s) => s.round === round && s.target === t));
        return runs.every((r) => r !== undefined) ? [spec.value(runs as RunSample[])] : [];
      });
      if (perRound.length === 0) return [];
      const value = median(perRound);
      const figure = { key: spec.key, label: spec.label, workload, value, rounds: perRound.length };
      return [spec.goal === undefined ? figure : { ...figure, goal: spec.goal, met: meets(value, spec.goal) }];
    }),
  );
}

function goalText(g: EdgeGoal | undefined): string {
  if (g === undefined) return '—';
  return g.atLeast !== undefined ? `≥ ${g.atLeast.toFixed(2)}` : `≤ ${(g.atMost ?? NaN).toFixed(2)}`;
}

export function edgeTable(
  figures: readonly EdgeFigure[],
  workloads: ReadonlyArray<{ readonly name: WorkloadName; readonly label: string }>,
): Table {
  const rows = EDGE_FIGURES.flatMap((spec) => {
    const cells = workloads.map((w) => figures.find((f) => f.key === spec.key && f.workload === w.name));
    if (cells.every((c) => c === undefined)) return [];
    const shown = cells.map((c) => {
      if (c === undefined) return '—';
      return c.met === undefined ? formatRatio(c.value) : `${formatRatio(c.value)} ${c.met ? '✓' : '✗'}`;
    });
    return [[spec.label, goalText(spec.goal), ...shown]];
  });
  return {
    title: 'HTTPS and h2 (saturation; median of per-round figures; CPU µs/req is the steady figure on a shared host)',
    header: ['figure', 'goal', ...workloads.map((w) => w.label)],
    rows,
  };
}
