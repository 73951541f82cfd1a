import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { GatewayError, isGatewayError } from '../errors.js';
import { requestHost } from '../request-host.js';
import { buildUpstreamHeaders, pathAndQuery, protoOf, type HeaderMap } from '../proxy/forward-headers.js';
import { requestIdFor } from '../proxy/request-id.js';
import { poolOf, servedByHeaders, type ExchangeServices } from '../proxy/exchange.js';
import { errorReply, recordFailure, recordFinished, requestError } from '../proxy/request-outcome.js';
import { isWriteMethod, type AppState, type Deployment } from '../../protocol/app-state.js';
import { RESPONSE_HEADERS } from '../../protocol/response-headers.js';
import { bindRuntime, releaseRuntime, type AppRoute, type RoutingTable, type RuntimeBinding } from '../state/routing-table.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { UpstreamServer } from '../upstream/upstream-server.js';
import { ClientConnection, type ConnectionServices } from './client-connection.js';
import type { ClientReply } from './client-reply.js';
import { H2Streams } from './h2-streams.js';
import { appendHeaderLines } from './head-fields.js';
import type { LlhttpBinding } from './llhttp-binding.js';
import type { RawRequest } from './raw-request.js';
import { CallFailure, UpstreamCall } from './upstream-call.js';
import { LinkPool, type UpstreamLink } from './upstream-links.js';
import { disableAllocationSitePretenuring } from './v8-pretenuring.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** Methods whose request content means something (RFC 9110): sent with a length even when empty. */
const EXPECTS_CONTENT = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Kept-alive upstream connections idle at least this long are closed (by the tick, so up to one
 * tick later): below node's default keepAliveTimeout (5 s), so the app does not close one as it is
 * being reused.
 */
const UPSTREAM_KEEP_ALIVE_MS = 3000;

export interface RawEngineDeps extends ExchangeServices {
  readonly table: () => RoutingTable;
  readonly trustedProxies: ReadonlySet<string>;
  readonly shuttingDown: () => boolean;
  readonly ready: (app: string) => boolean;
  /** A request taken by this engine starts and ends (the gateway's drain counts them). */
  readonly onStarted: () => void;
  readonly onFinished: () => void;
}

/** One request in the raw engine, as RequestHandler's Exchange is in the node engine. */
interface RawExchange extends RuntimeBinding {
  readonly req: RawRequest;
  readonly res: ClientReply;
  readonly requestId: string;
  readonly startedAt: number;
  readonly path: string;
  readonly host: string;
  readonly peer: string;
  readonly upstreamHeaders: HeaderMap;
  route: AppRoute | undefined;
  servedBy: Deployment | 'none';
}

/** One request's way to an app server, across its attempts. */
interface Sending {
  readonly ex: RawExchange;
  readonly pool: UpstreamPool;
  readonly d: Deployment;
  readonly write: boolean;
  /** The request head as it goes upstream (built once, whatever server takes it). */
  readonly head: string;
  readonly chunked: boolean;
  /** No body and an idempotent method: sent again after a kept-alive connection turned out closed. */
  readonly replayable: boolean;
  /** Ends the write's in-flight count. */
  readonly end: ((outcomeUnknown: boolean) => void) | undefined;
  readonly tried: Set<UpstreamServer>;
  attempt: number;
  lastErr: GatewayError | undefined;
  /** The app may have acted on the request (it was sent, and no answer came). */
  unknown: boolean;
  settled: boolean;
}

/** Whether the raw engine serves this state's traffic of this kind; the rest (mirror, mirrored writes) is node's. */
export function rawServes(state: AppState, write: boolean): boolean {
  switch (state.mode) {
    case 'serve':
    case 'fence':
      return true;
    case 'mirror':
      return false;
    case 'proxy':
      return !(write && state.mirrorWritesToN1);
    case 'redirect':
      return !(write && state.methods === 'safe' && state.mirrorWritesToN1);
  }
}

