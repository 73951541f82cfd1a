#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { attachCommand } from './attach/attach-command.js';
import { loadAttachSetup } from './attach/attach-config.js';
import { runCli } from './experiments/cli-support.js';
import { ExperimentError } from './experiments/experiment-errors.js';

const USAGE = `usage: northwest-loadtest --config FILE [--out DIR]
       northwest-loadtest --check-config FILE
       from a checkout: npm run loadtest -- --config FILE

Attach mode: the switchover measurement against a running deployment. Loads its gateways (listed
in the config, or the fleet's live members read from the coordinator) with the app's own requests,
starts the config's migration plan through the control plane's admin API (or waits for one an
operator starts), follows its event log to the end and writes report.json, report.md and
chart.svg. The config is described in docs/loadtest.md; an example: configs/loadtest.attach.yaml.

options:
  --config FILE        attach config (YAML, or JSON for .json)
  --out DIR            report directory (default: the config's out, else results/attach-<timestamp>)
  --check-config FILE  validate the config (and its plan and environment) only
  -h, --help           this text

exit code: 0 the migration is done with 0 failed requests and 0 lost writes; 1 otherwise or on a
runtime error (northwest-loadtest: <CODE>: <message>); 2 bad command line or config (names the file
and the field).`;

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      'check-config': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length) throw new ExperimentError('NW_EXP_USAGE', `unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values['check-config'] !== undefined) {
    loadAttachSetup(values['check-config']);
    process.stdout.write(`${values['check-config']}: ok\n`);
    return 0;
  }
  if (!values.config) throw new ExperimentError('NW_EXP_USAGE', '--config is required');
  return attachCommand(values.config, values.out);
}

runCli('northwest-loadtest', USAGE, () => main(process.argv.slice(2)));
