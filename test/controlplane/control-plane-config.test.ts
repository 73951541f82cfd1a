import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadControlPlaneConfig, parseControlPlaneConfig } from '../../controlplane/config.js';
import { isControlError } from '../../controlplane/errors.js';

function rejects(fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isControlError(err, 'NW_CP_CONFIG_INVALID'), String(err));
    for (const m of mentions) assert.ok(err.message.includes(m), `"${m}" not in:\n${err.message}`);
    return true;
  });
}

describe('control-plane config', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nw-cp-cfg-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the example configs', () => {
    const embedded = loadControlPlaneConfig('configs/controlplane.embedded.yaml');
    assert.equal(embedded.coordinator.kind, 'embedded');
    assert.deepEqual(embedded.admin, {
      host: '127.0.0.1',
      port: 9911,
      tokenEnv: 'NORTHWEST_ADMIN_TOKEN',
      dashboardSessionTtlMs: 43_200_000,
    });
    const zk = loadControlPlaneConfig('configs/controlplane.zookeeper.yaml');
    assert.equal(zk.coordinator.kind, 'zookeeper');
    assert.equal(zk.coordinator.kind === 'zookeeper' && zk.coordinator.connectString, '127.0.0.1:21811,127.0.0.1:21812,127.0.0.1:21813');
    assert.equal(zk.coordinator.kind === 'zookeeper' && zk.coordinator.chroot, '/northwest');
    assert.equal(zk.dns?.provider, 'route53');
    assert.deepEqual(zk.sync?.datastore?.tables, ['shop.orders', 'shop.customers']);
    assert.equal(zk.sync?.cache?.n2.port, 16380);
    assert.equal(zk.sync?.metadata?.target.chroot, '/shop-n2');
  });

  it('a bad sync section names the file and the field', () => {
    const bad = (sync: unknown, field: RegExp): void =>
      assert.throws(
        () => parseControlPlaneConfig({ coordinator: { kind: 'embedded' }, sync }, 'cp.yaml'),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'NW_CP_CONFIG_INVALID');
          assert.match(err.message, /cp\.yaml/);
          assert.match(err.message, field);
          return true;
        },
      );
    const cluster = { contactPoints: ['127.0.0.2'], localDataCenter: 'dc1' };
    bad({ datastore: { n1: cluster, n2: cluster, tables: ['no_dot'] } }, /sync\.datastore\.tables\.0/);
    bad({ datastore: { n1: cluster, tables: ['a.b'] } }, /sync\.datastore\.n2/);
    bad({ cache: { n1: { host: 'x', port: 70000 }, n2: { host: 'x', port: 1 } } }, /sync\.cache\.n1\.port/);
    bad({ caches: {} }, /sync/);
  });

  it('fills defaults and freezes the result', () => {
    const c = parseControlPlaneConfig({ coordinator: { kind: 'embedded' } });
    assert.match(c.id, new RegExp(`-${process.pid}$`));
    assert.deepEqual(c.admin, { host: '127.0.0.1', port: 9911, tokenEnv: 'NORTHWEST_ADMIN_TOKEN', dashboardSessionTtlMs: 43_200_000 });
    assert.equal(c.log.level, 'info');
    assert.equal(c.dns, undefined);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.admin));
    const mem = parseControlPlaneConfig({ coordinator: { kind: 'embedded' }, dns: { provider: 'memory', propagationMs: 50 } });
    assert.deepEqual(mem.dns, { provider: 'memory', propagationMs: 50 });
  });

  it('names the file and the field of every error', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'id: "has space"\ncoordinator:\n  kind: zookeeper\nadmin:\n  host: 0.0.0.0\n  port: 99999\n' +
        'dns:\n  provider: cloudflare\nlog:\n  level: loud\nextra: 1\n',
    );
    rejects(
      () => loadControlPlaneConfig(file),
      `${file}: id: `,
      `${file}: coordinator.connectString: `,
      `${file}: admin.host: admin must bind to a loopback address`,
      `${file}: admin.port: `,
      `${file}: dns.provider: `,
      `${file}: log.level: `,
      'extra',
    );
    rejects(
      () => parseControlPlaneConfig({ coordinator: { kind: 'embedded' }, dns: { provider: 'memory', region: 'x' } }, 'inline'),
      'inline: dns: ',
      'region',
    );
    rejects(() => parseControlPlaneConfig({}, 'inline'), 'inline: coordinator: ');
    for (const ttl of [1000, 8 * 24 * 3600_000, 1.5])
      rejects(
        () => parseControlPlaneConfig({ coordinator: { kind: 'embedded' }, admin: { dashboardSessionTtlMs: ttl } }, 'inline'),
        'inline: admin.dashboardSessionTtlMs: ',
      );
  });

  it('reads JSON by extension and reports unreadable or unparsable files', () => {
    const json = join(dir, 'cp.json');
    writeFileSync(json, JSON.stringify({ id: 'cp-json', coordinator: { kind: 'embedded' }, admin: { port: 0 } }));
    assert.equal(loadControlPlaneConfig(json).id, 'cp-json');
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"id": ');
    rejects(() => loadControlPlaneConfig(broken), `${broken}: not valid JSON`);
    rejects(() => loadControlPlaneConfig(join(dir, 'missing.yaml')), 'missing.yaml: cannot read');
  });
});

describe('example plan', () => {
  it('configs/plan.example.yaml is a valid plan', async () => {
    const { loadPlan } = await import('../../controlplane/migration/plan.js');
    const plan = loadPlan('configs/plan.example.yaml');
    assert.deepEqual(plan.apps, ['shop']);
    assert.equal(plan.redirect.methods, 'safe');
  });
});
