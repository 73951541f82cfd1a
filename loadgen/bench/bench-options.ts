import { parseArgs } from 'node:util';
import { z } from 'zod';
import { TARGET_IDS, type TargetId } from './bench-report.js';

export const USAGE = `usage: npm run bench:proxy -- [options]

  --quick                 short smoke run (1 round, 2 s runs, 0.5 s warm-up,
                          3 reloads);
                          writes results/bench-proxy-quick-* so the latest
                          full results stay in bench-proxy-latest.*
  --rounds N              saturation rounds, targets interleaved (default 3)   BENCH_ROUNDS
  --duration S            seconds per saturation run (default 10)              BENCH_DURATION_S
  --warmup S              warm-up seconds before every run (default 2)         BENCH_WARMUP_S
  --connections N         connections of the closed loop and autocannon        BENCH_CONNECTIONS
                          (default 50)
  --generator G           saturation generator for plain-HTTP targets:         BENCH_GENERATOR
                          autocannon (default; in the bench process) or wrk
                          (C, 1 thread, its own process; installed from Debian
                          if missing). HTTPS/1.1 targets keep autocannon, h2
                          targets the h2 loop; the fixed rate and --profile
                          keep theirs
  --fixed-rounds N        fixed-rate rounds (default 5; --quick: 1); the       BENCH_FIXED_ROUNDS
                          median is reported with the range over rounds
  --fixed-duration S      seconds per fixed-rate run (default: --duration)     BENCH_FIXED_DURATION_S
  --fixed-fraction F      fixed rate = F x the gateway's saturation (0.5;      BENCH_FIXED_FRACTION
                          gateway-compiled's, else gateway-raw's, else
                          gateway-undici's)
  --no-fixed              skip the fixed-rate phase
  --no-nginx-auto         skip nginx with worker_processes auto
  --targets a,b,...       only these targets, in this order (default: all but
                          gateway-baseline; 'direct' is always measured;
                          gateway-compiled is the raw engine as deployed;
                          floor, llhttp-floor and tcp-pipe are the least a
                          Node proxy does on node:http, on llhttp, on TCP)   BENCH_TARGETS
                          ids: ${TARGET_IDS.join(', ')}
  --baseline DIR          also run target gateway-baseline: the gateway of
                          another checkout (e.g. \`git archive HEAD | tar -x\`
                          with node_modules linked) for before/after runs   BENCH_BASELINE_DIR
  --h2-sessions N         h2 targets: sessions (TLS connections) of the h2     BENCH_H2_SESSIONS
                          load loop (default 10)
  --h2-streams N          h2 targets: streams each session keeps open (5;      BENCH_H2_STREAMS
                          10 x 5 = the 50 connections of HTTP/1.1)
  --reloads N             reload under load: reloads of a gateway (the CLI,    BENCH_RELOADS
                          HTTPS listener, raw engine) under a fixed load, each
                          adding or removing an app and changing the served
                          app's pool (default 20; --quick: 3; 0 skips it)
  --reload-rate R         the fixed load meanwhile, req/s: half GET 1 KB,      BENCH_RELOAD_RATE
                          half POST 4 KB, paced (default 1000; --quick: 500)
  --reload-interval S     seconds between reloads (default 1; --quick: 0.5)    BENCH_RELOAD_INTERVAL_S
  --reload-via HOW        sighup (default) or admin (POST /reload)             BENCH_RELOAD_VIA
  --reload-workers N      workers of the reloaded gateway (default 1)          BENCH_RELOAD_WORKERS
  --profile               instead of the bench: CPU-profile the gateway child
                          (node --cpu-prof) for one saturation run per engine
                          and workload, and list the top self-time functions
  --out DIR               where results go (default results)
  --help`;

/**
 * Fixed-rate rounds by default: more than saturation's 3, because one stalled
 * 10 s run (a host hiccup, a GC of the generator) sets that run's p99 alone;
 * the median of 5 needs three such runs to move, and the range still shows them.
 */
const DEFAULT_FIXED_ROUNDS = 5;

const optionsSchema = z.strictObject({
  quick: z.boolean(),
  rounds: z.number().int().min(1).max(50),
  durationS: z.number().positive().max(600),
  warmupS: z.number().min(0).max(120),
  connections: z.number().int().min(1).max(2000),
  generator: z.enum(['autocannon', 'wrk']),
  fixedRounds: z.number().int().min(1).max(50),
  fixedDurationS: z.number().positive().max(600),
  fixedFraction: z.number().positive().max(1),
  fixed: z.boolean(),
  nginxAuto: z.boolean(),
  targets: z.array(z.enum(TARGET_IDS as [TargetId, ...TargetId[]])).min(1),
  baselineDir: z.string().min(1).optional(),
  profile: z.boolean(),
  outDir: z.string().min(1),
  h2Sessions: z.number().int().min(1).max(500),
  h2Streams: z.number().int().min(1).max(1000),
  reloads: z.number().int().min(0).max(1000),
  reloadRate: z.number().positive().max(100_000),
  reloadIntervalS: z.number().min(0.1).max(60),
  reloadVia: z.enum(['sighup', 'admin']),
  reloadWorkers: z.number().int().min(1).max(64),
});

