import { parseArgs } from 'node:util';
import { configFromArgs, positive, positiveInt, runCli, timestampDir } from './experiments/cli-support.js';
import { attachCommand } from './attach/attach-command.js';
import { ExperimentError } from './experiments/experiment-errors.js';
import { overheadCommand } from './experiments/overhead-command.js';
import { parseLinkFlags } from './experiments/overhead-options.js';
import { describeConfig, switchoverCommand } from './experiments/switchover-command.js';

const USAGE = `usage: npm run experiment -- <command> [options]

commands:
  switchover   migrate N1 → N2 under load, N trials on a fresh system each; prints the switchover
               table and writes report.json, report.md and chart.svg (last trial) to --out
  overhead     latency in normal operation vs during the sync phase at 20/50/80 % reads
               (fixed-rate load), beside the paper's Table 2; writes overhead.json and overhead.md
  attach       the switchover measurement against a running deployment: --config is an attach
               config (docs/loadtest.md); the same as northwest-loadtest --config FILE

options:
  --config FILE   experiment config (YAML): coordinator (embedded | zookeeper), dns (memory |
                  route53), store, gateways, load, trials; default: the embedded system
  --trials N      switchover: number of trials (overrides the config; default 10)
  --gateways N    overrides the config's gateway count
  --out DIR       report directory (default results/<timestamp>)
  --rate R        overhead: requests per second per gateway (default 300)
  --duration S    overhead: seconds per measured run (default 5)
  --rounds N      overhead: normal/migration pairs per read ratio, interleaved (default 3)
  --reads LIST    overhead: read shares in percent, comma-separated (default 20,50,80)
  --strategy S    overhead, switchover: how the datastore moves to N2: copy-on-write (default; the
                  config's cassandra.n1/n2 clusters) or replicate (N2's datacenter joins N1's cluster:
                  the store's replicate section, scripts/cassandra-dc.sh)
  --n2-rtt MS     overhead, switchover: N2 behind Toxiproxy with this round-trip time (a latency
                  toxic of MS/2 each way): copy-on-write, N1's links to N2's Cassandra and Redis;
                  replicate, the datacenter link (store.replicate.linkProxies). Without it N2 is
                  reached directly. The overhead command redraws overhead-rtt.svg in --out from
                  every run with an RTT there (docs/benchmarks.md)
  -h, --help      this text

exit code: 0 all trials done with 0 failed requests and 0 lost writes; 1 otherwise or on a
runtime error; 2 bad command line or config.`;

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      trials: { type: 'string' },
      gateways: { type: 'string' },
      out: { type: 'string' },
      rate: { type: 'string', default: '300' },
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      reads: { type: 'string' },
      strategy: { type: 'string' },
      'n2-rtt': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command === 'attach' && !rest.length) {
    if (!values.config) throw new ExperimentError('NW_EXP_USAGE', 'attach: --config is required');
    return attachCommand(values.config, values.out);
  }
  if (command !== 'switchover' && command !== 'overhead')
    throw new ExperimentError('NW_EXP_USAGE', command ? `unknown command ${JSON.stringify(command)}` : 'no command given');
  if (rest.length) throw new ExperimentError('NW_EXP_USAGE', `unexpected argument ${JSON.stringify(rest[0])}`);
  const cfg = configFromArgs(values.config, {
    trials: positiveInt('--trials', values.trials),
    gateways: positiveInt('--gateways', values.gateways),
  });
  const link = parseLinkFlags({ strategy: values.strategy, n2Rtt: values['n2-rtt'], reads: values.reads });
  if (command === 'switchover' && values.reads !== undefined)
    throw new ExperimentError('NW_EXP_USAGE', '--reads is for overhead; the switchover reads load.readRatio of the config');
  const outDir = values.out ?? cfg.out ?? timestampDir();
  process.stderr.write(
    `northwest experiment ${command}: ${describeConfig(cfg)}, ` +
      `${cfg.gateways} gateways${command === 'switchover' ? `, ${cfg.trials} trials` : ''}; strategy ${link.strategy}` +
      `${link.n2RttMs === undefined ? '' : `, N2 RTT ${link.n2RttMs} ms`}; reports in ${outDir}\n`,
  );
  if (command === 'overhead')
    return overheadCommand(cfg, {
      ...link,
      rate: positive('--rate', values.rate),
      durationS: positive('--duration', values.duration),
      rounds: Math.round(positive('--rounds', values.rounds)),
      outDir,
    });
  return switchoverCommand(cfg, outDir, link);
}

runCli('experiment', USAGE, () => main(process.argv.slice(2)));
