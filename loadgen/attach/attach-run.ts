import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import type { Mutation } from '../analysis/lost-writes.js';
import { keyName, Workload } from '../load/workload.js';
import type { Progress } from '../load/progress.js';
import { writeReports, type ReportPaths } from '../report/write-reports.js';
import type { SwitchoverRun, TrialFigures } from '../report/report-model.js';
import { startGatewayLoads, type GatewayLoad } from '../experiments/gateway-loads.js';
import { measureSwitchover } from '../experiments/switchover-measurement.js';
import { AdminClient, type MigrationEventsPage, type MigrationLog } from '../../controlplane/index.js';
import { appRequests, fillTemplate, readBackFrom, type ReadBackTarget } from './app-api.js';
import type { AttachConfig, AttachSetup } from './attach-config.js';
import { AttachError } from './attach-errors.js';
import { resolveTargets, type AttachTargets } from './attach-targets.js';
import { followMigration, migrationsOf, startMigration, waitForNewMigration } from './migration-driver.js';

export interface AttachRunOptions {
  readonly outDir: string;
  /** Lines for the operator (targets, the migration's events); nothing by default. */
  readonly say?: (line: string) => void;
  readonly progress?: Progress;
  readonly env?: NodeJS.ProcessEnv;
}

export interface AttachRunResult {
  readonly targets: AttachTargets;
  readonly log: MigrationLog;
  readonly run: SwitchoverRun;
  readonly figures: TrialFigures;
  readonly reports: ReportPaths;
}

/** Keys written at once while preloading. */
const PRELOAD_CONCURRENCY = 8;

/**
 * Writes every key once through the gateways (round robin), as the app's data before the run:
 * each is an acknowledged write the lost-write check requires afterwards (this value or a later one).
 */
async function preload(cfg: AttachConfig, urls: readonly string[], runId: string): Promise<Mutation[]> {
  const { keys } = cfg.load;
  const done: Mutation[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys) {
      const i = next++;
      const key = keyName(i, keys);
      const value = `init-${runId}-${i}`;
      const r = fillTemplate(cfg.api.write, key, value);
      const url = urls[i % urls.length]!;
      const res = await request(`${url}${r.path}`, {
        method: r.method as 'PUT',
        headers: { host: cfg.target.host, ...r.headers },
        ...(r.body === undefined ? {} : { body: r.body }),
        headersTimeout: cfg.load.timeoutS * 1000,
        bodyTimeout: cfg.load.timeoutS * 1000,
      }).catch((err: unknown) => {
        throw new AttachError('NW_ATTACH_PRELOAD_FAILED', `${r.method} ${url}${r.path}: ${(err as Error).message}`, { cause: err });
      });
      const body = await res.body.text();
      if (res.statusCode < 200 || res.statusCode >= 300)
        throw new AttachError('NW_ATTACH_PRELOAD_FAILED', `${r.method} ${url}${r.path} answered ${res.statusCode}: ${body.slice(0, 200)}`);
      // Before the run: no write of the run can precede it.
      done.push({ key, op: 'write', value, start: -1, end: -1 });
    }
  };
  await Promise.all(Array.from({ length: Math.min(PRELOAD_CONCURRENCY, keys) }, worker));
  return done;
}

/** Where the lost-write check reads: the side that holds the app now, directly if configured, else through the first gateway. */
function readBackTarget(cfg: AttachConfig, urls: readonly string[], status: MigrationLog['status']): ReadBackTarget {
  const rb = cfg.api.readBack;
  const direct = status === 'done' ? rb.n2Url : status === 'rolled-back' ? rb.n1Url : undefined;
  return direct ? { baseUrl: direct } : { baseUrl: urls[0]!, host: cfg.target.host };
}

function eventLine(e: MigrationEventsPage['events'][number]): string {
  const parts = [
    e.at.slice(11, 23),
    e.event,
    e.phase ?? '',
    e.durationMs === undefined ? '' : `${Math.round(e.durationMs)} ms`,
    e.detail ?? '',
  ];
  return `  ${parts.filter(Boolean).join('  ')}`;
}

