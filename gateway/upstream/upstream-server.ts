import { Pool } from 'undici';

/** Connection settings shared by all servers of a gateway. */
export interface ConnectionOptions {
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly connections: number;
  readonly pipelining: number;
}

/**
 * One upstream app server: its keep-alive connection pool plus the runtime
 * state (in-flight count, failures, health) that policies and health checks
 * read. Runtime state lives apart from config so it survives state swaps.
 */
export class UpstreamServer {
  readonly origin: string;
  readonly weight: number;
  readonly dispatcher: Pool;
  inFlight = 0;
  consecutiveFailures = 0;
  /** Result of active checks; servers start healthy so a new gateway serves at once. */
  activeHealthy = true;
  /** Passive ejection: not selected until this time (ms since epoch). */
  ejectedUntil = 0;

  constructor(origin: string, weight: number, opts: ConnectionOptions) {
    this.origin = origin;
    this.weight = weight;
    this.dispatcher = new Pool(origin, {
      connections: opts.connections,
      pipelining: opts.pipelining,
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.idleTimeoutMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
    });
  }

  isAvailable(now: number): boolean {
    return this.activeHealthy && now >= this.ejectedUntil;
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
  }

  /** Counts a connection-level failure; ejects the server after `maxFailures` in a row. */
  recordFailure(maxFailures: number, cooldownMs: number, now: number): void {
    this.consecutiveFailures += 1;
    if (this.consecutiveFailures >= maxFailures) {
      this.ejectedUntil = now + cooldownMs;
      this.consecutiveFailures = 0;
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.destroy().catch(() => undefined);
  }
}
