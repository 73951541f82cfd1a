import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatewayError } from './errors.js';
import { poolOf, type ExchangeServices } from './proxy/exchange.js';
import { buildUpstreamHeaders, pathAndQuery, protoOf } from './proxy/forward-headers.js';
import { requestIdFor } from './proxy/request-id.js';
import { endWithError, endWithResponse } from './proxy/raw-response.js';
import { CLOSE_TIMEOUT_MS, GATEWAY_CLOSES, type TunnelCloseReason, WebSocketTunnel } from './proxy/websocket-tunnel.js';
import { peerAddress, requestHost } from './request-handler.js';
import { allowedWriteTargets, type AppState, type Deployment } from '../protocol/app-state.js';
import { RESPONSE_HEADERS } from '../protocol/response-headers.js';
import type { AppRoute, RoutingTable } from './state/routing-table.js';

export interface WebSocketHandlerDeps extends ExchangeServices {
  readonly table: () => RoutingTable;
  readonly trustedProxies: ReadonlySet<string>;
  readonly shuttingDown: () => boolean;
  /** Whether the app's state has been applied (a member takes no traffic for an app before that). */
  readonly ready: (app: string) => boolean;
}

/**
 * The deployment a WebSocket opened under `state` talks to, or none. A
 * WebSocket carries writes, so it only goes where the state lets writes go
 * (the reads' side where both may take them): none under a fence, and none
 * under a redirect of every method, where the gateway forwards no writes.
 */
export function websocketDeployment(state: AppState): Deployment | undefined {
  const preferred: Deployment = state.mode === 'serve' ? 'n1' : state.mode === 'mirror' ? state.readFrom : 'n2';
  return allowedWriteTargets(state).has(preferred) ? preferred : undefined;
}

/**
 * WebSocket upgrades: refused like a write when the gateway is not ready, the
 * app is fenced or the write guard (lease) refuses; otherwise tunnelled to the
 * deployment above, and counted with the in-flight writes of that deployment
 * until its upstream connection is gone. A state that forbids the deployment
 * closes it (1012) in its drain, and the drain waits for that (see
 * InFlightWrites.beginChannel).
 */
export class WebSocketHandler {
  private readonly tunnels = new Set<WebSocketTunnel>();
  private readonly whenNone = new Set<() => void>();

  constructor(private readonly deps: WebSocketHandlerDeps) {}

  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const { deps } = this;
    const peerIp = peerAddress(req);
    const trustedPeer = deps.trustedProxies.has(peerIp);
    const requestId = requestIdFor(req.headers, trustedPeer);
    socket.on('error', () => socket.destroy());
    let app = '-';
    const refuse = (err: GatewayError): void => {
      deps.metrics.errors.inc([app, err.code]);
      deps.logger.debug('gateway.websocket.refused', { app, requestId, code: err.code, message: err.message });
      endWithError(socket, err, requestId);
    };
    if (deps.shuttingDown()) return void refuse(new GatewayError('NW_GW_SHUTTING_DOWN', undefined, { retryAfterSeconds: 1 }));
    // Only WebSocket is tunnelled; other upgrades (h2c is a known smuggling vector) are refused.
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket')
      return void refuse(new GatewayError('NW_GW_BAD_REQUEST', 'only websocket upgrades are supported'));
    const host = requestHost(req);
    if (typeof host !== 'string') return void refuse(host);
    const route = deps.table().lookup(host);
    if (!route) return void refuse(new GatewayError('NW_GW_UNKNOWN_HOST', host));
    app = route.runtime.name;
    if (!deps.ready(app))
      return void refuse(new GatewayError('NW_GW_NOT_READY', `${app}: its state is not applied yet`, { retryAfterSeconds: 1 }));
    const { state } = route;
    const d = websocketDeployment(state);
    if (d === undefined) {
      if (state.mode === 'redirect') return void this.redirect(socket, route, state.status, pathAndQuery(req.url), requestId);
      const retryAfterSeconds = route.runtime.config.fence.retryAfterSeconds;
      return void refuse(new GatewayError('NW_GW_WEBSOCKET_FENCED', `${app} (${state.mode})`, { retryAfterSeconds }));
    }
    const refused = deps.writeGuard(app, state);
    if (refused) return void refuse(refused);
    const server = poolOf(route, d).select();
    if (!server) return void refuse(new GatewayError('NW_GW_NO_HEALTHY_UPSTREAM', `${app}/${d}`));
    // An absolute-form target's authority replaces Host (RFC 9112 3.2.2), as on the request path.
    const authority = host !== req.headers.host ? host : undefined;
    const proto = protoOf(req.socket);
    const headers = buildUpstreamHeaders(req.headers, { peerIp, trustedPeer, proto, requestId, upgrade: true, host: authority });

