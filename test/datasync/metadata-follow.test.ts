// SubtreeFollower against the real ensemble: N1 and N2 are two chroots of one harness, every client
// on one server, so flush()'s read at N1 covers every change the test made before it.
import assert from 'node:assert/strict';
import zookeeper from 'node-zookeeper-client';
import type { ZooKeeperCoordinator } from '../../platform/coordinator/zookeeper-coordinator.js';
import type { SyncError } from '../../datasync/errors.js';
import { SubtreeFollower } from '../../datasync/metadata/subtree-follow.js';
import { syntheticTree, writeTree } from '../../loadgen/bench/sync/synthetic-tree.js';
import { eventually } from '../support/eventually.js';
import { metadataHarness, readTree, treeDiff, type MetadataHarness } from './metadata-support.js';

const b = (s: string): Buffer => Buffer.from(s);

/** Ends `c`'s session from another server (resume it there, then close it), as an expiry would. */
async function forceExpire(c: ZooKeeperCoordinator, via: string): Promise<void> {
  const session = c.sessionCredentials();
  assert.ok(session);
  const twin = zookeeper.createClient(via, {
    sessionTimeout: 4000,
    spinDelay: 100,
    sessionId: session.id,
    sessionPassword: session.password,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      twin.close();
      reject(new Error('twin did not connect'));
    }, 10_000);
    twin.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    twin.connect();
  });
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<void>((resolve) => {
    twin.once('disconnected', resolve);
    timer = setTimeout(resolve, 5000);
  });
  twin.close();
  await gone;
  clearTimeout(timer);
}

