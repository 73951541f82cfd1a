import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { GatewayConfig } from './config/config-schema.js';
import { GatewayError } from './errors.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { GatewayMetrics } from './observability/metrics.js';
import { buildUpstreamHeaders } from './proxy/forward-headers.js';
import { HttpProxyAdapter } from './proxy/http-proxy-adapter.js';
import { peerAddress, RequestHandler, requestHost, type WriteGuard } from './request-handler.js';
import type { AppState, Deployment } from '../protocol/app-state.js';
import { InFlightWrites } from './state/in-flight-writes.js';
import type { AppRuntime } from './state/routing-table.js';
import { StateStore, type ApplyResult } from './state/state-store.js';
import { WriteHold } from './state/write-hold.js';
import { HealthChecker } from './upstream/health-checker.js';
import { UpstreamPool } from './upstream/upstream-pool.js';
import { AdminServer } from './admin/admin-server.js';
import { handleClientError } from './client-errors.js';
import type { ListenerAddress } from './listener-address.js';

export type { ListenerAddress } from './listener-address.js';

/** Typed extension points; every one has a no-op default. */
export interface GatewayOptions {
  readonly config: GatewayConfig;
  readonly logger?: Logger;
  /** Refuses writes (e.g. when the coordinator lease has lapsed). */
  readonly writeGuard?: WriteGuard;
  /** Admin token; defaults to the environment variable named in config. */
  readonly adminToken?: string;
  /** Observes each write a fence held, with how long it was held (ms), when it is let go. */
  readonly onWriteReleased?: (app: string, heldMs: number) => void;
}

function listen(server: Server, host: string, port: number): Promise<ListenerAddress> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({ host: a.address, port: a.port, url: `http://${h}:${a.port}` });
    });
  });
}

/** One edge node: listeners, upstream pools, state, admin API. */
export class Gateway {
  readonly config: GatewayConfig;
  readonly metrics = new GatewayMetrics();
  readonly logger: Logger;
  readonly state: StateStore;
  private readonly runtimes: AppRuntime[];
  private readonly servers: Server[] = [];
  private readonly checkers: HealthChecker[] = [];
  private readonly httpProxy: HttpProxyAdapter;
  private readonly upgraded = new Set<Duplex>();
  private readonly handler: RequestHandler;
  private readonly inFlightWrites: InFlightWrites;
  private admin: AdminServer | undefined;
  private closing: Promise<void> | undefined;
  private inFlightRequests = 0;
  private ready: boolean;
  listeners: ListenerAddress[] = [];

  private constructor(private readonly opts: GatewayOptions) {
    const config = opts.config;
    this.config = config;
    this.logger = opts.logger ?? createLogger(config.log.level, { component: 'gateway', gateway: config.name });
    const conn = {
      connectTimeoutMs: config.timeouts.upstreamConnectMs,
      headersTimeoutMs: config.timeouts.upstreamHeadersMs,
      idleTimeoutMs: config.timeouts.upstreamIdleMs,
    };
    this.runtimes = Object.entries(config.apps).map(([name, app]) => {
      const hold = new WriteHold();
      hold.onReleased = (ms) => {
        this.metrics.holdTime.observe([name], ms / 1000);
        this.opts.onWriteReleased?.(name, ms);
      };
      return { name, config: app, n1: new UpstreamPool(name, 'n1', app.n1, conn), n2: new UpstreamPool(name, 'n2', app.n2, conn), hold };
    });
    const inFlightWrites = new InFlightWrites(config.timeouts.unknownWriteOutcomeMs);
    this.inFlightWrites = inFlightWrites;
    this.state = new StateStore(this.runtimes, new Map(), inFlightWrites, config.timeouts.drainMs);
    this.state.onApplied = (r) => {
      this.metrics.stateEpoch.set([r.app, r.mode], r.epoch);
      this.metrics.stateApplies.inc([r.app, 'ok']);
      this.logger.info('gateway.state.applied', { ...r });
    };
    this.ready = !config.waitForState;
    this.httpProxy = new HttpProxyAdapter({ connections: 256, upstreamHeadersMs: config.timeouts.upstreamHeadersMs });
    this.handler = new RequestHandler({
      config,
      metrics: this.metrics,
      logger: this.logger,
      inFlightWrites,
      table: this.state.table,
      httpProxy: this.httpProxy,
      trustedProxies: new Set(config.trustedProxies),
      shuttingDown: () => this.closing !== undefined,
      ready: () => this.ready,
      onFinished: () => {
        this.inFlightRequests -= 1;
      },
      writeGuard: opts.writeGuard ?? (() => undefined),
    });
    this.metrics.upstreamHealthy.collect(() =>
      this.runtimes.flatMap((r) =>
        [r.n1, r.n2].flatMap((p) =>
          p.servers.map((s): [string[], number] => [[r.name, p.deployment, s.origin], s.isAvailable(Date.now()) ? 1 : 0]),
        ),
      ),
    );
    this.metrics.upstreamInFlight.collect(() =>
      this.runtimes.flatMap((r) =>
        [r.n1, r.n2].flatMap((p) => p.servers.map((s): [string[], number] => [[r.name, p.deployment, s.origin], s.inFlight])),
      ),
    );
  }

