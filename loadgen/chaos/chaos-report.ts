import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CampaignResult } from './campaign.js';
import type { StoreVariantName } from './chaos-options.js';
import { FAULT_KINDS } from './fault-kinds.js';
import { INVARIANTS, type InvariantName, type Violation } from './invariants/evidence.js';
import type { RequestCounts } from './load/load-recorder.js';
import type { MigrationResult } from './run-migration.js';

/** What the campaign ran against and what it assumed; part of every report. */
const APP_SERVER_NOTES: Readonly<Record<StoreVariantName, string>> = {
  memory:
    'App servers: the reference app with in-memory stores, in processes of their own; the data sync is its in-memory stand-in ' +
    '(sync hook copy-n1-to-n2: keys N2 lacks during the sync phase, every differing key at the fence). ' +
    'cassandra-restart and redis-restart need --store cassandra.',
  cassandra:
    "App servers: the reference app on the services' Cassandra and Redis (N1 on cluster n1 + Redis n1, N2 on n2 + n2; " +
    'keyspace nw_chaos_<run>, a table per app), in processes of their own; N1 writes through the data layer, which joins the ' +
    'fleet. The data sync is the real one: plans sync with mode none and the hooks cache (copy + warm-up) and datastore ' +
    "(copy-on-write, snapshot, verify). Stores are read back from Cassandra through the app's /_admin/snapshot.",
};

/** What a reader of the report must know about how the campaign ran. */
export function campaignNotes(store: StoreVariantName): string[] {
  return [
    APP_SERVER_NOTES[store],
    'Plans set proxy.mirrorWritesToN1: false, so N1 receives no copies after the handover and ' +
      '"no write at N1 after the first write at N2" is strict. ' +
      "A rollback after proxy then drops N2's writes at N1 by design: counted as lostByDesign, not as violations.",
    'Mirror copies in the sync phase are told apart by request id (the same id reached both sides) and by the reply headers.',
    'Times in traces are ms after the migration was submitted, on CLOCK_MONOTONIC (process.hrtime.bigint() in every process).',
  ];
}

interface FaultTally {
  injected: number;
  failed: number;
  /** By how the trigger came: `fence`, `proxy→rollback`, ... */
  byTrigger: Record<string, number>;
}

export interface ChaosReport {
  readonly campaign: {
    readonly runId: string;
    readonly seed: number;
    readonly first: number;
    readonly migrations: number;
    readonly faultsPerMigration: number;
    readonly faultKinds: readonly string[];
    readonly store: StoreVariantName;
    readonly gateways: number;
    readonly workers: number;
    readonly controlPlanes: number;
    readonly startedAt: string;
    readonly durationMs: number;
    readonly aborted: string | undefined;
    readonly notes: readonly string[];
  };
  readonly migrationsByOutcome: Record<string, number>;
  readonly faultsByKind: Record<string, FaultTally>;
  readonly violationsByInvariant: Record<InvariantName, number>;
  readonly violations: readonly Violation[];
  readonly requests: { readonly writes: RequestCounts; readonly reads: RequestCounts };
  readonly lostByDesign: number;
  readonly migrations: ReadonlyArray<{
    readonly index: number;
    readonly id: string;
    readonly status: string;
    readonly elapsedMs: number | undefined;
    readonly settleMs: number;
    readonly error: string | undefined;
    readonly faults: readonly string[];
    readonly violations: readonly InvariantName[];
  }>;
}

function addCounts(into: RequestCounts, c: RequestCounts): void {
  into.total += c.total;
  into.ok += c.ok;
  into.rejected += c.rejected;
  for (const [k, n] of Object.entries(c.failed)) into.failed[k] = (into.failed[k] ?? 0) + n;
  for (const [k, n] of Object.entries(c.noAnswer)) into.noAnswer[k] = (into.noAnswer[k] ?? 0) + n;
}

const zero = (): RequestCounts => ({ total: 0, ok: 0, rejected: 0, failed: {}, noAnswer: {} });

function statusOf(m: MigrationResult): string {
  return m.outcome.status;
}

/** The campaign's figures: faults by kind, migrations by outcome, every violation with its trace. */
export function buildReport(r: CampaignResult): ChaosReport {
  const faultsByKind: Record<string, FaultTally> = {};
  for (const k of r.options.faults) faultsByKind[k] = { injected: 0, failed: 0, byTrigger: {} };
  const migrationsByOutcome: Record<string, number> = {};
  const violationsByInvariant = Object.fromEntries(INVARIANTS.map((i) => [i, 0])) as Record<InvariantName, number>;
  const writes = zero();
  const reads = zero();
  for (const m of r.migrations) {
    migrationsByOutcome[statusOf(m)] = (migrationsByOutcome[statusOf(m)] ?? 0) + 1;
    for (const f of m.faults) {
      const t = faultsByKind[f.kind] ?? { injected: 0, failed: 0, byTrigger: {} };
      faultsByKind[f.kind] = t;
      if (f.status === 'failed') t.failed += 1;
      else t.injected += 1;
      const how = f.trigger.replace(/\+\d+ms$/, '');
      t.byTrigger[how] = (t.byTrigger[how] ?? 0) + 1;
    }
    for (const v of m.violations) violationsByInvariant[v.invariant] += 1;
    addCounts(writes, m.writes);
    addCounts(reads, m.reads);
  }
  return {
    campaign: {
      runId: r.runId,
      seed: r.options.seed,
      first: r.options.first,
      migrations: r.options.migrations,
      faultsPerMigration: r.options.faultsPerMigration,
      faultKinds: r.options.faults,
      store: r.options.store,
      gateways: r.options.gateways,
      workers: r.options.workers,
      controlPlanes: r.options.controlPlanes,
      startedAt: r.startedAt,
      durationMs: r.durationMs,
      aborted: r.aborted,
      notes: campaignNotes(r.options.store),
    },
    migrationsByOutcome,
    faultsByKind,
    violationsByInvariant,
    violations: r.migrations.flatMap((m) => m.violations),
    requests: { writes, reads },
    lostByDesign: r.migrations.reduce((s, m) => s + m.lostByDesign, 0),
    migrations: r.migrations.map((m) => ({
      index: m.index,
      id: m.id,
      status: statusOf(m),
      elapsedMs: 'elapsedMs' in m.outcome ? Math.round(m.outcome.elapsedMs) : undefined,
      settleMs: m.settleMs,
      error:
        'error' in m.outcome && m.outcome.error
          ? typeof m.outcome.error === 'string'
            ? m.outcome.error
            : m.outcome.error.code
          : undefined,
      faults: m.faults.map((f) => `${f.kind} ${f.target} @${f.trigger}${f.status === 'failed' ? ' (failed)' : ''}`),
      violations: m.violations.map((v) => v.invariant),
    })),
  };
}

