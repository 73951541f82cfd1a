import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from './errors.js';
import { requestHost } from './request-host.js';
import { buildUpstreamHeaders, pathAndQuery, protoOf, type HeaderMap } from './proxy/forward-headers.js';
import { requestIdFor } from './proxy/request-id.js';
import { isHttp2 } from './http2/http2-request.js';
import { dualWrite } from './proxy/dual-write.js';
import { acceptBody, poolOf, servedByHeaders, upstreamRequest, type Exchange, type ExchangeServices } from './proxy/exchange.js';
import type { HttpProxyAdapter } from './proxy/http-proxy-adapter.js';
import { readWithFallback } from './proxy/read-fallback.js';
import { errorReply, recordFailure, recordFinished, requestError } from './proxy/request-outcome.js';
import { type BodyLimit, bufferBody, declaredLength, hasBody, limitedBody } from './proxy/request-body.js';
import { WriteOutcome } from './proxy/write-outcome.js';
import { streamToClient, type SendHooks } from './proxy/undici-forwarder.js';
import { isWriteMethod, type AppState, type Deployment } from '../protocol/app-state.js';
import { bindRuntime, releaseRuntime, type AppRoute, type RoutingTable } from './state/routing-table.js';

/** Request bodies up to this size are buffered before forwarding (cheaper, and replayable on retry). */
const SMALL_BODY_BYTES = 64 * 1024;

export type { WriteGuard } from './proxy/exchange.js';
export { requestHost } from './request-host.js';

export interface RequestHandlerDeps extends ExchangeServices {
  readonly table: () => RoutingTable;
  readonly httpProxy: HttpProxyAdapter;
  readonly trustedProxies: ReadonlySet<string>;
  readonly shuttingDown: () => boolean;
  /** False for an app until its state is loaded when `waitForState` is set: its traffic is refused rather than routed by a default. */
  readonly ready: (app: string) => boolean;
  /**
   * Whether this request's connection should close after it: one the raw engine handed over
   * whose request the raw engine could serve again now (so the client's next connection is raw's).
   */
  readonly backToRaw?: (req: IncomingMessage, state: AppState, write: boolean) => boolean;
  /** Called once per request when its response has closed (finished or aborted). */
  readonly onFinished?: () => void;
}

/** Peer address without the IPv4-mapped IPv6 prefix. */
export function peerAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** The exchange a client response belongs to and who finishes it (one shared 'close' listener: no closure per request). */
const EXCHANGE = Symbol('northwest.exchange');
type ExchangeSlot = ServerResponse & { [EXCHANGE]?: { ex: Exchange; handler: RequestHandler } };

function onExchangeClose(this: ExchangeSlot): void {
  const slot = this[EXCHANGE];
  if (!slot) return;
  this[EXCHANGE] = undefined;
  slot.handler.finished(slot.ex);
}

/** The data plane: routes each request by Host and the app's mode. */
export class RequestHandler {
  private readonly retryHooks: SendHooks;

