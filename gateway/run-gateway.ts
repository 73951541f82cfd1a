import type { GatewayConfig } from './config/config-schema.js';
import { startGatewayMember } from './fleet/gateway-member.js';
import { Gateway } from './gateway.js';
import { installLastResortHandlers } from '../platform/last-resort-handlers.js';
import { createLogger } from '../platform/logger.js';
import type { ListenerAddress } from './listener-address.js';
import type { ReloadResult } from './state/app-runtimes.js';
import { startWorkersGateway, workerCount } from './workers/start-workers.js';

/** What the runner needs of a started gateway: one process, or the primary of several (`workers`). */
interface Running {
  readonly listeners: readonly ListenerAddress[];
  readonly adminAddress: ListenerAddress | undefined;
  readonly memberId: string | undefined;
  readonly workers: string;
  reloadFromFile(): Promise<ReloadResult>;
  countUnhandled(): void;
  close(): Promise<void>;
}

async function startRunning(config: GatewayConfig, logger: ReturnType<typeof createLogger>, configFile?: string): Promise<Running> {
  const fileOption = configFile === undefined ? {} : { configFile };
  const count = workerCount(config.workers);
  if (count > 1) {
    const node = await startWorkersGateway(config, count, { logger, ...fileOption });
    const pids = node.gateway.workers().map((w) => w.pid);
    return {
      listeners: node.gateway.listeners,
      adminAddress: node.gateway.adminAddress,
      memberId: node.agent?.memberId,
      workers: `${count} (pids ${pids.join(' ')}; primary ${process.pid})`,
      reloadFromFile: () => node.gateway.reloadFromFile(),
      countUnhandled: () => node.gateway.countUnhandled(),
      close: () => node.close(),
    };
  }
  const member = config.fleet ? await startGatewayMember(config, { logger, ...fileOption }) : undefined;
  const gw = member ? member.gateway : await Gateway.start({ config, logger, ...fileOption });
  return {
    listeners: gw.listeners,
    adminAddress: gw.adminAddress,
    memberId: member?.agent.memberId,
    workers: '1 (one process)',
    reloadFromFile: () => gw.reloadFromFile(),
    countUnhandled: () => gw.metrics.errors.inc(['-', 'NW_GW_UNHANDLED_REJECTION']),
    close: () => (member ? member.close() : gw.close()),
  };
}

/**
 * Runs one gateway until SIGTERM or SIGINT: this process, or with `workers` > 1
 * the primary of that many worker processes (gateway/workers/); a fleet member
 * when the config has a `fleet` section (it reads its state from the
 * coordinator before it takes traffic), a standalone gateway otherwise. SIGHUP reloads
 * `configFile` (logged as gateway.reload.applied or gateway.reload.failed).
 * Prints where it listens and a few commands to try, plus `extraLines`.
 */
export async function runGatewayUntilSignal(config: GatewayConfig, extraLines: readonly string[] = [], configFile?: string): Promise<void> {
  const logger = createLogger(config.log.level, { component: 'gateway', gateway: config.name });
  let started: Running | undefined;
  // Installed first: SIGHUP's default action ends the process, also while it starts.
  const onHangup = (): void => {
    if (started === undefined)
      return void logger.warn('gateway.reload.too_early', { message: 'SIGHUP before the gateway was up: ignored' });
    started.reloadFromFile().catch(() => undefined); // logged by the gateway
  };
  process.on('SIGHUP', onHangup);
  // Before the start (a fleet member's agent starts inside it); counted under the errors metric too.
  const removeHandlers = installLastResortHandlers(
    logger,
    { unhandledRejection: 'NW_GW_UNHANDLED_REJECTION', uncaughtException: 'NW_GW_UNCAUGHT_EXCEPTION' },
    () => started?.countUnhandled(),
  );
  const gw = await startRunning(config, logger, configFile);
  started = gw;
  const first = gw.listeners[0]!;
  const [appName, app] = Object.entries(config.apps)[0]!;
  const memberNote = gw.memberId ? ` (fleet member ${gw.memberId}, ${config.fleet!.coordinator.kind} coordinator)` : '';
  process.stderr.write(
    [
      `northwest gateway "${config.name}" is up${memberNote}`,
      ...gw.listeners.map((l) => `  traffic:  ${l.url}`),
      gw.adminAddress ? `  admin:    ${gw.adminAddress.url}  (/healthz /readyz /metrics /state)` : '  admin:    disabled',
      `  workers:  ${gw.workers}`,
      ...(configFile === undefined ? [] : [`  reload:   kill -HUP ${process.pid}  (re-reads ${configFile})`]),
      ...extraLines,
      '',
      'try:',
      `  curl -i -H 'Host: ${app.hosts[0]}' -X PUT --data hello ${first.url}/kv/greeting`,
      `  curl -i -H 'Host: ${app.hosts[0]}' ${first.url}/kv/greeting`,
      gw.adminAddress && !gw.memberId
        ? `  curl -X PUT -H "Authorization: Bearer $${config.admin?.tokenEnv}" --data '{"epoch":1,"mode":"mirror"}' ` +
          `${gw.adminAddress.url}/state/${appName}`
        : '',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info('gateway.shutdown', { signal });
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await gw.close();
  process.off('SIGHUP', onHangup);
  removeHandlers();
}
