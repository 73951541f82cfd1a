import assert from 'node:assert/strict';
import { metadataCoordinator, parseMetadataSyncConfig } from '../../datasync/metadata/metadata-config.js';

const side = (path: string) => ({ connectString: '127.0.0.1:21811', chroot: '/n1', path });

describe('metadata sync config', () => {
  it('fills defaults and freezes', () => {
    const cfg = parseMetadataSyncConfig({ source: side('/apps/shop'), target: { ...side('/apps/shop'), chroot: '/n2' } });
    assert.equal(cfg.batchOps, 500);
    assert.equal(cfg.concurrency, 64);
    assert.equal(cfg.deleteExtra, false);
    assert.equal(cfg.target.sessionTimeoutMs, 15_000);
    assert.ok(Object.isFrozen(cfg));
  });

  it('rejects bad fields with NW_SYNC_CONFIG_INVALID naming them', () => {
    const bad = (raw: unknown, field: RegExp): void =>
      assert.throws(() => parseMetadataSyncConfig(raw, 'configs/x.yaml'), { code: 'NW_SYNC_CONFIG_INVALID', message: field });
    const target = { ...side('/b'), chroot: '/n2' };
    bad({ source: side('relative'), target }, /configs\/x\.yaml: source\.path/);
    bad({ source: { ...side('/a'), connectString: 'h:1/chroot' }, target }, /source\.connectString/);
    bad({ source: side('/a'), target, batchOps: 0 }, /batchOps/);
    bad({ source: side('/a'), target, concurrency: 1.5 }, /concurrency/);
    bad({ source: side('/a'), target: { ...target, extra: 1 } }, /target/);
    bad({ source: side('/a'), target, batchSize: 5 }, /batchSize|\(section\)/);
    bad({ source: side('/a'), target: side('/a/inside') }, /target\.path.*overlaps/);
  });

  it('reads the password from the environment, naming the variable if it is missing', () => {
    const cfg = parseMetadataSyncConfig({
      source: side('/a'),
      target: { ...side('/a'), chroot: '/n2', auth: { user: 'alice', passwordEnv: 'NW_TEST_META_PW' } },
    });
    assert.throws(() => metadataCoordinator('target', cfg.target, {}), {
      code: 'NW_SYNC_CONFIG_INVALID',
      message: /target\.auth\.passwordEnv.*NW_TEST_META_PW/,
    });
    assert.equal(metadataCoordinator('target', cfg.target, { NW_TEST_META_PW: 'pw' }).kind, 'zookeeper');
  });
});
