import type { PoolConfig } from '../config/config-schema.js';
import { GatewayError } from '../errors.js';
import type { Deployment } from '../../protocol/app-state.js';
import { LeastInFlightPolicy, RoundRobinPolicy, type SelectionPolicy } from './selection-policy.js';
import { UpstreamServer, type ConnectionOptions } from './upstream-server.js';
import type { UpstreamTls } from '../tls/upstream-tls.js';

const NO_SERVERS: ReadonlySet<UpstreamServer> = new Set();

/** The servers of one deployment of one app, with their selection policy. */
export class UpstreamPool {
  readonly app: string;
  readonly deployment: Deployment;
  readonly servers: readonly UpstreamServer[];
  readonly config: PoolConfig;
  private readonly policy: SelectionPolicy;

  constructor(
    app: string,
    deployment: Deployment,
    config: PoolConfig,
    conn: Omit<ConnectionOptions, 'connections' | 'pipelining' | 'maxQueued' | 'tls'>,
    tls?: UpstreamTls,
  ) {
    this.app = app;
    this.deployment = deployment;
    this.config = config;
    this.servers = config.servers.map(
      (s) =>
        new UpstreamServer(new URL(s.url).origin, s.weight, {
          ...conn,
          connections: config.connectionsPerServer,
          pipelining: config.pipelining,
          maxQueued: config.maxQueuedPerServer,
          tls,
        }),
    );
    this.policy = config.policy === 'least-in-flight' ? new LeastInFlightPolicy() : new RoundRobinPolicy(this.servers);
  }

  select(exclude: ReadonlySet<UpstreamServer> = NO_SERVERS): UpstreamServer | undefined {
    return this.policy.select(this.servers, exclude, Date.now());
  }

  /** Why select() found no server: every one in rotation has a full queue, or none is in rotation. */
  noServerError(exclude: ReadonlySet<UpstreamServer> = NO_SERVERS): GatewayError {
    const now = Date.now();
    const full = this.servers.some((s) => !exclude.has(s) && s.isAvailable(now) && !s.canTake(now));
    return full
      ? new GatewayError('NW_GW_UPSTREAM_QUEUE_FULL', `${this.app}/${this.deployment}`, { retryAfterSeconds: 1 })
      : new GatewayError('NW_GW_NO_HEALTHY_UPSTREAM', `${this.app}/${this.deployment}`);
  }

  recordFailure(server: UpstreamServer): void {
    server.recordFailure(this.config.passive.maxFailures, this.config.passive.cooldownMs, Date.now());
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
  }

  /** See UpstreamServer.retire. */
  async retire(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.retire()));
  }
}
