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
import { AppRuntimes, type ReloadResult } from './state/app-runtimes.js';
import { StateStore, type ApplyResult } from './state/state-store.js';
import { BufferBudget } from './proxy/buffer-budget.js';
import { AccessLog, type AccessLogSink } from './observability/access-log.js';
import { ConfigReloads } from './config/config-reloads.js';
import { reloadRefusals } from './config/reload-check.js';
import { AdminServer } from './admin/admin-server.js';
import { handleClientError } from './client-errors.js';
import type { ListenerAddress } from './listener-address.js';
import { type BindingVerdict, llhttpBinding } from './raw/llhttp-binding.js';
import { RawEngine, rawServes } from './raw/raw-engine.js';
import { Http2Edge } from './http2/http2-edge.js';
import { ListenerCertificates } from './tls/certificate-store.js';
import { TlsListener } from './tls/tls-listener.js';

export type { ListenerAddress } from './listener-address.js';
export type { ReloadResult } from './state/app-runtimes.js';

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
  /** The file `config` was read from: what a reload (SIGHUP, POST /reload) reads again. */
  readonly configFile?: string;
  /** Where access log lines go (default stdout). */
  readonly accessLogSink?: AccessLogSink;
  /**
   * A worker of a multi-worker gateway (gateway/workers/): its listeners do not listen. Listener
   * `index` takes the connections the primary accepted and passes here (`accept`); the primary says
   * where it listens.
   */
  readonly acceptFrom?: (index: number, accept: (socket: Socket) => void) => ListenerAddress;
  /** TLS session ticket keys (48 bytes) shared by every worker of a node, so one resumes another's sessions. */
  readonly tlsTicketKeys?: Buffer;
  /** Which worker this is (its slot, 1..N), written into each access log line; unset for a single-process gateway. */
  readonly workerId?: number;
}

/** Set by a fleet agent: follows the apps of a reloaded config (the new ones' states applied before they take traffic). */
export type AppsFollower = (apps: readonly string[], removed: readonly string[]) => Promise<void>;

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

/** Connections the raw engine gave to node:http because of an app's state (a mirror). */
const HANDED_OVER = new WeakSet<Socket>();

/**
 * A raw-engine connection continues on node:http: the bytes the raw parser held back are put back
 * in front (node emits them, on the next tick, before anything read from the socket after them).
 */
function handOff(server: Server, socket: Socket, bytes: Buffer, stateful: boolean): void {
  if (stateful) HANDED_OVER.add(socket);
  socket.unshift(bytes);
  server.emit('connection', socket);
  socket.resume();
}

