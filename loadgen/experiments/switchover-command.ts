import { relative } from 'node:path';
import { statsOf } from '../analysis/trials.js';
import { createProgress } from '../load/progress.js';
import type { TrialFigures } from '../report/report-model.js';
import type { ExperimentConfig } from './experiment-config.js';
import { startExperimentEnvironment } from './experiment-environment.js';
import type { StoreFactory } from './experiment-stores.js';
import { startHostLoadMeter } from './host-load.js';
import { storesOverLinks } from './n2-links.js';
import type { LinkOptions } from './overhead-options.js';
import { storeFactoryFor } from './store-factory.js';
import { runSwitchoverExperiment, type SwitchoverExperimentResult } from './switchover-experiment.js';
import type { TrialResult } from './switchover-trial.js';

/** Where a config runs, in a few words (report titles, the banner). */
export function describeConfig(cfg: ExperimentConfig): string {
  const coordinator = cfg.coordinator.kind === 'zookeeper' ? `ZooKeeper ${cfg.coordinator.connectString}` : 'embedded coordinator';
  const dns = cfg.dns.provider === 'route53' ? `Route 53${cfg.dns.endpoint ? ` at ${cfg.dns.endpoint}` : ''}` : 'in-memory DNS';
  return `${coordinator}, ${dns}, ${cfg.store.kind} store`;
}

/** The switchover experiment a config describes; `stores` replaces the config's store factory (for tests and plug-ins). */
export function runConfiguredSwitchover(
  cfg: ExperimentConfig,
  o: {
    readonly outDir: string;
    readonly stores?: StoreFactory;
    readonly quiet?: boolean;
    readonly onTrial?: (trial: number, r: TrialResult) => void;
  },
): Promise<SwitchoverExperimentResult> {
  const stores = o.stores ?? storeFactoryFor(cfg.store);
  const { load } = cfg;
  return runSwitchoverExperiment({
    trials: cfg.trials,
    gateways: cfg.gateways,
    durationS: load.durationS,
    handoverAtS: load.handoverAtS,
    connectionsPerGateway: load.connectionsPerGateway,
    ...(load.ratePerGateway === undefined ? {} : { ratePerGateway: load.ratePerGateway }),
    dnsPropagationMs: cfg.dns.provider === 'memory' ? cfg.dns.propagationMs : 0,
    workload: { readRatio: load.readRatio, keys: load.keys, distribution: load.distribution, valueBytes: load.valueBytes },
    outDir: o.outDir,
    where: describeConfig(cfg),
    startEnvironment: (trial) =>
      startExperimentEnvironment(
        { coordinator: cfg.coordinator, dns: cfg.dns, gateways: cfg.gateways, leaseMs: cfg.leaseMs, stores },
        trial,
      ),
    ...(o.quiet ? {} : { progress: createProgress() }),
    ...(o.onTrial ? { onTrial: o.onTrial } : {}),
  });
}

const fmt = (n: number | null | undefined): string =>
  typeof n === 'number' && Number.isFinite(n) ? (Number.isInteger(n) || Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1)) : '—';

/** Non-2xx statuses and socket errors of a trial, counted (empty if none). */
function failureDetail(r: TrialResult): string {
  const counts = new Map<string, number>();
  for (const s of r.run.samples) {
    if (s.status !== 0 && s.status < 400) continue;
    const k = `${s.status} ${s.error ?? ''}`.trim();
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts.size ? ` (${[...counts].map(([k, v]) => `${v}× ${k}`).join(', ')})` : '';
}

/**
 * Where the fence phase's time went, from the migration log: its duration and each sync hook's
 * result at the fence (the datastore's window or drain, the data layers' confirmation). Empty for
 * a plan whose fence ran no hook.
 */
export function fenceDetail(log: TrialResult['log']): string {
  const fence = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'fence');
  if (!fence) return '';
  const hooks = (fence.data?.hooks ?? {}) as Record<string, { window?: unknown; confirmMs?: unknown; drainMs?: unknown }>;
  const parts = Object.entries(hooks).map(([name, h]) => {
    const bits = [
      typeof h.window === 'string' ? h.window : undefined,
      typeof h.confirmMs === 'number' ? `confirm ${fmt(h.confirmMs)} ms` : undefined,
      typeof h.drainMs === 'number' && h.drainMs > 0 ? `drain ${fmt(h.drainMs)} ms` : undefined,
    ].filter((b) => b !== undefined);
    return bits.length ? `${name}: ${bits.join(', ')}` : undefined;
  });
  const named = parts.filter((p) => p !== undefined);
  return `; fence phase ${fmt(fence.durationMs)} ms${named.length ? ` (${named.join('; ')})` : ''}`;
}

