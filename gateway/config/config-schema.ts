import { isIP } from 'node:net';
import { z } from 'zod';
import { isLoopbackHost, LOOPBACK_ONLY_MESSAGE } from '../../platform/admin-http.js';
import { memberCoordinatorConfigSchema } from '../../platform/coordinator/coordinator-config.js';
import { maxLeaseMs } from '../../fleet/lease-margin.js';
import { appNameSchema, nodeIdSchema } from '../../protocol/identifiers.js';

/** Loopback-only addresses: admin endpoints must never be reachable from the network. */

const port = z.number().int().min(0).max(65535);
const ms = z.number().int().positive();

const serverSchema = z.strictObject({
  /** Base URL of one app server, e.g. http://127.0.0.1:8081 or https://app.internal:8443 (path must be /). */
  url: z.url({ protocol: /^https?$/ }).refine((u) => new URL(u).pathname === '/', 'must have no path'),
  weight: z.number().int().min(1).max(100).default(1),
});

const healthCheckSchema = z.strictObject({
  path: z.string().startsWith('/').default('/healthz'),
  intervalMs: ms.default(2000),
  timeoutMs: ms.default(1000),
  healthyThreshold: z.number().int().min(1).default(2),
  unhealthyThreshold: z.number().int().min(1).default(2),
});

const passiveSchema = z.strictObject({
  /** Consecutive connection failures / 5xx-free errors before a server is marked down. */
  maxFailures: z.number().int().min(1).default(3),
  /** How long a passively failed server stays out of rotation. */
  cooldownMs: ms.default(10_000),
});

/** How the gateway checks the certificates of a pool's https:// servers. */
const upstreamTlsSchema = z.strictObject({
  /** PEM file of the CA(s) that sign the servers' certificates; default: the system's trusted CAs. */
  caFile: z.string().min(1).optional(),
  /** Name sent as SNI and checked against the certificate; default: the host of each server's URL. */
  serverName: z.string().min(1).optional(),
});

const poolSchema = z.strictObject({
  servers: z.array(serverSchema).min(1),
  tls: upstreamTlsSchema.optional(),
  policy: z.enum(['round-robin', 'least-in-flight']).default('round-robin'),
  /** Connections kept per upstream server (keep-alive pool size). */
  connectionsPerServer: z.number().int().min(1).max(1024).default(64),
  /** Pipelining depth per connection; 1 means none. */
  pipelining: z.number().int().min(1).max(16).default(1),
  /**
   * Requests a server may have waiting for one of its connections (beyond connectionsPerServer x
   * pipelining); more go to another server or get 503 NW_GW_UPSTREAM_QUEUE_FULL. Envoy's
   * max_pending_requests default.
   */
  maxQueuedPerServer: z.number().int().min(0).default(1024),
  /** Extra attempts on another server for idempotent requests that failed to connect. */
  retries: z.number().int().min(0).max(5).default(1),
  healthCheck: healthCheckSchema.optional(),
  passive: passiveSchema.prefault({}),
  /** Public origin of this deployment, used as redirect target (scheme://host[:port], no path). */
  publicOrigin: z
    .url({ protocol: /^https?$/ })
    .refine((u) => new URL(u).pathname === '/' && !u.endsWith('/'), 'must be an origin without path or trailing slash')
    .optional(),
});

const fenceDefaultsSchema = z.strictObject({
  maxHeldWrites: z.number().int().min(0).default(1000),
  maxHoldMs: ms.default(5000),
  retryAfterSeconds: z.number().int().min(1).default(1),
});

const appSchema = z.strictObject({
  /** Host header values (without port) this app answers for. */
  hosts: z.array(z.string().min(1).toLowerCase()).min(1),
  n1: poolSchema,
  n2: poolSchema,
  fence: fenceDefaultsSchema.prefault({}),
  /** Largest request body buffered for mirrored writes / shadow reads; larger gets 413. */
  mirrorBodyBytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
});

const certificatePairSchema = z.strictObject({
  /** PEM certificate chain (the server's certificate first, then intermediates). */
  certFile: z.string().min(1),
  /** PEM private key of that certificate. */
  keyFile: z.string().min(1),
});

