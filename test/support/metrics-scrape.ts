import { request } from 'undici';

/** GETs the admin /metrics text. */
export async function scrapeMetrics(adminUrl: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`);
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
  return res.body.text();
}

/** Renders a Prometheus series selector exactly as the gateway writes it (labels in declared order). */
export function seriesName(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

/** Value of one series in Prometheus text, or undefined if it is absent. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const series = seriesName(name, labels);
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** Scrapes and reads one series; absent counts as 0. */
export async function metricValue(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return sampleValue(await scrapeMetrics(adminUrl), name, labels) ?? 0;
}
