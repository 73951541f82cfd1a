/** Assembles the results document and the table view from the measured samples. */
import type { BenchOptions } from './bench-options.js';
import {
  cpuRatios,
  GOAL_ADDED_P99_US,
  GOAL_RAW_CPU_VS_NGINX,
  GOAL_RAW_RPS_VS_HTTP_PROXY,
  GOAL_RAW_RPS_VS_NGINX,
  GOAL_RPS_VS_NGINX,
  otherLoad,
  type RatioFigure,
  ratioMet,
  saturationRatios,
  summarizeFixed,
  summarizeSaturation,
  type FixedSample,
  type ReportView,
  type RunSample,
  type TargetId,
} from './bench-report.js';
import { FIXED_TARGETS } from './bench-phases.js';
import { targetProtocol } from './bench-targets.js';
import { WORKLOADS, type WorkloadName } from './bench-workloads.js';
import { edgeFigures, edgeTable, GOAL_H2_CPU_VS_FLOOR, GOAL_TLS_RATIO_SLACK } from './edge-report.js';
import { reloadTable, summarizeReload, type ReloadRun } from './reload-report.js';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly totalMemGiB: number;
  readonly platform: string;
  readonly kernel: string;
  readonly node: string;
  readonly nginx: string;
  readonly autocannon: string;
  /** wrk's version ("debian/4.1.0-3+b2"), when it ran (--generator wrk). */
  readonly wrk?: string;
  readonly loadavgAtStart: readonly number[];
  readonly loadavgAtEnd: readonly number[];
}

export interface BenchInput {
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly machine: MachineInfo;
  readonly opts: BenchOptions;
  readonly targets: readonly TargetId[];
  readonly saturation: readonly RunSample[];
  readonly fixedRates: ReadonlyMap<WorkloadName, number>;
  /** The target whose saturation set the fixed rates. */
  readonly rateReference: TargetId;
  readonly fixed: readonly FixedSample[];
  /** What each TLS target negotiated in the smoke check ("TLSv1.3 h2"). */
  readonly negotiated: Readonly<Partial<Record<TargetId, string>>>;
  /** The reload under load, unless skipped (--reloads 0). */
  readonly reload: ReloadRun | undefined;
}

const AUTOCANNON = 'autocannon (in the bench process)';
const WRK = 'wrk (1 thread, C, its own process)';
const H2_LOOP = "the bench's h2 loop (in the bench process)";

/** Which generator loaded which targets at saturation ("wrk (...) on plain HTTP/1.1, autocannon (...) on HTTPS/1.1"). */
export function saturationGenerators(o: BenchOptions, targets: readonly TargetId[]): string {
  const has = (p: 'https' | 'h2'): boolean => targets.some((t) => targetProtocol(t) === p);
  const parts =
    o.generator === 'wrk'
      ? [`${WRK} on plain HTTP/1.1`, ...(has('https') ? [`${AUTOCANNON} on HTTPS/1.1`] : [])]
      : [has('https') ? `${AUTOCANNON} on HTTP/1.1 and HTTPS/1.1` : AUTOCANNON];
  return [...parts, ...(has('h2') ? [`${H2_LOOP} on h2`] : [])].join(', ');
}

/** The first note: where the saturation generator runs and what that does to the figures. */
function generatorNote(o: BenchOptions, machine: MachineInfo, targets: readonly TargetId[]): string {
  const shared =
    `The upstream (node:http) and the proxy each run in their own process, all on the same ${machine.cpus} cores; ` +
    'at saturation they compete for CPU, so figures are comparable with each other, not absolute capacity.';
  if (o.generator !== 'wrk')
    return (
      `Saturation load generator: autocannon, in the bench process (--generator autocannon, the default), ` +
      `so it takes CPU the proxy under test would otherwise have (--generator wrk leaves it that core). ${shared}`
    );
  const https = targets.some((t) => targetProtocol(t) === 'https');
  const version = machine.wrk === undefined ? '' : ` ${machine.wrk}`;
  return (
    `Saturation load generator for plain-HTTP targets: wrk${version} (--generator wrk: C, 1 thread, ` +
    `${o.connections} connections, its own process, runs of whole seconds), as issue 13's nginx reference was measured; ` +
    "it leaves the proxy under test the core an in-process generator would take, and its CPU counts as the bench's, " +
    'not as "others". Its latency percentiles are its own (every response, not only 2xx; no p99.9). ' +
    (https
      ? 'HTTPS/1.1 targets are still loaded by autocannon in the bench process, so their req/s do not compare with ' +
        "the plain ones, and the HTTPS and h2 table's ratio of the HTTPS ratio to the plain one mixes the two generators. "
      : '') +
    `The fixed-rate phase is unchanged (paced and autocannon, in the bench process). ${shared}`
  );
}

