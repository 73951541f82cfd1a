/** Spread of one figure over repeated trials, and its "46.4 s ± 0.97 s" rendering. */

export interface TrialStats {
  /** Trials that had a value for the figure. */
  readonly n: number;
  readonly min: number;
  readonly mean: number;
  /** Sample standard deviation (n - 1); NaN with fewer than two trials. */
  readonly stdev: number;
  readonly max: number;
}

export function trialStats(values: readonly number[]): TrialStats {
  const xs = values.filter((v) => Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { n: 0, min: NaN, mean: NaN, stdev: NaN, max: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const stdev = n < 2 ? NaN : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { n, min: Math.min(...xs), mean, stdev, max: Math.max(...xs) };
}

/** Stats of one numeric field over trials; trials where `pick` gives null/undefined are left out. */
export function statsOf<T>(trials: readonly T[], pick: (trial: T) => number | null | undefined): TrialStats {
  const values: number[] = [];
  for (const t of trials) {
    const v = pick(t);
    if (typeof v === 'number') values.push(v);
  }
  return trialStats(values);
}

/** Two significant digits: 0.97, 1.3, 12, 130. */
export function twoSignificant(x: number): string {
  if (x === 0) return '0';
  const digits = Math.max(0, 1 - Math.floor(Math.log10(Math.abs(x))));
  return x.toFixed(digits);
}

/** A value with `digits` decimals and its unit: "46.4 s". */
export function formatValue(x: number, unit: string, digits = 1): string {
  if (!Number.isFinite(x)) return '–';
  return unit ? `${x.toFixed(digits)} ${unit}` : x.toFixed(digits);
}

/**
 * "46.4 s ± 0.97 s": mean with `meanDigits` decimals, sample stdev with two
 * significant digits. One trial prints "46.4 s (n=1)"; none prints "–".
 */
export function formatMeanStdev(stats: TrialStats, unit: string, meanDigits = 1): string {
  if (stats.n === 0) return '–';
  if (stats.n < 2) return `${formatValue(stats.mean, unit, meanDigits)} (n=1)`;
  return `${formatValue(stats.mean, unit, meanDigits)} ± ${unit ? `${twoSignificant(stats.stdev)} ${unit}` : twoSignificant(stats.stdev)}`;
}
