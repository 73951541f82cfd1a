import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { GatewayConfig, ListenerConfig } from './config/config-schema.js';
import { GatewayError } from './errors.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { GatewayMetrics } from './observability/metrics.js';
import { HttpProxyAdapter } from './proxy/http-proxy-adapter.js';
import { RequestHandler, type WriteGuard } from './request-handler.js';
import { WebSocketHandler } from './websocket-handler.js';
import type { AppState, Deployment } from '../protocol/app-state.js';
import { InFlightWrites } from './state/in-flight-writes.js';
import { MirrorDivergences } from './state/mirror-divergences.js';
import type { AppRuntime } from './state/routing-table.js';
import { StateStore, type ApplyResult } from './state/state-store.js';
import { WriteHold } from './state/write-hold.js';
import { HealthChecker } from './upstream/health-checker.js';
import { UpstreamPool } from './upstream/upstream-pool.js';
import { BufferBudget } from './proxy/buffer-budget.js';
import { AdminServer } from './admin/admin-server.js';
import { handleClientError } from './client-errors.js';
import type { ListenerAddress } from './listener-address.js';
import { type BindingVerdict, llhttpBinding } from './raw/llhttp-binding.js';
import { RawEngine } from './raw/raw-engine.js';
import { Http2Edge } from './http2/http2-edge.js';
import { ListenerCertificates } from './tls/certificate-store.js';
import { TlsListener } from './tls/tls-listener.js';
import { loadUpstreamTls } from './tls/upstream-tls.js';

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
  /** The llhttp binding the raw engine uses (tests give a failing one to check the fallback). */
  readonly llhttp?: () => BindingVerdict;
}

function listen(server: TcpServer, host: string, port: number, scheme: 'http' | 'https' = 'http'): Promise<ListenerAddress> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({ host: a.address, port: a.port, url: `${scheme}://${h}:${a.port}` });
    });
  });
}

/**
 * A raw-engine connection continues on node:http: the bytes the raw parser held back are put back
 * in front (node emits them, on the next tick, before anything read from the socket after them).
 */
function handOff(server: Server, socket: Socket, bytes: Buffer): void {
  socket.unshift(bytes);
  server.emit('connection', socket);
  socket.resume();
}

/** One edge node: listeners, upstream pools, state, admin API. */
export class Gateway {
  readonly config: GatewayConfig;
  readonly metrics = new GatewayMetrics();
  readonly logger: Logger;
  readonly state: StateStore;
  /** Mirrored writes one side did not confirm, per app (a fleet member checks them before acking a fence). */
  readonly mirrorDivergences = new MirrorDivergences();
  private readonly runtimes: AppRuntime[];
  private readonly servers: Server[] = [];
  /** The raw engine's own listeners (engine: raw); its connections go to `servers` when handed off. */
  private readonly tcpServers: TcpServer[] = [];
  private raw: RawEngine | undefined;
  /** TLS listeners by their index in config.listeners. */
  private readonly tlsListeners = new Map<number, TlsListener>();
  /** HTTP/2 for every TLS listener that negotiated h2 (one server: it only dispatches sessions). */
  private http2: Http2Edge | undefined;
  private readonly checkers: HealthChecker[] = [];
  private readonly httpProxy: HttpProxyAdapter;
  private readonly handler: RequestHandler;
  private readonly websockets: WebSocketHandler;
  private readonly bufferBudget: BufferBudget;
  private readonly inFlightWrites: InFlightWrites;
  private admin: AdminServer | undefined;
  private closing: Promise<void> | undefined;
  private inFlightRequests = 0;
  /** Apps whose state was applied, or found absent by a fleet agent; with `waitForState` only these take traffic. */
  private readonly readyApps = new Set<string>();
  /** Set when a fleet agent follows the coordinator for this gateway: the admin API then may not change its state. */
  private fleetMemberId: string | undefined;
  /** `waitForState`, and always so on a fleet member. */
  private requireState: boolean;
  listeners: ListenerAddress[] = [];

