#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadGatewayConfig } from './config/load-config.js';
import { isGatewayError } from './errors.js';
import { Gateway } from './gateway.js';
import { startEchoUpstream, type EchoUpstream } from './dev/echo-upstream.js';
import { startGatewayMember } from '../controlplane/fleet/gateway-member.js';

const USAGE = `usage: northwest-gateway --config FILE [--with-demo-upstreams]

  --config FILE            gateway config (YAML or JSON); see configs/
  --with-demo-upstreams    also start a small key-value app on every N1/N2 server
                           address in the config (for trying the gateway out)
  --help                   this text`;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, 'with-demo-upstreams': { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`northwest-gateway: --config is required\n${USAGE}\n`);
    return 2;
  }
  const config = loadGatewayConfig(values.config);
  const demo: EchoUpstream[] = [];
  if (values['with-demo-upstreams']) {
    for (const app of Object.values(config.apps)) {
      for (const [d, pool] of [['n1', app.n1], ['n2', app.n2]] as const) {
        const store = new Map<string, string>(); // servers of one deployment share its data
        for (const s of pool.servers) {
          const u = new URL(s.url);
          demo.push(await startEchoUpstream(`${d}@${u.host}`, u.hostname, Number(u.port), store));
        }
      }
    }
  }
  // A fleet member reads its state from the coordinator before it takes traffic.
  const member = config.fleet ? await startGatewayMember(config) : undefined;
  const gw = member ? member.gateway : await Gateway.start({ config });
  const first = gw.listeners[0]!;
  const [appName, app] = Object.entries(config.apps)[0]!;
  process.stderr.write(
    [
      `northwest gateway "${config.name}" is up${member ? ` (fleet member ${member.agent.memberId}, ${config.fleet!.coordinator.kind} coordinator)` : ''}`,
      ...gw.listeners.map((l) => `  traffic:  ${l.url}`),
      gw.adminAddress ? `  admin:    ${gw.adminAddress.url}  (/healthz /readyz /metrics /state)` : '  admin:    disabled',
      demo.length ? `  demo upstreams: ${demo.map((d) => d.url).join(' ')}` : '',
      '',
      'try:',
      `  curl -i -H 'Host: ${app.hosts[0]}' -X PUT --data hello ${first.url}/kv/greeting`,
      `  curl -i -H 'Host: ${app.hosts[0]}' ${first.url}/kv/greeting`,
      gw.adminAddress
        ? `  curl -X PUT -H "Authorization: Bearer $${config.admin?.tokenEnv}" --data '{"epoch":1,"mode":"mirror"}' ${gw.adminAddress.url}/state/${appName}`
        : '',
      '',
    ]
      .filter((l) => l !== undefined)
      .join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      gw.logger.info('gateway.shutdown', { signal });
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  if (member) await member.close();
  else await gw.close();
  await Promise.all(demo.map((d) => d.close()));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (isGatewayError(err)) process.stderr.write(`northwest-gateway: ${err.code}: ${err.message}\n`);
    else process.stderr.write(`northwest-gateway: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(isGatewayError(err) && err.code === 'NW_GW_CONFIG_INVALID' ? 2 : 1);
  },
);