/** One line per finished trial. */
export function trialLine(t: number, r: TrialResult): string {
  const f = r.figures;
  const why = r.log.status === 'done' || !r.log.error ? '' : ` (${r.log.error.code}: ${r.log.error.message})`;
  return (
    `  trial ${t}: ${r.log.status}${why}; first N2 response ${fmt(f.firstN2AfterMs)} ms after the handover command (fence), ` +
    `last N1 ${fmt(f.lastN1AfterMs)} ms, flip ${fmt(f.flipMs)} ms, hold ${fmt(f.writeHoldMs)} ms (p99 ${fmt(f.writeHoldP99Ms)} ms), ` +
    `DNS → INSYNC ${fmt(f.dnsToInsyncMs)} ms, failed ${f.failedRequests}${failureDetail(r)}, lost writes ${f.lostWrites}` +
    `${fenceDetail(r.log)}\n`
  );
}

/** The switchover table (Markdown) with min, mean ± stdev and max over the trials, and where the reports are. */
export function switchoverTable(cfg: ExperimentConfig, result: SwitchoverExperimentResult): string {
  const dnsLabel = cfg.dns.provider === 'route53' ? `Route 53${cfg.dns.endpoint ? ` (${cfg.dns.endpoint})` : ''}` : 'in-memory provider';
  const rows: Array<[string, (t: TrialFigures) => number | null | undefined, string]> = [
    ['handover command (fence) → first response served by N2', (t) => t.firstN2AfterMs, 'ms'],
    ['handover command (fence) → last response served by N1', (t) => t.lastN1AfterMs, 'ms'],
    ['fleet flip (proxy state written → all gateways acked)', (t) => t.flipMs, 'ms'],
    ['longest write hold at the fence', (t) => t.writeHoldMs, 'ms'],
    ['write hold at the fence, p99 of the held writes', (t) => t.writeHoldP99Ms, 'ms'],
    [`DNS change → INSYNC (${dnsLabel})`, (t) => t.dnsToInsyncMs, 'ms'],
    ['failed requests', (t) => t.failedRequests, ''],
    ['lost writes', (t) => t.lostWrites, ''],
  ];
  const n = result.trials.length;
  const out = [
    '',
    `Switchover on ${describeConfig(cfg)}, ${cfg.gateways} gateways, ${n} trials`,
    '',
    `| switchover (${n} trials) | min | mean ± stdev | max |`,
    '| --- | ---: | ---: | ---: |',
  ];
  for (const [label, pick, unit] of rows) {
    const s = statsOf(result.trials, pick);
    out.push(`| ${label} | ${fmt(s.min)} ${unit} | ${fmt(s.mean)} ± ${fmt(s.stdev)} ${unit} | ${fmt(s.max)} ${unit} |`);
  }
  const rel = (p: string): string => relative(process.cwd(), p);
  out.push('', `For comparison: the paper's DNS-driven switchover took 46.4 s ± 0.97 s.`, '');
  out.push(`chart:  ${rel(result.reports.chart)}`, `report: ${rel(result.reports.markdown)}`, `data:   ${rel(result.reports.json)}`, '');
  return out.join('\n');
}

/** 0 if every trial had no failed request and no lost write, else 1. */
export function switchoverExitCode(result: SwitchoverExperimentResult): number {
  const bad = result.trials.reduce((a, t) => a + (t.failedRequests ?? 0) + (t.lostWrites ?? 0), 0);
  return bad === 0 ? 0 : 1;
}

/** Runs the configured experiment with trial lines on stderr and the table on stdout; returns the exit code. */
export async function switchoverCommand(
  cfg: ExperimentConfig,
  outDir: string,
  link: Pick<LinkOptions, 'strategy' | 'n2RttMs'> = { strategy: 'copy-on-write', n2RttMs: undefined },
): Promise<number> {
  let unfinished = 0;
  const links = await storesOverLinks(cfg, link.strategy, link.n2RttMs);
  const load = startHostLoadMeter();
  let result: SwitchoverExperimentResult;
  try {
    result = await runConfiguredSwitchover(cfg, {
      outDir,
      stores: links.stores,
      onTrial: (t, r) => {
        if (r.log.status !== 'done') unfinished += 1;
        process.stderr.write(trialLine(t, r));
      },
    });
  } finally {
    await links.close();
  }
  const otherCores = load.stop();
  process.stdout.write(switchoverTable(cfg, result));
  process.stdout.write(
    `strategy ${link.strategy}; ${links.description || 'N2 reached directly'}; finished ${new Date().toISOString()}; ` +
      `others ${otherCores ?? '?'} cores (CPU of the host's other processes, averaged over the run)\n`,
  );
  return unfinished === 0 ? switchoverExitCode(result) : 1;
}
