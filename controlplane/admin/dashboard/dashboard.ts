import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tokenMatches } from '../../../platform/admin-http.js';
import type { Logger } from '../../../platform/logger.js';
import { MIGRATION_ID_PATTERN } from '../../../protocol/identifiers.js';
import type { ControlPlane } from '../../control-plane.js';
import { ControlError } from '../../errors.js';
import { readBodyText, sendJson } from '../admin-http.js';
import { DashboardFeed, type FeedEvent } from './dashboard-feed.js';
import { cookieValue, DashboardSessions, type DashboardSession, SESSION_COOKIE } from './dashboard-sessions.js';

/** What the dashboard drives: the fleet's status and migration logs to show, and the operator's three buttons. */
export type DashboardControl = Pick<ControlPlane, 'status' | 'getMigration' | 'pause' | 'resume' | 'abort'>;

export interface DashboardOptions {
  /** The admin token the sign-in form takes; undefined or empty: nobody can sign in. */
  readonly token: string | undefined;
  readonly sessionTtlMs?: number;
  /** For reading the gateways' /metrics (tests). */
  readonly fetch?: typeof fetch;
  readonly logger?: Logger;
}

/** The header the page's buttons send their session's CSRF token in. */
export const CSRF_HEADER = 'x-northwest-csrf';

/** A sign-in form holds a token and nothing else. */
const MAX_SIGN_IN_BODY = 4096;
/** An SSE client that stops reading is dropped once this much waits for it. */
const MAX_STREAM_BACKLOG = 1024 * 1024;
/** A comment line this often keeps proxies and the browser from taking a quiet stream for dead. */
const HEARTBEAT_MS = 15_000;

/**
 * No inline script or style anywhere (the page's script and stylesheet are files of this origin),
 * nothing loaded from elsewhere (but the empty `data:` icon that keeps the browser from asking the
 * admin API for /favicon.ico), no framing, forms post only here.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * The sign-in form's policy: no script at all, and its one inline stylesheet allowed by its hash
 * (the dashboard's stylesheet is served to a session only).
 */
function signInCsp(html: string): string {
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
  const hash = createHash('sha256').update(style).digest('base64');
  return CSP.replace("style-src 'self'", `style-src 'sha256-${hash}'`).replace("script-src 'self'", "script-src 'none'");
}

const asset = (name: string): string => readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');

const ASSETS: Readonly<Record<string, { readonly type: string; readonly file: string }>> = {
  '/dashboard/dashboard.js': { type: 'text/javascript; charset=utf-8', file: 'dashboard.js' },
  '/dashboard/dashboard.css': { type: 'text/css; charset=utf-8', file: 'dashboard.css' },
};

