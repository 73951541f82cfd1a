import { Gateway, parseGatewayConfig } from '../../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { createLogger } from '../../platform/logger.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import { GatewayAgent } from '../../gateway/fleet/gateway-agent.js';
import { leaseWriteGuard } from '../../gateway/fleet/lease-write-guard.js';

export interface FleetMember {
  readonly id: string;
  readonly gateway: Gateway;
  readonly agent: GatewayAgent;
  readonly lease: CoordinatorLease;
  readonly coordinator: Coordinator;
  stop(): Promise<void>;
}

export interface Fleet {
  readonly members: FleetMember[];
  readonly n1: EchoUpstream;
  readonly n2: EchoUpstream;
  /** Starts one more member (e.g. a late joiner). */
  add(id: string): Promise<FleetMember>;
  close(): Promise<void>;
}

export interface FleetOptions {
  readonly size: number;
  /** A new, unconnected coordinator client for each member. */
  readonly coordinator: () => Coordinator;
  readonly apps?: readonly string[];
  readonly leaseMs?: number;
  readonly reconcileMs?: number;
  readonly idPrefix?: string;
  /** App servers the gateways use instead of the harness's echo apps (which are still started). */
  readonly upstreams?: { readonly n1: string; readonly n2: string };
  /** Give each gateway an admin listener (loopback, port 0): members then publish its URL, and /metrics can be read. */
  readonly admin?: boolean;
}

/** N in-process gateways, each with its own coordinator session, in front of shared N1/N2 echo apps. */
export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const n1 = await startEchoUpstream('n1');
  const n2 = await startEchoUpstream('n2');
  const apps = opts.apps ?? ['shop'];
  const members: FleetMember[] = [];
  const add = async (id: string): Promise<FleetMember> => {
    const config = parseGatewayConfig({
      name: id,
      listeners: [{ host: '127.0.0.1', port: 0 }],
      ...(opts.admin ? { admin: { host: '127.0.0.1', port: 0 } } : {}),
      log: { level: 'silent' },
      waitForState: true,
      apps: Object.fromEntries(
        apps.map((app) => [
          app,
          {
            hosts: [`${app}.test`],
            n1: { servers: [{ url: opts.upstreams?.n1 ?? n1.url }] },
            n2: { servers: [{ url: opts.upstreams?.n2 ?? n2.url }], publicOrigin: `https://${app}-n2.example.com` },
          },
        ]),
      ),
    });
    const lease = new CoordinatorLease(opts.leaseMs ?? 3000);
    const logger = createLogger('silent');
    const gateway = await Gateway.start({ config, logger, writeGuard: leaseWriteGuard(lease) });
    const coordinator = opts.coordinator();
    const agent = new GatewayAgent({ gateway, coordinator, lease, memberId: id, reconcileMs: opts.reconcileMs ?? 1000, logger });
    await agent.start();
    const m: FleetMember = {
      id,
      gateway,
      agent,
      lease,
      coordinator,
      async stop() {
        await agent.stop();
        await coordinator.close();
        await gateway.close();
      },
    };
    members.push(m);
    return m;
  };
  for (let i = 0; i < opts.size; i++) await add(`${opts.idPrefix ?? 'gw'}-${String(i).padStart(2, '0')}`);
  return {
    members,
    n1,
    n2,
    add,
    async close() {
      await Promise.allSettled(members.map((m) => m.stop()));
      await n1.close();
      await n2.close();
    },
  };
}
