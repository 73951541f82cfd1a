/**
 * `npm run chaos -- --migrations N --seed S [options]`: the fault campaign on the real services
 * (options and exit codes: chaos-args.ts).
 */
import { runCampaign } from './campaign.js';
import { parseChaosArgs, USAGE } from './chaos-args.js';
import { isChaosError } from './chaos-errors.js';
import { CampaignOptionsSchema } from './chaos-options.js';
import { buildReport, writeChaosReport } from './chaos-report.js';
import type { MigrationResult } from './run-migration.js';

function progressLine(m: MigrationResult, done: number, total: number): string {
  const o = m.outcome;
  const time = 'elapsedMs' in o ? ` ${(o.elapsedMs / 1000).toFixed(1)}s` : '';
  const faults = m.faults.map((f) => `${f.kind}@${f.trigger}`).join(' ');
  const v = m.violations.length === 0 ? 'ok' : `VIOLATED ${m.violations.map((x) => x.invariant).join(', ')}`;
  return `[${done}/${total}] ${m.id} ${o.status}${time} | ${faults || 'no faults'} | ${v}\n`;
}

async function main(): Promise<number> {
  const args = parseChaosArgs(process.argv.slice(2));
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const options = CampaignOptionsSchema.parse(args);
  const result = await runCampaign(options, (m, done, total) => process.stderr.write(progressLine(m, done, total)));
  const report = buildReport(result);
  const files = writeChaosReport(options.out, report);
  const n = report.violations.length;
  process.stdout.write(
    `${n} invariant violation(s) in ${result.migrations.length} migration(s); ` +
      `outcomes ${JSON.stringify(report.migrationsByOutcome)}\nreport: ${files.markdown}\n        ${files.json}\n`,
  );
  if (result.aborted) process.stderr.write(`chaos: stopped early: ${result.aborted}\n`);
  return n === 0 && !result.aborted ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (isChaosError(err)) {
      process.stderr.write(`chaos: ${err.code}: ${err.message}\n`);
      if (err.code === 'NW_CHAOS_USAGE') process.stderr.write('see --help\n');
      process.exit(err.code === 'NW_CHAOS_USAGE' ? 2 : 1);
    }
    process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
