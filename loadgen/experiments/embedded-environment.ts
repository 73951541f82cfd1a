import { parseGatewayConfig } from '../../gateway/config/load-config.js';
import { createLogger, type Logger } from '../../gateway/observability/logger.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../controlplane/coordinator/embedded-coordinator.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import { dnsSteps } from '../../controlplane/dns/dns-steps.js';
import { MemoryDnsProvider } from '../../controlplane/dns/memory-dns-provider.js';
import { startGatewayMember, type GatewayMember } from '../../controlplane/fleet/gateway-member.js';
import type { SyncHook } from '../../controlplane/migration/migration-hooks.js';
import { MemoryStore } from '../reference-app/memory-store.js';
import { startReferenceApp, type ReferenceApp } from '../reference-app/reference-app.js';
import { copyMissingKeys } from './memory-sync-hook.js';

export const APP = 'shop';
export const APP_HOST = 'shop.test';
export const DNS_ZONE = 'example.test';
export const DNS_RECORD = 'shop.example.test';

/** Everything a switchover experiment runs against, on the embedded default (nothing but Node). */
export interface ExperimentEnvironment {
  readonly gatewayUrls: readonly string[];
  readonly host: string;
  readonly n1: ReferenceApp;
  readonly n2: ReferenceApp;
  readonly n1Store: MemoryStore;
  readonly n2Store: MemoryStore;
  readonly controlPlane: ControlPlane;
  readonly dns: MemoryDnsProvider;
  readonly zoneId: string;
  /** Sync hooks the control plane runs by name; experiments may add their own. */
  readonly syncHooks: Map<string, SyncHook>;
  /** How long each write a fence held was held (ms), since the last reset. */
  readonly holdTimes: number[];
  /** Puts N1's DNS record back (between trials). */
  resetDns(): Promise<void>;
  close(): Promise<void>;
}

export interface EnvironmentOptions {
  readonly gateways: number;
  /** How long a Route 53-like change stays PENDING in the in-memory DNS provider. */
  readonly dnsPropagationMs: number;
  readonly logger?: Logger;
}

/**
 * N1 and N2 reference apps (in-memory stores), a fleet of gateways and a
 * control plane on one embedded coordinator, and an in-memory DNS zone — the
 * whole system in one process, for the demo and for experiments on a machine
 * with nothing installed.
 */
export async function startEmbeddedEnvironment(opts: EnvironmentOptions): Promise<ExperimentEnvironment> {
  const logger = opts.logger ?? createLogger('warn', { component: 'experiment' });
  const n1Store = new MemoryStore();
  const n2Store = new MemoryStore();
  const n1 = await startReferenceApp({ deployment: 'n1', store: n1Store });
  const n2 = await startReferenceApp({ deployment: 'n2', store: n2Store });
  const store = new EmbeddedStore();
  const holdTimes: number[] = [];
  const members: GatewayMember[] = [];
  for (let i = 0; i < opts.gateways; i++) {
    const config = parseGatewayConfig(
      {
        name: `gw-${i}`,
        listeners: [{ host: '127.0.0.1', port: 0 }],
        log: { level: 'warn' },
        fleet: { coordinator: { kind: 'embedded' }, leaseMs: 3000 },
        apps: { [APP]: { hosts: [APP_HOST], n1: { servers: [{ url: n1.url }] }, n2: { servers: [{ url: n2.url }], publicOrigin: 'https://shop-n2.example.test' } } },
      },
      'experiment gateway',
    );
    members.push(await startGatewayMember(config, { logger, coordinator: new EmbeddedCoordinator(store), onWriteReleased: (_app, ms) => holdTimes.push(ms) }));
  }
  const dns = new MemoryDnsProvider({ propagationMs: opts.dnsPropagationMs });
  const zoneId = dns.createZone(DNS_ZONE);
  const n1Record = { name: DNS_RECORD, type: 'A' as const, ttl: 300, values: ['127.0.0.11'] };
  await dns.submit(zoneId, [{ action: 'CREATE', record: n1Record }]);
  const hooks = new Map<string, SyncHook>([['copy-n1-to-n2', async () => ({ copiedKeys: copyMissingKeys(n1Store, n2Store) })]]);
  const controlPlane = new ControlPlane({ coordinator: new EmbeddedCoordinator(store), id: 'cp-experiment', logger, dns: dnsSteps(dns), syncHooks: hooks });
  await controlPlane.start();
  return {
    gatewayUrls: members.map((m) => m.gateway.listeners[0]!.url),
    host: APP_HOST,
    n1,
    n2,
    n1Store,
    n2Store,
    controlPlane,
    dns,
    zoneId,
    syncHooks: hooks,
    holdTimes,
    async resetDns() {
      await dns.submit(zoneId, [{ action: 'UPSERT', record: n1Record }]);
    },
    async close() {
      await controlPlane.stop();
      await Promise.allSettled(members.map((m) => m.close()));
      await n1.close();
      await n2.close();
    },
  };
}