    // From the lookup to the count there is no await: a drain that starts later sees this socket.
    let tunnel: WebSocketTunnel | undefined;
    const end = deps.inFlightWrites.beginChannel(app, d, () => tunnel?.close('state'));
    let opened = false;
    tunnel = new WebSocketTunnel(socket, head, {
      origin: server.origin,
      tls: server.tls,
      path: pathAndQuery(req.url),
      headers,
      requestId,
      handshakeTimeoutMs: deps.config.timeouts.upstreamHeadersMs,
      // Under the state in force when the message arrives, not the one the socket was opened under.
      mayWrite: () => deps.writeGuard(app, deps.table().byApp.get(app)?.state ?? state),
      hooks: {
        opened: () => {
          opened = true;
          deps.metrics.websocketsOpen.add([app, d], 1);
        },
        failed: (err) => {
          deps.metrics.errors.inc([app, err.code]);
          deps.logger.warn('gateway.websocket.failed', { app, deployment: d, requestId, err });
        },
        upstreamClosed: (outcomeUnknown) => end(outcomeUnknown),
        closed: (reason) => this.closed(tunnel!, app, d, opened, reason, requestId),
      },
    });
    this.tunnels.add(tunnel);
  };

  private closed(tunnel: WebSocketTunnel, app: string, d: Deployment, opened: boolean, reason: TunnelCloseReason, requestId: string): void {
    const { metrics, logger } = this.deps;
    this.tunnels.delete(tunnel);
    if (opened) {
      metrics.websocketsOpen.add([app, d], -1);
      metrics.websocketCloses.inc([app, d, reason]);
      logger.debug('gateway.websocket.closed', { app, deployment: d, requestId, reason });
    } else if (reason === 'state' || reason === 'lease' || reason === 'shutdown') {
      metrics.errors.inc([app, GATEWAY_CLOSES[reason].refusal]);
    }
    if (this.tunnels.size === 0) for (const wake of this.whenNone) wake();
  }

  /** Under a redirect of every method, an upgrade is a GET like any other: it gets the redirect. */
  private redirect(socket: Duplex, route: AppRoute, status: 301 | 307 | 308, path: string, requestId: string): void {
    const origin = route.runtime.n2.config.publicOrigin;
    if (!origin) {
      endWithError(socket, new GatewayError('NW_GW_INTERNAL', `app ${route.runtime.name} has no n2.publicOrigin`), requestId);
      return;
    }
    endWithResponse(socket, status, {
      location: origin + path,
      'x-request-id': requestId,
      [RESPONSE_HEADERS.deployment]: 'n2',
      [RESPONSE_HEADERS.epoch]: String(route.state.epoch),
      [RESPONSE_HEADERS.mode]: route.state.mode,
    });
  }

  /** WebSockets open or being opened. */
  get count(): number {
    return this.tunnels.size;
  }

  /** Closes every WebSocket with 1001 (Going Away); resolves once all are gone, destroying what is left after the close timeout. */
  async closeAll(): Promise<void> {
    for (const t of this.tunnels) t.close('shutdown');
    if (this.tunnels.size === 0) return;
    let wake = (): void => undefined;
    const none = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.whenNone.add(wake);
    const timer = setTimeout(wake, 2 * CLOSE_TIMEOUT_MS);
    await none;
    clearTimeout(timer);
    this.whenNone.delete(wake);
    for (const t of this.tunnels) t.destroy();
  }
}
