import { availableParallelism } from 'node:os';
import type { GatewayConfig } from '../config/config-schema.js';
import { GatewayAgent } from '../fleet/gateway-agent.js';
import { createCoordinator } from '../../platform/coordinator/coordinator-config.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { createLogger, type Logger } from '../../platform/logger.js';
import { RelayedLease } from './relayed-lease.js';
import { WorkersPrimary } from './workers-primary.js';

/** How many worker processes `workers` asks for: `auto` is one per core the process may use. */
export function workerCount(workers: GatewayConfig['workers']): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

/** A running multi-worker gateway: its primary, and on a fleet member the agent, coordinator session and lease it holds. */
export interface WorkersGateway {
  readonly gateway: WorkersPrimary;
  readonly agent: GatewayAgent | undefined;
  readonly coordinator: Coordinator | undefined;
  readonly lease: RelayedLease | undefined;
  /** Drains every worker, then (a fleet member) leaves the fleet: SIGTERM's order. */
  close(): Promise<void>;
}

export interface WorkersGatewayOptions {
  readonly logger?: Logger;
  readonly adminToken?: string;
  /** A fleet member's coordinator client (default: from the config). */
  readonly coordinator?: Coordinator;
  /** The file the config came from (what a reload reads again). */
  readonly configFile?: string;
  /** Where the workers' stdout and stderr go (default: this process's). */
  readonly workerOutput?: (chunk: string) => void;
}

/**
 * Starts a gateway of `count` worker processes (count >= 2) and, with a `fleet` section, its one
 * fleet membership: the coordinator session, the lease and the agent live in this process, the
 * primary, which hands every state to every worker and acks it once all of them applied it.
 */
export async function startWorkersGateway(config: GatewayConfig, count: number, opts: WorkersGatewayOptions = {}): Promise<WorkersGateway> {
  const logger = opts.logger ?? createLogger(config.log.level, { component: 'gateway', gateway: config.name, role: 'primary' });
  const fleet = config.fleet;
  const lease = fleet ? new RelayedLease(fleet.leaseMs) : undefined;
  const primary = await WorkersPrimary.start({
    config,
    count,
    logger,
    ...(lease ? { lease } : {}),
    ...(opts.adminToken ? { adminToken: opts.adminToken } : {}),
    ...(opts.configFile ? { configFile: opts.configFile } : {}),
    ...(opts.workerOutput ? { workerOutput: opts.workerOutput } : {}),
  });
  if (!fleet || !lease)
    return { gateway: primary, agent: undefined, coordinator: undefined, lease: undefined, close: () => primary.close() };
  const coordinator = opts.coordinator ?? createCoordinator(fleet.coordinator, 'member');
  const agent = new GatewayAgent({
    gateway: primary,
    coordinator,
    lease,
    memberId: fleet.memberId ?? config.name,
    reconcileMs: fleet.reconcileMs ?? Math.max(50, Math.floor(fleet.leaseMs / 3)),
    logger,
  });
  try {
    await agent.start();
  } catch (err) {
    await primary.close();
    await coordinator.close().catch(() => undefined);
    throw err;
  }
  return {
    gateway: primary,
    agent,
    coordinator,
    lease,
    async close() {
      await agent.stop();
      // Each worker drains, then waits for its cut writes' outcomes: until then a barrier must keep
      // waiting for this member, so the session (and member node) stays until every worker is done.
      await primary.close(config.timeouts.unknownWriteOutcomeMs + 1_000);
      await coordinator.close();
    },
  };
}
