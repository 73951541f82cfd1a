import type { PoolConfig } from '../config/config-schema.js';
import type { Deployment } from '../../protocol/app-state.js';
import { LeastInFlightPolicy, RoundRobinPolicy, type SelectionPolicy } from './selection-policy.js';
import { UpstreamServer, type ConnectionOptions } from './upstream-server.js';

/** The servers of one deployment of one app, with their selection policy. */
export class UpstreamPool {
  readonly app: string;
  readonly deployment: Deployment;
  readonly servers: readonly UpstreamServer[];
  readonly config: PoolConfig;
  private readonly policy: SelectionPolicy;

  constructor(app: string, deployment: Deployment, config: PoolConfig, conn: Omit<ConnectionOptions, 'connections' | 'pipelining'>) {
    this.app = app;
    this.deployment = deployment;
    this.config = config;
    this.servers = config.servers.map(
      (s) =>
        new UpstreamServer(new URL(s.url).origin, s.weight, {
          ...conn,
          connections: config.connectionsPerServer,
          pipelining: config.pipelining,
        }),
    );
    this.policy = config.policy === 'least-in-flight' ? new LeastInFlightPolicy() : new RoundRobinPolicy(this.servers);
  }

  select(exclude: ReadonlySet<UpstreamServer> = new Set()): UpstreamServer | undefined {
    return this.policy.select(this.servers, exclude, Date.now());
  }

  recordFailure(server: UpstreamServer): void {
    server.recordFailure(this.config.passive.maxFailures, this.config.passive.cooldownMs, Date.now());
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }
}
