#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadGatewayConfig } from './config/load-config.js';
import { isGatewayError } from './errors.js';
import { isCodedError } from '../platform/coded-error.js';
import { runGatewayUntilSignal } from './run-gateway.js';
import { checkConfig } from './cli/check-config.js';
import { reloadCommand } from './cli/reload-command.js';

const USAGE = `usage: northwest-gateway --config FILE                 run a gateway (SIGHUP reloads FILE, SIGTERM drains and stops)
       northwest-gateway --check-config FILE           validate FILE and exit 0, or 2 naming each bad field
       northwest-gateway reload --config FILE [--admin URL]
                                                       make the running gateway re-read FILE (admin API, token in
                                                       admin.tokenEnv); exits non-zero when the reload failed

  --config FILE            gateway config (YAML or JSON); see configs/
  --admin URL              the gateway's admin API (default: admin.host and admin.port of FILE)
  --help                   this text

To try it out with small key-value apps behind it: npm start (loadgen/try-gateway.ts).`;

const io = {
  out: (line: string) => void process.stdout.write(`${line}\n`),
  err: (line: string) => void process.stderr.write(`${line}\n`),
};

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      'check-config': { type: 'string' },
      admin: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values['check-config'] !== undefined) return checkConfig(values['check-config'], io);
  const command = positionals[0];
  if (command !== undefined && command !== 'reload') {
    process.stderr.write(`northwest-gateway: unknown command ${command}\n${USAGE}\n`);
    return 2;
  }
  if (!values.config) {
    process.stderr.write(`northwest-gateway: --config is required\n${USAGE}\n`);
    return 2;
  }
  if (command === 'reload') return reloadCommand(values.config, values.admin, io);
  await runGatewayUntilSignal(loadGatewayConfig(values.config), [], values.config);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if ((err as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`northwest-gateway: ${(err as Error).message}\n${USAGE}\n`);
      process.exit(2);
    }
    // Coordinator codes too (a member id in use, a session timeout too short): the operator acts on the code.
    if (isCodedError(err)) process.stderr.write(`northwest-gateway: ${err.code}: ${err.message}\n`);
    else process.stderr.write(`northwest-gateway: ${(err as Error).stack ?? String(err)}\n`);
    const invalidConfig = isGatewayError(err) && (err.code === 'NW_GW_CONFIG_INVALID' || err.code === 'NW_GW_TLS_CONFIG_INVALID');
    process.exit(invalidConfig ? 2 : 1);
  },
);
