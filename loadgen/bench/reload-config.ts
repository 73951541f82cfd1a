/**
 * The configs the reload-under-load bench swaps in: step 0 is the one the gateway starts with;
 * each odd step adds an app and changes the served app's upstream pool (a new pool: requests in
 * flight finish on the old one, which closes after them), each even step removes that app and
 * changes the pool back. Everything a reload may not change (listeners, admin, engine,
 * workers, limits) stays the same, so every step is a reload the gateway applies.
 */
import type { GatewayConfigInput } from '../../gateway/index.js';

/** Hosts of the app the load goes to (the load generator sends Host: 127.0.0.1:<port>). */
export const SERVED_HOSTS: readonly string[] = ['127.0.0.1', 'localhost'];
/** The app that comes and goes. */
export const EXTRA_APP = 'bench-extra';

export interface ReloadConfigInput {
  readonly upstreamUrl: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly workers: number;
  /** Environment variable holding the admin token (POST /reload). */
  readonly adminTokenEnv: string;
}

/** Connections per upstream server of the served app at even and odd steps: the change each reload makes. */
const POOL_SIZES = [64, 48] as const;

export function reloadGatewayConfig(step: number, i: ReloadConfigInput): GatewayConfigInput {
  const odd = step % 2 === 1;
  const pool = { servers: [{ url: i.upstreamUrl }], connectionsPerServer: POOL_SIZES[odd ? 1 : 0] };
  return {
    name: 'bench-reload',
    listeners: [{ host: '127.0.0.1', port: 0, tls: { certFile: i.certFile, keyFile: i.keyFile, http2: true } }],
    admin: { host: '127.0.0.1', port: 0, tokenEnv: i.adminTokenEnv },
    engine: 'raw',
    workers: i.workers,
    log: { level: 'info', access: false },
    apps: {
      bench: { hosts: [...SERVED_HOSTS], n1: pool, n2: pool },
      ...(odd
        ? {
            [EXTRA_APP]: {
              hosts: ['extra.bench.test'],
              n1: { servers: [{ url: i.upstreamUrl }] },
              n2: { servers: [{ url: i.upstreamUrl }] },
            },
          }
        : {}),
    },
  };
}