/** One edge node: listeners, upstream pools, state, admin API. */
export class Gateway {
  readonly metrics = new GatewayMetrics();
  readonly logger: Logger;
  readonly state: StateStore;
  /** Mirrored writes one side did not confirm, per app (a fleet member checks them before acking a fence). */
  readonly mirrorDivergences = new MirrorDivergences();
  readonly accessLog: AccessLog;
  private currentConfig: GatewayConfig;
  private readonly runtimes: AppRuntimes;
  private readonly reloads: ConfigReloads<ReloadResult>;
  private appsFollower: AppsFollower | undefined;
  private readonly servers: Server[] = [];
  /** The raw engine's own listeners (engine: raw); its connections go to `servers` when handed off. */
  private readonly tcpServers: TcpServer[] = [];
  private raw: RawEngine | undefined;
  /** TLS listeners by their index in config.listeners. */
  private readonly tlsListeners = new Map<number, TlsListener>();
  /** HTTP/2 for every TLS listener that negotiated h2 (one server: it only dispatches sessions). */
  private http2: Http2Edge | undefined;
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
    this.currentConfig = config;
    this.logger = opts.logger ?? createLogger(config.log.level, { component: 'gateway', gateway: config.name });
    this.accessLog = new AccessLog(config.log, config.name, opts.accessLogSink, opts.workerId);
    this.reloads = new ConfigReloads({
      configFile: opts.configFile,
      counter: this.metrics.reloads,
      logger: this.logger,
      apply: (next, source) => this.reloadNow(next, source),
    });
    this.runtimes = new AppRuntimes({
      conn: {
        connectTimeoutMs: config.timeouts.upstreamConnectMs,
        headersTimeoutMs: config.timeouts.upstreamHeadersMs,
        idleTimeoutMs: config.timeouts.upstreamIdleMs,
        sendTimeoutMs: config.timeouts.clientSendMs,
      },
      logger: this.logger,
      onWriteReleased: (app, ms) => {
        this.metrics.holdTime.observe([app], ms / 1000);
        this.opts.onWriteReleased?.(app, ms);
      },
      onServersRetired: (servers) => this.raw?.closeServers(servers),
    });
    const inFlightWrites = new InFlightWrites(config.timeouts.unknownWriteOutcomeMs);
    this.inFlightWrites = inFlightWrites;
    this.state = new StateStore(this.runtimes.replace(config.apps).runtimes, new Map(), inFlightWrites, config.timeouts.drainMs);
    this.state.onApplied = (r) => {
      // A reload may have removed the app while its state drained.
      const applied = this.state.snapshot()[r.app];
      if (applied) this.mirrorDivergences.applied(r.app, applied);
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
      accessLog: this.accessLog,
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
      // A connection handed over for a mirror is closed once the raw engine could serve it again (after
      // the migration), so clients come back to raw; Upgrades and HTTP/1.0 stay where they are.
      backToRaw: (req, state, write) =>
        this.raw !== undefined &&
        HANDED_OVER.has(req.socket) &&
        req.httpVersion === '1.1' &&
        !req.headers.expect &&
        rawServes(state, write),
      writeGuard: opts.writeGuard ?? (() => undefined),
    });
    this.websockets = new WebSocketHandler({
      accessLog: this.accessLog,
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
      this.runtimes.all.flatMap((r) =>
        [r.n1, r.n2].flatMap((p) =>
          p.servers.map((s): [string[], number] => [[r.name, p.deployment, s.origin], s.isAvailable(Date.now()) ? 1 : 0]),
        ),
      ),
    );
    this.metrics.bufferedBytes.collect(() => [[[], this.bufferBudget.inUse]]);
    this.metrics.upstreamInFlight.collect(() =>
      this.runtimes.all.flatMap((r) =>
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
      l.tls === undefined ? undefined : new ListenerCertificates(l.tls, `listeners.${i}.tls`, this.opts.tlsTicketKeys),
    );
    for (const [i, l] of config.listeners.entries()) {
      const server = this.nodeServer();
      this.servers.push(server);
      const raw = this.raw;
      const certs = certificates[i];
      if (raw === undefined && certs === undefined) {
        this.listeners.push(await this.open(server, i, l));
        continue;
      }
      // The node server never listens itself; 'listening' starts what node:http starts then: its
      // connection list (closeIdleConnections, closeAllConnections) and the headers and request timeouts.
      server.emit('listening');
      const http1 =
        raw === undefined
          ? (socket: Socket) => void server.emit('connection', socket)
          : raw.acceptor((socket, bytes, stateful) => handOff(server, socket, bytes, stateful));
      if (certs !== undefined) {
        const tls = this.tlsListener(certs, l.tls?.http2 === true, http1);
        this.tlsListeners.set(i, tls);
        this.listeners.push(await this.open(tls.server, i, l, 'https'));
        continue;
      }
      const tcp = createTcpServer({ noDelay: true }, http1);
      this.tcpServers.push(tcp);
      this.listeners.push(await this.open(tcp, i, l));
    }
    this.runtimes.startHealthChecks();
    if (config.admin) {
      const token = this.opts.adminToken ?? process.env[config.admin.tokenEnv];
      if (!token)
        this.logger.warn('gateway.admin.no_token', { message: `admin state changes are disabled until ${config.admin.tokenEnv} is set` });
      this.admin = await AdminServer.start(this, config.admin.host, config.admin.port, token);
    }
  }

  /** Listens on the listener's address, or (a worker) takes the connections its primary accepted for listener `index`. */
  private async open(server: TcpServer, index: number, l: ListenerConfig, scheme: 'http' | 'https' = 'http'): Promise<ListenerAddress> {
    const external = this.opts.acceptFrom;
    if (external === undefined) return listen(server, l.host, l.port, scheme);
    // As for a node server that never listens itself (above): what node:http starts on 'listening'.
    server.emit('listening');
    return external(index, (socket) => void server.emit('connection', socket));
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
      requestBodyMs: config.timeouts.clientRequestMs,
      onBodyTimeout: () => {
        this.metrics.errors.inc(['-', 'NW_GW_CLIENT_TIMEOUT']);
        this.logger.debug('gateway.client.error', { code: 'NW_GW_CLIENT_TIMEOUT', message: 'request body too slow', engine: 'node' });
      },
      onRequest: (req, res) => {
        this.inFlightRequests += 1;
        this.handler.handle(req, res);
      },
      onCheckContinue: (req, res) => {
        this.inFlightRequests += 1;
        this.handler.handleExpectingContinue(req, res);
      },
      ...(this.raw === undefined ? {} : { onStream: this.raw.serveStream.bind(this.raw) }),
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
    this.prepareCertificates(listeners)();
  }

  /** Reads and checks every TLS listener's files (throwing as reloadCertificates does); the result swaps them in. */
  private prepareCertificates(listeners?: readonly ListenerConfig[]): () => void {
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
    return () => {
      for (const swap of swaps) swap();
      if (swaps.length > 0) this.logger.info('gateway.tls.reloaded', { listeners: swaps.length });
    };
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
      accessLog: this.accessLog,
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

  /** The config in force: the one it started with, or the last one a reload applied. */
  get config(): GatewayConfig {
    return this.currentConfig;
  }

  get adminAddress(): ListenerAddress | undefined {
    return this.admin?.address;
  }

  /** Whether the app (every app, without one) takes traffic: its state is loaded (if required) and the gateway is not closing. */
  isReady(app?: string): boolean {
    if (this.closing !== undefined) return false;
    if (!this.requireState) return true;
    return app === undefined ? this.runtimes.all.every((r) => this.readyApps.has(r.name)) : this.readyApps.has(app);
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

  /** Called by the fleet agent: a reload that adds or removes apps hands it the new list. */
  followApps(follower: AppsFollower): void {
    this.appsFollower = follower;
  }

  /**
   * Reads the config file again and applies it (SIGHUP, POST /reload); logged either way. An
   * invalid file raises NW_GW_RELOAD_INVALID, a change only a restart applies NW_GW_RELOAD_REFUSED,
   * each line naming the file and the field; then nothing changed.
   */
  reloadFromFile(): Promise<ReloadResult> {
    return this.reloads.fromFile();
  }

  /**
   * Applies a new config as one swap, or refuses it whole. Apps added, changed or removed take effect
   * for the next request; requests in flight finish on the runtimes they started with, whose pools
   * close after them (AppRuntimes); client connections are untouched. Every app that stays keeps its
   * state; a new app takes traffic once its state is applied where states are required (a fleet
   * member follows its state node first). Reloads run one at a time.
   */
  reload(next: GatewayConfig, source = '<inline>'): Promise<ReloadResult> {
    return this.reloads.run(next, source);
  }

  private async reloadNow(next: GatewayConfig, source: string): Promise<ReloadResult> {
    if (this.closing !== undefined) throw new GatewayError('NW_GW_SHUTTING_DOWN');
    const refusals = reloadRefusals(this.currentConfig, next, source);
    for (const [app, state] of Object.entries(this.state.snapshot())) {
      const spec = next.apps[app];
      if (state.mode === 'redirect' && spec && !spec.n2.publicOrigin)
        refusals.push(`${source}: apps.${app}.n2.publicOrigin: ${app} is in redirect mode (epoch ${state.epoch}), which needs it`);
    }
    if (refusals.length > 0) throw new GatewayError('NW_GW_RELOAD_REFUSED', `\n${refusals.join('\n')}`);
    // Certificate files are read again at every reload (a rotated certificate under the same path);
    // a bad one fails the reload before anything changed.
    const swapCertificates = this.prepareCertificates(next.listeners);
    // From here to the swap nothing awaits: no request sees half of it.
    const change = this.runtimes.replace(next.apps);
    swapCertificates();
    this.state.replaceRuntimes(change.runtimes);
    this.currentConfig = next;
    this.accessLog.configure(next.log);
    for (const app of change.removed) this.readyApps.delete(app);
    const { added, changed, removed, unchanged } = change;
    this.metrics.reloads.inc(['ok']);
    this.logger.info('gateway.reload.applied', { file: source, added, changed, removed, unchanged });
    if (this.appsFollower && (added.length > 0 || removed.length > 0)) await this.appsFollower(Object.keys(next.apps), removed);
    const notReady = this.requireState ? Object.keys(next.apps).filter((a) => !this.readyApps.has(a)) : [];
    return { added, changed, removed, unchanged, notReady };
  }

  /** Resolves true once no write of these apps is in flight (see writesEnded); false after `timeoutMs`. */
  async appWritesEnded(apps: readonly string[], timeoutMs: number): Promise<boolean> {
    const both = new Set<Deployment>(['n1', 'n2']);
    const drained = await Promise.all(apps.map((app) => this.inFlightWrites.waitForDrain(app, both, timeoutMs)));
    return drained.every(Boolean);
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
    for (const r of this.runtimes.all) r.hold.rejectAll(refusal);
    while (this.inFlightRequests > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      for (const s of this.servers) s.closeIdleConnections();
      this.raw?.closeIdleConnections();
    }
    for (const r of this.runtimes.all) r.hold.rejectAll(refusal);
    for (const s of this.servers) s.closeAllConnections();
    this.raw?.closeAllConnections();
    this.http2?.closeAll();
    for (const l of this.tlsListeners.values()) l.destroyAll();
    await this.websockets.closeAll();
    await Promise.all(closed);
    await this.admin?.close();
    this.httpProxy.close();
    this.raw?.close();
    await this.runtimes.close();
  }

  /**
   * Resolves true once no write of any app is in flight to either deployment, counting the
   * unknown-outcome grace of writes that were cut (e.g. by close()); false after `timeoutMs`.
   */
  writesEnded(timeoutMs: number): Promise<boolean> {
    return this.appWritesEnded(
      this.runtimes.all.map((r) => r.name),
      timeoutMs,
    );
  }

  /** Sockets currently held open by the listeners (for tests and shutdown). */
  get pendingRequests(): number {
    return this.inFlightRequests;
  }
}