const NOTES = (
  o: BenchOptions,
  machine: MachineInfo,
  targets: readonly TargetId[],
  others: { median: number; max: number } | undefined,
): string[] => [
  generatorNote(o, machine, targets),
  others
    ? `"others (cores)": CPU that processes outside the bench used during the runs ` +
      `(median over all runs ${others.median.toFixed(2)} cores, worst run ${others.max.toFixed(2)}); ` +
      `it is taken from the bench, so req/s and latency move with it (per-run figures in the JSON).`
    : 'CPU use of other processes could not be measured on this OS.',
  "CPU µs/req is the CPU time of the target's own processes per completed request " +
    '(direct: the upstream; a proxy: the proxy alone, not the upstream behind it); ' +
    'it is steadier than req/s on a shared machine, ' +
    'though it also rises when the machine is crowded or lightly loaded (less batching per event-loop turn). ' +
    'The fixed-rate tables show it at that rate: every target pays more per request than at saturation ' +
    '(a wake-up per request instead of a batch per wake-up); ' +
    'the floor (node:http + one undici Pool, nothing else) shows what any Node proxy pays there.',
  'Three floors run beside the gateway: the floor (node:http + one undici Pool, nothing else), ' +
    "the llhttp floor (Node's own llhttp parses request and response heads, strict; hop-by-hop headers dropped, " +
    'X-Forwarded-For, Via and X-Request-Id added; Content-Length bodies piped; one upstream connection per client ' +
    'connection; bundled and run by plain node as gateway-compiled is: the least any HTTP/1.1 engine on llhttp in Node ' +
    'does) and the TCP pipe (no HTTP at all). Where the llhttp floor misses a goal against nginx, so would any ' +
    'Node engine built on llhttp on this host. ' +
    '"CPU per request ratios" divide the CPU µs per request of two targets in the same round (median over rounds).',
  'Latency percentiles come from an hdr-histogram in microseconds fed by every 2xx response ' +
    `(autocannon's own histogram keeps whole milliseconds)${o.generator === 'wrk' ? ", except in wrk's runs (above)" : ''}.`,
  `"paced" is an open-loop generator (undici client, at most ${o.connections} connections): ` +
    `request i is due at start + i/rate and its latency counts from that due time, ` +
    `so it is corrected for coordinated omission (as wrk2 does). ` +
    `Requests due within one ~1 ms timer tick leave together, ` +
    `so every target, direct included, carries up to ~1 ms of generator jitter; "added p99" subtracts it out. ` +
    `"added p99" is the median over rounds of (target p99 − direct p99 in the same round); ` +
    `"range" is its lowest and highest round, so a single stalled run shows there without setting the median. ` +
    `"sent late, max ms" is how long after its due time the generator handed its latest request to the client ` +
    `(its own timer slack and stalls, in any round): when it is large, that run's tail is partly the generator's.`,
  `"autocannon" uses overallRate: each connection may send rate/${o.connections} requests per 1-second window ` +
    `and sends them back-to-back at the start of the window, then idles, ` +
    `so the load arrives in bursts of up to ${o.connections} concurrent requests. ` +
    `Its latency counts from the actual send and is NOT corrected for coordinated omission ` +
    `(autocannon's built-in correction is switched off because it assumes a 1 ms expected interval whatever the rate).`,
  'nginx forwards with fewer headers than the gateway (no X-Forwarded-*, Via, X-Request-Id, x-northwest-* reply headers). ' +
    'keepalive_requests is raised for nginx so neither proxy closes client or upstream connections during a run.',
  'HTTPS and h2 targets serve one certificate (ECDSA P-256, made at run time by a throw-away CA) and negotiate TLS 1.3; ' +
    `the upstream stays plain HTTP/1.1. HTTPS/1.1 runs use autocannon${o.generator === 'wrk' ? ' (not wrk)' : ' as the plain ones'} ` +
    '(keep-alive, ' +
    `${o.connections} connections); h2 runs use the bench's own h2 loop (node:http2, ${o.h2Sessions} sessions × ` +
    `${o.h2Streams} streams in a closed loop), so h2 req/s compare with each other, not with HTTP/1.1's. ` +
    'The h2 floor is node:http2 (compatibility API) + one undici Pool, headers copied, nothing else; the gateway serves h2 ' +
    'streams through the core API and its own upstream connections. The h2 goal is judged on the compiled pair (as deployed).',
];

/** Ratios by "numerator/denominator" (ids with underscores) and workload, for the JSON. */
function ratioTableOf(figures: readonly RatioFigure[]): Record<string, Record<string, number>> {
  const key = (t: TargetId): string => t.replace(/-/g, '_');
  const out: Record<string, Record<string, number>> = {};
  for (const r of figures) {
    const name = `${key(r.numerator)}/${key(r.denominator)}`;
    const row = out[name] ?? {};
    out[name] = row;
    row[r.workload] = r.value;
  }
  return out;
}

/** A ratio with a goal, with whether it met it; one not measured (NaN, null in the JSON) says neither. */
function withMet(r: RatioFigure): RatioFigure & { readonly met?: boolean } {
  const met = ratioMet(r);
  return met === undefined || Number.isNaN(r.value) ? r : { ...r, met };
}

