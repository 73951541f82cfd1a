import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { formatIssues } from '../../platform/config-file.js';
import type { Logger } from '../../platform/logger.js';
import type { ControlPlane } from '../control-plane.js';
import { ControlError, isControlError } from '../errors.js';
import { parsePlan } from '../migration/plan.js';
import { authorize, readJsonBody, sendError, sendJson } from './admin-http.js';
import { MAX_EVENTS_WAIT_MS, pollMigrationEvents } from './migration-events.js';
import { MIGRATION_ID_PATTERN } from '../../protocol/identifiers.js';
import { Dashboard, isDashboardPath } from './dashboard/dashboard.js';

/** What the admin API drives: a ControlPlane, or anything with the same commands. */
export type ControlPlaneApi = Pick<
  ControlPlane,
  'status' | 'migrate' | 'getMigration' | 'pause' | 'resume' | 'abort' | 'waitForMigration'
> &
  Partial<Pick<ControlPlane, 'finalize'>>;

/** Where to listen and the token every endpoint but GET /healthz requires. */
export interface ControlAdminOptions {
  /** Loopback address (the config schema enforces it). */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Bearer token; undefined or empty means every endpoint but /healthz answers 401. */
  readonly token: string | undefined;
  readonly logger?: Logger;
  /** How long a dashboard sign-in lasts (DEFAULT_SESSION_TTL_MS). */
  readonly dashboardSessionTtlMs?: number;
  /** What the dashboard reads the gateways' /metrics with (tests). */
  readonly fetch?: typeof fetch;
}

/** The address the admin API listens on. */
export interface ControlAdminAddress {
  readonly host: string;
  readonly port: number;
  readonly url: string;
}

interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: URLSearchParams;
  /** Migration id from the path, when the route has one. */
  readonly id: string;
  /** Aborts when the client goes away or the server closes. */
  readonly signal: AbortSignal;
}

type Handler = (cp: ControlPlaneApi, ctx: Ctx) => Promise<void>;

interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

const controlBody = z.strictObject({ reason: z.string().max(1000).optional() });

async function readReason(req: IncomingMessage): Promise<string | undefined> {
  const body = await readJsonBody(req);
  if (body === undefined) return undefined;
  const r = controlBody.safeParse(body);
  if (!r.success) throw new ControlError('NW_CP_ADMIN_BAD_REQUEST', `\n${formatIssues('body', r.error.issues)}`);
  return r.data.reason;
}

function intParam(query: URLSearchParams, name: string, min: number, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new ControlError('NW_CP_ADMIN_BAD_REQUEST', `query ${name}: expected an integer >= ${min}, got "${raw}"`);
  return n;
}

/** A migration id in a URL path (the protocol's rule without its anchors). */
const ID = `(${MIGRATION_ID_PATTERN.source.slice(1, -1)})`;

const ROUTES: readonly Route[] = [
  { pattern: /^\/status$/, methods: { GET: async (cp, { res }) => sendJson(res, 200, await cp.status()) } },
  {
    pattern: /^\/migrations$/,
    methods: {
      POST: async (cp, { req, res }) => {
        const body = await readJsonBody(req);
        if (body === undefined) throw new ControlError('NW_CP_ADMIN_BAD_REQUEST', 'expected a migration plan as the JSON body');
        const log = await cp.migrate(parsePlan(body, 'plan'));
        sendJson(res, 201, log, { location: `/migrations/${log.id}` });
      },
    },
  },
  {
    pattern: new RegExp(`^/migrations/${ID}$`),
    methods: { GET: async (cp, { res, id }) => sendJson(res, 200, await cp.getMigration(id)) },
  },
  // The leader acts on these between steps, so they answer 202 with the log as it was.
  // A reason is checked on all three but only an abort records it.
  {
    pattern: new RegExp(`^/migrations/${ID}/pause$`),
    methods: {
      POST: async (cp, { req, res, id }) => {
        await readReason(req);
        sendJson(res, 202, await cp.pause(id));
      },
    },
  },
  {
    pattern: new RegExp(`^/migrations/${ID}/resume$`),
    methods: {
      POST: async (cp, { req, res, id }) => {
        await readReason(req);
        sendJson(res, 202, await cp.resume(id));
      },
    },
  },
  {
    pattern: new RegExp(`^/migrations/${ID}/abort$`),
    methods: { POST: async (cp, { req, res, id }) => sendJson(res, 202, await cp.abort(id, await readReason(req))) },
  },
  // Runs while the request waits (a repair can take long): 200 with each hook's figures.
  {
    pattern: new RegExp(`^/migrations/${ID}/finalize$`),
    methods: {
      POST: async (cp, { req, res, id, signal }) => {
        await readReason(req);
        if (!cp.finalize) throw new ControlError('NW_CP_ADMIN_NOT_FOUND', `/migrations/${id}/finalize`);
        sendJson(res, 200, await cp.finalize(id, signal));
      },
    },
  },
  {
    pattern: new RegExp(`^/migrations/${ID}/events$`),
    methods: {
      GET: async (cp, { res, id, query, signal }) => {
        const after = intParam(query, 'after', -1, -1);
        const waitMs = Math.min(intParam(query, 'waitMs', 0, 0), MAX_EVENTS_WAIT_MS);
        sendJson(res, 200, await pollMigrationEvents(cp, id, after, waitMs, signal));
      },
    },
  },
];

