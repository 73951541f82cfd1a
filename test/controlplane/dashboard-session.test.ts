import assert from 'node:assert/strict';
import { request } from 'undici';
import { ControlAdminServer } from '../../controlplane/admin/control-admin-server.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { controlPath } from '../../controlplane/migration/migration-log.js';
import { adminCall, CP_TOKEN, gate, startControlHarness, type ControlHarness } from '../support/control-plane-harness.js';
import { openEventStream, postSignIn, signIn } from '../support/dashboard-client.js';
import { eventually } from '../support/eventually.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

async function call(url: string, method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await request(`${url}${path}`, { method, headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const codeOf = (r: Reply): string => (JSON.parse(r.text) as { error: { code: string } }).error.code;

/**
 * The dashboard's sign-in, session cookie and CSRF rules on the control plane's admin listener
 * (embedded coordinator, in-process gateways): what a browser without a session, with a wrong
 * token, with a forged or expired cookie, or a page of another origin posting with the cookie can do.
 */
describe('control-plane dashboard: sign-in, session and CSRF', function () {
  this.timeout(30_000);
  let h: ControlHarness;

  beforeEach(async () => {
    h = await startControlHarness({ size: 1 });
  });
  afterEach(() => h.close());

  it('without a session: GET /dashboard is 401 with the sign-in form under a strict CSP; others: NW_CP_DASHBOARD_SESSION', async () => {
    const page = await call(h.url, 'GET', '/dashboard');
    assert.equal(page.status, 401);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.text, /<form method="post" action="\/dashboard\/session">/);
    assert.match(page.text, /name="token" type="password"/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'none'/);
    assert.match(csp, /style-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(page.headers['set-cookie'], undefined);
    // The admin token as a bearer header is the API's way in, not the dashboard's.
    const tries: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${CP_TOKEN}` },
      { cookie: 'nw_dashboard=forged-session-id' },
    ];
    for (const headers of tries) {
      for (const [method, path] of [
        ['GET', '/dashboard/events'],
        ['GET', '/dashboard/dashboard.js'],
        ['GET', '/dashboard/dashboard.css'],
        ['POST', '/dashboard/migrations/m-1/abort'],
        ['POST', '/dashboard/signout'],
        ['GET', '/dashboard/anything'],
      ] as const) {
        const r = await call(h.url, method, path, headers);
        assert.equal(r.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
        assert.equal(codeOf(r), 'NW_CP_DASHBOARD_SESSION');
      }
    }
  });

  it('refuses a wrong or empty token with 401 and no cookie; with no token configured nobody signs in', async () => {
    for (const token of ['wrong-token', '', `${CP_TOKEN}x`, CP_TOKEN.slice(0, -1)]) {
      const r = await postSignIn(h.url, token);
      assert.equal(r.status, 401, token);
      assert.equal(r.headers['set-cookie'], undefined);
      assert.match(r.text, /That is not the admin token/);
    }
    const json = await request(`${h.url}/dashboard/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: CP_TOKEN }),
    });
    assert.equal(json.statusCode, 400, 'only the form signs in');
    await json.body.text();
    const open = await ControlAdminServer.start(h.proc.controlPlane, { host: '127.0.0.1', port: 0, token: undefined });
    try {
      for (const token of ['', CP_TOKEN]) {
        const r = await postSignIn(open.address.url, token);
        assert.equal(r.status, 401);
        assert.equal(r.headers['set-cookie'], undefined);
        assert.match(r.text, /No admin token is configured/);
      }
    } finally {
      await open.close();
    }
  });

  it('the right token sets an HttpOnly, SameSite=Strict cookie; it opens the page, its files and the stream, not the API', async () => {
    const s = await signIn(h.url);
    assert.match(s.setCookie, /^nw_dashboard=[A-Za-z0-9_-]{43}; Path=\/dashboard; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const page = await call(h.url, 'GET', '/dashboard', { cookie: s.cookie });
    assert.equal(page.status, 200);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.doesNotMatch(page.text, /<script>|<script [^>]*>[^<]/, 'no inline script');
    assert.match(page.text, /<script type="module" src="\/dashboard\/dashboard.js"><\/script>/);
    const js = await call(h.url, 'GET', '/dashboard/dashboard.js', { cookie: s.cookie });
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.ok(js.text.length < 16 * 1024, `the script is small (${js.text.length} bytes)`);
    const css = await call(h.url, 'GET', '/dashboard/dashboard.css', { cookie: s.cookie });
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    const stream = await openEventStream(h.url, s.cookie);
    try {
      assert.equal(stream.status, 200);
      await stream.waitFor((e) => e.type === 'fleet', { timeoutMs: 5000, message: 'a fleet event' });
    } finally {
      stream.close();
    }
    const api = await adminCall(h.url, 'GET', '/status', { token: null });
    assert.equal(api.status, 401);
    const withCookie = await call(h.url, 'GET', '/status', { cookie: s.cookie });
    assert.equal(withCookie.status, 401, 'the session cookie does not stand in for the API token');
    assert.equal(codeOf(withCookie), 'NW_CP_ADMIN_UNAUTHORIZED');
  });

  it('a button POST with the cookie but without its CSRF token is 403, changes nothing; with it: abort', async () => {
    const g = gate();
    h.hooks.set('gate', g.hook);
    const created = (await adminCall(h.url, 'POST', '/migrations', { body: { id: 'm-csrf', apps: ['shop'], sync: { hooks: ['gate'] } } }))
      .body as MigrationLog;
    await g.entered;
    const mine = await signIn(h.url);
    const other = await signIn(h.url);
    assert.notEqual(mine.csrf, other.csrf);
    const forged: Array<Record<string, string>> = [
      { cookie: mine.cookie },
      { cookie: mine.cookie, 'x-northwest-csrf': '' },
      { cookie: mine.cookie, 'x-northwest-csrf': other.csrf },
      { cookie: mine.cookie, 'x-northwest-csrf': `${mine.csrf}x` },
    ];
    for (const headers of forged) {
      for (const op of ['abort', 'pause', 'resume']) {
        const r = await call(h.url, 'POST', `/dashboard/migrations/${created.id}/${op}`, headers);
        assert.equal(r.status, 403, `${op} with ${JSON.stringify(headers)}`);
        assert.equal(codeOf(r), 'NW_CP_DASHBOARD_CSRF');
      }
      const signout = await call(h.url, 'POST', '/dashboard/signout', headers);
      assert.equal(signout.status, 403);
    }
    const control = JSON.parse(h.store.read(controlPath(created.id))!.data.toString()) as { abort: boolean; pause: boolean };
    assert.deepEqual([control.abort, control.pause], [false, false], 'no request reached the migration');
    assert.equal((await h.proc.controlPlane.getMigration(created.id)).status, 'running');

    const r = await call(h.url, 'POST', `/dashboard/migrations/${created.id}/abort`, {
      cookie: mine.cookie,
      'x-northwest-csrf': mine.csrf,
    });
    assert.equal(r.status, 202, r.text);
    // The leader acts on the request between steps: once the sync hook returns.
    g.release();
    const log = await h.proc.controlPlane.waitForMigration(created.id, (l) => l.status === 'rolled-back', 15_000);
    assert.ok(
      log.history.some((e) => e.event === 'rollback-started' && /from the dashboard/.test(e.detail ?? '')),
      JSON.stringify(log.history),
    );
  });

  it('signing out ends the session and closes its open stream', async () => {
    const s = await signIn(h.url);
    const stream = await openEventStream(h.url, s.cookie);
    await stream.waitFor((e) => e.type === 'fleet', { timeoutMs: 5000, message: 'a fleet event' });
    const out = await call(h.url, 'POST', '/dashboard/signout', { cookie: s.cookie, 'x-northwest-csrf': s.csrf });
    assert.equal(out.status, 204);
    assert.match(String(out.headers['set-cookie']), /^nw_dashboard=; Path=\/dashboard; HttpOnly; SameSite=Strict; Max-Age=0$/);
    await stream.endsWithin(2000, 'signing out closes the stream');
    assert.equal((await call(h.url, 'GET', '/dashboard', { cookie: s.cookie })).status, 401);
    assert.equal((await openEventStream(h.url, s.cookie)).status, 401);
  });

  it('a session ends after its lifetime: its stream closes and its cookie is refused', async () => {
    const short = await ControlAdminServer.start(h.proc.controlPlane, {
      host: '127.0.0.1',
      port: 0,
      token: CP_TOKEN,
      dashboardSessionTtlMs: 1500,
    });
    try {
      const s = await signIn(short.address.url);
      assert.match(s.setCookie, /Max-Age=1;?/);
      const stream = await openEventStream(short.address.url, s.cookie);
      assert.equal(stream.status, 200);
      await stream.endsWithin(5000, 'the session’s end closes the stream');
      await eventually(async () => assert.equal((await call(short.address.url, 'GET', '/dashboard', { cookie: s.cookie })).status, 401), {
        timeoutMs: 3000,
        message: 'the expired cookie is refused',
      });
    } finally {
      await short.close();
    }
  });
});
