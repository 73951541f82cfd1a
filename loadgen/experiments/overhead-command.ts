import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { overheadTable } from '../report/markdown-report.js';
import { type OverheadPoint, renderOverheadRttChart } from '../report/overhead-rtt-chart.js';
import type { OverheadRow } from '../report/report-model.js';
import type { ExperimentConfig } from './experiment-config.js';
import { startExperimentEnvironment } from './experiment-environment.js';
import { startHostLoadMeter } from './host-load.js';
import { storesOverLinks } from './n2-links.js';
import { type LinkOptions, overheadRunStem } from './overhead-options.js';
import { runOverheadExperiment } from './overhead-experiment.js';
import { describeConfig } from './switchover-command.js';

export interface OverheadCommandOptions extends LinkOptions {
  /** Requests per second per gateway (fixed rate). */
  readonly rate: number;
  readonly durationS: number;
  readonly rounds: number;
  readonly outDir: string;
}

/** What one overhead run writes to `<stem>.json`; the RTT chart reads every such file of the directory. */
export interface OverheadSummary {
  readonly at: string;
  readonly where: string;
  readonly strategy: string;
  /** N2's round-trip time through Toxiproxy; null: direct. */
  readonly n2RttMs: number | null;
  readonly link: string;
  readonly rate: number;
  readonly durationS: number;
  readonly rounds: number;
  readonly gateways: number;
  /** Cores the rest of the host kept busy meanwhile (other engineers' runs); null where /proc is not there. */
  readonly otherCores: number | null;
  readonly rows: readonly OverheadRow[];
}

export const OVERHEAD_CHART = 'overhead-rtt.svg';

/** Every overhead run in `dir` with an RTT, as chart points (one per read share). */
export async function overheadPointsIn(dir: string): Promise<OverheadPoint[]> {
  const files = (await readdir(dir)).filter((f) => /^overhead-.+-rtt\d+ms\.json$/.test(f)).sort();
  const points: OverheadPoint[] = [];
  for (const f of files) {
    const s = JSON.parse(await readFile(join(dir, f), 'utf8')) as OverheadSummary;
    if (s.n2RttMs === null) continue;
    for (const row of s.rows) points.push({ strategy: s.strategy, rttMs: s.n2RttMs, row });
  }
  return points;
}

/**
 * The overhead experiment on the system a config describes (gateways, coordinator, DNS, store),
 * with a data strategy and, optionally, N2 behind a Toxiproxy link with a round-trip time:
 * `<stem>.json` and `<stem>.md` in the out dir, the table on stdout, and overhead-rtt.svg redrawn
 * from every run with an RTT in the out dir.
 */
export async function overheadCommand(cfg: ExperimentConfig, o: OverheadCommandOptions): Promise<number> {
  const links = await storesOverLinks(cfg, o.strategy, o.n2RttMs);
  const load = startHostLoadMeter();
  let rows: OverheadRow[];
  try {
    rows = await runOverheadExperiment({
      readRatiosPercent: o.readRatiosPercent,
      rate: o.rate,
      durationS: o.durationS,
      rounds: o.rounds,
      gateways: cfg.gateways,
      keys: cfg.load.keys,
      startEnvironment: (point) =>
        startExperimentEnvironment(
          { coordinator: cfg.coordinator, dns: cfg.dns, gateways: cfg.gateways, leaseMs: cfg.leaseMs, stores: links.stores },
          point,
        ),
    });
  } finally {
    await links.close();
  }
  const otherCores = load.stop();
  const at = new Date().toISOString();
  const link = links.description || 'N2 reached directly';
  const md =
    `### Migration overhead, ${o.strategy} (${describeConfig(cfg)}; ${link}; ${cfg.gateways} gateways, ` +
    `${o.rate} req/s per gateway, ${o.rounds} × ${o.durationS} s per point and phase, interleaved; ${at}; ` +
    `others ${otherCores ?? '?'} cores)\n\n${overheadTable(rows)}\n`;
  await mkdir(o.outDir, { recursive: true });
  const summary: OverheadSummary = {
    at,
    where: describeConfig(cfg),
    strategy: o.strategy,
    n2RttMs: o.n2RttMs ?? null,
    link,
    rate: o.rate,
    durationS: o.durationS,
    rounds: o.rounds,
    gateways: cfg.gateways,
    otherCores: otherCores ?? null,
    rows,
  };
  const stem = overheadRunStem(o);
  await writeFile(join(o.outDir, `${stem}.json`), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(join(o.outDir, `${stem}.md`), md);
  const points = await overheadPointsIn(o.outDir);
  if (points.length) await writeFile(join(o.outDir, OVERHEAD_CHART), renderOverheadRttChart(points));
  process.stdout.write(md);
  if (points.length) process.stdout.write(`chart: ${join(o.outDir, OVERHEAD_CHART)} (${points.length} points)\n`);
  return rows.every((r) => (r.failedRequests ?? 0) === 0) ? 0 : 1;
}
