import assert from 'node:assert/strict';
import { createLogger } from '../../platform/logger.js';
import { joinPath } from '../../platform/coordinator/coordinator.js';
import { EmbeddedCoordinator } from '../../platform/coordinator/embedded-coordinator.js';
import type { MigrationLog } from '../../controlplane/migration/migration-log.js';
import { parsePlan } from '../../controlplane/migration/plan.js';
import { parseMetadataSyncConfig } from '../../datasync/metadata/metadata-config.js';
import { createSyncHooks, type SyncHooks } from '../../controlplane/sync/sync-hooks.js';
import { gate, startControlHarness, type ControlHarness } from '../support/control-plane-harness.js';
import { metadataHarness, readTree, treeDiff, type MetadataHarness } from '../datasync/metadata-support.js';

const finished = (l: MigrationLog): boolean => l.status === 'done' || l.status === 'rolled-back' || l.status === 'failed';

/**
 * The `metadata` sync hook built from config, driven by a real migration:
 * it copies the subtree in sync, follows changes made at N1 while the sync
 * phase is open, and brings N2 up to date at the fence (flushing the
 * follower), before N2 takes any traffic.
 */
describe('sync hooks from config: metadata copied, followed until the fence (real ZooKeeper)', function () {
  this.timeout(60_000);
  let meta: MetadataHarness;
  let harness: ControlHarness;
  let sync: SyncHooks;

  beforeEach(async () => {
    meta = metadataHarness();
    harness = await startControlHarness({ apps: ['shop'] });
  });
  afterEach(async () => {
    await sync?.close();
    await harness.close();
    await meta.cleanup();
  });

  it('N2 has every change made at N1 during the sync phase by the time the fence completes', async () => {
    const n1 = await meta.open('/n1');
    for (let i = 0; i < 40; i++) await n1.mkdirp(`/config/svc-${i % 8}/node-${i}`);
    await n1.set('/config/svc-0', Buffer.from('v1'));
    const endpoint = (chroot: string) => ({ connectString: meta.server, chroot: joinPath(meta.base, chroot), path: '/config' });
    const config = parseMetadataSyncConfig({ source: endpoint('/n1'), target: endpoint('/n2') }, 'test');
    sync = createSyncHooks({ metadata: config }, { coordinator: new EmbeddedCoordinator(harness.store), logger: createLogger('silent') });
    const hold = gate();
    harness.hooks.set('metadata', sync.hooks.get('metadata')!);
    harness.hooks.set('hold', hold.hook);
    const cp = harness.proc.controlPlane;
    const created = await cp.migrate(parsePlan({ apps: ['shop'], sync: { mode: 'none', hooks: ['metadata', 'hold'] } }));
    await hold.entered;
    // Changes while the sync phase is open: only the follower can carry them.
    await n1.mkdirp('/config/added/deep');
    await n1.set('/config/svc-0', Buffer.from('v2'));
    await n1.remove('/config/svc-1/node-1');
    hold.release();
    const log = await cp.waitForMigration(created.id, finished, 30_000);
    assert.equal(log.status, 'done', JSON.stringify(log.error));
    const n2 = await meta.open('/n2');
    assert.equal(treeDiff(await readTree(n1, '/config'), await readTree(n2, '/config')), '');
    const syncData = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'sync')?.data?.hooks as {
      metadata: { nodes: number; following: boolean };
    };
    assert.ok(syncData.metadata.nodes >= 49, `copied ${syncData.metadata.nodes} nodes`);
    assert.equal(syncData.metadata.following, true);
    const fenceData = log.history.find((e) => e.event === 'phase-completed' && e.phase === 'fence')?.data?.hooks as {
      metadata: { followedChanges: number };
    };
    assert.ok(fenceData.metadata.followedChanges >= 3, `followed ${fenceData.metadata.followedChanges} changes`);
    // The follower was stopped at the fence: a change now stays at N1.
    await n1.mkdirp('/config/after-done');
    // Kept as a sleep: nothing is to arrive, so there is nothing to wait for; give a follower that kept going 300 ms.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await n2.get('/config/after-done'), undefined);
  });

  it('at the fence, a control plane without the follower (a new leader) copies the subtree again', async () => {
    const n1 = await meta.open('/n1');
    await n1.mkdirp('/config/a/b');
    const endpoint = (chroot: string) => ({ connectString: meta.server, chroot: joinPath(meta.base, chroot), path: '/config' });
    const config = parseMetadataSyncConfig({ source: endpoint('/n1'), target: endpoint('/n2') }, 'test');
    sync = createSyncHooks({ metadata: config }, { coordinator: new EmbeddedCoordinator(harness.store), logger: createLogger('silent') });
    const hook = sync.hooks.get('metadata')!;
    await n1.mkdirp('/config/c');
    const ctx = { migrationId: 'm-new-leader' } as Parameters<NonNullable<typeof hook.atFence>>[0];
    const figures = (await hook.atFence!(ctx)) as { recopied?: { nodes: number } };
    assert.ok(figures.recopied && figures.recopied.nodes >= 4);
    const n2 = await meta.open('/n2');
    assert.equal(treeDiff(await readTree(n1, '/config'), await readTree(n2, '/config')), '');
  });
});
