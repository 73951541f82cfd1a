import assert from 'node:assert/strict';
import { request } from 'undici';
import { ADMIN_TOKEN, call, putState, startGatewayHarness, type Harness } from '../support/gateway-harness.js';

describe('admin API', () => {
  let h: Harness;
  before(async () => {
    h = await startGatewayHarness();
  });
  after(() => h.close());

  it('binds to loopback', () => {
    assert.equal(h.gw.adminAddress!.host, '127.0.0.1');
  });

  it('serves /healthz, /readyz, /metrics and /state without a token', async () => {
    for (const p of ['/healthz', '/readyz', '/metrics', '/state']) {
      const res = await request(h.adminUrl + p);
      assert.equal(res.statusCode, 200, p);
      await res.body.dump();
    }
    const state = await (await request(`${h.adminUrl}/state`)).body.json();
    assert.deepEqual(state, { gateway: 'test-gw', apps: { shop: { mode: 'serve', epoch: 0 } } });
  });

  it('refuses state changes without the right token and changes nothing', async () => {
    assert.equal((await putState(h, 'shop', { epoch: 1, mode: 'proxy' }, null)).status, 401);
    const wrong = await putState(h, 'shop', { epoch: 1, mode: 'proxy' }, 'not-the-token');
    assert.equal(wrong.status, 401);
    assert.equal(JSON.parse(wrong.text).error.code, 'NW_GW_ADMIN_UNAUTHORIZED');
    assert.equal(h.gw.getState().shop!.mode, 'serve');
  });

  it('applies a state with the token and reports the drain', async () => {
    const res = await putState(h, 'shop', { epoch: 1, mode: 'mirror' });
    assert.equal(res.status, 200);
    const body = JSON.parse(res.text) as { apps: Array<{ app: string; epoch: number; mode: string; previousMode: string }> };
    assert.deepEqual(
      body.apps.map((a) => [a.app, a.epoch, a.mode, a.previousMode]),
      [['shop', 1, 'mirror', 'serve']],
    );
    const r = await call(h.url, '/x');
    assert.equal(r.headers['x-northwest-epoch'], '1');
  });

  it('applies several apps at once with PUT /state', async () => {
    const res = await request(`${h.adminUrl}/state`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ apps: { shop: { epoch: 2, mode: 'proxy' } } }),
    });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    assert.equal(h.gw.getState().shop!.mode, 'proxy');
  });

  it('answers bad documents with 4xx and typed codes', async () => {
    const notJson = await putState(h, 'shop', '{not json');
    assert.equal(notJson.status, 400);
    assert.equal(JSON.parse(notJson.text).error.code, 'NW_GW_STATE_INVALID');
    const stale = await putState(h, 'shop', { epoch: 0, mode: 'serve' });
    assert.equal(stale.status, 409);
    const unknown = await putState(h, 'ghost', { epoch: 9, mode: 'serve' });
    assert.equal(unknown.status, 404);
    const badShape = await request(`${h.adminUrl}/state`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: '[1,2]',
    });
    assert.equal(badShape.statusCode, 400);
    await badShape.body.dump();
    const wrongMethod = await request(`${h.adminUrl}/state/shop`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(wrongMethod.statusCode, 405);
    await wrongMethod.body.dump();
    const nothing = await request(`${h.adminUrl}/nothing`);
    assert.equal(nothing.statusCode, 404);
    await nothing.body.dump();
    assert.equal(h.gw.getState().shop!.epoch, 2);
  });

  it('reports not ready until a state arrives when waitForState is set', async () => {
    const h2 = await startGatewayHarness({ config: { waitForState: true } });
    try {
      const before = await request(`${h2.adminUrl}/readyz`);
      assert.equal(before.statusCode, 503);
      await before.body.dump();
      await h2.gw.applyState('shop', { epoch: 0, mode: 'serve' });
      const after = await request(`${h2.adminUrl}/readyz`);
      assert.equal(after.statusCode, 200);
      await after.body.dump();
    } finally {
      await h2.close();
    }
  });

  it('refuses every change when no token is configured', async () => {
    const { Gateway, parseGatewayConfig } = await import('../../gateway/index.js');
    const { createLogger } = await import('../../platform/logger.js');
    const config = parseGatewayConfig({
      listeners: [{ port: 0 }],
      admin: { port: 0, tokenEnv: 'NW_TEST_TOKEN_THAT_IS_NOT_SET' },
      apps: {
        shop: { hosts: ['a.test'], n1: { servers: [{ url: 'http://127.0.0.1:1' }] }, n2: { servers: [{ url: 'http://127.0.0.1:1' }] } },
      },
    });
    const gw = await Gateway.start({ config, logger: createLogger('silent') });
    try {
      const res = await request(`${gw.adminAddress!.url}/state/shop`, {
        method: 'PUT',
        headers: { authorization: 'Bearer ' },
        body: '{"epoch":1,"mode":"proxy"}',
      });
      assert.equal(res.statusCode, 401);
      await res.body.dump();
      assert.equal(gw.getState().shop!.mode, 'serve');
    } finally {
      await gw.close();
    }
  });
});
