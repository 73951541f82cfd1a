/**
 * `npm run bench:proxy`: requests/s and latency of the upstream directly, the
 * gateway (both engines) and nginx in front of the same upstream, on this
 * machine, in one run; the same over HTTPS/1.1 and h2 (gateway, h2 floor,
 * nginx with the same certificate), and a reload of the gateway under load.
 * See bench-options.ts for flags; results go to
 * results/bench-proxy-<time>.json, bench-proxy-latest.{json,md} (--quick:
 * bench-proxy-quick-*), --profile to bench-proxy-profile-*.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseBenchOptions, USAGE, type BenchOptions } from './bench-options.js';
import { runFixedPhase, runSaturationPhase } from './bench-phases.js';
import { renderProfiles, runProfiles, writeProfileResults } from './bench-profile.js';
import { renderReport, summarizeSaturation } from './bench-report.js';
import { createBenchCertificate, type BenchCertificate } from './bench-certificate.js';
import type { TargetId } from './bench-report.js';
import { buildResults, type MachineInfo } from './bench-results.js';
import { smokeCheck, startTargets, startUpstream, targetProtocol, type StartedChild } from './bench-targets.js';
import { WORKLOADS, type WorkloadName } from './bench-workloads.js';
import { ChildRegistry } from './child-processes.js';
import { ensureNginx, nginxVersion } from './nginx-process.js';
import { runReloadPhase } from './reload-phase.js';
import { prepareWrk, type WrkGenerator } from './wrk-run.js';

/** The target whose saturation sets the fixed rate: the first of these that runs. */
const RATE_REFERENCES: readonly TargetId[] = ['gateway-compiled', 'gateway-raw', 'gateway-undici'];
import type { ReloadRun } from './reload-report.js';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function packageVersion(name: string): string {
  try {
    const file = createRequire(import.meta.url).resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function machineInfo(nginxBin: string): Omit<MachineInfo, 'loadavgAtEnd'> {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    totalMemGiB: Math.round(totalmem() / 2 ** 30),
    platform: platform(),
    kernel: release(),
    node: process.version,
    nginx: nginxVersion(nginxBin),
    autocannon: packageVersion('autocannon'),
    loadavgAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function stampOf(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

async function bench(opts: BenchOptions, registry: ChildRegistry): Promise<void> {
  const startedAt = new Date();
  const outDir = resolve(opts.outDir);
  mkdirSync(outDir, { recursive: true });
  const nginxBin = ensureNginx(log);
  const machine = machineInfo(nginxBin);
  log(`proxy-bench: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, nginx ${machine.nginx}`);
  const upstream = await startUpstream(registry);

  if (opts.profile) {
    const runs = await runProfiles(registry, upstream, opts, join(outDir, 'profiles', stampOf(startedAt)), log);
    writeProfileResults(outDir, stampOf(startedAt), runs);
    process.stdout.write(renderProfiles(runs, 'text'));
    log(
      `proxy-bench: profiles in ${join(outDir, 'profiles', stampOf(startedAt))}, ` +
        `summary in ${join(outDir, 'bench-proxy-profile-latest.md')}`,
    );
    return;
  }

  const needsTls = opts.reloads > 0 || opts.targets.some((t) => targetProtocol(t) !== 'http');
  const cert = needsTls ? await createBenchCertificate() : undefined;
  let wrk: WrkGenerator | undefined;
  try {
    wrk = opts.generator === 'wrk' ? await prepareWrk(log) : undefined;
    if (wrk) log(`proxy-bench: saturation of plain-HTTP targets by wrk ${wrk.version} (${wrk.bin})`);
    const withWrk = wrk === undefined ? machine : { ...machine, wrk: wrk.version };
    await measure({ opts, registry, nginxBin, machine: withWrk, upstream, cert, wrk, startedAt, outDir });
  } finally {
    cert?.remove();
    wrk?.remove();
  }
}

interface BenchSetup {
  readonly opts: BenchOptions;
  readonly registry: ChildRegistry;
  readonly nginxBin: string;
  readonly machine: Omit<MachineInfo, 'loadavgAtEnd'>;
  readonly upstream: StartedChild;
  /** Made when a TLS target or the reload runs. */
  readonly cert: BenchCertificate | undefined;
  /** With --generator wrk. */
  readonly wrk: WrkGenerator | undefined;
  readonly startedAt: Date;
  readonly outDir: string;
}

async function measure({ opts, registry, nginxBin, machine, upstream, cert, wrk, startedAt, outDir }: BenchSetup): Promise<void> {
  const targets = await startTargets(registry, nginxBin, upstream, opts.targets, opts.baselineDir, cert);
  const negotiated: Partial<Record<TargetId, string>> = {};
  for (const t of targets) {
    const n = await smokeCheck(t);
    if (n !== undefined) negotiated[t.id] = n;
  }
  log(`proxy-bench: targets ${targets.map((t) => `${t.id}=${t.url}${negotiated[t.id] ? ` (${negotiated[t.id]})` : ''}`).join(' ')}`);
  const ctx = { targets, benchPids: [upstream.pid, ...targets.map((t) => t.pid)], opts, log, wrk };
  const saturation = await runSaturationPhase(ctx);
  // Half the gateway's saturation: the gateway as deployed (the raw engine, compiled) when it ran.
  const rateReference = RATE_REFERENCES.find((id) => targets.some((t) => t.id === id)) ?? 'gateway-undici';
  const gatewayCells = summarizeSaturation(
    saturation,
    [rateReference],
    WORKLOADS.map((w) => w.name),
  );
  const fixedRates = new Map<WorkloadName, number>(
    WORKLOADS.map((w) => [w.name, Math.round((gatewayCells.find((c) => c.workload === w.name)?.rps ?? NaN) * opts.fixedFraction)]),
  );
  const fixed = opts.fixed ? await runFixedPhase(ctx, fixedRates) : [];
  let reload: ReloadRun | undefined;
  if (opts.reloads > 0 && cert !== undefined) {
    // Last, with its own gateway: the other targets idle meanwhile.
    reload = await runReloadPhase({ registry, upstreamUrl: upstream.url, cert, opts, log });
  }

  const finishedAt = new Date();
  const { document, view } = buildResults({
    startedAt,
    finishedAt,
    machine: { ...machine, loadavgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
    opts,
    targets: targets.map((t) => t.id),
    saturation,
    fixedRates,
    rateReference,
    fixed,
    negotiated,
    reload,
  });
  const json = `${JSON.stringify(document, null, 2)}\n`;
  // A --quick smoke run never replaces the latest real figures.
  const prefix = opts.quick ? 'bench-proxy-quick' : 'bench-proxy';
  const stamped = join(outDir, `${prefix}-${stampOf(startedAt)}.json`);
  writeFileSync(stamped, json);
  writeFileSync(join(outDir, `${prefix}-latest.json`), json);
  writeFileSync(join(outDir, `${prefix}-latest.md`), renderReport(view, 'markdown'));
  process.stdout.write(`\n${renderReport(view, 'text')}`);
  log(
    `proxy-bench: ${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s; ` +
      `wrote ${stamped}, ${prefix}-latest.json, ${prefix}-latest.md`,
  );
}

async function main(): Promise<number> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseBenchOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const registry = new ChildRegistry();
  registry.installCleanup();
  try {
    await bench(opts, registry);
    return 0;
  } finally {
    await registry.stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`proxy-bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