export function buildResults(input: BenchInput): { document: Record<string, unknown>; view: ReportView } {
  const { opts, machine } = input;
  const workloads = WORKLOADS.map((w) => w.name);
  const saturationCells = summarizeSaturation(input.saturation, input.targets, workloads);
  const ratioFigures = saturationRatios(input.saturation, workloads);
  const cpuRatioFigures = cpuRatios(input.saturation, workloads);
  const fixedTargets = FIXED_TARGETS.filter((t) => input.targets.includes(t));
  const fixedCells = summarizeFixed(input.fixed, fixedTargets, workloads);
  const ratios = ratioTableOf(ratioFigures);
  const addedP99 = fixedCells
    .filter((c) => c.addedP99Us !== undefined)
    .map((c) => ({
      target: c.target,
      workload: c.workload,
      generator: c.generator,
      addedP99Us: c.addedP99Us,
      goalUs: GOAL_ADDED_P99_US,
      met: (c.addedP99Us ?? Infinity) <= GOAL_ADDED_P99_US,
    }));
  const notes = NOTES(opts, machine, input.targets, otherLoad([...input.saturation, ...input.fixed]));
  const edge = edgeFigures(input.saturation, workloads);
  const reloadSummary = input.reload === undefined ? undefined : summarizeReload(input.reload);
  const document = {
    kind: 'northwest.bench-proxy',
    version: 1,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    wallSeconds: Math.round((input.finishedAt.getTime() - input.startedAt.getTime()) / 1000),
    machine,
    parameters: {
      ...opts,
      targets: input.targets,
      fixedTargets,
      workloads: WORKLOADS.map((w) => ({ name: w.name, method: w.method, path: w.path, requestBodyBytes: w.body?.length ?? 0 })),
      fixedRates: Object.fromEntries(input.fixedRates),
      fixedRateReference: input.rateReference,
      latencyUnit: 'us',
    },
    goals: {
      gatewayRpsAtLeastTimesNginx1w: GOAL_RPS_VS_NGINX,
      rawRpsAtLeastTimesNginx1w: GOAL_RAW_RPS_VS_NGINX,
      rawRpsAtLeastTimesHttpProxy: GOAL_RAW_RPS_VS_HTTP_PROXY,
      rawCpuAtMostTimesNginx1w: GOAL_RAW_CPU_VS_NGINX,
      addedP99AtMostUs: GOAL_ADDED_P99_US,
      httpsRatioToNginxWithinFractionOfPlain: GOAL_TLS_RATIO_SLACK,
      h2CpuPerRequestAtMostTimesFloor: GOAL_H2_CPU_VS_FLOOR,
      reloadFailedRequests: 0,
    },
    negotiated: input.negotiated,
    saturation: { medians: saturationCells, runs: input.saturation },
    ratios,
    ratioDetails: ratioFigures.map(withMet),
    cpuRatios: ratioTableOf(cpuRatioFigures),
    cpuRatioDetails: cpuRatioFigures.map(withMet),
    fixedRate: { medians: fixedCells, addedP99, runs: input.fixed },
    edge,
    reload: input.reload === undefined ? undefined : { summary: reloadSummary, ...input.reload },
    notes,
  };
  const rounds = (n: number): string => `median of ${n} round${n === 1 ? '' : 's'}`;
  const wholeSeconds = opts.generator === 'wrk' ? ' (wrk: whole seconds, rounded up)' : '';
  const view: ReportView = {
    heading:
      `Proxy bench ${input.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC: ${machine.cpus} × ${machine.cpuModel}, ` +
      `node ${machine.node}, nginx ${machine.nginx}${machine.wrk === undefined ? '' : `, wrk ${machine.wrk}`}`,
    workloads: WORKLOADS.map((w) => ({ name: w.name, label: w.label })),
    targets: input.targets,
    saturationTitle:
      `Saturation: closed loop, ${saturationGenerators(opts, input.targets)}, ${opts.connections} connections, ` +
      `${opts.durationS} s per run after ${opts.warmupS} s warm-up${wholeSeconds}, ` +
      `targets interleaved (order reversed every other round), ${rounds(opts.rounds)} (range = min–max over rounds)`,
    saturation: saturationCells,
    ratios: ratioFigures,
    cpuRatios: cpuRatioFigures,
    fixedTargets,
    fixedTitles: {
      paced:
        `Fixed rate, paced open loop: rate = ${opts.fixedFraction} × ${input.rateReference} saturation req/s, ` +
        `${opts.fixedDurationS} s per run, ${rounds(opts.fixedRounds)}; latency from due time (corrected for coordinated omission)`,
      autocannon:
        `Fixed rate, autocannon overallRate: same rates, ${opts.connections} connections, bursty, ` +
        `latency NOT corrected for coordinated omission, ${rounds(opts.fixedRounds)}`,
    },
    fixed: fixedCells,
    sections: [
      edgeTable(
        edge,
        WORKLOADS.map((w) => ({ name: w.name, label: w.label })),
      ),
      ...(input.reload === undefined || reloadSummary === undefined ? [] : [reloadTable(input.reload, reloadSummary)]),
    ],
    notes,
  };
  return { document, view };
}
