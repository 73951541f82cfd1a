import { parseGatewayConfig, startGatewayMember, type GatewayMember } from '../../gateway/index.js';
import type { GatewayConfigInput } from '../../gateway/index.js';
import { createLogger, type Logger } from '../../platform/index.js';
import { ControlPlane, dnsSteps, type SyncHook } from '../../controlplane/index.js';
import type { KvStore } from '../reference-app/kv-store.js';
import { startReferenceApp, type ReferenceApp } from '../reference-app/reference-app.js';
import type { ExperimentConfig, PlanSync } from './experiment-config.js';
import { type ExperimentStores, memoryStores, planSync, type StoreFactory } from './experiment-stores.js';
import { warmGateway } from './gateway-warmup.js';
import { trialCoordinator } from './trial-coordinator.js';
import { trialDns, type TrialDns } from './trial-dns.js';

export const APP = 'shop';
export const APP_HOST = 'shop.test';

/** Everything a switchover trial runs against: reference apps, a gateway fleet, a control plane, a DNS zone. */
export interface ExperimentEnvironment {
  /** Where it runs, for report titles: coordinator and DNS. */
  readonly description: string;
  readonly gatewayUrls: readonly string[];
  readonly host: string;
  readonly n1: ReferenceApp;
  readonly n2: ReferenceApp;
  readonly n1Store: KvStore;
  readonly n2Store: KvStore;
  /** N2's data as the lost-write check reads it (the datastore behind any cache). */
  readonly n2ReadBack: KvStore;
  readonly controlPlane: ControlPlane;
  readonly dns: TrialDns;
  /** The plan's sync section (mode and hooks), as the store asks for. */
  readonly sync: PlanSync;
  /** Further plan sections the stores' strategy needs (datastore, fence, proxy). */
  readonly planExtras: NonNullable<ExperimentStores['plan']>;
  /** The stores take one migration only (ExperimentStores.singleMigration). */
  readonly singleMigration: boolean;
  /** Sync hooks the control plane runs by name; experiments may add their own. */
  readonly syncHooks: Map<string, SyncHook>;
  /** How long each write a fence held was held (ms), since the last reset. */
  readonly holdTimes: number[];
  close(): Promise<void>;
}

export type EnvironmentSpec = Pick<ExperimentConfig, 'coordinator' | 'dns' | 'gateways' | 'leaseMs'> & {
  /** Default: in-memory stores. */
  readonly stores?: StoreFactory;
  readonly logger?: Logger;
};

/**
 * Starts one trial's system: a fresh coordination space (embedded, or a new
 * chroot on ZooKeeper), a fresh DNS zone (in memory, or a new Route 53 hosted
 * zone), N1 and N2 reference apps on the store factory's stores, the gateways
 * as fleet members with a session each, and a control plane. Whatever started
 * is torn down again if a later step fails.
 */
export async function startExperimentEnvironment(spec: EnvironmentSpec, trial: number): Promise<ExperimentEnvironment> {
  const logger = spec.logger ?? createLogger('warn', { component: 'experiment' });
  const teardown: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const step of teardown.reverse().splice(0))
      await step().catch((err: unknown) => logger.warn('experiment.teardown.failed', { err: String(err) }));
  };
  try {
    const coordinator = trialCoordinator(spec.coordinator, trial);
    teardown.push(() => coordinator.dispose());
    await coordinator.provision();
    const dns = await trialDns(spec.dns, trial);
    teardown.push(() => dns.dispose());
    const stores = await (spec.stores ?? memoryStores)({ trial, app: APP, coordinator: (role) => coordinator.client(role), logger });
    teardown.push(() => stores.close());
    const n1 = await startReferenceApp({ deployment: 'n1', store: stores.n1 });
    teardown.push(() => n1.close());
    const n2 = await startReferenceApp({ deployment: 'n2', store: stores.n2 });
    teardown.push(() => n2.close());
    const holdTimes: number[] = [];
    const onHeld = (_app: string, ms: number): void => void holdTimes.push(ms);
    const gatewayConfig = (i: number): GatewayConfigInput => ({
      name: `gw-${i}`,
      listeners: [{ host: '127.0.0.1', port: 0 }],
      log: { level: 'warn' },
      fleet: { coordinator: coordinator.config, leaseMs: spec.leaseMs },
      apps: {
        [APP]: {
          hosts: [APP_HOST],
          n1: { servers: [{ url: n1.url }] },
          n2: { servers: [{ url: n2.url }], publicOrigin: 'https://shop-n2.example.test' },
        },
      },
    });
    const members: GatewayMember[] = [];
    teardown.push(async () => void (await Promise.allSettled(members.map((m) => m.close()))));
    for (let i = 0; i < spec.gateways; i++) {
      members.push(
        await startGatewayMember(parseGatewayConfig(gatewayConfig(i), 'experiment gateway'), {
          logger,
          coordinator: coordinator.client('member'),
          onWriteReleased: onHeld,
        }),
      );
    }
    const gatewayUrls = members.map((m) => m.gateway.listeners[0]!.url);
    // Gateways in production are long-running and warm; a fresh one would spend the first
    // trial's handover in V8's interpreter. Warm each, as N2's app is warmed.
    await Promise.all(gatewayUrls.map((url, i) => warmGateway(url, APP_HOST, `gw-${i}`)));
    const syncHooks = new Map<string, SyncHook>(stores.syncHooks ?? []);
    const cpCoordinator = coordinator.client('controlplane');
    teardown.push(() => cpCoordinator.close()); // stop() leaves the control plane's session open
    const controlPlane = new ControlPlane({
      coordinator: cpCoordinator,
      id: `cp-experiment-t${trial}`,
      logger,
      dns: dnsSteps(dns.provider),
      syncHooks,
    });
    teardown.push(() => controlPlane.stop());
    await controlPlane.start();
    return {
      description: `coordinator ${coordinator.description}; DNS ${dns.description}`,
      gatewayUrls,
      host: APP_HOST,
      n1,
      n2,
      n1Store: stores.n1,
      n2Store: stores.n2,
      n2ReadBack: stores.readBack ?? stores.n2,
      controlPlane,
      dns,
      sync: planSync(stores),
      planExtras: stores.plan ?? {},
      singleMigration: stores.singleMigration ?? false,
      syncHooks,
      holdTimes,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