/**
 * Attach mode: the switchover measurement against a running deployment. Resolves the gateways,
 * preloads the keys, loads every gateway with the app's own requests, starts the plan (or waits
 * for an operator's migration), follows the migration's event log to its end, keeps the load up
 * for the tail, then measures (measureSwitchover: phases from the log, attribution from the
 * response headers, every acknowledged write read back) and writes report.json, report.md and
 * chart.svg to `outDir`.
 */
export async function runAttach(setup: AttachSetup, o: AttachRunOptions): Promise<AttachRunResult> {
  const { config: cfg, plan } = setup;
  const say = o.say ?? ((): void => {});
  const client = new AdminClient(cfg.controlPlane.url, setup.token);
  const targets = await resolveTargets(cfg, o.env);
  say(`attached to ${targets.description}: ${targets.urls.join(' ')}`);
  // Also checks the admin API and its token before any load is sent.
  const known = await migrationsOf(client, cfg.app);
  const runId = randomBytes(3).toString('hex');
  const preloaded = cfg.load.preload ? await preload(cfg, targets.urls, runId) : [];
  if (preloaded.length) say(`preloaded ${preloaded.length} keys through the gateways`);

  const m = cfg.migration;
  const origin = performance.now();
  const startedAtEpochMs = Date.now();
  const stopLoad = new AbortController();
  const { load } = cfg;
  const loads = startGatewayLoads({
    urls: targets.urls,
    host: cfg.target.host,
    connectionsPerGateway: load.connectionsPerGateway,
    ...(load.ratePerGateway === undefined ? {} : { ratePerGateway: load.ratePerGateway }),
    maxDurationS: load.durationS + (m.wait ? m.waitTimeoutS : m.startAfterS) + m.timeoutS + load.tailS,
    signal: stopLoad.signal,
    workload: (i) =>
      new Workload({
        readRatio: load.readRatio,
        deleteRatio: load.deleteRatio,
        keys: load.keys,
        distribution: load.distribution,
        valueBytes: load.valueBytes,
        seed: i + 1,
        runId: `${runId}g${i}`,
      }),
    request: appRequests(cfg.api),
    timeoutS: load.timeoutS,
    ...(o.progress ? { progress: o.progress } : {}),
  });
  o.progress?.start();
  let log: MigrationLog;
  let migrateAt: number | undefined;
  let results: GatewayLoad[];
  try {
    let id: string;
    if (plan) {
      await new Promise((r) => setTimeout(r, m.startAfterS * 1000));
      migrateAt = performance.now() - origin;
      id = await startMigration(client, plan);
      say(`started migration ${id}`);
    } else {
      say(`waiting for a migration of ${cfg.app} (up to ${m.waitTimeoutS} s)`);
      id = await waitForNewMigration(client, cfg.app, known, m.waitTimeoutS * 1000);
      say(`following migration ${id}`);
    }
    log = await followMigration(client, id, m.timeoutS * 1000, (e) => say(eventLine(e)));
    const elapsedMs = performance.now() - origin;
    await new Promise((r) => setTimeout(r, Math.max(load.tailS * 1000, load.durationS * 1000 - elapsedMs)));
  } finally {
    stopLoad.abort();
    results = await Promise.all(loads);
    o.progress?.stop();
  }
  const { run, figures } = await measureSwitchover({
    title: `Northwest switchover N1 → N2 of ${cfg.app}: attached to ${targets.description}; migration ${log.id} ${log.status}`,
    loads: results,
    origin,
    startedAtEpochMs,
    ...(migrateAt === undefined ? {} : { migrateAt }),
    log,
    preloaded,
    readBack: readBackFrom(cfg.api.readBack, readBackTarget(cfg, targets.urls, log.status), load.timeoutS * 1000),
  });
  const reports = await writeReports(o.outDir, run);
  return { targets, log, run, figures, reports };
}
