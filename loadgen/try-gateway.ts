#!/usr/bin/env node
/**
 * `npm start`: a gateway with small key-value apps behind it, for trying it
 * out. Starts an echo upstream on every N1/N2 server address in the config
 * (the servers of one deployment share their data), then the gateway.
 */
import { parseArgs } from 'node:util';
import { isGatewayError, loadGatewayConfig, runGatewayUntilSignal } from '../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from './reference-app/echo-upstream.js';

const USAGE = `usage: npm start -- [--config FILE]   (default configs/single-node.yaml)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { config: { type: 'string', default: 'configs/single-node.yaml' }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadGatewayConfig(values.config);
  const demo: EchoUpstream[] = [];
  for (const app of Object.values(config.apps)) {
    for (const [d, pool] of [
      ['n1', app.n1],
      ['n2', app.n2],
    ] as const) {
      const store = new Map<string, string>();
      for (const s of pool.servers) {
        const u = new URL(s.url);
        demo.push(await startEchoUpstream(`${d}@${u.host}`, u.hostname, Number(u.port), store));
      }
    }
  }
  try {
    await runGatewayUntilSignal(config, [`  demo upstreams: ${demo.map((d) => d.url).join(' ')}`]);
  } finally {
    await Promise.all(demo.map((d) => d.close()));
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `northwest-try-gateway: ${isGatewayError(err) ? `${err.code}: ${err.message}` : ((err as Error).stack ?? String(err))}\n`,
    );
    process.exit(isGatewayError(err) && err.code === 'NW_GW_CONFIG_INVALID' ? 2 : 1);
  },
);
