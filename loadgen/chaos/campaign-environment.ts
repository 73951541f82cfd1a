import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { type AppServers, startAppServers } from './environment/app-servers.js';
import { startBackedAppServers } from './environment/backed-app-servers.js';
import { type BackedStores, BackedStoresSchema } from './environment/backed-stores-config.js';
import { deleteCampaignCacheKeys } from './environment/campaign-cache-keys.js';
import { CampaignCoordinator, campaignIdentities, type CoordinatorSettings } from './environment/campaign-coordinator.js';
import { CampaignKeyspace } from './environment/campaign-keyspace.js';
import { ControlPlanes } from './environment/control-planes.js';
import { GatewayFleet } from './environment/gateway-fleet.js';
import { loadEndpoints, requireEndpoint, type ServiceEndpoints } from './environment/service-endpoints.js';
import { SharedServices } from './environment/shared-services.js';
import { ZkLinks } from './environment/zk-links.js';

/** What N1 and N2 store in: process memory (the in-memory sync stand-in), or Cassandra and Redis (the real sync). */
export type StoreVariant = 'memory' | 'cassandra';

export interface EnvironmentOptions {
  readonly store: StoreVariant;
  readonly gateways: number;
  /** Worker processes per gateway node (1: a single process). */
  readonly workers: number;
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
 * Where the Cassandra variant keeps the run's data: keyspace `nw_chaos_<run>` on both clusters,
 * Redis keys under `nw-chaos:<run>:` on both instances (the services script's endpoints).
 */
function backedStoresOf(endpoints: ServiceEndpoints, runId: string): BackedStores {
  const cassandra = requireEndpoint(endpoints, 'cassandra');
  const redis = requireEndpoint(endpoints, 'redis');
  const cluster = (n: typeof cassandra.n1) => ({ contactPoints: [n.contactPoint], port: n.port, localDataCenter: n.localDataCenter });
  return BackedStoresSchema.parse({
    keyspace: `nw_chaos_${runId}`,
    redisPrefix: `nw-chaos:${runId}:`,
    cassandra: { n1: cluster(cassandra.n1), n2: cluster(cassandra.n2) },
    redis: { n1: { host: redis.n1.host, port: redis.n1.port }, n2: { host: redis.n2.host, port: redis.n2.port } },
  });
}

/**
 * Starts a campaign's processes on the real services: a fresh chroot, N1 and N2 app servers (in
 * the Cassandra variant they start with each round of apps, on the run's keyspace), Toxiproxy
 * links for each gateway slot, the control planes. Gateways start per round of migrations (they
 * are configured with that round's apps). What started is stopped again if a later step fails.
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
    const backed = o.store === 'cassandra' ? backedStoresOf(endpoints, runId) : undefined;
    let apps: AppServers;
    if (backed) {
      const keyspace = new CampaignKeyspace(backed, requireEndpoint(endpoints, 'cassandra'));
      teardown.push(async () => void (await Promise.allSettled([keyspace.drop(), deleteCampaignCacheKeys(backed)])));
      apps = await startBackedAppServers({ stores: backed, keyspace, coordinator: settings, leaseMs: o.leaseMs, logDir: o.logDir });
    } else apps = await startAppServers();
    teardown.push(() => apps.stop());
    const controlPlanes = new ControlPlanes(settings, apps.url, o.logDir, backed);
    teardown.push(() => controlPlanes.stopAll());
    await controlPlanes.ensure(o.controlPlanes);
    const gateways = await GatewayFleet.create({
      slots: o.gateways,
      workers: o.workers,
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
