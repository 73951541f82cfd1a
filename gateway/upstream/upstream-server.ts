import type { Dispatcher } from 'undici';
import type { UpstreamTls } from '../tls/upstream-tls.js';
import { upstreamDispatcher } from './upstream-dispatcher.js';

/** Connection settings shared by all servers of a gateway. */
export interface ConnectionOptions {
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly connections: number;
  readonly pipelining: number;
  /** Requests that may wait for a connection beyond connections x pipelining (unbounded if unset). */
  readonly maxQueued?: number;
  /** How long a reply from this server may wait for a client that stopped reading (unbounded if unset). */
  readonly sendTimeoutMs?: number;
  /** CA and server name for an https:// server (its pool's `tls`). */
  readonly tls?: UpstreamTls | undefined;
}

/**
 * One upstream app server: its keep-alive connection pool plus the runtime
 * state (in-flight count, failures, health) that policies and health checks
 * read. Runtime state lives apart from config so it survives state swaps.
 */
export class UpstreamServer {
  readonly origin: string;
  readonly weight: number;
  readonly dispatcher: Dispatcher;
  /** undici's pool queue is unbounded: past this many requests in flight the server takes no more. */
  readonly maxInFlight: number;
  readonly sendTimeoutMs: number;
  /** Set for an https:// server: what every connection to it is checked with. */
  readonly tls: UpstreamTls | undefined;
  inFlight = 0;
  consecutiveFailures = 0;
  /** Result of active checks; servers start healthy so a new gateway serves at once. */
  activeHealthy = true;
  /** Passive ejection: not selected until this time (ms since epoch). */
  ejectedUntil = 0;

  constructor(origin: string, weight: number, opts: ConnectionOptions) {
    this.origin = origin;
    this.weight = weight;
    this.maxInFlight = opts.connections * opts.pipelining + (opts.maxQueued ?? Infinity);
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 0;
    this.tls = origin.startsWith('https:') ? (opts.tls ?? {}) : undefined;
    const poolOptions = {
      connections: opts.connections,
      pipelining: opts.pipelining,
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.idleTimeoutMs,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
    };
    this.dispatcher = upstreamDispatcher(origin, poolOptions, opts.connectTimeoutMs, this.tls);
  }

  isAvailable(now: number): boolean {
    return this.activeHealthy && now >= this.ejectedUntil;
  }

  /** In rotation and with room in its queue: what selection asks. */
  canTake(now: number): boolean {
    return this.inFlight < this.maxInFlight && this.isAvailable(now);
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

  /** Shutdown: connections are cut, requests on them fail. */
  async close(): Promise<void> {
    await this.dispatcher.destroy().catch(() => undefined);
  }

  /** Taken out of service by a reload: requests still on its connections finish, then they close. */
  async retire(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }
}
