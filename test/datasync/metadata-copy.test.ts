// copySubtree against the real ensemble: N1 and N2 are two chroots (/nw_meta_<random>/n1, /n2).
import assert from 'node:assert/strict';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { copySubtree } from '../../datasync/metadata/subtree-copy.js';
import { syntheticTree, treeDepth, writeTree } from '../../loadgen/bench/sync/synthetic-tree.js';
import { metadataHarness, readTree, treeDiff, type MetadataHarness } from './metadata-support.js';

const b = (s: string): Buffer => Buffer.from(s);

describe('metadata subtree copy', function () {
  this.timeout(120_000);
  let h: MetadataHarness;
  let cleanupAuth: { user: string; password: string } | undefined;
  beforeEach(() => {
    h = metadataHarness();
    cleanupAuth = undefined;
  });
  afterEach(async () => {
    await h.cleanup(cleanupAuth);
  });

  it('copies a tree of a few thousand nodes exactly, big and binary nodes included, in bounded batches', async () => {
    const n1 = await h.open('/n1');
    const n2 = await h.open('/n2');
    const nodes = syntheticTree(3000, { dataBytes: 200, seed: 7 });
    assert.ok(treeDepth(nodes) >= 8, 'the tree has depth');
    await writeTree(n1, '/app', nodes);
    const big = Buffer.alloc(500 * 1024, 0);
    for (let i = 0; i < big.length; i += 1) big[i] = (i * 131 + 7) % 256;
    await n1.create('/app/blob', big);
    await n1.set('/app', b('root-data'));

    const figures = await copySubtree({ source: n1, sourcePath: '/app', target: n2, targetPath: '/copies/app', batchOps: 200 });
    assert.equal(figures.nodes, 3002, '3000 nodes, the blob and the root');
    assert.equal(figures.created, 3002);
    assert.equal(figures.bytes, nodes.reduce((sum, n) => sum + n.data.length, 0) + big.length + 'root-data'.length);
    assert.ok(figures.batches >= Math.ceil(3002 / 200), `batches: ${figures.batches}`);
    assert.ok(figures.durationMs > 0);

    const expected = await readTree(n1, '/app');
    const copied = await readTree(n2, '/copies/app');
    assert.equal(copied.size, 3002);
    assert.equal(treeDiff(expected, copied), '');
    assert.ok((await n2.get('/copies/app/blob'))?.data.equals(big), 'the 500 KB node is exact');
  });

  it('keeps each batch under the byte bound (several big nodes go in separate transactions)', async () => {
    const n1 = await h.open('/n1');
    const n2 = await h.open('/n2');
    await n1.mkdirp('/big');
    for (let i = 0; i < 4; i += 1) await n1.create(`/big/b${i}`, Buffer.alloc(300 * 1024, i));
    // 4 × 300 KB in one transaction would pass jute.maxbuffer (1 MB): the bound must split them.
    const figures = await copySubtree({ source: n1, sourcePath: '/big', target: n2, targetPath: '/big' });
    assert.ok(figures.batches >= 2, `batches: ${figures.batches}`);
    assert.equal(treeDiff(await readTree(n1, '/big'), await readTree(n2, '/big')), '');
  });

  it('skips ephemeral nodes, which belong to sessions at N1', async () => {
    const n1 = await h.open('/n1');
    const member = await h.open('/n1');
    const n2 = await h.open('/n2');
    await n1.mkdirp('/svc/members');
    await n1.create('/svc/config', b('{"port":80}'));
    await member.create('/svc/members/host-a', b('10.0.0.1'), 'ephemeral');
    await member.create('/svc/members/host-', b('10.0.0.2'), 'ephemeral-sequential');

    const figures = await copySubtree({ source: n1, sourcePath: '/svc', target: n2, targetPath: '/svc' });
    assert.equal(figures.skippedEphemeral, 2);
    assert.equal(figures.nodes, 3);
    assert.deepEqual(await n2.children('/svc/members'), []);
    assert.equal((await n2.get('/svc/config'))?.data.toString(), '{"port":80}');
    assert.equal((await n2.get('/svc/config'))?.ephemeralOwner, '');
  });

  it('is idempotent: a re-run changes nothing, then sets only what differs and keeps or deletes extras as asked', async () => {
    const n1 = await h.open('/n1');
    const n2 = await h.open('/n2');
    await writeTree(n1, '/app', syntheticTree(500, { seed: 3 }));
    const first = await copySubtree({ source: n1, sourcePath: '/app', target: n2, targetPath: '/app' });
    const again = await copySubtree({ source: n1, sourcePath: '/app', target: n2, targetPath: '/app' });
    assert.equal(again.nodes, first.nodes);
    assert.equal(again.created, 0);
    assert.equal(again.updated, 0);
    assert.equal(again.unchanged, first.nodes);
    assert.equal(again.batches, 0, 'nothing to write');

    const [some, other] = (await n1.children('/app')) ?? [];
    assert.ok(some && other);
    await n1.set(`/app/${some}`, b('changed at N1'));
    await n2.set(`/app/${other}`, b('drifted at N2'));
    await n1.create('/app/new-at-n1', b('new'));
    await n2.mkdirp('/app/only-at-n2/deeper');
    const third = await copySubtree({ source: n1, sourcePath: '/app', target: n2, targetPath: '/app' });
    assert.equal(third.created, 1);
    assert.equal(third.updated, 2);
    assert.equal(third.removed, 0);
    assert.ok(await n2.get('/app/only-at-n2/deeper'), 'extras stay without deleteExtra');
    assert.equal((await n2.get(`/app/${some}`))?.data.toString(), 'changed at N1');

    const fourth = await copySubtree({ source: n1, sourcePath: '/app', target: n2, targetPath: '/app', deleteExtra: true });
    assert.equal(fourth.removed, 2);
    assert.equal(fourth.created + fourth.updated, 0);
    assert.equal(treeDiff(await readTree(n1, '/app'), await readTree(n2, '/app')), '');
  });

  it('fails with NW_SYNC_METADATA_SOURCE_MISSING when the subtree is not at N1, writing nothing', async () => {
    const n1 = await h.open('/n1');
    const n2 = await h.open('/n2');
    await assert.rejects(copySubtree({ source: n1, sourcePath: '/nope', target: n2, targetPath: '/nope' }), {
      code: 'NW_SYNC_METADATA_SOURCE_MISSING',
      message: /\/nope/,
    });
    assert.equal(await n2.get('/nope'), undefined);
  });

  it('creates creator-only nodes at N2 when N2 has credentials, and names the path when N2 refuses a write', async () => {
    const alice = { user: 'alice', password: 'wonderland' };
    cleanupAuth = alice;
    const n1 = await h.open('/n1');
    await writeTree(n1, '/app', syntheticTree(50, { seed: 5 }));
    const n2 = await h.open('/n2', { auth: alice });
    await n2.mkdirp('/locked'); // creator-only, like everything alice makes
    const figures = await copySubtree({ source: n1, sourcePath: '/app', target: n2, targetPath: '/app' });
    assert.equal(figures.nodes, 51);

    const anon = await h.open('/n2');
    await assert.rejects(anon.get('/app'), { code: 'NW_CP_NO_AUTH' });
    const [child] = (await n2.children('/app')) ?? [];
    await assert.rejects(anon.get(`/app/${child}`), { code: 'NW_CP_NO_AUTH' });
    const aliceAgain = await h.open('/n2', { auth: alice });
    assert.equal(treeDiff(await readTree(n1, '/app'), await readTree(aliceAgain, '/app')), '');

    const mallory = await h.open('/n2', { auth: { user: 'mallory', password: 'x' } });
    await assert.rejects(copySubtree({ source: n1, sourcePath: '/app', target: mallory, targetPath: '/locked/app' }), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'NW_SYNC_METADATA_COPY_FAILED');
      assert.match((err as Error).message, /\/locked/);
      return true;
    });
  });

  it('copies between embedded coordinators too (same interface, one in-process tree each)', async () => {
    const n1 = new EmbeddedCoordinator(new EmbeddedStore());
    const n2 = new EmbeddedCoordinator(new EmbeddedStore());
    await n1.connect();
    await n2.connect();
    await writeTree(n1, '/app', syntheticTree(200, { seed: 9 }), { maxOps: 50, maxBytes: 100_000, maxInFlight: 2 });
    await n1.create('/app/eph', b(''), 'ephemeral');
    const figures = await copySubtree({ source: n1, sourcePath: '/app', target: n2, targetPath: '/app', batchOps: 30 });
    assert.equal(figures.nodes, 201);
    assert.equal(figures.skippedEphemeral, 1);
    const expected = await readTree(n1, '/app');
    expected.delete('/eph');
    assert.equal(treeDiff(expected, await readTree(n2, '/app')), '');
  });
});
