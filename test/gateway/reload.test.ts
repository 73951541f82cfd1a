// Reloading the gateway's config file (POST /reload, as SIGHUP and `northwest-gateway reload` do):
// apps added, changed and removed take effect as one swap; an invalid file or a change only a
// restart applies changes nothing and names the file and the field; app states survive; requests
// in flight finish on the upstreams they started with, whose connections close after them.
import assert from 'node:assert/strict';
import { request } from 'undici';
import type { GatewayConfigInput } from '../../gateway/index.js';
import { startEchoUpstream, type EchoUpstream } from '../../loadgen/reference-app/echo-upstream.js';
import { createLogger } from '../../platform/logger.js';
import { appOn, startFileGateway, startGatedUpstream, testConfig, type FileGateway } from '../support/config-file-gateway.js';
import { eventually } from '../support/eventually.js';
import { ADMIN_TOKEN, call } from '../support/gateway-harness.js';
import { RawHttpClient } from '../support/raw-http-client.js';

async function postReload(
  adminUrl: string,
  token: string | null = ADMIN_TOKEN,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${adminUrl}/reload`, {
    method: 'POST',
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function adminPut(adminUrl: string, path: string, body: unknown): Promise<number> {
  const res = await request(`${adminUrl}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
  await res.body.dump();
  return res.statusCode;
}

const servedBy = async (url: string, host: string, method: 'GET' | 'PUT' = 'GET'): Promise<string> => {
  const r = await call(url, '/kv/k', { host, method, ...(method === 'PUT' ? { body: 'v' } : {}) });
  return `${r.status} ${String(r.headers['x-served-by'] ?? r.headers['x-northwest-error'])}`;
};

