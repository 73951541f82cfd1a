/**
 * `--profile`: one saturation run per engine and workload against a gateway
 * child started with `node --cpu-prof`, then the top self-time functions.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAutocannon } from './autocannon-run.js';
import type { BenchOptions } from './bench-options.js';
import { formatInt, renderTable, type Table, type TableFormat } from './bench-report.js';
import { startGateway, type GatewayEngine, type StartedChild } from './bench-targets.js';
import { WORKLOADS } from './bench-workloads.js';
import type { ChildRegistry } from './child-processes.js';
import { summarizeCpuProfile, type CpuProfile, type ProfileSummary, type TimeShare } from './cpu-profile-summary.js';

/** CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader runs in another). */
const MAIN_THREAD_PROFILE = /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/;
/** Start-up (module loading, compiling TypeScript) ends before the first request reaches the handler. */
const FIRST_REQUEST_FRAME = /\/gateway\/(request-handler|raw\/client-connection)\.ts$/;

export interface ProfileRun {
  readonly engine: GatewayEngine;
  readonly workload: string;
  readonly rps: number;
  readonly profileFile: string;
  readonly summary: ProfileSummary;
}

export async function runProfiles(
  registry: ChildRegistry,
  upstream: StartedChild,
  opts: BenchOptions,
  dir: string,
  log: (l: string) => void,
): Promise<ProfileRun[]> {
  const runs: ProfileRun[] = [];
  for (const engine of ['raw', 'undici', 'http-proxy'] as const) {
    for (const w of WORKLOADS) {
      const profDir = join(dir, `${engine}-${w.name}`);
      mkdirSync(profDir, { recursive: true });
      const gw = await startGateway(registry, upstream.url, engine, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
      const base = { baseUrl: gw.url, workload: w, connections: opts.connections };
      if (opts.warmupS > 0) await runAutocannon({ ...base, durationS: opts.warmupS });
      const r = await runAutocannon({ ...base, durationS: opts.durationS });
      await gw.child.stop(20_000);
      const file = readdirSync(profDir).find((f) => MAIN_THREAD_PROFILE.test(f));
      if (!file) throw new Error(`no main-thread .cpuprofile written in ${profDir}`);
      const profileFile = join(profDir, file);
      const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile;
      const summary = summarizeCpuProfile(profile, { top: 30, startAtFrameUrl: FIRST_REQUEST_FRAME });
      runs.push({ engine, workload: w.name, rps: r.rps, profileFile, summary });
      log(`[profile] ${engine} ${w.name}: ${formatInt(r.rps)} req/s (profiled), busy ${summary.busyMs} ms of ${summary.totalMs} ms`);
    }
  }
  return runs;
}

function tablesFor(run: ProfileRun): Table[] {
  const title =
    `gateway (${run.engine}), ${run.workload}, ${formatInt(run.rps)} req/s under the profiler; ` +
    `busy ${run.summary.busyMs} ms of ${run.summary.totalMs} ms`;
  const row = (f: TimeShare): string[] => [f.name, f.location || f.area, f.ms.toFixed(0), f.pct.toFixed(1)];
  return [
    {
      title: `${title}: self time by area`,
      header: ['area', 'self ms', '% of busy'],
      rows: run.summary.areas.slice(0, 12).map((a) => [a.name, a.ms.toFixed(0), a.pct.toFixed(1)]),
    },
    {
      title: `${title}: top self-time functions`,
      header: ['function', 'where', 'self ms', '% of busy'],
      rows: run.summary.functions.map(row),
      textColumns: 2,
    },
    {
      title:
        `${title}: our functions by inclusive time ` +
        `(synchronous callees only: work resumed after an await or in a stream callback is not under them)`,
      header: ['function', 'where', 'incl. ms', '% of busy'],
      rows: run.summary.ownInclusive.slice(0, 15).map(row),
      textColumns: 2,
    },
  ];
}

export function renderProfiles(runs: readonly ProfileRun[], format: TableFormat): string {
  return `${runs
    .flatMap(tablesFor)
    .map((t) => renderTable(t, format))
    .join('\n\n')}\n`;
}

export function writeProfileResults(outDir: string, stamp: string, runs: readonly ProfileRun[]): void {
  writeFileSync(join(outDir, `bench-proxy-profile-${stamp}.json`), `${JSON.stringify(runs, null, 2)}\n`);
  writeFileSync(join(outDir, 'bench-proxy-profile-latest.json'), `${JSON.stringify(runs, null, 2)}\n`);
  writeFileSync(join(outDir, 'bench-proxy-profile-latest.md'), renderProfiles(runs, 'markdown'));
}
