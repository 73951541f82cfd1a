import assert from 'node:assert/strict';
import { ControlAdminServer, type ControlPlaneApi } from '../../controlplane/admin/control-admin-server.js';
import type { MigrationEventsPage } from '../../controlplane/admin/migration-events.js';
import type { FleetStatus } from '../../controlplane/control-plane.js';
import { layout } from '../../protocol/coordinator-paths.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { adminCall, CP_TOKEN, errorOf, gate, startControlHarness, type ControlHarness } from '../support/control-plane-harness.js';
import { eventually } from '../support/eventually.js';

const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

describe('control-plane admin API', function () {
  this.timeout(60_000);
  let h: ControlHarness;

  beforeEach(async () => {
    h = await startControlHarness();
  });
  afterEach(() => h.close());

  const post = (path: string, body?: unknown) => adminCall(h.url, 'POST', path, { body });
  const get = (path: string) => adminCall(h.url, 'GET', path);

  /** GETs the migration until it has finished; every answer on the way must be a 200. */
  async function getUntilFinished(id: string): Promise<MigrationLog> {
    const notOk: string[] = [];
    const log = await eventually(
      async () => {
        const r = await get(`/migrations/${id}`);
        if (r.status !== 200) notOk.push(`${r.status} ${r.text}`);
        const log = r.body as MigrationLog;
        assert.ok(r.status === 200 && finished(log), `${log.status} in ${log.phase}`);
        return log;
      },
      { timeoutMs: 30_000, message: `migration ${id} finishes` },
    );
    assert.deepEqual(notOk, [], 'GET /migrations/:id answered 200 every time');
    return log;
  }

  it('binds to loopback and answers /healthz without a token', async () => {
    assert.equal(h.proc.adminAddress.host, '127.0.0.1');
    const r = await adminCall(h.url, 'GET', '/healthz', { token: null });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'ok' });
  });

  it('answers 401 without the token or with a wrong one, and changes nothing', async () => {
    for (const token of [null, 'wrong-token', `${CP_TOKEN}x`]) {
      for (const [method, path, body] of [
        ['GET', '/status', undefined],
        ['POST', '/migrations', { apps: ['shop'] }],
        ['GET', '/migrations/anything', undefined],
        ['POST', '/migrations/anything/abort', undefined],
        ['GET', '/no-such-endpoint', undefined],
      ] as const) {
        const r = await adminCall(h.url, method, path, { token, body });
        assert.equal(r.status, 401, `${method} ${path} with ${token}`);
        assert.equal(errorOf(r).code, 'NW_CP_ADMIN_UNAUTHORIZED');
      }
    }
    assert.deepEqual((await h.proc.controlPlane.status()).migrations, []);
    assert.equal(h.store.read(layout.lock('shop')), undefined);
  });

  it('with no token configured answers 401 to everything but /healthz', async () => {
    const open = await ControlAdminServer.start(h.proc.controlPlane, { host: '127.0.0.1', port: 0, token: undefined });
    try {
      assert.equal((await adminCall(open.address.url, 'GET', '/healthz', { token: null })).status, 200);
      for (const token of [null, CP_TOKEN, '']) {
        const r = await adminCall(open.address.url, 'POST', '/migrations', { token, body: { apps: ['shop'] } });
        assert.equal(r.status, 401);
        assert.equal(errorOf(r).code, 'NW_CP_ADMIN_UNAUTHORIZED');
      }
      assert.deepEqual((await h.proc.controlPlane.status()).migrations, []);
    } finally {
      await open.close();
    }
  });

  it('POST /migrations starts a migration (201) that runs to done', async () => {
    const r = await post('/migrations', { id: 'm-api-1', apps: ['shop', 'cart'], barrierTimeoutMs: 5000 });
    assert.equal(r.status, 201, r.text);
    const created = r.body as MigrationLog;
    assert.equal(created.id, 'm-api-1');
    assert.equal(r.headers.location, '/migrations/m-api-1');
    assert.deepEqual(created.plan.apps, ['shop', 'cart']);
    assert.equal(created.plan.onBarrierTimeout, 'rollback', 'defaults are filled in');
    const log = await getUntilFinished(created.id);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    assert.deepEqual(
      log.history.filter((e) => e.event === 'phase-completed').map((e) => e.phase),
      ['prepare', 'sync', 'fence', 'proxy', 'redirect', 'dns', 'done'],
    );
    for (const m of h.fleet.members) assert.equal(m.gateway.getState().shop!.mode, 'proxy');
  });

  it('refuses an invalid plan with 400 NW_CP_PLAN_INVALID naming the field', async () => {
    const badName = await post('/migrations', { apps: ['Shop!'] });
    assert.equal(badName.status, 400);
    assert.equal(errorOf(badName).code, 'NW_CP_PLAN_INVALID');
    assert.match(errorOf(badName).message, /plan: apps\.0: app names are lowercase/);
    const unknownKey = await post('/migrations', { apps: ['shop'], barrierTimeoutMs: 'soon', bogus: 1 });
    assert.equal(unknownKey.status, 400);
    assert.match(errorOf(unknownKey).message, /plan: barrierTimeoutMs: /);
    assert.match(errorOf(unknownKey).message, /bogus/);
    assert.deepEqual((await h.proc.controlPlane.status()).migrations, [], 'nothing was created');
  });

  it('refuses an app no live gateway serves with 404 NW_CP_UNKNOWN_APP', async () => {
    const r = await post('/migrations', { apps: ['ghost'] });
    assert.equal(r.status, 404);
    assert.equal(errorOf(r).code, 'NW_CP_UNKNOWN_APP');
    assert.match(errorOf(r).message, /ghost/);
  });

  it('refuses a second migration of a busy app with 409 NW_CP_APP_BUSY and locks nothing', async () => {
    const g = gate();
    h.hooks.set('gate', g.hook);
    const first = await post('/migrations', { id: 'm-first', apps: ['shop'], sync: { hooks: ['gate'] } });
    assert.equal(first.status, 201, first.text);
    const second = await post('/migrations', { apps: ['cart', 'shop'] });
    assert.equal(second.status, 409);
    const e = errorOf(second);
    assert.equal(e.code, 'NW_CP_APP_BUSY');
    assert.deepEqual(e.details, { app: 'shop', migration: 'm-first' });
    assert.equal(h.store.read(layout.lock('cart')), undefined);
    g.release();
    assert.equal((await getUntilFinished('m-first')).status, 'done');
  });

  it('pauses between phases, resumes to done; aborts with a reason and rolls back', async () => {
    const g1 = gate();
    h.hooks.set('gate', g1.hook);
    assert.equal((await post('/migrations', { id: 'm-pause', apps: ['shop'], sync: { hooks: ['gate'] } })).status, 201);
    await g1.entered;
    const paused = await post('/migrations/m-pause/pause');
    assert.equal(paused.status, 202, paused.text);
    assert.equal((paused.body as MigrationLog).id, 'm-pause');
    g1.release();
    const atPause = await h.proc.controlPlane.waitForMigration('m-pause', (l) => l.status === 'paused' || finished(l), 10_000);
    assert.equal(atPause.status, 'paused');
    assert.equal(((await get('/migrations/m-pause')).body as MigrationLog).status, 'paused');
    assert.equal((await post('/migrations/m-pause/resume')).status, 202);
    const done = await getUntilFinished('m-pause');
    assert.equal(done.status, 'done');
    assert.ok(done.history.some((e) => e.event === 'paused') && done.history.some((e) => e.event === 'resumed'));

    const g2 = gate();
    h.hooks.set('gate', g2.hook);
    assert.equal((await post('/migrations', { id: 'm-abort', apps: ['cart'], sync: { hooks: ['gate'] } })).status, 201);
    await g2.entered;
    const badReason = await post('/migrations/m-abort/abort', { reason: 5 });
    assert.equal(badReason.status, 400);
    assert.match(errorOf(badReason).message, /body: reason: /);
    assert.equal((await post('/migrations/m-abort/abort', { reason: 'operator changed their mind' })).status, 202);
    g2.release();
    const rolledBack = await getUntilFinished('m-abort');
    assert.equal(rolledBack.status, 'rolled-back');
    assert.ok(rolledBack.history.some((e) => e.event === 'rollback-started' && e.detail?.includes('operator changed their mind')));
    for (const m of h.fleet.members) assert.equal(m.gateway.getState().cart!.mode, 'serve');

    const again = await post('/migrations/m-abort/abort');
    assert.equal(again.status, 409);
    assert.equal(errorOf(again).code, 'NW_CP_MIGRATION_FINISHED');
    const missing = await post('/migrations/m-nope/pause');
    assert.equal(missing.status, 404);
    assert.equal(errorOf(missing).code, 'NW_CP_MIGRATION_NOT_FOUND');
  });

  it('events long-poll answers with new history entries once they exist', async () => {
    const g = gate();
    h.hooks.set('gate', g.hook);
    assert.equal((await post('/migrations', { id: 'm-events', apps: ['shop'], sync: { hooks: ['gate'] } })).status, 201);
    await g.entered;
    const first = (await get('/migrations/m-events/events')).body as MigrationEventsPage;
    assert.equal(first.events[0]!.event, 'created');
    assert.deepEqual(
      first.events.map((e) => e.index),
      first.events.map((_, i) => i),
    );
    assert.equal(first.last, first.events.length - 1);
    assert.equal(first.finished, false);
    assert.equal(first.phase, 'sync');

    const nothingNew = (await get(`/migrations/m-events/events?after=${first.last}&waitMs=0`)).body as MigrationEventsPage;
    assert.deepEqual(nothingNew.events, []);

    // A second admin API over the same control plane that tells us when a poll starts waiting.
    const cp = h.proc.controlPlane;
    let startedWaiting!: () => void;
    const waiting = new Promise<void>((r) => (startedWaiting = r));
    const spied: ControlPlaneApi = {
      status: () => cp.status(),
      migrate: (p) => cp.migrate(p),
      getMigration: (id) => cp.getMigration(id),
      pause: (id) => cp.pause(id),
      resume: (id) => cp.resume(id),
      abort: (id, reason) => cp.abort(id, reason),
      waitForMigration: (id, until, timeoutMs) => {
        startedWaiting();
        return cp.waitForMigration(id, until, timeoutMs);
      },
    };
    const spyServer = await ControlAdminServer.start(spied, { host: '127.0.0.1', port: 0, token: CP_TOKEN });
    let next: MigrationEventsPage;
    try {
      let answered = false;
      const pending = adminCall(spyServer.address.url, 'GET', `/migrations/m-events/events?after=${first.last}&waitMs=30000`).then((r) => {
        answered = true;
        return r;
      });
      await waiting;
      assert.equal(answered, false, 'the poll waits while there is nothing new');
      g.release();
      next = (await pending).body as MigrationEventsPage;
    } finally {
      await spyServer.close();
    }
    assert.ok(next.events.length > 0);
    assert.ok(next.events.every((e) => e.index > first.last));
    assert.ok(
      next.events.some((e) => e.event === 'phase-completed' && e.phase === 'sync'),
      'only possible after the gate opened',
    );

    let after = next.last;
    let page = next;
    const stale: string[] = [];
    // Each try is one long-poll (it answers as soon as there is something new), so no pause between tries.
    await eventually(
      async () => {
        if (!page.finished) {
          page = (await get(`/migrations/m-events/events?after=${after}&waitMs=30000`)).body as MigrationEventsPage;
          const asked = after;
          if (!page.events.every((e) => e.index > asked)) stale.push(`after=${asked}: ${page.events.map((e) => e.index).join(',')}`);
          after = page.last;
        }
        assert.ok(page.finished, `events up to ${after}, not finished`);
      },
      { timeoutMs: 40_000, intervalMs: 0, message: 'the events long-poll reaches the end of the migration' },
    );
    assert.deepEqual(stale, [], 'every page holds only entries after the one asked for');
    assert.equal(page.status, 'done');
    assert.equal(page.events.at(-1)?.event, 'done');
  });

  it('GET /status shows the members, each app with its epoch, mode and acks, and the migrations', async () => {
    assert.equal((await post('/migrations', { id: 'm-status', apps: ['shop'] })).status, 201);
    await getUntilFinished('m-status');
    const r = await get('/status');
    assert.equal(r.status, 200);
    const s = r.body as FleetStatus;
    assert.equal(s.leader, 'cp-test');
    assert.deepEqual(
      s.members.map((m) => [m.id, m.kind, m.pid]),
      [
        ['gw-00', 'gateway', process.pid],
        ['gw-01', 'gateway', process.pid],
        ['gw-02', 'gateway', process.pid],
      ],
    );
    const shop = s.apps.find((a) => a.app === 'shop')!;
    assert.equal(typeof shop.epoch, 'number');
    assert.equal((shop.state as { mode: string }).mode, 'proxy');
    assert.equal(shop.lock, undefined);
    assert.deepEqual(
      shop.acks.map((a) => [a.member, a.current, a.epoch]),
      ['gw-00', 'gw-01', 'gw-02'].map((m) => [m, true, shop.epoch]),
    );
    assert.deepEqual(
      s.migrations.map((m) => [m.id, m.status, m.phase]),
      [['m-status', 'done', 'done']],
    );
  });

  it('answers bad requests 400, unknown paths 404 and wrong methods 405 with typed codes', async () => {
    const notJson = await post('/migrations', '{not json');
    assert.equal(notJson.status, 400);
    assert.equal(errorOf(notJson).code, 'NW_CP_ADMIN_BAD_REQUEST');
    const empty = await post('/migrations');
    assert.equal(errorOf(empty).code, 'NW_CP_ADMIN_BAD_REQUEST');
    const huge = await post('/migrations', `{"apps":["shop"],"pad":"${'x'.repeat(1024 * 1024)}"}`);
    assert.equal(huge.status, 400);
    assert.equal(errorOf(huge).code, 'NW_CP_ADMIN_BAD_REQUEST');
    assert.match(errorOf(huge).message, /limit/);
    const badQuery = await get('/migrations/x/events?after=soon');
    assert.equal(badQuery.status, 400);
    const nothing = await get('/nothing');
    assert.equal(nothing.status, 404);
    assert.equal(errorOf(nothing).code, 'NW_CP_ADMIN_NOT_FOUND');
    const wrong = await adminCall(h.url, 'DELETE', '/migrations');
    assert.equal(wrong.status, 405);
    assert.equal(errorOf(wrong).code, 'NW_CP_ADMIN_METHOD');
    assert.equal(wrong.headers.allow, 'POST');
    assert.equal((await adminCall(h.url, 'GET', '/migrations/x/abort')).status, 405);
    assert.equal((await get('/migrations/not-there')).status, 404);
    assert.deepEqual((await h.proc.controlPlane.status()).migrations, []);
  });
});
