import { bearerTokenProblem } from '../../platform/admin-http.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError, isGatewayError } from '../errors.js';
import type { GatewayConfig } from '../config/config-schema.js';
import type { ApplyResult } from '../state/state-store.js';
import type { ReloadResult } from '../state/app-runtimes.js';
import type { ListenerAddress } from '../listener-address.js';
import type { AppState } from '../../protocol/app-state.js';

/** What the admin API reads from and applies to (the Gateway). */
export interface AdminTarget {
  readonly config: GatewayConfig;
  /** Prometheus text; a multi-worker gateway's primary collects it from its workers. */
  readonly metrics: { render(): string | Promise<string> };
  /** Every app (or the one named) takes traffic. */
  isReady(app?: string): boolean;
  /** Set on a fleet member: its states come from the coordinator only. */
  readonly fleetMember: string | undefined;
  getState(): Record<string, AppState>;
  applyStates(states: Readonly<Record<string, unknown>>): Promise<ApplyResult>;
  /** Reads the gateway's config file again and applies it, or refuses it whole. */
  reloadFromFile(): Promise<ReloadResult>;
  /** A multi-worker gateway's primary: each worker's slot, pid, status and applied epochs (GET /workers). */
  workers?(): unknown;
}

const MAX_ADMIN_BODY = 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_ADMIN_BODY) throw new GatewayError('NW_GW_STATE_INVALID', `body over ${MAX_ADMIN_BODY} bytes`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new GatewayError('NW_GW_STATE_INVALID', `not JSON: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Loopback admin API. Read endpoints are open on loopback; anything that
 * changes state needs `Authorization: Bearer <token>`, and with no token
 * configured nothing can be changed at all.
 *
 *   GET /healthz · GET /readyz · GET /metrics · GET /state · GET /workers (multi-worker gateways)
 *   PUT /state            {"apps": {"<app>": <state>, ...}}  several apps in one swap
 *   PUT /state/<app>      <state>
 *   POST /reload          re-read the config file (as SIGHUP does); 200 with what changed, or the
 *                         error naming the file and the field (nothing changed)
 *
 * On a fleet member the PUTs are refused (409): its states come from the coordinator.
 */
export class AdminServer {
  private constructor(
    private readonly server: Server,
    readonly address: ListenerAddress,
  ) {}

  static async start(gw: AdminTarget, host: string, port: number, token: string | undefined): Promise<AdminServer> {
    const server = createServer((req, res) => {
      AdminServer.route(gw, token, req, res).catch((err: unknown) => {
        const e = isGatewayError(err) ? err : new GatewayError('NW_GW_INTERNAL', (err as Error).message);
        if (!res.headersSent) send(res, e.status, { error: { code: e.code, message: e.message } });
        else res.destroy();
      });
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    const address = await new Promise<ListenerAddress>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const a = server.address() as AddressInfo;
        resolve({ host: a.address, port: a.port, url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` });
      });
    });
    return new AdminServer(server, address);
  }

  private static authorize(token: string | undefined, req: IncomingMessage): void {
    const problem = bearerTokenProblem(token, req);
    if (problem === 'no-token') throw new GatewayError('NW_GW_ADMIN_UNAUTHORIZED', 'no admin token is configured on this gateway');
    if (problem) throw new GatewayError('NW_GW_ADMIN_UNAUTHORIZED');
  }

  private static async route(gw: AdminTarget, token: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    const method = req.method ?? 'GET';
    const readOnly = method === 'GET' || method === 'HEAD';
    if (path === '/healthz' && readOnly) return send(res, 200, { status: 'ok' });
    if (path === '/readyz' && readOnly) {
      const apps = Object.fromEntries(Object.keys(gw.config.apps).map((app) => [app, gw.isReady(app)]));
      return send(res, gw.isReady() ? 200 : 503, { ready: gw.isReady(), apps });
    }
    if (path === '/metrics' && readOnly) return send(res, 200, await gw.metrics.render(), 'text/plain; version=0.0.4');
    if (path === '/workers' && readOnly && gw.workers) return send(res, 200, { gateway: gw.config.name, workers: gw.workers() });
    if (path === '/state' && readOnly) return send(res, 200, { gateway: gw.config.name, apps: gw.getState() });
    if (path === '/reload') {
      if (method !== 'POST') throw new GatewayError('NW_GW_ADMIN_METHOD', `${method} ${path}`);
      AdminServer.authorize(token, req);
      req.resume();
      return send(res, 200, await gw.reloadFromFile());
    }
    if (path === '/state' || path.startsWith('/state/')) {
      if (method !== 'PUT') throw new GatewayError('NW_GW_ADMIN_METHOD', `${method} ${path}`);
      AdminServer.authorize(token, req);
      // A state put here would override the coordinator's until the next re-read, unseen by any barrier.
      if (gw.fleetMember !== undefined)
        throw new GatewayError(
          'NW_GW_ADMIN_FLEET_MEMBER',
          `${gw.fleetMember} follows the coordinator; change states with the control plane`,
        );
      const body = await readJson(req);
      let states: Record<string, unknown>;
      if (path === '/state') {
        const apps = (body as { apps?: unknown } | null)?.apps;
        if (apps === null || typeof apps !== 'object' || Array.isArray(apps))
          throw new GatewayError('NW_GW_STATE_INVALID', 'expected {"apps": {"<app>": state}}');
        states = apps as Record<string, unknown>;
      } else {
        states = { [decodeURIComponent(path.slice('/state/'.length))]: body };
      }
      const result = await gw.applyStates(states);
      return send(res, 200, result);
    }
    throw new GatewayError('NW_GW_ADMIN_NOT_FOUND', path);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
