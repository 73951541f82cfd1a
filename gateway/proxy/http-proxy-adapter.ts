import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as TlsAgent } from 'node:https';
import httpProxy from 'http-proxy';
import type { UpstreamServer } from '../upstream/upstream-server.js';
import type { ResponseMeter } from './undici-forwarder.js';
import { buildClientHeaders, type HeaderMap } from './forward-headers.js';
import { watchSendStall } from './send-timeout.js';
import { GatewayError } from '../errors.js';
import { toUpstreamError } from './upstream-errors.js';
import { upstreamTlsOptions } from '../tls/upstream-tls.js';

/**
 * The one place http-proxy is used. node-http-proxy emits errors as events
 * and crashes the process when nobody listens, so every call here has its
 * own callback and the server has a catch-all listener; errors come back as
 * GatewayErrors. Used for plain HTTP reads when `engine: http-proxy` is
 * configured; WebSockets go through WebSocketTunnel.
 */
export class HttpProxyAdapter {
  private readonly proxy: httpProxy;
  private readonly agents = new Map<string, Agent>();
  /** The meter of each response being proxied, and when its request went out ('proxyRes' is one listener for all). */
  private readonly meters = new WeakMap<ServerResponse, { meter: ResponseMeter; sentAt: number }>();

  constructor(private readonly opts: { connections: number; upstreamHeadersMs: number; sendTimeoutMs?: number }) {
    this.proxy = httpProxy.createProxyServer({
      xfwd: false,
      changeOrigin: false,
      ignorePath: false,
      proxyTimeout: opts.upstreamHeadersMs,
    });
    this.proxy.on('error', () => undefined);
    this.proxy.on('proxyRes', (proxyRes: IncomingMessage, _req: IncomingMessage, res: ServerResponse) => {
      const filtered = buildClientHeaders(proxyRes.headers);
      for (const k of Object.keys(proxyRes.headers)) if (!(k in filtered)) delete proxyRes.headers[k];
      proxyRes.headers.via = String(filtered.via);
      // Else http-proxy sets "connection: keep-alive" (the client's header is gone from the
      // request we rewrote), overriding a client's Connection: close and our close while draining.
      if (!res.shouldKeepAlive || res.getHeader('connection') === 'close') proxyRes.headers.connection = 'close';
      res.once('close', watchSendStall(proxyRes, res, opts.sendTimeoutMs ?? 0));
      const m = this.meters.get(res);
      if (m) {
        m.meter.upstreamMs = performance.now() - m.sentAt;
        proxyRes.on('data', (chunk: Buffer) => (m.meter.bodyBytes += chunk.length));
      }
    });
  }

  private agentFor(server: UpstreamServer): Agent {
    let a = this.agents.get(server.origin);
    if (!a) {
      const opts = { keepAlive: true, maxSockets: this.opts.connections, maxFreeSockets: this.opts.connections };
      const host = new URL(server.origin).hostname.replace(/^\[|\]$/g, '');
      a = server.tls === undefined ? new Agent(opts) : new TlsAgent({ ...opts, ...upstreamTlsOptions(host, server.tls) });
      this.agents.set(server.origin, a);
    }
    return a;
  }

  /** Proxies one HTTP exchange; resolves when the response has finished. */
  web(
    req: IncomingMessage,
    res: ServerResponse,
    server: UpstreamServer,
    headers: HeaderMap,
    extra: HeaderMap,
    meter?: ResponseMeter,
  ): Promise<void> {
    req.headers = headers;
    if (meter) this.meters.set(res, { meter, sentAt: performance.now() });
    for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
    return new Promise<void>((resolve, reject) => {
      // Cut by the send timeout: passed on, so it is counted under its code like on the undici path.
      res.once('close', () => (res.errored instanceof GatewayError ? reject(res.errored) : resolve()));
      this.proxy.web(req, res, { target: server.origin, agent: this.agentFor(server) }, (err: Error) => {
        reject(toUpstreamError(err, server.origin));
      });
    });
  }

  close(): void {
    this.proxy.close();
    for (const a of this.agents.values()) a.destroy();
  }
}
