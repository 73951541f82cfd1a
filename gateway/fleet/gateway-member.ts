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
 * Starts a gateway from a config with a `fleet` section: an app's traffic is
 * refused (503) until the agent has applied its state from the coordinator,
 * and every write is guarded by the coordinator lease. Refuses to start if
 * another live session holds the member id (NW_CP_MEMBER_ID_IN_USE) or the
 * granted session timeout is too short for the lease (NW_CP_SESSION_TIMEOUT_TOO_SHORT).
 */
export async function startGatewayMember(
  config: GatewayConfig,
  opts: {
    logger?: Logger;
    adminToken?: string;
    coordinator?: Coordinator;
    onWriteReleased?: (app: string, heldMs: number) => void;
    /** The file the config came from (what a reload reads again). */
    configFile?: string;
  } = {},
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
    ...(opts.configFile ? { configFile: opts.configFile } : {}),
  });
  const coordinator = opts.coordinator ?? createCoordinator(fleet.coordinator, 'member');
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
