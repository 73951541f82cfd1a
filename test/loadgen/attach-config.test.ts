// Attach mode's pieces without a fleet: the config schema (every error names the file and the
// field), the request templates and read-back, and how the gateways are found in member documents.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { appRequests, atJsonPointer, fillTemplate, readBackFrom } from '../../loadgen/attach/app-api.js';
import { loadAttachSetup, parseAttachConfig, type AttachConfigInput } from '../../loadgen/attach/attach-config.js';
import { fleetGatewayUrls, reachableUrl } from '../../loadgen/attach/attach-targets.js';
import { fenceWindow, longestFencedWriteMs } from '../../loadgen/analysis/fence-writes.js';
import type { LogEvent } from '../../controlplane/migration/migration-log.js';
import type { Sample } from '../../loadgen/load-model.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { layout, memberInfoSchema } from '../../protocol/coordinator-paths.js';

const ENV = { NORTHWEST_ADMIN_TOKEN: 'token', NW_ZK_MEMBER_PASSWORD: 'pw' };

/** A valid attach config; tests change one field each. */
const base = (): AttachConfigInput => ({
  app: 'shop',
  target: { host: 'shop.test', gateways: ['http://127.0.0.1:8081', 'http://127.0.0.1:8082/'] },
  api: {
    read: { method: 'GET', path: '/kv/{key}' },
    write: { method: 'PUT', path: '/kv/{key}', body: '{value}' },
    readBack: { path: '/kv/{key}', value: { json: '/value' } },
  },
  controlPlane: { url: 'http://127.0.0.1:9911' },
  migration: { plan: { apps: ['shop'] } },
});

/** Writes `cfg` to a fresh directory (with `files` beside it) and loads it; returns the error message, or '' if it loaded. */
function problem(cfg: unknown, env: NodeJS.ProcessEnv = ENV, files: Record<string, unknown> = {}): { file: string; message: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nw-attach-config-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), stringify(content));
  const file = join(dir, 'attach.yaml');
  writeFileSync(file, stringify(cfg));
  try {
    loadAttachSetup(file, env);
    return { file, message: '' };
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'NW_EXP_CONFIG_INVALID', String(err));
    return { file, message: (err as Error).message };
  }
}