/**
 * Loopback admin API of a control plane. Every endpoint but GET /healthz
 * needs `Authorization: Bearer <token>`; with no token configured they all
 * answer 401. Commands are written to the coordinator, so any control-plane
 * process accepts them; the leader acts on them.
 *
 *   GET  /healthz
 *   GET  /status
 *   POST /migrations                      <plan JSON>  → 201 with the migration log
 *   GET  /migrations/<id>
 *   POST /migrations/<id>/pause|resume|abort  [{"reason": "..."}]  → 202
 *   POST /migrations/<id>/finalize        → 200 once every finalize step ran (repair, N1 dropped from replication)
 *   GET  /migrations/<id>/events?after=N&waitMs=M   long-poll for history entries > N
 *
 * Under /dashboard: the live dashboard, signed in with the token once, then a session cookie
 * (dashboard/dashboard.ts).
 */
export class ControlAdminServer {
  private constructor(
    private readonly server: Server,
    private readonly closing: AbortController,
    private readonly dashboard: Dashboard,
    readonly address: ControlAdminAddress,
  ) {}

  static async start(cp: ControlPlaneApi, opts: ControlAdminOptions): Promise<ControlAdminServer> {
    const closing = new AbortController();
    const dashboard = new Dashboard(cp, {
      token: opts.token,
      ...(opts.dashboardSessionTtlMs !== undefined ? { sessionTtlMs: opts.dashboardSessionTtlMs } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
    const server = createServer((req, res) => {
      const signal = AbortSignal.any([closing.signal, closedSignal(res)]);
      route(cp, opts.token, dashboard, req, res, signal).catch((err: unknown) => {
        const e = isControlError(err) ? err : new ControlError('NW_CP_INTERNAL', (err as Error).message, { cause: err });
        if (e.status >= 500) opts.logger?.error('controlplane.admin.failed', { method: req.method, path: req.url, err: e });
        if (res.headersSent) return void res.destroy();
        // A body we stopped reading would otherwise be drained before the next request.
        const extra: Record<string, string> = req.complete ? {} : { connection: 'close' };
        if (e.code === 'NW_CP_ADMIN_METHOD' && Array.isArray(e.details?.allow)) extra.allow = e.details.allow.join(', ');
        sendError(res, e, extra);
      });
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    const address = await new Promise<ControlAdminAddress>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        server.on('error', (err) => opts.logger?.error('controlplane.admin.server_error', { err }));
        const a = server.address() as AddressInfo;
        resolve({ host: a.address, port: a.port, url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` });
      });
    });
    return new ControlAdminServer(server, closing, dashboard, address);
  }

  /** Stops listening, ends pending long-polls and dashboard streams and closes every connection. */
  close(): Promise<void> {
    this.closing.abort();
    this.dashboard.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function closedSignal(res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => ac.abort());
  return ac.signal;
}

async function route(
  cp: ControlPlaneApi,
  token: string | undefined,
  dashboard: Dashboard,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const method = req.method ?? 'GET';
  if (url.pathname === '/healthz' && (method === 'GET' || method === 'HEAD')) return sendJson(res, 200, { status: 'ok' });
  // The dashboard checks its own session (signed in with the same token).
  if (isDashboardPath(url.pathname)) return dashboard.handle(req, res, url, signal);
  authorize(token, req);
  for (const r of ROUTES) {
    const m = r.pattern.exec(url.pathname);
    if (!m) continue;
    const handler = r.methods[method];
    if (!handler) throw new ControlError('NW_CP_ADMIN_METHOD', `${method} ${url.pathname}`, { details: { allow: Object.keys(r.methods) } });
    return handler(cp, { req, res, query: url.searchParams, id: m[1] ?? '', signal });
  }
  throw new ControlError('NW_CP_ADMIN_NOT_FOUND', url.pathname);
}
