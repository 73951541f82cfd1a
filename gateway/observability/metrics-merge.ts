/**
 * Several processes' Prometheus text (the workers of one gateway, each rendered by GatewayMetrics)
 * as one: the same series (name and labels) merged by its family's rule. Counters and histograms
 * add up (their buckets, sums and counts are each a count); a gauge adds up too unless its rule says
 * otherwise (whether an upstream is healthy is the least of the workers' views, not their sum).
 * prom-client's AggregatorRegistry does this for node:cluster, but merges prom-client registries;
 * the gateway's registry is its own (metrics.ts, built for a cheap hot path), so this merges the
 * text it writes.
 */

/** How a family's values from several processes become one: added, the least, the most, or left out. */
export type MergeRule = 'sum' | 'min' | 'max' | 'omit';

interface Family {
  readonly header: string[];
  readonly rule: MergeRule;
  /** Series key (the line up to its value) to the merged value, in first-seen order. */
  readonly series: Map<string, number>;
}

function merged(rule: MergeRule, a: number, b: number): number {
  if (rule === 'min') return Math.min(a, b);
  if (rule === 'max') return Math.max(a, b);
  return a + b;
}

/**
 * Only the counter and histogram families of a text: what a process that ended had counted, which
 * stays part of the sums (its gauges, what it had in flight, ended with it).
 */
export function countsOnly(text: string): string {
  let keep = false;
  let help = '';
  let out = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) {
      help = `${line}\n`;
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      keep = line.endsWith(' counter') || line.endsWith(' histogram');
      if (keep) out += help;
      help = '';
    }
    if (keep && line !== '') out += `${line}\n`;
  }
  return out;
}

/** Merges texts in the format GatewayMetrics.render writes: each family's `# HELP` and `# TYPE`, then its series. */
export function mergeMetricTexts(texts: readonly string[], rules: ReadonlyMap<string, MergeRule> = new Map()): string {
  const families = new Map<string, Family>();
  for (const text of texts) {
    let family: Family | undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('# ')) {
        const name = line.split(' ')[2] ?? '';
        family = families.get(name);
        if (family === undefined) {
          family = { header: [], rule: rules.get(name) ?? 'sum', series: new Map() };
          families.set(name, family);
        }
        if (!family.header.includes(line)) family.header.push(line);
        continue;
      }
      if (family === undefined || family.rule === 'omit') continue;
      const cut = line.lastIndexOf(' ');
      const key = line.slice(0, cut);
      const value = Number(line.slice(cut + 1));
      const before = family.series.get(key);
      family.series.set(key, before === undefined ? value : merged(family.rule, before, value));
    }
  }
  let out = '';
  for (const f of families.values()) {
    if (f.rule === 'omit') continue;
    out += `${f.header.join('\n')}\n`;
    for (const [key, value] of f.series) out += `${key} ${value}\n`;
  }
  return out;
}