const table = (head: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string[] => [
  `| ${head.join(' | ')} |`,
  `| ${head.map(() => '---').join(' | ')} |`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
];

function countsLine(c: RequestCounts): string {
  const list = (m: Record<string, number>): string =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || '-';
  return `${c.total} sent, ${c.ok} ok, ${c.rejected} 4xx; 5xx: ${list(c.failed)}; no answer: ${list(c.noAnswer)}`;
}

/** The report as Markdown: summary tables first, then every violation with its trace. */
export function renderMarkdown(rep: ChaosReport): string {
  const c = rep.campaign;
  const total = rep.violations.length;
  return [
    `# Chaos campaign ${c.runId}`,
    '',
    `Seed ${c.seed}, ${c.migrations} migration(s), ${c.faultsPerMigration} fault(s) each, ${c.gateways} gateways` +
      `${c.workers > 1 ? ` (${c.workers} workers each)` : ''}, ` +
      `${c.controlPlanes} control planes; started ${c.startedAt}, took ${(c.durationMs / 1000).toFixed(0)} s. ` +
      `Reproduce the fault schedule: \`npm run chaos -- --migrations ${c.migrations} --seed ${c.seed}` +
      `${c.first ? ` --first ${c.first}` : ''} ` +
      `--faults-per-migration ${c.faultsPerMigration} --faults ${c.faultKinds.join(',')}` +
      `${c.store === 'memory' ? '' : ` --store ${c.store}`}${c.workers > 1 ? ` --workers ${c.workers}` : ''}\`.`,
    '',
    `**${total} invariant violation(s)** in ${rep.migrations.filter((m) => m.violations.length > 0).length} ` +
      `of ${rep.migrations.length} migration(s).`,
    '',
    ...(c.aborted ? [`**The campaign stopped early:** ${c.aborted}`, ''] : []),
    '## Migrations by outcome',
    '',
    ...table(
      ['outcome', 'migrations'],
      Object.entries(rep.migrationsByOutcome).map(([k, n]) => [k, n]),
    ),
    '',
    '## Faults by kind',
    '',
    ...table(
      ['kind', 'injected', 'failed to inject', 'triggers', 'what it does'],
      Object.entries(rep.faultsByKind).map(([k, t]) => [
        `\`${k}\``,
        t.injected,
        t.failed,
        Object.entries(t.byTrigger)
          .map(([how, n]) => `${how} ${n}`)
          .join(', ') || '-',
        k in FAULT_KINDS ? FAULT_KINDS[k as keyof typeof FAULT_KINDS].description : '',
      ]),
    ),
    '',
    '## Invariant violations',
    '',
    ...table(
      ['invariant', 'violations'],
      Object.entries(rep.violationsByInvariant).map(([k, n]) => [`\`${k}\``, n]),
    ),
    '',
    `Writes a rollback dropped by design (N2 took them as primary, no mirror to N1): ${rep.lostByDesign}.`,
    '',
    '## Requests',
    '',
    `- writes: ${countsLine(rep.requests.writes)}`,
    `- reads: ${countsLine(rep.requests.reads)}`,
    '',
    '## Migrations',
    '',
    ...table(
      ['#', 'id', 'outcome', 's', 'settled in s', 'faults', 'violations'],
      rep.migrations.map((m) => [
        m.index,
        m.id,
        `${m.status}${m.error ? ` (${m.error})` : ''}`,
        m.elapsedMs === undefined ? '-' : (m.elapsedMs / 1000).toFixed(1),
        (m.settleMs / 1000).toFixed(1),
        m.faults.join('; ') || '-',
        m.violations.join(', ') || '-',
      ]),
    ),
    '',
    '## Violations with their traces',
    '',
    ...(total === 0
      ? ['None.']
      : rep.violations.flatMap((v, i) => [
          `### ${i + 1}. ${v.migrationId}: \`${v.invariant}\``,
          '',
          v.summary,
          '',
          '```',
          ...v.trace,
          '```',
          '',
        ])),
    '',
    '## Notes',
    '',
    ...c.notes.map((n) => `- ${n}`),
    '- Every process wrote its output to logs/<member or control-plane id>.log next to this report ' +
      '(gateways and control planes at info: each state applied, with its epoch).',
    '',
  ].join('\n');
}

/** Writes report.json and report.md into `dir`; returns their paths. */
export function writeChaosReport(dir: string, rep: ChaosReport): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const markdown = join(dir, 'report.md');
  writeFileSync(json, `${JSON.stringify(rep, null, 2)}\n`);
  writeFileSync(markdown, renderMarkdown(rep));
  return { json, markdown };
}