/** Validated bench parameters; frozen. */
export type BenchOptions = Readonly<z.output<typeof optionsSchema>>;

function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || Number.isNaN(n)) throw new Error(`proxy-bench: ${flag} must be a number, got "${value}"`);
  return n;
}

/** Flags beat environment variables, which beat the --quick preset, which beats the defaults. */
export function parseBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      generator: { type: 'string' },
      'fixed-rounds': { type: 'string' },
      'fixed-duration': { type: 'string' },
      'fixed-fraction': { type: 'string' },
      'no-fixed': { type: 'boolean', default: false },
      'no-nginx-auto': { type: 'boolean', default: false },
      targets: { type: 'string' },
      baseline: { type: 'string' },
      profile: { type: 'boolean', default: false },
      out: { type: 'string' },
      'h2-sessions': { type: 'string' },
      'h2-streams': { type: 'string' },
      reloads: { type: 'string' },
      'reload-rate': { type: 'string' },
      'reload-interval': { type: 'string' },
      'reload-via': { type: 'string' },
      'reload-workers': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick;
  const pick = (flag: string, envName: string, quickValue: number, dflt: number, flagValue: string | undefined): number =>
    num(`--${flag}`, flagValue) ?? num(envName, env[envName]) ?? (quick ? quickValue : dflt);
  const rounds = pick('rounds', 'BENCH_ROUNDS', 1, 3, values.rounds);
  const durationS = pick('duration', 'BENCH_DURATION_S', 2, 10, values.duration);
  const baselineDir = values.baseline ?? env.BENCH_BASELINE_DIR;
  const nginxAuto = !values['no-nginx-auto'];
  const listed = (values.targets ?? env.BENCH_TARGETS)
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const targets = listed
    ? ['direct', ...listed.filter((t) => t !== 'direct')]
    : TARGET_IDS.filter((t) => (t !== 'gateway-baseline' || baselineDir !== undefined) && (t !== 'nginx-auto' || nginxAuto));
  if (targets.includes('gateway-baseline') && baselineDir === undefined)
    throw new Error('proxy-bench: target gateway-baseline needs --baseline DIR');
  const parsed = optionsSchema.safeParse({
    quick,
    rounds,
    durationS,
    warmupS: pick('warmup', 'BENCH_WARMUP_S', 0.5, 2, values.warmup),
    connections: pick('connections', 'BENCH_CONNECTIONS', 50, 50, values.connections),
    generator: values.generator ?? env.BENCH_GENERATOR ?? 'autocannon',
    fixedRounds: pick('fixed-rounds', 'BENCH_FIXED_ROUNDS', rounds, DEFAULT_FIXED_ROUNDS, values['fixed-rounds']),
    fixedDurationS: pick('fixed-duration', 'BENCH_FIXED_DURATION_S', durationS, durationS, values['fixed-duration']),
    fixedFraction: pick('fixed-fraction', 'BENCH_FIXED_FRACTION', 0.5, 0.5, values['fixed-fraction']),
    fixed: !values['no-fixed'],
    nginxAuto,
    targets,
    baselineDir,
    profile: values.profile,
    outDir: values.out ?? 'results',
    h2Sessions: pick('h2-sessions', 'BENCH_H2_SESSIONS', 10, 10, values['h2-sessions']),
    h2Streams: pick('h2-streams', 'BENCH_H2_STREAMS', 5, 5, values['h2-streams']),
    reloads: pick('reloads', 'BENCH_RELOADS', 3, 20, values.reloads),
    reloadRate: pick('reload-rate', 'BENCH_RELOAD_RATE', 500, 1000, values['reload-rate']),
    reloadIntervalS: pick('reload-interval', 'BENCH_RELOAD_INTERVAL_S', 0.5, 1, values['reload-interval']),
    reloadVia: values['reload-via'] ?? env.BENCH_RELOAD_VIA ?? 'sighup',
    reloadWorkers: pick('reload-workers', 'BENCH_RELOAD_WORKERS', 1, 1, values['reload-workers']),
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`proxy-bench: invalid options:\n${issues}`);
  }
  return Object.freeze(parsed.data);
}