/** A DNS name, or a wildcard `*.example.com` (one label); matched case-insensitively against the client's SNI. */
const serverNameSchema = z
  .string()
  .toLowerCase()
  .regex(/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS name or *.domain');

/**
 * TLS termination on a listener (TLS 1.2 and 1.3 only). `certFile`/`keyFile` is the default
 * certificate, served to clients that send no SNI or a name `sni` does not list. Files are read at
 * start and on Gateway.reloadCertificates(); paths are absolute or relative to the working directory.
 */
const listenerTlsSchema = certificatePairSchema.extend({
  sni: z.record(serverNameSchema, certificatePairSchema).default({}),
  /** Offer HTTP/2 by ALPN (`h2`, with `http/1.1` as the fallback); false: HTTP/1.1 only. */
  http2: z.boolean().default(true),
});

const listenerSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port,
  tls: listenerTlsSchema.optional(),
});

const adminSchema = z.strictObject({
  host: z.string().refine(isLoopbackHost, LOOPBACK_ONLY_MESSAGE).default('127.0.0.1'),
  port,
  /** Environment variable holding the admin token. */
  tokenEnv: z.string().min(1).default('NORTHWEST_ADMIN_TOKEN'),
});

export const gatewayConfigSchema = z
  .strictObject({
    /** Name of this gateway in logs and as fleet member id. */
    name: nodeIdSchema.default('gateway'),
    listeners: z.array(listenerSchema).min(1),
    admin: adminSchema.optional(),
    /**
     * Forwarding engine for plain HTTP. `raw`: the byte-pipe engine on llhttp (gateway/raw/), which
     * hands what it does not serve (mirror, Upgrade, Expect, HTTP/1.0) to the node engine, and falls
     * back to it whole when the parser binding fails its self-test. `node` (= `undici`): node:http and
     * undici. `http-proxy`: node:http and http-proxy for reads. WebSockets are tunnelled by the
     * gateway itself (WebSocketTunnel).
     */
    engine: z.enum(['raw', 'node', 'undici', 'http-proxy']).default('raw'),
    /**
     * Processes serving traffic: 1 (one process, as before), a number, or `auto` (one per core,
     * os.availableParallelism()). With more than one, a primary process holds the listeners, the
     * admin API and the fleet membership, and hands connections and states to the workers
     * (gateway/workers/; docs/architecture.md "Workers").
     */
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default(1),
    /** Peers (IP addresses) whose X-Forwarded-* headers are trusted and appended to. */
    trustedProxies: z.array(z.string().refine((s) => isIP(s) !== 0, 'must be an IP address')).default([]),
    limits: z
      .strictObject({
        maxHeaderBytes: z
          .number()
          .int()
          .min(1024)
          .max(1024 * 1024)
          .default(16 * 1024),
        maxBodyBytes: z
          .number()
          .int()
          .positive()
          .default(10 * 1024 * 1024),
        /**
         * Request bodies held in memory at once for mirrored writes and mirror-mode reads, over all
         * requests; a request that would go over it gets 503 NW_GW_BUFFER_BUDGET_SPENT.
         */
        maxBufferedBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024 * 1024),
        /** Streams one HTTP/2 client connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
        maxConcurrentStreams: z.number().int().min(1).max(10_000).default(128),
      })
      .prefault({}),
    timeouts: z
      .strictObject({
        clientHeadersMs: ms.default(10_000),
        clientRequestMs: ms.default(60_000),
        /** Idle keep-alive of client connections; long, like nginx's 75 s, so clients do not churn connections. */
        clientKeepAliveMs: ms.default(65_000),
        upstreamConnectMs: ms.default(2_000),
        upstreamHeadersMs: ms.default(30_000),
        upstreamIdleMs: ms.default(30_000),
        /**
         * A reply the client stops reading (its connection's buffer full) for this long is cut and its
         * upstream connection released (nginx's send_timeout); counted as NW_GW_CLIENT_SEND_TIMEOUT.
         */
        clientSendMs: ms.default(30_000),
        drainMs: ms.default(10_000),
        /**
         * A write whose outcome is unknown (sent, then a headers timeout or a reset before any answer)
         * keeps counting as in flight this much longer, so a fence cannot pass while the app may still
         * commit it. Set it to at least the app's own request timeout; if it is longer than drainMs,
         * such a write fails the fence (the gateway does not ack, the migration rolls back).
         */
        unknownWriteOutcomeMs: ms.default(5_000),
        shutdownMs: ms.default(10_000),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
        /** One line per request (see gateway/observability/access-log.ts); changes with a reload. */
        access: z.boolean().default(false),
        /** `json` (every field) or nginx's `combined` line; changes with a reload. */
        accessFormat: z.enum(['json', 'combined']).default('json'),
      })
      .prefault({}),
    /** If true, /readyz is false and traffic gets 503 until a state is applied (always so with `fleet`). */
    waitForState: z.boolean().default(false),
    /** Join a fleet: follow app states in the coordinator, ack epochs, fence writes by lease. */
    fleet: z
      .strictObject({
        coordinator: memberCoordinatorConfigSchema,
        /** Member id in the fleet; defaults to `name`. Must be unique. */
        memberId: nodeIdSchema.optional(),
        /** Every write is refused if the state was not confirmed within this time; at most 2/3 of the session timeout. */
        leaseMs: ms.default(5_000),
        /** Full re-read period (renews the lease); default a third of leaseMs. */
        reconcileMs: ms.optional(),
      })
      .optional(),
    apps: z.record(appNameSchema, appSchema),
  })
  .superRefine((cfg, ctx) => {
    const f = cfg.fleet;
    // The server may still grant less than requested: the member checks the negotiated timeout at start.
    if (f && f.coordinator.kind === 'zookeeper' && f.leaseMs > maxLeaseMs(f.coordinator.sessionTimeoutMs)) {
      ctx.addIssue({
        code: 'custom',
        path: ['fleet', 'leaseMs'],
        message: `must be at most two thirds of fleet.coordinator.sessionTimeoutMs (${f.coordinator.sessionTimeoutMs})`,
      });
    }
    if (f && f.reconcileMs !== undefined && f.reconcileMs >= f.leaseMs) {
      ctx.addIssue({ code: 'custom', path: ['fleet', 'reconcileMs'], message: 'must be shorter than fleet.leaseMs' });
    }
    // node refuses to start a server whose headers timeout is longer than its request timeout.
    if (cfg.timeouts.clientHeadersMs > cfg.timeouts.clientRequestMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeouts', 'clientHeadersMs'],
        message: `must not be longer than timeouts.clientRequestMs (${cfg.timeouts.clientRequestMs})`,
      });
    }
    const seen = new Map<string, string>();
    for (const [app, spec] of Object.entries(cfg.apps)) {
      for (const d of ['n1', 'n2'] as const) {
        if (spec[d].tls && !spec[d].servers.some((s) => s.url.startsWith('https:')))
          ctx.addIssue({ code: 'custom', path: ['apps', app, d, 'tls'], message: 'is set, but no server of the pool is https://' });
      }
      if (spec.mirrorBodyBytes > cfg.limits.maxBufferedBytes) {
        ctx.addIssue({
          code: 'custom',
          path: ['apps', app, 'mirrorBodyBytes'],
          message: `must not exceed limits.maxBufferedBytes (${cfg.limits.maxBufferedBytes})`,
        });
      }
      for (const [i, host] of spec.hosts.entries()) {
        const other = seen.get(host);
        if (other !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['apps', app, 'hosts', i], message: `host "${host}" is already used by app "${other}"` });
        }
        seen.set(host, app);
      }
    }
  });

/** Raw (pre-default) config as written in a file. */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
/** Validated config with defaults filled; frozen after load. */
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type AppConfig = GatewayConfig['apps'][string];
export type PoolConfig = AppConfig['n1'];
export type HealthCheckConfig = NonNullable<PoolConfig['healthCheck']>;
export type ListenerConfig = GatewayConfig['listeners'][number];
export type ListenerTlsConfig = NonNullable<ListenerConfig['tls']>;
export type UpstreamTlsConfig = NonNullable<PoolConfig['tls']>;