const CONTROL_PATH = new RegExp(`^/dashboard/migrations/(${MIGRATION_ID_PATTERN.source.slice(1, -1)})/(pause|resume|abort)$`);

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** True for the paths the dashboard answers (everything else is the admin API's). */
export function isDashboardPath(pathname: string): boolean {
  return pathname === '/dashboard' || pathname.startsWith('/dashboard/');
}

/**
 * The live dashboard on the control plane's admin listener. A browser signs in once with the
 * admin token (a form) and gets a session cookie (HttpOnly, SameSite=Strict, Path=/dashboard,
 * random id, held server-side with an absolute lifetime). Every dashboard route and the event
 * stream need the session (401 otherwise; GET /dashboard answers that with the sign-in form).
 * The buttons' POSTs need the session's CSRF token in `x-northwest-csrf` besides the cookie (403
 * otherwise): the token is in the page, which another origin cannot read.
 *
 *   GET  /dashboard                      the page (or, without a session, 401 and the sign-in form)
 *   POST /dashboard/session              form `token=<admin token>` → 303 to /dashboard with the cookie
 *   POST /dashboard/signout              ends the session (CSRF)
 *   GET  /dashboard/dashboard.js|.css    the page's script and stylesheet
 *   GET  /dashboard/events               server-sent events: fleet, timeline, traffic, problem
 *   POST /dashboard/migrations/<id>/pause|resume|abort   (CSRF) → 202 with the log as it was
 */
export class Dashboard {
  private readonly sessions: DashboardSessions;
  private readonly feed: DashboardFeed;
  private readonly assets = new Map<string, { readonly type: string; readonly body: string }>();
  private readonly signIn: string;
  private readonly signInHeaders: Readonly<Record<string, string>>;
  private readonly page: string;

  constructor(
    private readonly cp: DashboardControl,
    private readonly opts: DashboardOptions,
  ) {
    this.sessions = new DashboardSessions(opts.sessionTtlMs);
    this.feed = new DashboardFeed(cp, {
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
    for (const [path, a] of Object.entries(ASSETS)) this.assets.set(path, { type: a.type, body: asset(a.file) });
    this.signIn = asset('sign-in.html');
    this.signInHeaders = { ...PAGE_HEADERS, 'content-security-policy': signInCsp(this.signIn) };
    this.page = asset('dashboard.html');
  }

  /** Ends every stream and session. */
  close(): void {
    this.feed.close();
    this.sessions.endAll();
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, signal: AbortSignal): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === '/dashboard/session') {
      if (method !== 'POST') throw new ControlError('NW_CP_ADMIN_METHOD', `${method} ${path}`, { details: { allow: ['POST'] } });
      return this.signInWith(req, res);
    }
    const cookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const session = this.sessions.find(cookie);
    if (!session || cookie === undefined) {
      if (path === '/dashboard' && (method === 'GET' || method === 'HEAD')) return this.sendSignIn(res, 401, '');
      throw new ControlError('NW_CP_DASHBOARD_SESSION');
    }
    if (method === 'GET' && path === '/dashboard') return this.sendPage(res, session);
    const file = this.assets.get(path);
    if (method === 'GET' && file) return this.send(res, 200, file.type, file.body);
    if (method === 'GET' && path === '/dashboard/events') return this.stream(res, cookie, signal);
    const control = CONTROL_PATH.exec(path);
    if (method === 'POST' && (control || path === '/dashboard/signout')) {
      this.checkCsrf(req, session);
      if (!control) {
        this.sessions.end(cookie);
        res.writeHead(204, { ...PAGE_HEADERS, 'set-cookie': `${SESSION_COOKIE}=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0` });
        return void res.end();
      }
      const [, id = '', op] = control;
      const reason = 'from the dashboard';
      const log = op === 'pause' ? await this.cp.pause(id) : op === 'resume' ? await this.cp.resume(id) : await this.cp.abort(id, reason);
      return sendJson(res, 202, log);
    }
    if (control || path === '/dashboard/signout' || path === '/dashboard/events' || path === '/dashboard' || file) {
      const allow = control || path === '/dashboard/signout' ? ['POST'] : ['GET'];
      throw new ControlError('NW_CP_ADMIN_METHOD', `${method} ${path}`, { details: { allow } });
    }
    throw new ControlError('NW_CP_ADMIN_NOT_FOUND', path);
  }

  private checkCsrf(req: IncomingMessage, session: DashboardSession): void {
    const given = req.headers[CSRF_HEADER];
    if (typeof given !== 'string' || given === '' || !tokenMatches(given, session.csrf)) throw new ControlError('NW_CP_DASHBOARD_CSRF');
  }

  private async signInWith(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (type !== 'application/x-www-form-urlencoded')
      throw new ControlError('NW_CP_ADMIN_BAD_REQUEST', 'sign in with the form: application/x-www-form-urlencoded token=<admin token>');
    const given = new URLSearchParams(await readBodyText(req, MAX_SIGN_IN_BODY)).get('token') ?? '';
    const token = this.opts.token;
    if (!token) return this.sendSignIn(res, 401, 'No admin token is configured on this control plane: nobody can sign in.');
    if (!given || !tokenMatches(given, token)) {
      this.opts.logger?.warn('controlplane.dashboard.sign_in_refused', { remote: req.socket.remoteAddress });
      return this.sendSignIn(res, 401, 'That is not the admin token.');
    }
    const { id, session } = this.sessions.create();
    const maxAge = Math.floor((session.expiresAt - Date.now()) / 1000);
    this.opts.logger?.info('controlplane.dashboard.signed_in', { sessions: this.sessions.size });
    res.writeHead(303, {
      ...PAGE_HEADERS,
      location: '/dashboard',
      'set-cookie': `${SESSION_COOKIE}=${id}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`,
      'content-length': 0,
    });
    res.end();
  }

  private sendSignIn(res: ServerResponse, status: number, message: string): void {
    const body = this.signIn.replace('{{message}}', message ? `<p class="problem" id="problem">${escapeHtml(message)}</p>` : '');
    this.send(res, status, 'text/html; charset=utf-8', body, this.signInHeaders);
  }

  private sendPage(res: ServerResponse, session: DashboardSession): void {
    // base64url: nothing to escape in an attribute.
    this.send(res, 200, 'text/html; charset=utf-8', this.page.replace('{{csrf}}', session.csrf));
  }

  private send(res: ServerResponse, status: number, type: string, body: string, headers = PAGE_HEADERS): void {
    res.writeHead(status, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** The event stream of one viewer, until it goes away, the server closes, or its session ends. */
  private stream(res: ServerResponse, cookie: string, signal: AbortSignal): Promise<void> {
    res.writeHead(200, {
      ...PAGE_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      // Proxies must pass events as they come.
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    return new Promise<void>((resolve) => {
      const send = (e: FeedEvent): void => {
        if (res.writableLength > MAX_STREAM_BACKLOG) return void res.destroy();
        res.write(`event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
      };
      const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
      let unsubscribe = (): void => undefined;
      let forget = (): void => undefined;
      let finished = false;
      const done = (): void => {
        if (finished) return;
        finished = true;
        clearInterval(heartbeat);
        unsubscribe();
        forget();
        signal.removeEventListener('abort', done);
        if (!res.writableEnded) res.end();
        resolve();
      };
      if (signal.aborted) return done();
      signal.addEventListener('abort', done, { once: true });
      res.once('close', done);
      forget = this.sessions.onEnd(cookie, done);
      if (!finished) unsubscribe = this.feed.subscribe(send);
    });
  }
}
