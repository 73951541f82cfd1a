import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { type AppServers, startAppServers } from './environment/app-servers.js';
import { CampaignCoordinator, campaignIdentities, type CoordinatorSettings } from './environment/campaign-coordinator.js';
import { ControlPlanes } from './environment/control-planes.js';
import { GatewayFleet } from './environment/gateway-fleet.js';
import { loadEndpoints, requireEndpoint } from './environment/service-endpoints.js';
import { SharedServices } from './environment/shared-services.js';
import { ZkLinks } from './environment/zk-links.js';

export interface EnvironmentOptions {
  readonly gateways: number;
  readonly controlPlanes: number;
  readonly sessionTimeoutMs: number;
  readonly leaseMs: number;
  /** Where every process's output goes (one file each). */
  readonly logDir: string;
}

/** Everything a campaign runs against; `close` stops it all and removes the chroot and the proxies. */
export interface CampaignEnvironment {
  /** Short random id: names the chroot, the proxies, migration and request ids. */
  readonly runId: string;
  readonly coordinator: CampaignCoordinator;
  readonly apps: AppServers;
  readonly gateways: GatewayFleet;
  readonly controlPlanes: ControlPlanes;
  readonly links: ZkLinks;
  readonly shared: SharedServices;
  readonly options: EnvironmentOptions;
  close(): Promise<void>;
}

/**
 * Starts a campaign's processes on the real services: a fresh chroot, N1 and N2 app servers,
 * Toxiproxy links for each gateway slot, the control planes. Gateways start per round of
 * migrations (they are configured with that round's apps). What started is stopped again if a
 * later step fails.
 */
export async function startCampaignEnvironment(o: EnvironmentOptions): Promise<CampaignEnvironment> {
  const endpoints = loadEndpoints();
  const zk = requireEndpoint(endpoints, 'zookeeper');
  const toxiproxy = requireEndpoint(endpoints, 'toxiproxy');
  const runId = randomBytes(3).toString('hex');
  const settings: CoordinatorSettings = {
    connectString: zk.connectString,
    chroot: `/nw-chaos-${runId}`,
    sessionTimeoutMs: o.sessionTimeoutMs,
    ...campaignIdentities(runId),
  };
  mkdirSync(o.logDir, { recursive: true });
  const teardown: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const step of teardown.reverse().splice(0)) await step().catch(() => undefined);
  };
  try {
    const coordinator = await CampaignCoordinator.open(settings);
    teardown.push(() => coordinator.dispose());
    const links = await ZkLinks.create(toxiproxy.apiUrl, `nw-chaos-${runId}`, o.gateways, zk.servers);
    teardown.push(() => links.dispose());
    const apps = await startAppServers();
    teardown.push(() => apps.stop());
    const controlPlanes = new ControlPlanes(settings, apps.url, o.logDir);
    teardown.push(() => controlPlanes.stopAll());
    await controlPlanes.ensure(o.controlPlanes);
    const gateways = await GatewayFleet.create({
      slots: o.gateways,
      coordinator: settings,
      links,
      n1Url: apps.url.n1,
      n2Url: apps.url.n2,
      leaseMs: o.leaseMs,
      logDir: o.logDir,
    });
    teardown.push(() => gateways.stopAll());
    return { runId, coordinator, apps, gateways, controlPlanes, links, shared: new SharedServices(endpoints), options: o, close };
  } catch (err) {
    await close();
    throw err;
  }
}
