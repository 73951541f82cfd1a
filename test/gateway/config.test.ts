import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfig, parseGatewayConfig } from '../../gateway/index.js';

const valid = {
  listeners: [{ host: '127.0.0.1', port: 8080 }],
  apps: {
    shop: {
      hosts: ['Shop.Example'],
      n1: { servers: [{ url: 'http://127.0.0.1:9001' }] },
      n2: { servers: [{ url: 'http://127.0.0.1:9002' }], publicOrigin: 'https://n2.example' },
    },
  },
};

function expectInvalid(raw: unknown, field: RegExp): void {
  assert.throws(
    () => parseGatewayConfig(raw, 'my.yaml'),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NW_GW_CONFIG_INVALID');
      assert.match(err.message, /my\.yaml: /);
      assert.match(err.message, field);
      return true;
    },
  );
}

describe('gateway config', () => {
  it('fills defaults, lowercases hosts and freezes the result', () => {
    const cfg = parseGatewayConfig(valid);
    assert.equal(cfg.engine, 'raw');
    assert.equal(cfg.apps.shop!.n1.policy, 'round-robin');
    assert.equal(cfg.apps.shop!.fence.maxHoldMs, 5000);
    assert.deepEqual(cfg.apps.shop!.hosts, ['shop.example']);
    assert.ok(Object.isFrozen(cfg.apps.shop!.n1.servers[0]));
  });

  it('names the file and field of each problem', () => {
    expectInvalid({ ...valid, listners: [] }, /\(root\): Unrecognized key.*listners/);
    expectInvalid({ ...valid, apps: { shop: { ...valid.apps.shop, n1: { servers: [] } } } }, /apps\.shop\.n1\.servers/);
    expectInvalid(
      { ...valid, apps: { shop: { ...valid.apps.shop, n1: { servers: [{ url: 'ftp://x' }] } } } },
      /apps\.shop\.n1\.servers\.0\.url/,
    );
    expectInvalid(
      { ...valid, apps: { shop: { ...valid.apps.shop, n2: { servers: [{ url: 'http://a' }], publicOrigin: 'https://x/path' } } } },
      /apps\.shop\.n2\.publicOrigin/,
    );
    expectInvalid({ ...valid, admin: { host: '0.0.0.0', port: 1 } }, /admin\.host: admin must bind to a loopback/);
    expectInvalid({ ...valid, listeners: [{ port: 70000 }] }, /listeners\.0\.port/);
    expectInvalid({ ...valid, apps: { Shop_1: valid.apps.shop } }, /apps\.Shop_1/);
    expectInvalid({ ...valid, trustedProxies: ['not-an-ip'] }, /trustedProxies\.0/);
  });

  it('refuses a host claimed by two apps', () => {
    expectInvalid(
      { ...valid, apps: { a: valid.apps.shop, b: valid.apps.shop } },
      /apps\.b\.hosts\.0: host "shop.example" is already used by app "a"/,
    );
  });

  it('refuses a headers timeout longer than the request timeout (node would refuse to start the listener)', () => {
    expectInvalid(
      { ...valid, timeouts: { clientRequestMs: 4_000 } },
      /timeouts\.clientHeadersMs: must not be longer than timeouts\.clientRequestMs/,
    );
    assert.equal(
      parseGatewayConfig({ ...valid, timeouts: { clientRequestMs: 4_000, clientHeadersMs: 4_000 } }).timeouts.clientHeadersMs,
      4_000,
    );
  });

  it('takes TLS on listeners (SNI names lowercased, h2 on by default) and https:// servers with a pool CA', () => {
    const cfg = parseGatewayConfig({
      ...valid,
      listeners: [
        { port: 8443, tls: { certFile: 'a.crt', keyFile: 'a.key', sni: { 'Shop.Example': { certFile: 's.crt', keyFile: 's.key' } } } },
      ],
      apps: { shop: { ...valid.apps.shop, n1: { servers: [{ url: 'https://app.internal:8443' }], tls: { caFile: 'ca.pem' } } } },
    });
    assert.equal(cfg.listeners[0]!.tls!.http2, true);
    assert.deepEqual(Object.keys(cfg.listeners[0]!.tls!.sni), ['shop.example']);
    assert.equal(cfg.limits.maxConcurrentStreams, 128);
    assert.equal(cfg.apps.shop!.n1.tls!.caFile, 'ca.pem');
    const tls = { certFile: 'a.crt', keyFile: 'a.key' };
    expectInvalid({ ...valid, listeners: [{ port: 1, tls: { ...tls, ciphers: 'x' } }] }, /listeners\.0\.tls: Unrecognized key.*ciphers/);
    expectInvalid({ ...valid, listeners: [{ port: 1, tls: { certFile: 'a.crt' } }] }, /listeners\.0\.tls\.keyFile/);
    expectInvalid({ ...valid, listeners: [{ port: 1, tls: { ...tls, sni: { 'bad name!': tls } } }] }, /listeners\.0\.tls\.sni/);
    expectInvalid(
      { ...valid, apps: { shop: { ...valid.apps.shop, n1: { servers: [{ url: 'http://127.0.0.1:1' }], tls: { caFile: 'ca.pem' } } } } },
      /apps\.shop\.n1\.tls: is set, but no server of the pool is https:\/\//,
    );
  });

  it('loads YAML and JSON files and reports unreadable or unparsable ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-cfg-'));
    const json = join(dir, 'gw.json');
    writeFileSync(json, JSON.stringify(valid));
    assert.equal(loadGatewayConfig(json).listeners[0]!.port, 8080);
    const yaml = join(dir, 'gw.yaml');
    writeFileSync(yaml, 'listeners:\n  - port: 1\napps: {}\n');
    assert.equal(loadGatewayConfig(yaml).listeners[0]!.host, '127.0.0.1');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'listeners: [\n');
    assert.throws(() => loadGatewayConfig(broken), /broken\.yaml: not valid YAML/);
    assert.throws(() => loadGatewayConfig(join(dir, 'missing.yaml')), /missing\.yaml: cannot read/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'listeners:\n  - port: one\napps: {}\n');
    assert.throws(() => loadGatewayConfig(bad), /bad\.yaml: listeners\.0\.port/);
  });

  it('workers: 1 by default, a number from 1 to 256 or auto; anything else names the field; a reload cannot change it', async () => {
    const { reloadRefusals } = await import('../../gateway/config/reload-check.js');
    const { workerCount } = await import('../../gateway/workers/start-workers.js');
    const { availableParallelism } = await import('node:os');
    assert.equal(parseGatewayConfig(valid).workers, 1);
    assert.equal(parseGatewayConfig({ ...valid, workers: 4 }).workers, 4);
    assert.equal(workerCount(parseGatewayConfig({ ...valid, workers: 'auto' }).workers), availableParallelism());
    for (const workers of [0, 257, 1.5, 'all']) expectInvalid({ ...valid, workers }, /my\.yaml: workers/);
    assert.deepEqual(reloadRefusals(parseGatewayConfig(valid), parseGatewayConfig({ ...valid, workers: 2 }), 'f.yaml'), [
      'f.yaml: workers: cannot change on reload; restart the gateway to apply it',
    ]);
  });

  it('every example config in configs/ is valid', async () => {
    const { readdirSync } = await import('node:fs');
    const files = readdirSync('configs').filter((f) => /^(single-node|gateway).*\.ya?ml$/.test(f));
    assert.ok(files.length >= 1);
    for (const f of files) loadGatewayConfig(join('configs', f));
  });
});