  private constructor(private readonly opts: GatewayOptions) {
    const config = opts.config;
    this.config = config;
    this.logger = opts.logger ?? createLogger(config.log.level, { component: 'gateway', gateway: config.name });
    const conn = {
      connectTimeoutMs: config.timeouts.upstreamConnectMs,
      headersTimeoutMs: config.timeouts.upstreamHeadersMs,
      idleTimeoutMs: config.timeouts.upstreamIdleMs,
      sendTimeoutMs: config.timeouts.clientSendMs,
    };
    this.runtimes = Object.entries(config.apps).map(([name, app]) => {
      const hold = new WriteHold();
      hold.onReleased = (ms) => {
        this.metrics.holdTime.observe([name], ms / 1000);
        this.opts.onWriteReleased?.(name, ms);
      };
      const pool = (d: Deployment): UpstreamPool =>
        new UpstreamPool(name, d, app[d], conn, loadUpstreamTls(app[d].tls, `apps.${name}.${d}.tls`));
      return { name, config: app, n1: pool('n1'), n2: pool('n2'), hold };
    });
    const inFlightWrites = new InFlightWrites(config.timeouts.unknownWriteOutcomeMs);
    this.inFlightWrites = inFlightWrites;
    this.state = new StateStore(this.runtimes, new Map(), inFlightWrites, config.timeouts.drainMs);
    this.state.onApplied = (r) => {
      this.mirrorDivergences.applied(r.app, this.state.snapshot()[r.app]!);
      this.metrics.stateEpoch.set([r.app, r.mode], r.epoch);
      this.metrics.stateApplies.inc([r.app, 'ok']);
      this.logger.info('gateway.state.applied', { ...r });
    };
    this.fleetMemberId = config.fleet ? (config.fleet.memberId ?? config.name) : undefined;
    this.requireState = config.waitForState || this.fleetMemberId !== undefined;
    this.httpProxy = new HttpProxyAdapter({
      connections: 256,
      upstreamHeadersMs: config.timeouts.upstreamHeadersMs,
      sendTimeoutMs: config.timeouts.clientSendMs,
    });
    this.bufferBudget = new BufferBudget(config.limits.maxBufferedBytes);
    this.handler = new RequestHandler({
      bufferBudget: this.bufferBudget,
      config,
      metrics: this.metrics,
      logger: this.logger,
      inFlightWrites,
      mirrorDivergences: this.mirrorDivergences,
      table: this.state.table,
      httpProxy: this.httpProxy,
      trustedProxies: new Set(config.trustedProxies),
      shuttingDown: () => this.closing !== undefined,
      ready: (app) => !this.requireState || this.readyApps.has(app),
      onFinished: () => {
        this.inFlightRequests -= 1;
      },
      writeGuard: opts.writeGuard ?? (() => undefined),
    });
    this.websockets = new WebSocketHandler({
      bufferBudget: this.bufferBudget,
      mirrorDivergences: this.mirrorDivergences,
      config,
      metrics: this.metrics,
      logger: this.logger,
      inFlightWrites,
      table: this.state.table,
      trustedProxies: new Set(config.trustedProxies),
      shuttingDown: () => this.closing !== undefined,
      ready: (app) => !this.requireState || this.readyApps.has(app),
      writeGuard: opts.writeGuard ?? (() => undefined),
    });
    this.metrics.upstreamHealthy.collect(() =>
      this.runtimes.flatMap((r) =>
        [r.n1, r.n2].flatMap((p) =>
          p.servers.map((s): [string[], number] => [[r.name, p.deployment, s.origin], s.isAvailable(Date.now()) ? 1 : 0]),
        ),
      ),
    );
    this.metrics.bufferedBytes.collect(() => [[[], this.bufferBudget.inUse]]);
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
    this.raw = config.engine === 'raw' ? this.rawEngine() : undefined;
    // Every certificate is read and checked before anything listens.
    const certificates = config.listeners.map((l, i) =>
      l.tls === undefined ? undefined : new ListenerCertificates(l.tls, `listeners.${i}.tls`),
    );
    for (const [i, l] of config.listeners.entries()) {
      const server = this.nodeServer();
      this.servers.push(server);
      const raw = this.raw;
      const certs = certificates[i];
      if (raw === undefined && certs === undefined) {
        this.listeners.push(await listen(server, l.host, l.port));
        continue;
      }
      // The node server never listens itself; 'listening' starts what node:http starts then: its
      // connection list (closeIdleConnections, closeAllConnections) and the headers and request timeouts.
      server.emit('listening');
      const http1 =
        raw === undefined
          ? (socket: Socket) => void server.emit('connection', socket)
          : raw.acceptor((socket, bytes) => handOff(server, socket, bytes));
      if (certs !== undefined) {
        const tls = this.tlsListener(certs, l.tls?.http2 === true, http1);
        this.tlsListeners.set(i, tls);
        this.listeners.push(await listen(tls.server, l.host, l.port, 'https'));
        continue;
      }
      const tcp = createTcpServer({ noDelay: true }, http1);
      this.tcpServers.push(tcp);
      this.listeners.push(await listen(tcp, l.host, l.port));
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

  /** A TLS listener: HTTP/1.1 connections to `http1` (the listener's HTTP/1.1 engine), h2 ones to the HTTP/2 server. */
  private tlsListener(certs: ListenerCertificates, offerHttp2: boolean, http1: (socket: Socket) => void): TlsListener {
    if (offerHttp2) this.http2 ??= this.http2Edge();
    const http2 = offerHttp2 ? this.http2 : undefined;
    return new TlsListener(
      certs,
      offerHttp2,
      { handshakeTimeoutMs: this.config.timeouts.clientHeadersMs },
      {
        http1,
        http2: (socket) => (http2 === undefined ? socket.destroy() : http2.accept(socket)),
        handshakeFailed: (err) => {
          this.metrics.errors.inc(['-', 'NW_GW_TLS_HANDSHAKE_FAILED']);
          this.logger.debug('gateway.tls.handshake_failed', { code: 'NW_GW_TLS_HANDSHAKE_FAILED', reason: err.code ?? err.message });
        },
      },
    );
  }

  private http2Edge(): Http2Edge {
    const { config } = this;
    return new Http2Edge({
      maxConcurrentStreams: config.limits.maxConcurrentStreams,
      maxHeaderBytes: config.limits.maxHeaderBytes,
      idleTimeoutMs: config.timeouts.clientKeepAliveMs,
      onRequest: (req, res) => {
        this.inFlightRequests += 1;
        this.handler.handle(req, res);
      },
      onCheckContinue: (req, res) => {
        this.inFlightRequests += 1;
        this.handler.handleExpectingContinue(req, res);
      },
      onSessionError: (err) => {
        this.metrics.errors.inc(['-', 'NW_GW_BAD_REQUEST']);
        this.logger.debug('gateway.http2.session_error', { code: 'NW_GW_BAD_REQUEST', reason: err.code ?? err.message });
      },
    });
  }

  /**
   * Re-reads every TLS listener's certificate and key files (from `listeners`, a new config's, when
   * given) and swaps them in: new handshakes get the new certificates, open connections keep
   * theirs and are not dropped. All or nothing: if any file is missing or wrong, this throws
   * NW_GW_TLS_CONFIG_INVALID naming the field and the file, and every listener keeps what it had.
   */
  reloadCertificates(listeners?: readonly ListenerConfig[]): void {
    const swaps: (() => void)[] = [];
    for (const [i, l] of this.tlsListeners) {
      const next = listeners?.[i];
      if (listeners !== undefined && next?.tls === undefined)
        throw new GatewayError('NW_GW_TLS_CONFIG_INVALID', `listeners.${i}.tls: TLS cannot be removed from a running listener (restart)`);
      swaps.push(l.prepareReload(next?.tls));
    }
    listeners?.forEach((l, i) => {
      if (l.tls !== undefined && !this.tlsListeners.has(i))
        throw new GatewayError('NW_GW_TLS_CONFIG_INVALID', `listeners.${i}.tls: TLS cannot be added to a running listener (restart)`);
    });
    for (const swap of swaps) swap();
    this.logger.info('gateway.tls.reloaded', { listeners: swaps.length });
  }

  /** The node engine's server: listening itself, or (engine: raw) taking the connections the raw engine hands over. */
  private nodeServer(): Server {
    const { config } = this;
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
    // Without this listener node answers 100 Continue before the request is even routed.
    server.on('checkContinue', (req, res) => {
      this.inFlightRequests += 1;
      this.handler.handleExpectingContinue(req, res);
    });
    server.on('upgrade', this.websockets.handle);
    server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => handleClientError(err, socket, this.logger, this.metrics));
    return server;
  }

  /** The raw engine, or undefined (with a warning) when the llhttp binding is missing or fails its self-test. */
  private rawEngine(): RawEngine | undefined {
    const verdict = (this.opts.llhttp ?? llhttpBinding)();
    if (!verdict.ok) {
      this.logger.warn('gateway.engine.raw_unavailable', { code: 'NW_GW_ENGINE_FALLBACK', reason: verdict.reason, engine: 'node' });
      return undefined;
    }
    return new RawEngine(verdict.binding, {
      bufferBudget: this.bufferBudget,
      config: this.config,
      metrics: this.metrics,
      logger: this.logger,
      inFlightWrites: this.inFlightWrites,
      mirrorDivergences: this.mirrorDivergences,
      writeGuard: this.opts.writeGuard ?? (() => undefined),
      table: this.state.table,
      trustedProxies: new Set(this.config.trustedProxies),
      shuttingDown: () => this.closing !== undefined,
      ready: (app) => !this.requireState || this.readyApps.has(app),
      onStarted: () => {
        this.inFlightRequests += 1;
      },
      onFinished: () => {
        this.inFlightRequests -= 1;
      },
    });
  }

  /** The engine serving plain HTTP: 'raw', or the node engine ('undici', 'http-proxy'; also after a raw fallback). */
  get engine(): 'raw' | 'undici' | 'http-proxy' {
    if (this.raw !== undefined) return 'raw';
    return this.config.engine === 'http-proxy' ? 'http-proxy' : 'undici';
  }

  get adminAddress(): ListenerAddress | undefined {
    return this.admin?.address;
  }

  /** Whether the app (every app, without one) takes traffic: its state is loaded (if required) and the gateway is not closing. */
  isReady(app?: string): boolean {
    if (this.closing !== undefined) return false;
    if (!this.requireState) return true;
    return app === undefined ? this.runtimes.every((r) => this.readyApps.has(r.name)) : this.readyApps.has(app);
  }

  /** A fleet agent found no state node for the app: it takes traffic under the built-in default (serve, epoch 0). */
  markReady(app: string): void {
    this.readyApps.add(app);
  }

  /** The fleet member id when a fleet agent owns this gateway's state; undefined for a standalone gateway. */
  get fleetMember(): string | undefined {
    return this.fleetMemberId;
  }

  /** Called by the fleet agent that follows the coordinator for this gateway. */
  markFleetMember(memberId: string): void {
    this.fleetMemberId = memberId;
    this.requireState = true;
  }

  getState(): Record<string, AppState> {
    return this.state.snapshot();
  }

  /** Applies one or several apps' states at once; resolves after the drain the new state needs. */
  async applyStates(states: Readonly<Record<string, unknown>>): Promise<ApplyResult> {
    try {
      const result = await this.state.apply(states);
      for (const r of result.apps) this.readyApps.add(r.app);
      return result;
    } catch (err) {
      for (const app of Object.keys(states)) this.metrics.stateApplies.inc([app, err instanceof GatewayError ? err.code : 'error']);
      throw err;
    }
  }

  applyState(app: string, state: unknown): Promise<ApplyResult> {
    return this.applyStates({ [app]: state });
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
    const tlsServers = [...this.tlsListeners.values()].map((l) => l.server);
    const closed = [...this.servers, ...this.tcpServers, ...tlsServers].map(
      (s) => new Promise<void>((resolve) => s.close(() => resolve())),
    );
    // GOAWAY: no new streams; each HTTP/2 connection closes once its open streams are done.
    this.http2?.closeGracefully();
    for (const s of this.servers) s.closeIdleConnections();
    this.raw?.closeIdleConnections();
    // Nothing releases a held write any more (a member stops following states first): refuse them
    // now, unforwarded, instead of letting them hold the drain (and a member's session) until the deadline.
    const refusal = new GatewayError('NW_GW_SHUTTING_DOWN', undefined, { retryAfterSeconds: 1 });
    for (const r of this.runtimes) r.hold.rejectAll(refusal);
    while (this.inFlightRequests > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      for (const s of this.servers) s.closeIdleConnections();
      this.raw?.closeIdleConnections();
    }
    for (const r of this.runtimes) r.hold.rejectAll(refusal);
    for (const s of this.servers) s.closeAllConnections();
    this.raw?.closeAllConnections();
    this.http2?.closeAll();
    for (const l of this.tlsListeners.values()) l.destroyAll();
    await this.websockets.closeAll();
    for (const c of this.checkers) c.stop();
    await Promise.all(closed);
    await this.admin?.close();
    this.httpProxy.close();
    this.raw?.close();
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
