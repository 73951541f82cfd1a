import assert from 'node:assert/strict';
import type { CoordinatorLease } from '../../fleet/coordinator-lease.js';
import type { GatewayAgent } from '../../gateway/fleet/gateway-agent.js';
import { startGatewayMember, type GatewayConfig, type ListenerAddress, type ReloadResult } from '../../gateway/index.js';
import { startWorkersGateway } from '../../gateway/workers/start-workers.js';
import type { AppState } from '../../protocol/app-state.js';
import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import type { Logger } from '../../platform/logger.js';

/** What the fleet tests use of a member's gateway: one process (Gateway) or the primary of several (WorkersPrimary). */
export interface FleetNodeGateway {
  readonly listeners: readonly ListenerAddress[];
  readonly adminAddress: ListenerAddress | undefined;
  isReady(app?: string): boolean;
  getState(): Record<string, AppState>;
  reloadFromFile(): Promise<ReloadResult>;
}

/** A gateway fleet member as the fleet tests drive it, whatever its number of worker processes. */
export interface FleetNode {
  readonly gateway: FleetNodeGateway;
  readonly agent: GatewayAgent;
  readonly coordinator: Coordinator;
  readonly lease: CoordinatorLease;
  close(): Promise<void>;
}

export interface FleetNodeOptions {
  readonly logger?: Logger;
  readonly adminToken?: string;
  readonly coordinator?: Coordinator;
  readonly configFile?: string;
}

/**
 * Starts a fleet member from `config` with `workers` processes: 1 is startGatewayMember (one
 * process, as before), more is startWorkersGateway (this process the primary, holding the one
 * membership; the workers child processes). The fleet's safety tests run with both.
 */
export async function startFleetNode(config: GatewayConfig, workers: number, opts: FleetNodeOptions = {}): Promise<FleetNode> {
  if (workers === 1) return startGatewayMember(config, opts);
  // The workers log by the config's level; their lines are dropped unless NW_TEST_WORKER_OUTPUT is set.
  const quiet = process.env.NW_TEST_WORKER_OUTPUT ? {} : { workerOutput: () => undefined };
  const node = await startWorkersGateway({ ...config, workers }, workers, { ...opts, ...quiet });
  const { agent, coordinator, lease } = node;
  assert.ok(agent && coordinator && lease, 'a config with a fleet section makes a fleet member');
  return { gateway: node.gateway, agent, coordinator, lease, close: () => node.close() };
}

/** The worker counts the fleet's safety tests run with. */
export const WORKER_COUNTS = [1, 2] as const;