describe('attach config', () => {
  it('loads the example in configs/ with its plan file, filling the defaults', () => {
    const setup = loadAttachSetup('configs/loadtest.attach.yaml', ENV);
    assert.equal(setup.config.app, 'shop');
    assert.equal(setup.config.target.fleet?.coordinator.kind, 'zookeeper');
    assert.deepEqual(setup.plan?.apps, ['shop'], 'plan.example.yaml, relative to the config');
    assert.equal(setup.token, 'token');
    assert.equal(setup.config.api.readBack.method, 'GET');
    assert.deepEqual(setup.config.api.readBack.absentStatus, [404]);
    const minimal = parseAttachConfig(base(), 'x.yaml');
    assert.equal(minimal.load.connectionsPerGateway, 4);
    assert.equal(minimal.load.preload, true);
    assert.equal(minimal.migration.startAfterS, 1.5);
    assert.equal(minimal.controlPlane.tokenEnv, 'NORTHWEST_ADMIN_TOKEN');
  });

  const cases: Array<[string, (c: AttachConfigInput) => unknown, string]> = [
    ['no target', (c) => ({ ...c, target: { host: 'shop.test' } }), 'target.gateways: give either gateways'],
    [
      'both gateways and fleet',
      (c) => ({ ...c, target: { ...c.target, fleet: { coordinator: { kind: 'zookeeper', connectString: 'h:1', insecure: true } } } }),
      'target.gateways: give either gateways',
    ],
    [
      'an embedded fleet',
      (c) => ({ ...c, target: { host: 'shop.test', fleet: { coordinator: { kind: 'embedded' } } } }),
      'target.fleet.coordinator.kind: must be zookeeper',
    ],
    [
      'a fleet without credentials',
      (c) => ({ ...c, target: { host: 'shop.test', fleet: { coordinator: { kind: 'zookeeper', connectString: 'h:1' } } } }),
      'target.fleet.coordinator.auth: required',
    ],
    ['a gateway that is not a URL', (c) => ({ ...c, target: { host: 'a', gateways: ['gw-1:8080'] } }), 'target.gateways.0:'],
    [
      'a read path without {key}',
      (c) => ({ ...c, api: { ...c.api, read: { method: 'GET', path: '/kv' } } }),
      'api.read.path: must contain',
    ],
    ['a write without {value}', (c) => ({ ...c, api: { ...c.api, write: { method: 'PUT', path: '/kv/{key}' } } }), 'api.write.body: needs'],
    ['an unknown method', (c) => ({ ...c, api: { ...c.api, read: { method: 'FETCH', path: '/kv/{key}' } } }), 'api.read.method:'],
    [
      'a read-back value that is no JSON pointer',
      (c) => ({ ...c, api: { ...c.api, readBack: { path: '/kv/{key}', value: { json: 'value' } } } }),
      'api.readBack.value',
    ],
    ['deletes without a delete template', (c) => ({ ...c, load: { deleteRatio: 0.1 } }), 'api.delete: required when load.deleteRatio > 0'],
    ['a read ratio over 1', (c) => ({ ...c, load: { readRatio: 1.5 } }), 'load.readRatio:'],
    ['an unknown field', (c) => ({ ...c, load: { rate: 5 } }), 'load: Unrecognized key: "rate"'],
    ['neither plan nor wait', (c) => ({ ...c, migration: {} }), 'migration.plan: required: a plan to run, or wait: true'],
    [
      'plan and wait',
      (c) => ({ ...c, migration: { plan: { apps: ['shop'] }, wait: true } }),
      'migration.wait: cannot be combined with plan',
    ],
    [
      'an invalid inline plan',
      (c) => ({ ...c, migration: { plan: { apps: ['shop'], barrierTimeoutMs: -1 } } }),
      'migration.plan: barrierTimeoutMs:',
    ],
    [
      'a plan of other apps',
      (c) => ({ ...c, migration: { plan: { apps: ['cart'] } } }),
      'migration.plan: apps: ["cart"] does not include app "shop"',
    ],
    ['no control plane', (c) => ({ ...c, controlPlane: undefined }), 'controlPlane:'],
  ];
  for (const [what, change, expected] of cases) {
    it(`refuses ${what}, naming the file and the field`, () => {
      const { file, message } = problem(change(base()));
      assert.ok(message.includes(`${file}: ${expected}`), message || 'it loaded');
    });
  }

  it('names a plan file and its field, and the environment variables it needs', () => {
    const planFile = problem({ ...base(), migration: { plan: 'plan.yaml' } }, ENV, {
      'plan.yaml': { apps: ['shop'], onBarrierTimeout: 'wait' },
    });
    assert.match(planFile.message, /plan\.yaml: onBarrierTimeout:/);
    assert.equal(problem({ ...base(), migration: { plan: 'plan.yaml' } }, ENV, { 'plan.yaml': { apps: ['shop'] } }).message, '');
    const noToken = problem(base(), {});
    assert.ok(noToken.message.includes(`${noToken.file}: controlPlane.tokenEnv: environment variable NORTHWEST_ADMIN_TOKEN is not set`));
    const fleet = {
      ...base(),
      target: {
        host: 'a',
        fleet: { coordinator: { kind: 'zookeeper', connectString: 'h:1', auth: { user: 'm', passwordEnv: 'NO_SUCH_PW' } } },
      },
    };
    const noPassword = problem(fleet);
    assert.ok(
      noPassword.message.includes(`${noPassword.file}: target.fleet.coordinator.auth.passwordEnv: environment variable NO_SUCH_PW`),
    );
  });
});

describe('attach mode: the app API templates and the read-back', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((req, res) => {
      const key = decodeURIComponent((req.url ?? '').slice('/items/'.length));
      if (key === 'gone') return void res.writeHead(404).end();
      if (key === 'broken') return void res.writeHead(503).end('down');
      if (key === 'nested') return void res.writeHead(200).end(JSON.stringify({ data: { 'a/b': 7 } }));
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ item: { value: `v-${key}` }, host: req.headers.host }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('puts the key (URL-encoded in the path) and the value into the templates', () => {
    const cfg = parseAttachConfig(
      {
        ...base(),
        api: {
          read: { method: 'GET', path: '/items/{key}?v=1' },
          write: {
            method: 'POST',
            path: '/items',
            body: '{"id":"{key}","value":"{value}"}',
            headers: { 'content-type': 'application/json' },
          },
          delete: { method: 'DELETE', path: '/items/{key}' },
          readBack: { path: '/items/{key}' },
        },
      },
      'x',
    );
    const req = appRequests(cfg.api);
    assert.deepEqual(req({ op: 'read', key: 'a b' }), { method: 'GET', path: '/items/a%20b?v=1' });
    assert.deepEqual(req({ op: 'write', key: 'k1', value: 'v.1' }), {
      method: 'POST',
      path: '/items',
      body: '{"id":"k1","value":"v.1"}',
      headers: { 'content-type': 'application/json' },
    });
    assert.deepEqual(req({ op: 'delete', key: 'k1' }), { method: 'DELETE', path: '/items/k1' });
    assert.equal(fillTemplate({ method: 'PUT', path: '/{key}/{key}', headers: {} }, 'x').path, '/x/x');
  });

  it('reads the value at a JSON pointer; an absent status is absent, any other failure is never a kept value', async () => {
    const cfg = parseAttachConfig(
      { ...base(), api: { ...base().api, readBack: { path: '/items/{key}', value: { json: '/item/value' } } } },
      'x',
    );
    const read = readBackFrom(cfg.api.readBack, { baseUrl: `${url}/`, host: 'shop.test' });
    assert.equal(await read('k1'), 'v-k1');
    assert.equal(await read('gone'), undefined);
    assert.equal(await read('broken'), '<HTTP 503>');
    const whole = readBackFrom({ ...cfg.api.readBack, value: 'body' }, { baseUrl: url, host: 'shop.test' });
    assert.equal(JSON.parse((await whole('k2'))!).host, 'shop.test', 'the Host header goes with it');
    assert.equal(atJsonPointer({ data: { 'a/b': 7 } }, '/data/a~1b'), 7);
    assert.equal(atJsonPointer({ data: {} }, '/data/missing'), undefined);
    assert.equal(await readBackFrom({ ...cfg.api.readBack, value: { json: '/data/a~1b' } }, { baseUrl: url })('nested'), '7');
  });
});