describe('gateway config reload', function () {
  this.timeout(20_000);
  const ups: EchoUpstream[] = [];
  let g: FileGateway | undefined;
  const logLines: string[] = [];
  const logger = createLogger('info', {}, (l) => void logLines.push(l));

  const upstream = async (name: string): Promise<string> => {
    const u = await startEchoUpstream(name);
    ups.push(u);
    return u.url;
  };

  afterEach(async () => {
    await g?.close();
    g = undefined;
    await Promise.all(ups.splice(0).map((u) => u.close()));
    logLines.length = 0;
  });

  it('adds an app, moves an app to other upstreams and removes one, each for the next request', async () => {
    const [a, b, c, d] = [await upstream('a'), await upstream('b'), await upstream('c'), await upstream('d')];
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a]), cart: appOn('cart.test', [b]) }), { logger });
    assert.equal(await servedBy(g.url, 'shop.test'), '404 a');
    assert.equal(await servedBy(g.url, 'cart.test'), '404 b');
    assert.equal(await servedBy(g.url, 'blog.test'), '421 NW_GW_UNKNOWN_HOST');

    g.write(testConfig({ shop: appOn('shop.test', [c]), blog: appOn('blog.test', [d]) }));
    const r = await postReload(g.adminUrl);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { added: ['blog'], changed: ['shop'], removed: ['cart'], unchanged: [], notReady: [] });

    assert.equal(await servedBy(g.url, 'shop.test'), '404 c');
    assert.equal(await servedBy(g.url, 'blog.test'), '404 d');
    assert.equal(await servedBy(g.url, 'cart.test'), '421 NW_GW_UNKNOWN_HOST');
    assert.deepEqual(Object.keys(g.gw.getState()).sort(), ['blog', 'shop']);
    assert.ok(logLines.some((l) => l.includes('"event":"gateway.reload.applied"') && l.includes('"added":["blog"]')));
  });

  it('keeps the pools of an unchanged app, and of a changed app those whose config is the same: no new upstream connection', async () => {
    const [a, b] = [await upstream('a'), await upstream('b')];
    const connections = new Map<string, number>();
    for (const u of ups) u.server.on('connection', () => connections.set(u.url, (connections.get(u.url) ?? 0) + 1));
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a], [b]), cart: appOn('cart.test', [b]) }));
    assert.equal(await servedBy(g.url, 'shop.test'), '404 a');
    assert.equal(await servedBy(g.url, 'cart.test'), '404 b');
    assert.deepEqual([connections.get(a), connections.get(b)], [1, 1]);
    // shop changes (a new host) but its N1 pool does not; cart does not change at all.
    g.write(
      testConfig({ shop: { ...appOn('shop.test', [a], [b]), hosts: ['shop.test', 'www.shop.test'] }, cart: appOn('cart.test', [b]) }),
    );
    const r = await postReload(g.adminUrl);
    assert.deepEqual(r.body, { added: [], changed: ['shop'], removed: [], unchanged: ['cart'], notReady: [] });
    assert.equal(await servedBy(g.url, 'www.shop.test'), '404 a');
    assert.equal(await servedBy(g.url, 'shop.test'), '404 a');
    assert.equal(await servedBy(g.url, 'cart.test'), '404 b');
    assert.deepEqual([connections.get(a), connections.get(b)], [1, 1], 'the kept pools reused their kept-alive connections');
  });

  it('an invalid file changes nothing: 422 NW_GW_RELOAD_INVALID naming the file and the field, logged', async () => {
    const a = await upstream('a');
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a]) }), { logger });
    const bad = testConfig({ shop: appOn('shop.test', [a]), blog: appOn('blog.test', [a]) }) as { apps: Record<string, unknown> };
    (bad.apps.blog as { n1: { servers: unknown[] } }).n1.servers = [{ url: 'ftp://127.0.0.1:1' }];
    g.write(bad as GatewayConfigInput);
    const r = await postReload(g.adminUrl);
    assert.equal(r.status, 422);
    const err = r.body.error as { code: string; message: string };
    assert.equal(err.code, 'NW_GW_RELOAD_INVALID');
    assert.ok(err.message.includes(`${g.file}: apps.blog.n1.servers.0.url:`), err.message);
    assert.equal(await servedBy(g.url, 'blog.test'), '421 NW_GW_UNKNOWN_HOST');
    assert.equal(await servedBy(g.url, 'shop.test'), '404 a');
    assert.ok(logLines.some((l) => l.includes('"event":"gateway.reload.failed"') && l.includes('apps.blog.n1.servers.0.url')));

    g.write('{ not json');
    const unparsable = await postReload(g.adminUrl);
    assert.equal(unparsable.status, 422);
    assert.match((unparsable.body.error as { message: string }).message, /not valid JSON/);
  });

  it('refuses a change only a restart applies (409 NW_GW_RELOAD_REFUSED naming each field), changing nothing', async () => {
    const [a, b] = [await upstream('a'), await upstream('b')];
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a]) }));
    g.write(
      testConfig(
        { shop: appOn('shop.test', [b]) },
        { listeners: [{ host: '127.0.0.1', port: 1 }], timeouts: { drainMs: 1234 }, log: { level: 'debug' } },
      ),
    );
    const r = await postReload(g.adminUrl);
    assert.equal(r.status, 409);
    const err = r.body.error as { code: string; message: string };
    assert.equal(err.code, 'NW_GW_RELOAD_REFUSED');
    for (const field of ['listeners.0.port', 'timeouts.drainMs', 'log.level'])
      assert.ok(err.message.includes(`${g.file}: ${field}: cannot change on reload`), err.message);
    assert.equal(await servedBy(g.url, 'shop.test'), '404 a');

    // The access log is one of the log settings a reload does change.
    g.write(testConfig({ shop: appOn('shop.test', [b]) }, { log: { level: 'silent', access: true, accessFormat: 'combined' } }));
    assert.equal((await postReload(g.adminUrl)).status, 200);
    assert.equal(g.gw.accessLog.enabled, true);
  });

  it('reloading needs the admin token, and a gateway started without a file has nothing to reload', async () => {
    const a = await upstream('a');
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a]) }));
    assert.equal((await postReload(g.adminUrl, null)).status, 401);
    assert.equal((await postReload(g.adminUrl, 'wrong')).status, 401);
    const { Gateway, parseGatewayConfig } = await import('../../gateway/index.js');
    const plain = await Gateway.start({
      config: parseGatewayConfig(testConfig({ shop: appOn('shop.test', [a]) })),
      adminToken: ADMIN_TOKEN,
      logger: createLogger('silent'),
    });
    try {
      const r = await postReload(plain.adminAddress!.url);
      assert.equal(r.status, 409);
      assert.equal((r.body.error as { code: string }).code, 'NW_GW_RELOAD_UNAVAILABLE');
    } finally {
      await plain.close();
    }
  });

  it('refuses to drop n2.publicOrigin of an app in redirect mode', async () => {
    const a = await upstream('a');
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a]) }));
    assert.equal(await adminPut(g.adminUrl, '/state/shop', { epoch: 1, mode: 'redirect', status: 307 }), 200);
    const app = appOn('shop.test', [a]) as { n2: Record<string, unknown> };
    delete app.n2.publicOrigin;
    g.write(testConfig({ shop: app as GatewayConfigInput['apps'][string] }));
    const r = await postReload(g.adminUrl);
    assert.equal(r.status, 409);
    assert.match((r.body.error as { message: string }).message, /apps\.shop\.n2\.publicOrigin: shop is in redirect mode/);
    const redirected = await call(g.url, '/x', { host: 'shop.test' });
    assert.equal(redirected.status, 307);
  });

  it('a fenced app stays fenced across a reload that changes it, its held write intact; proxy then sends it to N2', async () => {
    const [a, b, a2] = [await upstream('n1-a'), await upstream('n2-b'), await upstream('n1-a2')];
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a], [b]) }));
    assert.equal(await adminPut(g.adminUrl, '/state/shop', { epoch: 1, mode: 'fence', readFrom: 'n1' }), 200);
    const held = call(g.url, '/kv/held', { host: 'shop.test', method: 'PUT', body: 'kept' });
    await eventually(
      async () => /northwest_gateway_held_writes\{app="shop"\} 1/.test(await (await request(`${g!.adminUrl}/metrics`)).body.text()),
      {
        timeoutMs: 5000,
        message: 'the write is held by the fence',
      },
    );

    g.write(testConfig({ shop: appOn('shop.test', [a, a2], [b]) }));
    const r = await postReload(g.adminUrl);
    assert.deepEqual(r.body, { added: [], changed: ['shop'], removed: [], unchanged: [], notReady: [] });
    assert.deepEqual(g.gw.getState().shop, { mode: 'fence', epoch: 1, readFrom: 'n1' });
    // Writes are still held, reads still served from N1 (by the new pool: either server).
    const read = await call(g.url, '/kv/held', { host: 'shop.test' });
    assert.match(String(read.headers['x-served-by']), /^n1-a2?$/);

    assert.equal(await adminPut(g.adminUrl, '/state/shop', { epoch: 2, mode: 'proxy', mirrorWritesToN1: false }), 200);
    const released = await held;
    assert.equal(released.status, 200);
    assert.equal(released.headers['x-served-by'], 'n2-b');
    assert.equal(ups.find((u) => u.url === b)!.store.get('held'), 'kept');
    for (const n1 of [a, a2]) assert.equal(ups.find((u) => u.url === n1)!.store.has('held'), false);
  });

  it("a removed app's held writes are refused with 421 NW_GW_APP_REMOVED, never forwarded", async () => {
    const [a, b] = [await upstream('n1'), await upstream('n2')];
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a], [b]), cart: appOn('cart.test', [a], [b]) }));
    assert.equal(await adminPut(g.adminUrl, '/state/shop', { epoch: 1, mode: 'fence', readFrom: 'n1' }), 200);
    const held = call(g.url, '/kv/lost', { host: 'shop.test', method: 'PUT', body: 'x' });
    await eventually(
      async () => /northwest_gateway_held_writes\{app="shop"\} 1/.test(await (await request(`${g!.adminUrl}/metrics`)).body.text()),
      {
        timeoutMs: 5000,
        message: 'the write is held by the fence',
      },
    );
    g.write(testConfig({ cart: appOn('cart.test', [a], [b]) }));
    assert.equal((await postReload(g.adminUrl)).status, 200);
    const refused = await held;
    assert.equal(refused.status, 421);
    assert.equal(refused.headers['x-northwest-error'], 'NW_GW_APP_REMOVED');
    for (const u of ups) assert.equal(u.store.has('lost'), false);
  });

  it('a request in flight finishes on the upstream it started with; that upstream is disconnected after it', async () => {
    const slow = await startGatedUpstream('old');
    const fresh = await upstream('new');
    try {
      g = await startFileGateway(testConfig({ shop: appOn('shop.test', [slow.url]) }));
      const inFlight = call(g.url, '/kv/k', { host: 'shop.test' });
      await eventually(() => slow.waiting === 1, { timeoutMs: 5000, message: 'the request reached the old upstream' });
      g.write(testConfig({ shop: appOn('shop.test', [fresh]) }));
      assert.equal((await postReload(g.adminUrl)).status, 200);
      assert.equal(await servedBy(g.url, 'shop.test'), '404 new');
      // Its pool is retired, not closed: the request keeps its connection.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(slow.openConnections, 1);
      slow.release();
      const done = await inFlight;
      assert.equal(done.status, 200);
      assert.equal(done.headers['x-served-by'], 'old');
      await eventually(() => slow.openConnections === 0, { timeoutMs: 2000, message: 'the old pool closed its connection' });
    } finally {
      await slow.close();
    }
  });

  it('a write routed before a reload whose body comes after it goes to the upstream it was routed to', async () => {
    const [a, b] = [await upstream('old'), await upstream('new')];
    g = await startFileGateway(testConfig({ shop: appOn('shop.test', [a]) }));
    const client = new RawHttpClient(Number(new URL(g.url).port));
    try {
      const conn = await client.open();
      conn.write('PUT /kv/slow HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 10\r\nConnection: close\r\n\r\n12345');
      // The engine routes on the head: wait until it counts the request in flight.
      await eventually(() => g!.gw.pendingRequests === 1, { timeoutMs: 5000, message: 'the write is routed' });
      g.write(testConfig({ shop: appOn('shop.test', [b]) }));
      assert.equal((await postReload(g.adminUrl)).status, 200);
      assert.equal(await servedBy(g.url, 'shop.test'), '404 new');
      // Long enough for a pool closed too early to be closed (the sweep runs every 50 ms).
      await new Promise((r) => setTimeout(r, 300));
      conn.write('67890');
      const { responses } = await conn.closed;
      assert.equal(responses[0]?.status, 200, JSON.stringify(responses));
      assert.equal(responses[0]?.headers['x-served-by'], 'old');
      assert.equal(ups[0]!.store.get('slow'), '1234567890');
      assert.equal(ups[1]!.store.has('slow'), false);
    } finally {
      client.destroyAll();
    }
  });
});
