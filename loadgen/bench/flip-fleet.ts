import { parseGatewayConfig, startGatewayMember, type GatewayMember } from '../../gateway/index.js';
import { type CoordinatorConfig, createLogger } from '../../platform/index.js';
import { startEchoUpstream, type EchoUpstream } from '../reference-app/echo-upstream.js';

export interface FlipFleet {
  readonly members: readonly GatewayMember[];
  readonly urls: readonly string[];
  close(): Promise<void>;
}

export interface FlipFleetOptions {
  /** Number of the first member (names bench-gw-NNN), so members of several processes differ. */
  readonly first?: number;
  /** The apps behind the gateways; echo apps in this process when absent. */
  readonly upstreams?: { readonly n1: string; readonly n2: string };
  readonly onWriteReleased?: (app: string, heldMs: number) => void;
}

/** N gateways in this process, each a fleet member with its own ZooKeeper session, in front of two echo apps. */
export async function startFlipFleet(size: number, coordinator: CoordinatorConfig, opts: FlipFleetOptions = {}): Promise<FlipFleet> {
  const own: EchoUpstream[] = [];
  if (!opts.upstreams) own.push(await startEchoUpstream('n1'), await startEchoUpstream('n2'));
  const n1 = opts.upstreams?.n1 ?? own[0]!.url;
  const n2 = opts.upstreams?.n2 ?? own[1]!.url;
  const logger = createLogger('warn', { component: 'bench-gateway' });
  const members: GatewayMember[] = [];
  const starts: Array<Promise<GatewayMember>> = [];
  const first = opts.first ?? 0;
  for (let i = first; i < first + size; i++) {
    const config = parseGatewayConfig(
      {
        name: `bench-gw-${String(i).padStart(3, '0')}`,
        listeners: [{ host: '127.0.0.1', port: 0 }],
        log: { level: 'warn' },
        fleet: { coordinator, leaseMs: 4000 },
        apps: {
          shop: {
            hosts: ['shop.test'],
            n1: { servers: [{ url: n1 }], connectionsPerServer: 4 },
            n2: { servers: [{ url: n2 }], connectionsPerServer: 4 },
          },
        },
      },
      'bench',
    );
    starts.push(startGatewayMember(config, { logger, ...(opts.onWriteReleased ? { onWriteReleased: opts.onWriteReleased } : {}) }));
    // Start in small batches so 64 sessions do not all handshake at once.
    if (starts.length % 8 === 0) members.push(...(await Promise.all(starts.splice(0))));
  }
  members.push(...(await Promise.all(starts)));
  return {
    members,
    urls: members.map((m) => m.gateway.listeners[0]!.url),
    async close() {
      await Promise.allSettled(members.map((m) => m.close()));
      await Promise.all(own.map((u) => u.close()));
    },
  };
}