describe('metadata subtree follower', function () {
  this.timeout(120_000);
  let h: MetadataHarness;
  const followers: SubtreeFollower[] = [];
  beforeEach(() => {
    h = metadataHarness();
  });
  afterEach(async () => {
    for (const f of followers.splice(0)) await f.stop(5000).catch(() => undefined);
    await h.cleanup();
  });

  async function setup(size = 300): Promise<{
    n1: ZooKeeperCoordinator;
    writer: ZooKeeperCoordinator;
    n2: ZooKeeperCoordinator;
    follower: SubtreeFollower;
    errors: SyncError[];
  }> {
    const writer = await h.open('/n1');
    await writeTree(writer, '/app', syntheticTree(size, { seed: 11 }));
    const n1 = await h.open('/n1');
    const n2 = await h.open('/n2');
    const errors: SyncError[] = [];
    const { follower, copied } = await SubtreeFollower.start({
      source: n1,
      sourcePath: '/app',
      target: n2,
      targetPath: '/app',
      concurrency: 16,
      onError: (e) => errors.push(e),
    });
    followers.push(follower);
    assert.equal(copied.nodes, size + 1);
    assert.equal(copied.created, size + 1);
    return { n1, writer, n2, follower, errors };
  }

  const inSync = async (n1: ZooKeeperCoordinator, n2: ZooKeeperCoordinator): Promise<string> =>
    treeDiff(await readTree(n1, '/app'), await readTree(n2, '/app'));

  it('applies creates, sets and deletes made at N1 while following, and flush() waits for them', async () => {
    const { n1, writer, n2, follower } = await setup();
    const member = await h.open('/n1');
    const kids = (await writer.children('/app')) ?? [];
    assert.ok(kids.length >= 3);
    await writer.set(`/app/${kids[0]}`, b('set while following'));
    await writer.set('/app', b('root changed'));
    await writer.transaction([
      { op: 'create', path: '/app/fresh', data: b('f') },
      { op: 'create', path: '/app/fresh/deep', data: Buffer.from([0, 255, 1, 254]) },
      { op: 'create', path: '/app/fresh/deep/er', data: b('') },
    ]);
    const doomed = kids[1] as string;
    const doomedTree = await readTree(writer, `/app/${doomed}`);
    for (const p of [...doomedTree.keys()].sort().reverse()) await writer.remove(`/app/${doomed}${p}`);
    await member.create('/app/fresh/session-bound', b('x'), 'ephemeral');
    // Deleted and created again before the follower re-reads the parent: the data must still follow.
    await writer.remove(`/app/fresh/deep/er`);
    await writer.create(`/app/fresh/deep/er`, b('second life'));

    const mark = await follower.flush();
    assert.ok(mark.applied >= mark.seen, `applied ${mark.applied} of ${mark.seen}`);
    assert.equal(await n2.get('/app/fresh/session-bound'), undefined, 'ephemeral nodes are not followed');
    const expected = await readTree(n1, '/app');
    expected.delete('/fresh/session-bound');
    assert.equal(treeDiff(expected, await readTree(n2, '/app')), '');
    assert.equal((await n2.get('/app/fresh/deep/er'))?.data.toString(), 'second life');
    assert.equal(await n2.get(`/app/${doomed}`), undefined);
    assert.ok(follower.syncedUpTo().lastAppliedAt !== undefined);
  });

  it('stop() flushes what is pending, resolves with figures, and follows nothing after', async () => {
    const { n1, writer, n2, follower } = await setup(100);
    for (let i = 0; i < 50; i += 1) await writer.create(`/app/burst-${i}`, b(`v${i}`));
    for (let i = 0; i < 50; i += 5) await writer.set(`/app/burst-${i}`, b(`w${i}`));
    const figures = await follower.stop();
    assert.ok(figures.applied >= 50, `applied ${figures.applied}`);
    assert.ok(figures.lastAppliedAt !== undefined && figures.lastAppliedAt <= Date.now());
    assert.equal(await inSync(n1, n2), '');

    await writer.create('/app/after-stop', b(''));
    await writer.set('/app/burst-1', b('after stop'));
    // Kept as a sleep: this checks that nothing arrives, so there is no condition to wait for; give a
    // follower that wrongly kept going 500 ms to copy the two changes.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await n2.get('/app/after-stop'), undefined);
    assert.equal((await n2.get('/app/burst-1'))?.data.toString(), 'v1');
    await assert.rejects(follower.flush(), { code: 'NW_SYNC_METADATA_COPY_FAILED' });
  });

  it('catches changes made while its N1 session was closed, by re-scanning on reconnect', async () => {
    const { n1, writer, n2, follower } = await setup();
    await n1.close(); // its watches are gone with the session: nothing below is notified
    const kids = (await writer.children('/app')) ?? [];
    await writer.create('/app/while-away', b('missed event'));
    await writer.set(`/app/${kids[0]}`, b('missed set'));
    const gone = kids[2] as string;
    const goneTree = await readTree(writer, `/app/${gone}`);
    for (const p of [...goneTree.keys()].sort().reverse()) await writer.remove(`/app/${gone}${p}`);
    await n1.connect();
    await follower.flush();
    assert.equal(await inSync(n1, n2), '');
    // Watches are armed again: a change after the re-scan is followed too.
    await writer.set('/app/while-away', b('after reconnect'));
    await follower.flush();
    assert.equal((await n2.get('/app/while-away'))?.data.toString(), 'after reconnect');
  });

  it('reconnects after its N1 session expires and re-scans, catching what changed meanwhile', async () => {
    const { n1, writer, n2, follower, errors } = await setup();
    const before = n1.sessionId();
    await forceExpire(n1, h.others);
    await writer.create('/app/during-expiry', b('e'));
    await writer.set('/app', b('root during expiry'));
    await eventually(
      () => assert.ok(n1.sessionId() !== '' && n1.sessionId() !== before, `session ${n1.sessionId() || '(none)'}, was ${before}`),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
        message: 'the follower opened a new N1 session',
      },
    );
    await follower.flush();
    await eventually(async () => assert.equal(await inSync(n1, n2), ''), {
      timeoutMs: 20_000,
      intervalMs: 100,
      message: 'N2 converges on N1 after the re-scan',
    });
    assert.equal((await n2.get('/app/during-expiry'))?.data.toString(), 'e');
    assert.ok(
      errors.every((e) => e.code === 'NW_SYNC_METADATA_COPY_FAILED'),
      'failures on the way are reported with a sync code',
    );
  });
});
