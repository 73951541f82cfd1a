import { join } from 'node:path';
import type { Progress } from '../load/progress.js';
import type { WorkloadOptionsInput } from '../load/workload.js';
import type { TrialFigures } from '../report/report-model.js';
import { writeReports, type ReportPaths } from '../report/write-reports.js';
import { startEmbeddedEnvironment } from './embedded-environment.js';
import type { ExperimentEnvironment } from './experiment-environment.js';
import { runSwitchoverTrial, type TrialResult } from './switchover-trial.js';

export interface SwitchoverExperimentOptions {
  readonly trials: number;
  readonly gateways: number;
  readonly durationS: number;
  readonly handoverAtS: number;
  readonly connectionsPerGateway: number;
  /** Open-loop load at this many requests per second per gateway instead of closed loop. */
  readonly ratePerGateway?: number;
  readonly dnsPropagationMs: number;
  readonly workload: WorkloadOptionsInput;
  readonly outDir: string;
  readonly progress?: Progress;
  /** Starts trial N's system; default the embedded one with `gateways` and `dnsPropagationMs`. */
  readonly startEnvironment?: (trial: number) => Promise<ExperimentEnvironment>;
  /** Where it ran, for the report title (default: embedded). */
  readonly where?: string;
  /** One line per finished trial. */
  readonly onTrial?: (trial: number, r: TrialResult) => void;
}

export interface SwitchoverExperimentResult {
  readonly trials: readonly TrialFigures[];
  readonly last: TrialResult;
  readonly reports: ReportPaths;
}

/** N switchover trials, each on a fresh system; the last trial's run is reported with every trial's figures. */
export async function runSwitchoverExperiment(o: SwitchoverExperimentOptions): Promise<SwitchoverExperimentResult> {
  const trials: TrialFigures[] = [];
  let last: TrialResult | undefined;
  for (let t = 1; t <= o.trials; t++) {
    // A fresh system per trial: every trial starts from N1 serving with N2 empty.
    const env = await (
      o.startEnvironment ?? ((n: number) => startEmbeddedEnvironment({ gateways: o.gateways, dnsPropagationMs: o.dnsPropagationMs }, n))
    )(t);
    try {
      o.progress?.start();
      const r = await runSwitchoverTrial(env, t, {
        durationS: o.durationS,
        handoverAtS: o.handoverAtS,
        connectionsPerGateway: o.connectionsPerGateway,
        ...(o.ratePerGateway === undefined ? {} : { ratePerGateway: o.ratePerGateway }),
        workload: o.workload,
        ...(o.progress ? { progress: o.progress } : {}),
      });
      o.progress?.stop();
      trials.push(r.figures);
      last = r;
      o.onTrial?.(t, r);
    } finally {
      o.progress?.stop();
      await env.close();
    }
  }
  const reports = await writeReports(join(o.outDir), {
    ...last!.run,
    title: `Northwest switchover N1 → N2 (${o.trials} trials, ${o.gateways} gateways, ${o.where ?? 'embedded'}; chart: last trial)`,
    trials,
  });
  return { trials, last: last!, reports };
}