  /** Builds the gateway and starts every listener, health check and the admin API. */
  static async start(opts: GatewayOptions): Promise<Gateway> {
    const gw = new Gateway(opts);
    try {
      await gw.startListeners();
    } catch (err) {
      await gw.close();
      throw err;
    }
    return gw;
  }

  private async startListeners(): Promise<void> {
    const { config } = this;
    for (const l of config.listeners) {
      const server = createServer({
        maxHeaderSize: config.limits.maxHeaderBytes,
        headersTimeout: config.timeouts.clientHeadersMs,
        requestTimeout: config.timeouts.clientRequestMs,
        // node only checks the two timeouts above every connectionsCheckingInterval
        // (default 30 s), so a slowloris client would outlive a short clientHeadersMs.
        connectionsCheckingInterval: Math.min(1000, Math.ceil(config.timeouts.clientHeadersMs / 4)),
        keepAliveTimeout: config.timeouts.clientKeepAliveMs,
        insecureHTTPParser: false,
        requireHostHeader: false,
      });
      server.on('request', (req, res) => {
        this.inFlightRequests += 1;
        this.handler.handle(req, res);
      });
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
      server.on('clientError', (err: Error & { code?: string }, socket: Duplex) =>
        handleClientError(err, socket, this.logger, this.metrics),
      );
      this.servers.push(server);
      this.listeners.push(await listen(server, l.host, l.port));
    }
    for (const r of this.runtimes) {
      for (const pool of [r.n1, r.n2]) {
        const hc = pool.config.healthCheck;
        if (!hc) continue;
        for (const s of pool.servers) {
          const checker = new HealthChecker(s, hc, (srv, healthy) =>
            this.logger.warn('gateway.upstream.health_changed', { app: r.name, deployment: pool.deployment, server: srv.origin, healthy }),
          );
          checker.start();
          this.checkers.push(checker);
        }
      }
    }
    if (config.admin) {
      const token = this.opts.adminToken ?? process.env[config.admin.tokenEnv];
      if (!token)
        this.logger.warn('gateway.admin.no_token', { message: `admin state changes are disabled until ${config.admin.tokenEnv} is set` });
      this.admin = await AdminServer.start(this, config.admin.host, config.admin.port, token);
    }
  }

  get adminAddress(): ListenerAddress | undefined {
    return this.admin?.address;
  }

  isReady(): boolean {
    return this.ready && this.closing === undefined;
  }

  /** Marks the state as loaded (a fleet agent calls this after its first full read). */
  markReady(): void {
    this.ready = true;
  }

  getState(): Record<string, AppState> {
    return this.state.snapshot();
  }

