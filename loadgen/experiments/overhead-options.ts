import { ExperimentError } from './experiment-errors.js';
import { MAX_RTT_MS } from './rtt-links.js';
import { DATA_STRATEGIES, type DataStrategy } from './store-factory.js';

/** The overhead (and switchover) command's strategy and link flags, as parseArgs hands them over. */
export interface LinkFlags {
  readonly strategy?: string | undefined;
  readonly n2Rtt?: string | undefined;
  readonly reads?: string | undefined;
}

export interface LinkOptions {
  readonly strategy: DataStrategy;
  /** N2's round-trip time through Toxiproxy, ms; undefined: N2 reached directly (no proxy). */
  readonly n2RttMs: number | undefined;
  /** Read shares to measure, percent (default the paper's 20, 50, 80). */
  readonly readRatiosPercent: readonly number[];
}

const usage = (detail: string): ExperimentError => new ExperimentError('NW_EXP_USAGE', detail);

export function parseLinkFlags(f: LinkFlags): LinkOptions {
  const strategy = f.strategy ?? 'copy-on-write';
  if (!(DATA_STRATEGIES as readonly string[]).includes(strategy))
    throw usage(`--strategy must be one of ${DATA_STRATEGIES.join(', ')}, got ${JSON.stringify(strategy)}`);
  let n2RttMs: number | undefined;
  if (f.n2Rtt !== undefined) {
    n2RttMs = Number(f.n2Rtt);
    if (f.n2Rtt.trim() === '' || !Number.isInteger(n2RttMs) || n2RttMs < 0 || n2RttMs > MAX_RTT_MS)
      throw usage(`--n2-rtt must be a whole number of ms from 0 to ${MAX_RTT_MS} (e.g. 0, 5, 20, 50), got ${JSON.stringify(f.n2Rtt)}`);
  }
  const readRatiosPercent = (f.reads ?? '20,50,80').split(',').map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isInteger(n) || n < 0 || n > 100)
      throw usage(`--reads must be a comma-separated list of whole percentages (0 to 100), got ${JSON.stringify(f.reads)}`);
    return n;
  });
  if (new Set(readRatiosPercent).size !== readRatiosPercent.length) throw usage(`--reads lists a share twice: ${JSON.stringify(f.reads)}`);
  return { strategy: strategy as DataStrategy, n2RttMs, readRatiosPercent };
}

/** The file name stem of one overhead run: the chart collects every run of a directory by it. */
export function overheadRunStem(o: Pick<LinkOptions, 'strategy' | 'n2RttMs'>): string {
  return `overhead-${o.strategy}-${o.n2RttMs === undefined ? 'direct' : `rtt${o.n2RttMs}ms`}`;
}