  constructor(private readonly deps: RequestHandlerDeps) {
    this.retryHooks = { onRetry: (p) => deps.metrics.retries.inc([p.app, p.deployment]) };
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => this.start(req, res, false);

  /** A request with `Expect: 100-continue` (node's 'checkContinue'): the 100 goes out when its body is accepted (continueBody). */
  readonly handleExpectingContinue = (req: IncomingMessage, res: ServerResponse): void => this.start(req, res, true);

  private start(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const peerIp = peerAddress(req);
    const trustedPeer = this.deps.trustedProxies.has(peerIp);
    const requestId = requestIdFor(req.headers, trustedPeer);
    const host = requestHost(req);
    // An absolute-form target's authority replaces Host upstream too (else the same string: nothing to
    // replace), as HTTP/2's :authority does.
    const authority = typeof host === 'string' && host !== req.headers.host ? host : undefined;
    const proto = protoOf(req.socket);
    const ex: Exchange = {
      req,
      res,
      requestId,
      startedAt: performance.now(),
      path: pathAndQuery(req.url),
      peer: peerIp,
      upstreamHeaders: buildUpstreamHeaders(req.headers, { peerIp, trustedPeer, proto, requestId, host: authority }),
      route: undefined,
      servedBy: 'none',
      expectContinue,
      bufferedBytes: 0,
      bodyBytes: 0,
      upstreamMs: undefined,
      bound: undefined,
    };
    (res as ExchangeSlot)[EXCHANGE] = { ex, handler: this };
    res.on('close', onExchangeClose);
    // route() is no async function (one promise less per request): what it throws before its
    // first await is failed a microtask later all the same, as an async function's rejection is.
    let done: Promise<void>;
    try {
      done = this.route(ex, host);
    } catch (err) {
      done = Promise.reject(err);
    }
    done.catch((err: unknown) => this.fail(ex, err));
  }

  private route(ex: Exchange, host: string | GatewayError): Promise<void> {
    const { req } = ex;
    // While draining for shutdown, finish this request but let the client reconnect elsewhere (over
    // HTTP/2 the session's GOAWAY says so; it has no Connection header).
    if (this.deps.shuttingDown() && !isHttp2(req)) ex.res.setHeader('connection', 'close');
    if (typeof host !== 'string') throw host;
    return this.routeTo(ex, host, isWriteMethod(req.method ?? 'GET'));
  }

  /** Looks the host up and dispatches the exchange; a write a fence holds is routed again once released (holdThenRoute). */
  private routeTo(ex: Exchange, host: string, write: boolean): Promise<void> {
    const { req } = ex;
    const route = this.deps.table().lookup(host);
    if (!route) throw new GatewayError('NW_GW_UNKNOWN_HOST', host);
    // Before ex.route is set: a reply must not claim the mode and epoch of a state that was never applied.
    if (!this.deps.ready(route.runtime.name))
      throw new GatewayError('NW_GW_NOT_READY', `${route.runtime.name}: its state is not applied yet`, { retryAfterSeconds: 1 });
    // A write a fence held goes on only with the app it was held for (a reload may have given its host to another).
    if (ex.route && ex.route.runtime.name !== route.runtime.name)
      throw new GatewayError('NW_GW_APP_REMOVED', `${host} now belongs to app ${route.runtime.name}`);
    if (!ex.route) this.deps.metrics.inFlight.add([route.runtime.name], 1);
    bindRuntime(ex, route.runtime);
    ex.route = route;
    const state = route.state;
    if (this.deps.backToRaw?.(req, state, write)) ex.res.setHeader('connection', 'close');
    if (write && state.mode === 'fence') {
      // A shutting-down gateway no longer follows states: nothing would release this write.
      if (this.deps.shuttingDown()) throw new GatewayError('NW_GW_SHUTTING_DOWN', undefined, { retryAfterSeconds: 1 });
      return this.holdThenRoute(ex, host, route, state);
    }
    if (write) {
      const refused = this.deps.writeGuard(route.runtime.name, route.state);
      if (refused) throw refused;
    }
    // From lookup to the in-flight count there is no await: see InFlightWrites.
    return this.dispatch(ex, route, write);
  }

  /** A write held by a fence re-reads the table when released, so it goes where the new state says. */
  private async holdThenRoute(ex: Exchange, host: string, route: AppRoute, state: Extract<AppState, { mode: 'fence' }>): Promise<void> {
    const f = route.runtime.config.fence;
    this.deps.metrics.heldWrites.add([route.runtime.name], 1);
    try {
      await route.runtime.hold.hold(state.maxHeldWrites ?? f.maxHeldWrites, state.maxHoldMs ?? f.maxHoldMs, f.retryAfterSeconds);
    } finally {
      this.deps.metrics.heldWrites.add([route.runtime.name], -1);
    }
    // A client that left while its write was held gets nothing sent for it: its body is gone with it.
    if (ex.req.destroyed || ex.res.destroyed) throw new GatewayError('NW_GW_CLIENT_ABORTED', 'client left while its write was held');
    return this.routeTo(ex, host, true);
  }

  private dispatch(ex: Exchange, route: AppRoute, write: boolean): Promise<void> {
    const state = route.state;
    switch (state.mode) {
      case 'serve':
        return this.single(ex, route, 'n1', write);
      case 'fence':
        return this.single(ex, route, state.readFrom, false);
      case 'mirror':
        return write
          ? dualWrite(ex, this.deps, state.primary, this.retryHooks)
          : readWithFallback(ex, this.deps, state.readFrom, state.shadowCompare);
      case 'proxy':
        return write && state.mirrorWritesToN1 ? dualWrite(ex, this.deps, 'n2', this.retryHooks) : this.single(ex, route, 'n2', write);
      case 'redirect':
        if (state.methods === 'safe' && write)
          return state.mirrorWritesToN1 ? dualWrite(ex, this.deps, 'n2', this.retryHooks) : this.single(ex, route, 'n2', write);
        return this.redirect(ex, route, state.status);
    }
  }

  /** Streams the exchange to one deployment (the hot path). */
  private single(ex: Exchange, route: AppRoute, d: Deployment, write: boolean): Promise<void> {
    return write ? this.singleWrite(ex, route, d) : this.singleRead(ex, route, d);
  }

  /** A write to one deployment: counted in flight, its lease checked when it goes out. */
  private async singleWrite(ex: Exchange, route: AppRoute, d: Deployment): Promise<void> {
    const app = route.runtime.name;
    const end = this.deps.inFlightWrites.begin(app, d);
    const outcome = new WriteOutcome(this.retryHooks);
    try {
      const limit = this.deps.config.limits.maxBodyBytes;
      acceptBody(ex, limit);
      ex.servedBy = d;
      let body: Buffer | BodyLimit | null = null;
      if (hasBody(ex.req)) {
        const declared = declaredLength(ex.req);
        if (declared !== undefined && declared <= SMALL_BODY_BYTES) {
          body = await bufferBody(ex.req, limit);
        } else {
          // The lease is checked again as the body ends: a slow body cannot reach N1 after the lease lapsed.
          body = limitedBody(ex.req, limit, () => this.deps.writeGuard(app, route.state));
        }
      }
      // The lease is checked when the write is dispatched, after its (small) body was read.
      const refused = this.deps.writeGuard(app, route.state);
      if (refused) throw refused;
      const upReq = { ...upstreamRequest(ex, body), sendGuard: () => this.deps.writeGuard(app, route.state) };
      await streamToClient(poolOf(route, d), upReq, ex.res, servedByHeaders(ex, d), outcome, true);
    } finally {
      end(outcome.unknown);
    }
  }

  /** A read to one deployment: through the configured engine. */
  private async singleRead(ex: Exchange, route: AppRoute, d: Deployment): Promise<void> {
    const limit = this.deps.config.limits.maxBodyBytes;
    acceptBody(ex, limit);
    const pool = poolOf(route, d);
    ex.servedBy = d;
    // http-proxy speaks HTTP/1.1 to its client: an HTTP/2 request goes through undici.
    if (this.deps.config.engine === 'http-proxy' && !ex.req.headers['transfer-encoding'] && !isHttp2(ex.req)) {
      const server = pool.select();
      if (!server) throw pool.noServerError();
      server.inFlight += 1;
      try {
        await this.deps.httpProxy.web(ex.req, ex.res, server, ex.upstreamHeaders, servedByHeaders(ex, d), ex);
      } finally {
        server.inFlight -= 1;
      }
      return;
    }
    let body: Buffer | IncomingMessage | BodyLimit | null = null;
    if (hasBody(ex.req)) {
      const declared = declaredLength(ex.req);
      // Small bodies are read first: one write upstream, and the request can be retried elsewhere.
      if (declared !== undefined && declared <= SMALL_BODY_BYTES) body = await bufferBody(ex.req, limit);
      else body = declared !== undefined ? ex.req : limitedBody(ex.req, limit);
    }
    await streamToClient(pool, upstreamRequest(ex, body), ex.res, servedByHeaders(ex, d), this.retryHooks);
  }

  private async redirect(ex: Exchange, route: AppRoute, status: 301 | 307 | 308): Promise<void> {
    const origin = route.runtime.n2.config.publicOrigin;
    if (!origin) throw new GatewayError('NW_GW_INTERNAL', `app ${route.runtime.name} has no n2.publicOrigin`);
    ex.servedBy = 'n2';
    const headers: HeaderMap = { location: origin + ex.path, 'content-length': '0', ...servedByHeaders(ex, 'n2') };
    // The redirect does not wait for the body: whatever of it is still to come (a malformed chunk
    // included) must not be parsed as the next request, or answered as one. One request, one response.
    // (`complete` alone would not do: it is still false here, synchronously in 'request', for a GET.)
    // Over HTTP/2 the rest of the body is only this stream's, and ends with it.
    if (hasBody(ex.req) && !ex.req.complete && !isHttp2(ex.req)) headers.connection = 'close';
    ex.req.resume();
    ex.res.writeHead(status, headers);
    ex.res.end();
  }

  private fail(ex: Exchange, err: unknown): void {
    // A client that went away is not a gateway fault, whatever error the broken stream raised.
    const gwErr = requestError(err, (ex.res.destroyed || ex.req.destroyed) && !ex.res.writableFinished);
    recordFailure(this.deps, ex.route?.runtime.name ?? '-', ex.requestId, gwErr);
    const { res } = ex;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    ex.servedBy = 'none';
    const { body, headers } = errorReply(gwErr, ex.requestId, servedByHeaders(ex, 'none'));
    ex.bodyBytes = Buffer.byteLength(body);
    // An unread or partly read body would desynchronise the connection: close it (not over HTTP/2,
    // where each request has its own stream).
    if (!ex.req.complete && !isHttp2(ex.req)) headers.connection = 'close';
    res.writeHead(gwErr.status, headers);
    res.end(body);
  }

  /** Called once per exchange, when its response has closed (finished or aborted). */
  finished(ex: Exchange): void {
    const app = ex.route?.runtime.name ?? '-';
    const status = ex.res.writableFinished ? ex.res.statusCode : 499;
    const mode = ex.route?.state.mode ?? '-';
    const ms = performance.now() - ex.startedAt;
    this.deps.onFinished?.();
    if (ex.bufferedBytes !== 0) this.deps.bufferBudget.release(ex);
    if (ex.route) this.deps.metrics.inFlight.add([app], -1);
    const { req } = ex;
    recordFinished(this.deps, app, mode, ex.servedBy, status, ms, () => ({
      requestId: ex.requestId,
      app,
      mode,
      epoch: ex.route?.state.epoch,
      deployment: ex.servedBy,
      method: req.method ?? '-',
      path: ex.path,
      httpVersion: req.httpVersion,
      status,
      bytes: ex.bodyBytes,
      upstreamMs: ex.upstreamMs,
      totalMs: ms,
      peer: ex.peer,
      referer: req.headers.referer,
      userAgent: req.headers['user-agent'],
      engine: 'node',
    }));
    releaseRuntime(ex);
  }
}