  /** Applies one or several apps' states at once; resolves after the drain the new state needs. */
  async applyStates(states: Readonly<Record<string, unknown>>): Promise<ApplyResult> {
    try {
      const result = await this.state.apply(states);
      this.ready = true;
      return result;
    } catch (err) {
      for (const app of Object.keys(states)) this.metrics.stateApplies.inc([app, err instanceof GatewayError ? err.code : 'error']);
      throw err;
    }
  }

  applyState(app: string, state: unknown): Promise<ApplyResult> {
    return this.applyStates({ [app]: state });
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (err: GatewayError): void => {
      this.metrics.errors.inc(['-', err.code]);
      if (socket.writable) socket.end(`HTTP/1.1 ${err.status} ${err.code}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      socket.destroy();
    };
    socket.on('error', () => socket.destroy());
    if (this.closing) return void refuse(new GatewayError('NW_GW_SHUTTING_DOWN'));
    // Only WebSocket is tunnelled; other upgrades (h2c is a known smuggling vector) are refused.
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket')
      return void refuse(new GatewayError('NW_GW_BAD_REQUEST', 'only websocket upgrades are supported'));
    const host = requestHost(req);
    if (typeof host !== 'string') return void refuse(host);
    const route = this.state.table().lookup(host);
    if (!route) return void refuse(new GatewayError('NW_GW_UNKNOWN_HOST', host));
    const s = route.state;
    const d: Deployment = s.mode === 'serve' ? 'n1' : s.mode === 'mirror' || s.mode === 'fence' ? s.readFrom : 'n2';
    const pool = d === 'n1' ? route.runtime.n1 : route.runtime.n2;
    const server = pool.select();
    if (!server) return void refuse(new GatewayError('NW_GW_NO_HEALTHY_UPSTREAM', `${route.runtime.name}/${d}`));
    const peerIp = peerAddress(req);
    const headers = buildUpstreamHeaders(req.headers, {
      peerIp,
      trustedPeer: this.config.trustedProxies.includes(peerIp),
      proto: 'http',
      requestId: crypto.randomUUID(),
      upgrade: true,
    });
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    this.httpProxy.ws(req, socket, head, server, headers, (err) => {
      this.metrics.errors.inc([route.runtime.name, err.code]);
      this.logger.warn('gateway.websocket.failed', { app: route.runtime.name, deployment: d, err });
    });
  }

  /**
   * Graceful shutdown: stop accepting, let in-flight requests finish until the
   * deadline, then close every connection, pool and check.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const deadline = Date.now() + this.config.timeouts.shutdownMs;
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const s of this.servers) s.closeIdleConnections();
    while (this.inFlightRequests > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      for (const s of this.servers) s.closeIdleConnections();
    }
    for (const r of this.runtimes) r.hold.rejectAll(new GatewayError('NW_GW_SHUTTING_DOWN', undefined, { retryAfterSeconds: 1 }));
    for (const s of this.servers) s.closeAllConnections();
    for (const sock of this.upgraded) sock.destroy();
    for (const c of this.checkers) c.stop();
    await Promise.all(closed);
    await this.admin?.close();
    this.httpProxy.close();
    await Promise.all(this.runtimes.flatMap((r) => [r.n1.close(), r.n2.close()]));
  }

  /**
   * Resolves true once no write of any app is in flight to either deployment, counting the
   * unknown-outcome grace of writes that were cut (e.g. by close()); false after `timeoutMs`.
   */
  async writesEnded(timeoutMs: number): Promise<boolean> {
    const both = new Set<Deployment>(['n1', 'n2']);
    const drained = await Promise.all(this.runtimes.map((r) => this.inFlightWrites.waitForDrain(r.name, both, timeoutMs)));
    return drained.every(Boolean);
  }

  /** Sockets currently held open by the listeners (for tests and shutdown). */
  get pendingRequests(): number {
    return this.inFlightRequests;
  }
}