describe('attach mode: the fleet gateways in the coordinator', () => {
  it('takes each live gateway serving the app once, with a wildcard bind replaced by its host', async () => {
    const c = new EmbeddedCoordinator(new EmbeddedStore());
    await c.connect();
    await c.mkdirp(layout.members);
    const member = (kind: string, apps: string[], extra: Record<string, unknown> = {}): Buffer =>
      Buffer.from(JSON.stringify({ kind, host: 'edge-1', pid: 1, startedAt: '2026-01-01T00:00:00Z', apps, ...extra }));
    await c.create(
      layout.member('gw-a'),
      member('gateway', ['shop'], { trafficUrls: ['https://127.0.0.1:8443', 'http://127.0.0.1:8081'] }),
    );
    await c.create(layout.member('gw-b'), member('gateway', ['shop', 'cart'], { trafficUrls: ['http://0.0.0.0:8082'] }));
    await c.create(layout.member('gw-c'), member('gateway', ['cart'], { trafficUrls: ['http://127.0.0.1:8083'] }));
    await c.create(layout.member('gw-old'), member('gateway', ['shop']));
    await c.create(layout.member('dl-1'), member('datalayer', ['shop'], { trafficUrls: ['http://127.0.0.1:9000'] }));
    await c.create(layout.member('broken'), Buffer.from('{not json'));
    const found = await fleetGatewayUrls(c, 'shop');
    assert.deepEqual(found.urls, ['http://127.0.0.1:8081', 'http://edge-1:8082']);
    assert.deepEqual(found.skipped, ['gw-old publishes no trafficUrls (a gateway from before attach mode)']);
    await c.close();
  });

  it('reads a member whose trafficUrls are invalid, without them (a barrier still counts it)', () => {
    const info = memberInfoSchema.parse({ kind: 'gateway', host: 'h', pid: 1, startedAt: 's', apps: ['shop'], trafficUrls: ['ftp://x'] });
    assert.equal(info.trafficUrls, undefined);
    assert.equal(reachableUrl('http://[::]:8080', 'edge-2'), 'http://edge-2:8080');
    assert.equal(reachableUrl('http://10.0.0.1:8080/', 'edge-2'), 'http://10.0.0.1:8080');
  });
});

describe('attach mode: the write hold seen from the client', () => {
  const t0 = Date.parse('2026-01-01T00:00:00.000Z');
  const at = (ms: number): string => new Date(t0 + ms).toISOString();
  const history: LogEvent[] = [
    { at: at(0), event: 'phase-started', phase: 'sync' },
    { at: at(100), event: 'phase-completed', phase: 'sync' },
    { at: at(100), event: 'phase-started', phase: 'fence' },
    { at: at(300), event: 'phase-completed', phase: 'fence' },
    { at: at(300), event: 'phase-started', phase: 'proxy' },
    { at: at(350), event: 'phase-completed', phase: 'proxy' },
  ];
  const write = (start: number, latencyMs: number, op: Sample['op'] = 'write'): Sample => ({
    start,
    end: start + latencyMs,
    latencyMs,
    op,
    key: 'k',
    status: 200,
    servedBy: 'n2',
    epoch: 3,
  });

  it('is the longest write sent from the fence until the next state is in force everywhere', () => {
    assert.deepEqual(fenceWindow(history, t0), { from: 100, to: 350 });
    const samples = [write(50, 500), write(120, 230), write(340, 15), write(200, 900, 'read'), write(360, 700)];
    assert.equal(longestFencedWriteMs(samples, history, t0), 230);
    assert.equal(longestFencedWriteMs(samples, history.slice(0, 2), t0), 0, 'no fence, no hold');
    const rolledBack: LogEvent[] = [...history.slice(0, 3), { at: at(200), event: 'rollback-started' }];
    assert.deepEqual(fenceWindow(rolledBack, t0), { from: 100, to: 200 });
  });
});
