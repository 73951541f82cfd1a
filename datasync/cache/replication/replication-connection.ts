import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCacheClient, type RedisEndpointConfig } from '../cache-config.js';
import { SyncError } from '../../errors.js';
import { readReplication, type ReplicationSide } from './replication-commands.js';
import type { ReplicationInfo } from './replication-info.js';

/** Short on purpose: a stopped server (SIGSTOP, a partition) must not hold a lag check or a drain for long. */
export const REPLICATION_CLIENT_TIMEOUTS = { connectTimeoutMs: 2_000, commandTimeoutMs: 1_500 } as const;

/**
 * The control plane's connection to one side's Redis for replication commands: opened on first
 * use, dropped after a failed open so the next use opens a new one (a server that restarted or
 * came back). Every failure to reach the server is NW_SYNC_CACHE_UNAVAILABLE.
 */
export class ReplicationConnection {
  private client: Redis | undefined;

  constructor(
    private readonly endpoint: RedisEndpointConfig,
    readonly side: ReplicationSide,
  ) {}

  get where(): string {
    return `${this.side} ${this.endpoint.host}:${this.endpoint.port}`;
  }

  async redis(): Promise<Redis> {
    if (this.client) return this.client;
    const client = createCacheClient({ ...this.endpoint, keyPrefix: '' }, REPLICATION_CLIENT_TIMEOUTS);
    const deadline = new AbortController();
    try {
      // ioredis's connect timeout covers the TCP connect; the ready check after it (an INFO) has none.
      const limitMs = REPLICATION_CLIENT_TIMEOUTS.connectTimeoutMs + REPLICATION_CLIENT_TIMEOUTS.commandTimeoutMs;
      await Promise.race([
        client.connect(),
        sleep(limitMs, undefined, { signal: deadline.signal }).then(() => {
          throw new Error(`not ready within ${limitMs} ms`);
        }),
      ]);
    } catch (err) {
      client.disconnect();
      throw new SyncError('NW_SYNC_CACHE_UNAVAILABLE', `${this.where}: ${(err as Error).message}`, {
        cause: err,
        details: { side: this.side },
      });
    } finally {
      deadline.abort();
    }
    this.client = client;
    return client;
  }

  async info(): Promise<ReplicationInfo> {
    return readReplication(await this.redis(), this.side);
  }

  /** The server's replication state, or undefined if it cannot be reached now. */
  async tryInfo(): Promise<ReplicationInfo | undefined> {
    try {
      return await this.info();
    } catch (err) {
      if (err instanceof SyncError && err.code === 'NW_SYNC_CACHE_UNAVAILABLE') return undefined;
      throw err;
    }
  }

  close(): void {
    this.client?.disconnect();
    this.client = undefined;
  }
}
