import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { overheadTable } from '../report/markdown-report.js';
import type { ExperimentConfig } from './experiment-config.js';
import { startExperimentEnvironment } from './experiment-environment.js';
import { storeFactoryFor } from './store-factory.js';
import { runOverheadExperiment } from './overhead-experiment.js';
import { describeConfig } from './switchover-command.js';

export interface OverheadCommandOptions {
  /** Requests per second per gateway (fixed rate). */
  readonly rate: number;
  readonly durationS: number;
  readonly rounds: number;
  readonly outDir: string;
}

/**
 * The overhead experiment on the system a config describes (gateways, coordinator,
 * DNS, store): overhead.json and overhead.md in the out dir, the table on stdout.
 */
export async function overheadCommand(cfg: ExperimentConfig, o: OverheadCommandOptions): Promise<number> {
  const stores = storeFactoryFor(cfg.store);
  const rows = await runOverheadExperiment({
    readRatiosPercent: [20, 50, 80],
    rate: o.rate,
    durationS: o.durationS,
    rounds: o.rounds,
    gateways: cfg.gateways,
    keys: cfg.load.keys,
    startEnvironment: (point) =>
      startExperimentEnvironment(
        { coordinator: cfg.coordinator, dns: cfg.dns, gateways: cfg.gateways, leaseMs: cfg.leaseMs, stores },
        point,
      ),
  });
  const md =
    `### Migration overhead (${describeConfig(cfg)}; ${cfg.gateways} gateways, ${o.rate} req/s per gateway, ` +
    `${o.rounds} × ${o.durationS} s per point and phase, interleaved)\n\n${overheadTable(rows)}\n`;
  await mkdir(o.outDir, { recursive: true });
  const summary = {
    at: new Date().toISOString(),
    where: describeConfig(cfg),
    rate: o.rate,
    durationS: o.durationS,
    rounds: o.rounds,
    gateways: cfg.gateways,
    rows,
  };
  await writeFile(join(o.outDir, 'overhead.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(join(o.outDir, 'overhead.md'), md);
  process.stdout.write(md);
  return 0;
}
