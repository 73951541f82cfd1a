import { parseArgs } from 'node:util';
import { configFromArgs, positiveInt, runCli } from './experiments/cli-support.js';
import { describeConfig, switchoverCommand } from './experiments/switchover-command.js';

const USAGE = `usage: npm run demo [-- --config FILE --trials N --gateways N --out DIR]

Runs the whole story: N1 and N2 reference apps, a fleet of gateways, a control plane, load from
autocannon; migrates N1 → N2 under load N times (default 3) and prints the switchover table and
the report paths. Without --config everything runs in this process (embedded coordinator,
in-memory DNS and stores; nothing to install). With a config (e.g. configs/demo.services.yaml) the
same experiment runs on a ZooKeeper ensemble and Route 53 (or moto).`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      trials: { type: 'string' },
      gateways: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const cfg = configFromArgs(
    values.config,
    { trials: positiveInt('--trials', values.trials), gateways: positiveInt('--gateways', values.gateways) },
    { trials: 3 },
  );
  const outDir = values.out ?? cfg.out ?? 'results/demo';
  const banner = `northwest demo: ${cfg.trials} switchovers N1 → N2 under load, ${cfg.gateways} gateways; ${describeConfig(cfg)}\n`;
  process.stderr.write(banner);
  return switchoverCommand(cfg, outDir);
}

runCli('demo', USAGE, main);
