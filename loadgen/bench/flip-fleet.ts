import { parseGatewayConfig, startGatewayMember, type GatewayMember } from '../../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from '../reference-app/echo-upstream.js';
import { type CoordinatorConfig, createLogger } from '../../platform/index.js';

export interface FlipFleet {
  readonly members: readonly GatewayMember[];
  readonly urls: readonly string[];
  readonly n1: EchoUpstream;
  readonly n2: EchoUpstream;
  close(): Promise<void>;
}

/** N gateways in this process, each a fleet member with its own ZooKeeper session, in front of two echo apps. */
export async function startFlipFleet(
  size: number,
  coordinator: CoordinatorConfig,
  onWriteReleased?: (app: string, heldMs: number) => void,
): Promise<FlipFleet> {
  const n1 = await startEchoUpstream('n1');
  const n2 = await startEchoUpstream('n2');
  const logger = createLogger('warn', { component: 'bench-gateway' });
  const members: GatewayMember[] = [];
  const starts: Array<Promise<GatewayMember>> = [];
  for (let i = 0; i < size; i++) {
    const config = parseGatewayConfig(
      {
        name: `bench-gw-${String(i).padStart(2, '0')}`,
        listeners: [{ host: '127.0.0.1', port: 0 }],
        log: { level: 'warn' },
        fleet: { coordinator, leaseMs: 4000 },
        apps: {
          shop: {
            hosts: ['shop.test'],
            n1: { servers: [{ url: n1.url }], connectionsPerServer: 4 },
            n2: { servers: [{ url: n2.url }], connectionsPerServer: 4 },
          },
        },
      },
      'bench',
    );
    starts.push(startGatewayMember(config, { logger, ...(onWriteReleased ? { onWriteReleased } : {}) }));
    // Start in small batches so 64 sessions do not all handshake at once.
    if (starts.length % 8 === 0) members.push(...(await Promise.all(starts.splice(0))));
  }
  members.push(...(await Promise.all(starts)));
  return {
    members,
    urls: members.map((m) => m.gateway.listeners[0]!.url),
    n1,
    n2,
    async close() {
      await Promise.allSettled(members.map((m) => m.close()));
      await n1.close();
      await n2.close();
    },
  };
}
