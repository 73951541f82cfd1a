#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadGatewayConfig } from './config/load-config.js';
import { isGatewayError } from './errors.js';
import { isCodedError } from '../platform/coded-error.js';
import { runGatewayUntilSignal } from './run-gateway.js';

const USAGE = `usage: northwest-gateway --config FILE

  --config FILE            gateway config (YAML or JSON); see configs/
  --help                   this text

To try it out with small key-value apps behind it: npm start (loadgen/try-gateway.ts).`;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`northwest-gateway: --config is required\n${USAGE}\n`);
    return 2;
  }
  await runGatewayUntilSignal(loadGatewayConfig(values.config));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Coordinator codes too (a member id in use, a session timeout too short): the operator acts on the code.
    if (isCodedError(err)) process.stderr.write(`northwest-gateway: ${err.code}: ${err.message}\n`);
    else process.stderr.write(`northwest-gateway: ${(err as Error).stack ?? String(err)}\n`);
    const invalidConfig = isGatewayError(err) && (err.code === 'NW_GW_CONFIG_INVALID' || err.code === 'NW_GW_TLS_CONFIG_INVALID');
    process.exit(invalidConfig ? 2 : 1);
  },
);
