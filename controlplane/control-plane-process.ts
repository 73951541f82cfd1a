import { createLogger, type Logger } from '../platform/logger.js';
import { ControlAdminServer, type ControlAdminAddress } from './admin/control-admin-server.js';
import type { ControlPlaneConfig } from './config.js';
import type { Coordinator } from '../platform/coordinator/coordinator.js';
import { createCoordinator } from '../platform/coordinator/coordinator-config.js';
import { ControlPlane } from './control-plane.js';
import type { DnsSteps, SyncHook } from './migration/migration-hooks.js';
import { createDnsProvider } from './dns/create-dns-provider.js';
import { dnsSteps } from './dns/dns-steps.js';
import { createSyncHooks, type SyncHooks } from './sync/sync-hooks.js';

/** Programmatic extension points of a control-plane process; the CLI passes none. */
export interface ControlPlaneProcessOptions {
  /** Named sync hooks that plans may list under `sync.hooks`. */
  readonly syncHooks?: ReadonlyMap<string, SyncHook>;
  /** The DNS side of migrations; without it plans with a `dns` section are refused. */
  readonly dns?: DnsSteps;
  /** A coordinator client to use instead of one built from `config.coordinator` (tests). */
  readonly coordinator?: Coordinator;
  readonly logger?: Logger;
  /** Where the admin token variable is read from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A running control plane with its admin API. */
export interface ControlPlaneProcess {
  readonly controlPlane: ControlPlane;
  readonly admin: ControlAdminServer;
  readonly adminAddress: ControlAdminAddress;
  readonly logger: Logger;
  /** Closes the admin API, leaves the election and closes the coordinator session. */
  stop(): Promise<void>;
}

/**
 * Starts one control-plane process: joins the coordinator and the leader
 * election, then opens the admin API. If any step fails, what was started is
 * stopped again before the error is thrown.
 */
export async function startControlPlaneProcess(
  config: ControlPlaneConfig,
  opts: ControlPlaneProcessOptions = {},
): Promise<ControlPlaneProcess> {
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? createLogger(config.log.level, { component: 'controlplane', id: config.id });
  const coordinator = opts.coordinator ?? createCoordinator(config.coordinator, 'controlplane', env);
  const configured: SyncHooks | undefined = config.sync ? createSyncHooks(config.sync, { coordinator, logger, env }) : undefined;
  // Without configured hooks the caller's map is used as it is (tests add to it later).
  const syncHooks = configured
    ? new Map([...configured.hooks, ...(opts.syncHooks ?? [])])
    : (opts.syncHooks ?? new Map<string, SyncHook>());
  const controlPlane = new ControlPlane({
    coordinator,
    id: config.id,
    logger,
    syncHooks,
    ...(opts.dns ? { dns: opts.dns } : config.dns ? { dns: dnsSteps(createDnsProvider(config.dns)) } : {}),
  });
  const token = env[config.admin.tokenEnv];
  if (!token)
    logger.warn('controlplane.admin.no_token', {
      tokenEnv: config.admin.tokenEnv,
      detail: 'every admin endpoint but /healthz will answer 401',
    });
  let admin: ControlAdminServer | undefined;
  try {
    await controlPlane.start();
    admin = await ControlAdminServer.start(controlPlane, {
      host: config.admin.host,
      port: config.admin.port,
      token,
      logger,
      dashboardSessionTtlMs: config.admin.dashboardSessionTtlMs,
    });
  } catch (err) {
    await controlPlane.stop().catch(() => undefined);
    await configured?.close();
    await coordinator.close().catch(() => undefined);
    throw err;
  }
  const server = admin;
  logger.info('controlplane.started', { admin: server.address.url, leader: controlPlane.isLeader() });
  return {
    controlPlane,
    admin: server,
    adminAddress: server.address,
    logger,
    async stop() {
      await server.close();
      await controlPlane.stop();
      await configured?.close();
      await coordinator.close();
      logger.info('controlplane.stopped', {});
    },
  };
}
