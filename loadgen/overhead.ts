import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runOverheadExperiment } from './experiments/overhead-experiment.js';
import { overheadTable } from './report/markdown-report.js';

const USAGE = `usage: npm run experiment:overhead [-- --rate R --duration S --gateways N --out DIR]

Latency in normal operation vs during a migration's sync phase (writes mirrored to N1 and N2),
at 20 %, 50 % and 80 % reads, fixed-rate load (corrected for coordinated omission), on the
embedded system; printed beside Table 2 of the paper as relative overhead.`;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '300' }, duration: { type: 'string', default: '5' }, gateways: { type: 'string', default: '2' }, out: { type: 'string', default: 'results/overhead' }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [rate, durationS, gateways] = [Number(values.rate), Number(values.duration), Number(values.gateways)];
  if (!(rate > 0) || !(durationS > 0) || !Number.isInteger(gateways) || gateways < 1) {
    process.stderr.write(`experiment:overhead: --rate, --duration and --gateways must be positive\n${USAGE}\n`);
    return 2;
  }
  const rows = await runOverheadExperiment({ readRatiosPercent: [20, 50, 80], rate, durationS, gateways, keys: 1000 });
  const md = `### Migration overhead (${gateways} gateways, ${rate} req/s per gateway, ${durationS} s per point)\n\n${overheadTable(rows)}\n`;
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'overhead.json'), `${JSON.stringify({ at: new Date().toISOString(), rate, durationS, gateways, rows }, null, 2)}\n`);
  writeFileSync(join(values.out, 'overhead.md'), md);
  process.stdout.write(md);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`experiment:overhead: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