function peerOf(socket: Socket): string {
  const a = socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

function upstreamHead(method: string, path: string, headers: HeaderMap, chunked: boolean): string {
  const h = appendHeaderLines(`${method} ${path} HTTP/1.1\r\n`, headers);
  return `${chunked ? `${h}transfer-encoding: chunked\r\n` : h}\r\n`;
}

/**
 * The byte-pipe HTTP/1.1 engine: client connections parsed by llhttp, upstream connections of its
 * own, the modes serve, proxy, redirect and the fence hold served here with the same routing,
 * header policy, write accounting, lease checks, errors and metrics as the node engine. Requests it
 * does not serve (mirror, mirrored writes, Upgrade, Expect, HTTP/1.0, pipelined ones) hand their
 * connection to node:http, decided per request from the state applied when its head arrives.
 */
export class RawEngine {
  private readonly linkPools = new Map<UpstreamServer, LinkPool>();
  /**
   * Pools of servers a reload retired that still have connections: a write whose client left goes
   * on there without a bound request, and its upstream timeouts are checked by the tick's sweep.
   */
  private readonly retiredPools = new Set<LinkPool>();
  private readonly connections = new Set<ClientConnection>();
  /** Checks every connection's timeout and closes idle upstream connections: one timer for the engine, none per request. */
  private readonly tick: NodeJS.Timeout;
  /** The tick's interval: idle upstream connections are closed up to two of these late. */
  private readonly tickMs: number;
  private readonly services: ConnectionServices;
  private readonly h2: H2Streams;

  constructor(
    private readonly binding: LlhttpBinding,
    private readonly deps: RawEngineDeps,
  ) {
    disableAllocationSitePretenuring();
    const t = deps.config.timeouts;
    this.services = {
      binding,
      maxHeaderBytes: deps.config.limits.maxHeaderBytes,
      maxBodyBytes: deps.config.limits.maxBodyBytes,
      timeouts: { headersMs: t.clientHeadersMs, requestMs: t.clientRequestMs, keepAliveMs: t.clientKeepAliveMs, sendMs: t.clientSendMs },
      keepAliveLines: `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(t.clientKeepAliveMs / 1000)}\r\n`,
      begin: (req, res) => this.begin(req, res),
      handOff: () => undefined,
      clientError: (code, detail) => {
        deps.metrics.errors.inc(['-', code]);
        deps.logger.debug('gateway.client.error', { code, message: detail, engine: 'raw' });
      },
      shuttingDown: deps.shuttingDown,
    };
    this.h2 = new H2Streams({
      maxBodyBytes: deps.config.limits.maxBodyBytes,
      requestMs: t.clientRequestMs,
      sendMs: t.clientSendMs,
      begin: (req, res) => this.begin(req, res),
      clientError: this.services.clientError,
    });
    // As node:http's connectionsCheckingInterval: often enough for the shortest timeout it checks
    // (client head, body and keep-alive; upstream head and idle), which fire up to two ticks late.
    const shortest = Math.min(t.clientHeadersMs, t.clientRequestMs, t.clientKeepAliveMs, t.upstreamHeadersMs, t.upstreamIdleMs);
    const tickMs = Math.max(50, Math.min(1000, Math.ceil(shortest / 4)));
    this.tickMs = tickMs;
    this.tick = setInterval(() => {
      const now = performance.now();
      for (const c of this.connections) c.checkTimeout(now);
      this.h2.checkTimeouts(now);
      for (const p of this.linkPools.values()) p.sweep(now);
      for (const p of this.retiredPools) {
        p.sweep(now);
        if (p.empty) this.retiredPools.delete(p);
      }
    }, tickMs).unref();
  }

  /**
   * The connection listener of one net.Server; `handOff` gives a connection, with the bytes to
   * parse first, to that listener's node:http server (the node engine).
   */
  acceptor(handOff: (socket: Socket, bytes: Buffer, stateful: boolean) => void): (socket: Socket) => void {
    const services: ConnectionServices = {
      ...this.services,
      handOff: (socket, bytes, stateful) => {
        for (const c of this.connections) if (c.socket === socket) this.connections.delete(c);
        handOff(socket, bytes, stateful);
      },
    };
    return (socket) => {
      const c = new ClientConnection(socket, services);
      this.connections.add(c);
      socket.once('close', () => this.connections.delete(c));
    };
  }

  /**
   * An HTTP/2 stream (node:http2's core API), served here as an HTTP/1.1 request is (h2-streams.ts);
   * what this engine does not serve goes to `toNode` with its stream untouched.
   */
  serveStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[], toNode: () => void): void {
    this.h2.serve(stream, headers, rawHeaders, toNode);
  }

  /** Closes the connections that are between requests (shutdown). */
  closeIdleConnections(): void {
    for (const c of this.connections) c.closeIfIdle();
  }

  closeAllConnections(): void {
    for (const c of this.connections) c.socket.destroy();
  }

  close(): void {
    clearInterval(this.tick);
    for (const p of this.linkPools.values()) p.close();
  }

  /**
   * Closes the connections to servers a reload took out of service (no request is bound to them any
   * more): idle ones now, a busy one (a write whose client left) when its call ends or times out.
   */
  closeServers(servers: Iterable<UpstreamServer>): void {
    for (const s of servers) {
      const lp = this.linkPools.get(s);
      if (lp === undefined) continue;
      lp.close();
      this.linkPools.delete(s);
      if (!lp.empty) this.retiredPools.add(lp);
    }
  }

  private linkPool(server: UpstreamServer, pool: UpstreamPool): LinkPool {
    let lp = this.linkPools.get(server);
    if (lp === undefined) {
      const t = this.deps.config.timeouts;
      lp = new LinkPool(server.origin, this.binding, {
        connectTimeoutMs: t.upstreamConnectMs,
        keepAliveMs: UPSTREAM_KEEP_ALIVE_MS,
        sweepMs: this.tickMs,
        connections: pool.config.connectionsPerServer,
        queueTimeoutMs: t.upstreamConnectMs,
        tls: server.tls,
      });
      this.linkPools.set(server, lp);
    }
    return lp;
  }

  private begin(req: RawRequest, res: ClientReply): 'raw' | 'hold' | 'node' {
    // `Expect` is node's to answer (100 Continue when the body is wanted, 417 for anything else).
    if (req.headers.expect !== undefined) return 'node';
    const host = requestHost(req);
    let route: AppRoute | undefined;
    let write = false;
    if (typeof host === 'string') {
      route = this.deps.table().lookup(host);
      write = isWriteMethod(req.method);
      if (route && this.deps.ready(route.runtime.name) && !rawServes(route.state, write)) return 'node';
    }
    const ex = this.exchange(req, res, typeof host === 'string' ? host : '');
    this.deps.onStarted();
    res.onDone = () => this.finished(ex);
    if (typeof host !== 'string') return this.refuse(ex, host);
    if (!route) return this.refuse(ex, new GatewayError('NW_GW_UNKNOWN_HOST', host));
    if (!this.deps.ready(route.runtime.name))
      return this.refuse(
        ex,
        new GatewayError('NW_GW_NOT_READY', `${route.runtime.name}: its state is not applied yet`, { retryAfterSeconds: 1 }),
      );
    this.deps.metrics.inFlight.add([route.runtime.name], 1);
    bindRuntime(ex, route.runtime);
    ex.route = route;
    const state = route.state;
    if (write && state.mode === 'fence') {
      if (this.deps.shuttingDown()) return this.refuse(ex, new GatewayError('NW_GW_SHUTTING_DOWN', undefined, { retryAfterSeconds: 1 }));
      this.held(ex).catch((err: unknown) => this.fail(ex, err));
      return 'hold';
    }
    if (write) {
      const refused = this.deps.writeGuard(route.runtime.name, state);
      if (refused) return this.refuse(ex, refused);
    }
    this.dispatch(ex, route, write);
    return 'raw';
  }

  private exchange(req: RawRequest, res: ClientReply, host: string): RawExchange {
    const socket = res.socket;
    const peerIp = peerOf(socket);
    const trustedPeer = this.deps.trustedProxies.has(peerIp);
    const requestId = requestIdFor(req.headers, trustedPeer);
    const authority = host !== '' && host !== req.headers.host ? host : undefined;
    const upstreamHeaders = buildUpstreamHeaders(req.headers, { peerIp, trustedPeer, proto: protoOf(socket), requestId, host: authority });
    // An HTTP/2 request says it has no body by ending its stream, with no Content-Length: the app is
    // told in HTTP/1.1's words (as the node engine's undici tells it), as a server may want a length.
    if (req.httpVersion === '2.0' && !req.hasBody && req.declaredLength === undefined && EXPECTS_CONTENT.has(req.method))
      upstreamHeaders['content-length'] = '0';
    return {
      req,
      res,
      requestId,
      startedAt: performance.now(),
      path: pathAndQuery(req.url),
      host,
      peer: peerIp,
      upstreamHeaders,
      route: undefined,
      servedBy: 'none',
      bound: undefined,
    };
  }

  private refuse(ex: RawExchange, err: GatewayError): 'raw' {
    this.fail(ex, err);
    return 'raw';
  }

  /** A write a fence holds: parked with its body unread until the fence lets it go, then routed by the state then in force. */
  private async held(ex: RawExchange): Promise<void> {
    const { metrics } = this.deps;
    for (;;) {
      const route = ex.route!;
      const f = route.runtime.config.fence;
      const state = route.state;
      if (state.mode !== 'fence') throw new GatewayError('NW_GW_INTERNAL', 'a write was held outside a fence');
      metrics.heldWrites.add([route.runtime.name], 1);
      try {
        await route.runtime.hold.hold(state.maxHeldWrites ?? f.maxHeldWrites, state.maxHoldMs ?? f.maxHoldMs, f.retryAfterSeconds);
      } finally {
        metrics.heldWrites.add([route.runtime.name], -1);
      }
      // A client that left while its write was held gets nothing sent for it: its body is gone with it.
      if (ex.res.gone) throw new GatewayError('NW_GW_CLIENT_ABORTED', 'client left while its write was held');
      const next = this.deps.table().lookup(ex.host);
      if (!next) throw new GatewayError('NW_GW_UNKNOWN_HOST', ex.host);
      // A reload may have given the host to another app: the write was held for this one.
      if (next.runtime.name !== route.runtime.name)
        throw new GatewayError('NW_GW_APP_REMOVED', `${ex.host} now belongs to app ${next.runtime.name}`);
      bindRuntime(ex, next.runtime);
      ex.route = next;
      if (next.state.mode === 'fence') {
        if (this.deps.shuttingDown()) throw new GatewayError('NW_GW_SHUTTING_DOWN', undefined, { retryAfterSeconds: 1 });
        continue;
      }
      if (!rawServes(next.state, true)) {
        // node:http routes it again from its head; this engine no longer counts it.
        ex.res.onDone = undefined;
        metrics.inFlight.add([next.runtime.name], -1);
        releaseRuntime(ex);
        this.deps.onFinished();
        ex.res.handOver();
        return;
      }
      const refused = this.deps.writeGuard(next.runtime.name, next.state);
      if (refused) throw refused;
      // From the lookup to the in-flight count there is no await (dispatch counts synchronously).
      this.dispatch(ex, next, true);
      ex.res.proceed();
      return;
    }
  }

  /** Serves the request as the state says; never throws (a failure is answered by fail()). */
  private dispatch(ex: RawExchange, route: AppRoute, write: boolean): void {
    const state = route.state;
    try {
      switch (state.mode) {
        case 'serve':
          this.single(ex, route, 'n1', write);
          break;
        case 'fence':
          this.single(ex, route, state.readFrom, false);
          break;
        case 'proxy':
          this.single(ex, route, 'n2', write);
          break;
        case 'redirect':
          if (state.methods === 'safe' && write) this.single(ex, route, 'n2', write);
          else this.redirect(ex, route, state.status);
          break;
        case 'mirror':
          throw new GatewayError('NW_GW_INTERNAL', 'mirror is served by the node engine');
      }
    } catch (err) {
      this.fail(ex, err);
    }
  }

  /** One request to one deployment; a write counts in flight (from this tick) until its app answered. */
  private single(ex: RawExchange, route: AppRoute, d: Deployment, write: boolean): void {
    const limit = this.deps.config.limits.maxBodyBytes;
    if (ex.req.declaredLength !== undefined && ex.req.declaredLength > limit)
      throw new GatewayError('NW_GW_BODY_TOO_LARGE', `content-length ${ex.req.declaredLength} > ${limit}`);
    const app = route.runtime.name;
    const req = ex.req;
    const chunked = req.chunkedBody;
    ex.servedBy = d;
    this.nextAttempt({
      ex,
      pool: poolOf(route, d),
      d,
      write,
      head: upstreamHead(req.method, ex.path, ex.upstreamHeaders, chunked),
      chunked,
      replayable: !req.hasBody && IDEMPOTENT.has(req.method),
      end: write ? this.deps.inFlightWrites.begin(app, d) : undefined,
      tried: new Set(),
      attempt: 0,
      lastErr: undefined,
      unknown: false,
      settled: false,
    });
  }

  /**
   * The next attempt of a request: a server of the pool, a connection, the call. Another server is
   * tried when the request certainly never reached an app (no connection), and for a bodiless
   * idempotent one also when a kept-alive connection turned out closed; never once bytes went to
   * the client. No promise on the way when an idle connection is free: the call starts in this turn.
   */
  private nextAttempt(s: Sending): void {
    const { pool } = s;
    const server = s.attempt <= pool.config.retries ? pool.select(s.tried) : undefined;
    if (server === undefined) {
      this.settle(s, s.lastErr ?? pool.noServerError(s.tried));
      return;
    }
    s.tried.add(server);
    const links = this.linkPool(server, pool);
    server.inFlight += 1;
    const idle = links.takeIdle();
    if (idle !== undefined) this.call(s, server, links, idle);
    else
      links.acquire().then(
        (link) => this.call(s, server, links, link),
        (err: unknown) => this.connectFailed(s, server, err),
      );
  }

  private connectFailed(s: Sending, server: UpstreamServer, err: unknown): void {
    server.inFlight -= 1;
    const gw = isGatewayError(err) ? err : new GatewayError('NW_GW_UPSTREAM_CONNECT_FAILED', String(err));
    if (gw.code !== 'NW_GW_UPSTREAM_CONNECT_FAILED' && gw.code !== 'NW_GW_UPSTREAM_CONNECT_TIMEOUT') {
      this.settle(s, gw);
      return;
    }
    s.pool.recordFailure(server);
    this.retry(s, gw);
  }

  private call(s: Sending, server: UpstreamServer, links: LinkPool, link: UpstreamLink): void {
    try {
      this.startCall(s, server, links, link);
    } catch (err) {
      // A bug, not a request's fault: the attempt ends here, and the request with it (its write's
      // in-flight count included), whatever turn it started in.
      if (s.settled) return;
      server.inFlight -= 1;
      links.release(link, false);
      this.settle(s, err);
    }
  }

  private startCall(s: Sending, server: UpstreamServer, links: LinkPool, link: UpstreamLink): void {
    const { ex } = s;
    if (ex.res.gone) {
      links.release(link, true);
      server.inFlight -= 1;
      this.settle(s, new GatewayError('NW_GW_CLIENT_ABORTED', 'client left before the request went out'));
      return;
    }
    const t = this.deps.config.timeouts;
    const guard = s.write ? () => this.deps.writeGuard(s.pool.app, ex.route!.state) : undefined;
    const call = new UpstreamCall(link, links, ex.req, ex.res, servedByList(ex, s.d), {
      headersMs: t.upstreamHeadersMs,
      idleMs: t.upstreamIdleMs,
      keepUpstream: s.write,
      timed: this.deps.accessLog.enabled,
      ...(guard ? { lastByteGuard: guard } : {}),
      onSettled: (failure) => this.called(s, server, failure),
    });
    call.start(s.head, s.chunked);
  }

  private called(s: Sending, server: UpstreamServer, failure: CallFailure | undefined): void {
    server.inFlight -= 1;
    if (failure === undefined) {
      server.recordSuccess();
      this.settle(s, undefined);
      return;
    }
    if (failure.outcomeUnknown) s.unknown = true;
    if (failure.started || !this.retryable(failure, s.replayable)) {
      this.settle(s, failure.error);
      return;
    }
    // A kept-alive connection the server had closed says nothing about the server.
    if (failure.staleLink) s.tried.delete(server);
    else s.pool.recordFailure(server);
    this.retry(s, failure.error);
  }

  private retry(s: Sending, err: GatewayError): void {
    s.lastErr = err;
    if (s.attempt < s.pool.config.retries) this.deps.metrics.retries.inc([s.pool.app, s.d]);
    s.attempt += 1;
    this.nextAttempt(s);
  }

  /** The request is over at the app side: the write's in-flight count ends (outcome unknown or not), a failure is answered. */
  private settle(s: Sending, err: unknown): void {
    if (s.settled) return;
    s.settled = true;
    s.end?.(s.unknown);
    if (err !== undefined) this.fail(s.ex, err);
  }

  private retryable(f: CallFailure, replayable: boolean): boolean {
    return replayable && f.error.code === 'NW_GW_UPSTREAM_RESET';
  }

  private redirect(ex: RawExchange, route: AppRoute, status: 301 | 307 | 308): void {
    const origin = route.runtime.n2.config.publicOrigin;
    if (!origin) throw new GatewayError('NW_GW_INTERNAL', `app ${route.runtime.name} has no n2.publicOrigin`);
    ex.servedBy = 'n2';
    // Its body is not read: writeHead closes the connection after this reply if any of it is still to come.
    ex.req.detach();
    const list = ['location', origin + ex.path, 'content-length', '0'];
    pushHeaders(list, servedByHeaders(ex, 'n2'));
    ex.res.writeHead(status, list, 'length');
    ex.res.end();
  }

  private fail(ex: RawExchange, err: unknown): void {
    const { res } = ex;
    const error = requestError(err instanceof CallFailure ? err.error : err, res.gone);
    recordFailure(this.deps, ex.route?.runtime.name ?? '-', ex.requestId, error);
    ex.req.detach();
    if (res.headersSent || res.gone) {
      res.destroy();
      return;
    }
    ex.servedBy = 'none';
    const { body, headers } = errorReply(error, ex.requestId, servedByHeaders(ex, 'none'));
    const list: string[] = [];
    pushHeaders(list, headers);
    res.writeHead(error.status, list, 'length');
    res.end(body);
  }

  private finished(ex: RawExchange): void {
    const { req, res } = ex;
    const app = ex.route?.runtime.name ?? '-';
    this.deps.onFinished();
    if (ex.route) this.deps.metrics.inFlight.add([app], -1);
    const mode = ex.route?.state.mode ?? '-';
    const status = res.finished ? res.status : 499;
    const totalMs = performance.now() - ex.startedAt;
    recordFinished(this.deps, app, mode, ex.servedBy, status, totalMs, () => ({
      requestId: ex.requestId,
      app,
      mode,
      epoch: ex.route?.state.epoch,
      deployment: ex.servedBy,
      method: req.method,
      path: ex.path,
      httpVersion: req.httpVersion,
      status,
      bytes: res.bytesSent,
      upstreamMs: res.upstreamMs,
      totalMs,
      peer: ex.peer,
      referer: req.headers.referer,
      userAgent: req.headers['user-agent'],
      engine: 'raw',
    }));
    releaseRuntime(ex);
  }
}

/** The state headers of a reply (deployment, epoch, mode) per state and deployment, made once: states are swapped whole. */
const SERVED_LINES = new WeakMap<AppState, Partial<Record<Deployment, readonly string[]>>>();

/** servedByHeaders (proxy/exchange.ts) of a routed request, as the flat list UpstreamCall adds to the reply. */
function servedByList(ex: RawExchange, d: Deployment): string[] {
  const state = ex.route!.state;
  let byD = SERVED_LINES.get(state);
  if (byD === undefined) {
    byD = {};
    SERVED_LINES.set(state, byD);
  }
  let lines = byD[d];
  if (lines === undefined) {
    lines = [RESPONSE_HEADERS.deployment, d, RESPONSE_HEADERS.epoch, String(state.epoch), RESPONSE_HEADERS.mode, state.mode];
    byD[d] = lines;
  }
  return ['x-request-id', ex.requestId, ...lines];
}

function pushHeaders(list: string[], headers: HeaderMap): void {
  for (const k in headers) {
    const v = headers[k]!;
    if (typeof v === 'string') list.push(k, v);
    else for (const one of v) list.push(k, one);
  }
}
