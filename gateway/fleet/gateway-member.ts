import type { GatewayConfig } from '../config/config-schema.js';
import { Gateway } from '../gateway.js';
import type { Logger } from '../../platform/logger.js';
import { createCoordinator } from '../../platform/coordinator/coordinator-config.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import { GatewayAgent } from './gateway-agent.js';
import { leaseWriteGuard } from './lease-write-guard.js';

/** A gateway that is a member of a fleet: the proxy, its coordinator session and its agent. */
export interface GatewayMember {
  readonly gateway: Gateway;
  readonly agent: GatewayAgent;
  readonly coordinator: Coordinator;
  readonly lease: CoordinatorLease;
  close(): Promise<void>;
}

/**
 * Starts a gateway from a config with a `fleet` section: traffic is refused
 * (503) until the agent has read every app's state from the coordinator, and
 * writes for migrating apps are guarded by the coordinator lease.
 */
export async function startGatewayMember(
  config: GatewayConfig,
  opts: { logger?: Logger; adminToken?: string; coordinator?: Coordinator; onWriteReleased?: (app: string, heldMs: number) => void } = {},
): Promise<GatewayMember> {
  const fleet = config.fleet;
  if (!fleet) throw new TypeError('config has no fleet section');
  const lease = new CoordinatorLease(fleet.leaseMs);
  const gateway = await Gateway.start({
    config: { ...config, waitForState: true },
    writeGuard: leaseWriteGuard(lease),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.adminToken ? { adminToken: opts.adminToken } : {}),
    ...(opts.onWriteReleased ? { onWriteReleased: opts.onWriteReleased } : {}),
  });
  const coordinator = opts.coordinator ?? createCoordinator(fleet.coordinator);
  const agent = new GatewayAgent({
    gateway,
    coordinator,
    lease,
    memberId: fleet.memberId ?? config.name,
    reconcileMs: fleet.reconcileMs ?? Math.max(50, Math.floor(fleet.leaseMs / 3)),
    logger: gateway.logger,
  });
  try {
    await agent.start();
  } catch (err) {
    await gateway.close();
    await coordinator.close().catch(() => undefined);
    throw err;
  }
  return {
    gateway,
    agent,
    coordinator,
    lease,
    async close() {
      await agent.stop();
      await gateway.close();
      // Writes cut at the shutdown deadline may still commit for unknownWriteOutcomeMs: until then a
      // barrier must keep waiting for this member, so its session (and member node) stays.
      const graceMs = config.timeouts.unknownWriteOutcomeMs;
      if (!(await gateway.writesEnded(graceMs + 1_000)))
        gateway.logger.warn('fleet.member.writes_not_ended', { message: `writes still in flight ${graceMs + 1_000} ms after shutdown` });
      await coordinator.close();
    },
  };
}
