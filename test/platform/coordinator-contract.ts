import assert from 'node:assert/strict';
import type { Coordinator, WatchEvent } from '../../platform/coordinator/coordinator.js';
import { eventually } from '../support/eventually.js';

export interface ContractHarness {
  /** A new, connected client of the same coordinator (same tree). */
  client(): Promise<Coordinator>;
  /** Makes a client's session expire the way the real service would. */
  expire(c: Coordinator): Promise<void>;
  /** A fresh base path unique to this test run. */
  base(): string;
  cleanup(): Promise<void>;
}

const b = (s: string): Buffer => Buffer.from(s);

function nextEvent(): { watcher: (e: WatchEvent) => void; event: Promise<WatchEvent> } {
  let resolve!: (e: WatchEvent) => void;
  const event = new Promise<WatchEvent>((r) => (resolve = r));
  return { watcher: resolve, event };
}

/** The behaviour every Coordinator implementation must have; run against each. */
export function coordinatorContract(name: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`Coordinator contract: ${name}`, function () {
    this.timeout(30_000);
    let h: ContractHarness;
    let c: Coordinator;
    let base: string;

    beforeEach(async () => {
      h = await makeHarness();
      c = await h.client();
      base = h.base();
      await c.mkdirp(base);
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('creates, reads, versions and removes nodes', async () => {
      assert.equal(await c.get(`${base}/x`), undefined);
      assert.equal(await c.create(`${base}/x`, b('one')), `${base}/x`);
      const first = await c.get(`${base}/x`);
      assert.equal(first?.data.toString(), 'one');
      assert.equal(first?.version, 0);
      assert.equal(await c.set(`${base}/x`, b('two')), 1);
      assert.equal((await c.get(`${base}/x`))?.version, 1);
      await c.remove(`${base}/x`);
      assert.equal(await c.get(`${base}/x`), undefined);
    });

    it('gives typed errors for exists, missing, bad version and non-empty', async () => {
      await c.create(`${base}/x`, b(''));
      await assert.rejects(c.create(`${base}/x`, b('')), { code: 'NW_CP_NODE_EXISTS' });
      await assert.rejects(c.create(`${base}/missing/child`, b('')), { code: 'NW_CP_NO_NODE' });
      await assert.rejects(c.set(`${base}/nope`, b('')), { code: 'NW_CP_NO_NODE' });
      await assert.rejects(c.set(`${base}/x`, b('v'), 5), { code: 'NW_CP_BAD_VERSION' });
      await c.create(`${base}/x/child`, b(''));
      await assert.rejects(c.remove(`${base}/x`), { code: 'NW_CP_NOT_EMPTY' });
    });

    it('compare-and-set succeeds only at the expected version', async () => {
      await c.create(`${base}/cas`, b('0'));
      assert.equal(await c.set(`${base}/cas`, b('1'), 0), 1);
      await assert.rejects(c.set(`${base}/cas`, b('x'), 0), { code: 'NW_CP_BAD_VERSION' });
      assert.equal((await c.get(`${base}/cas`))?.data.toString(), '1');
    });

    it("counts changes to a node's children: a child created, removed, or gone with its session (cversion)", async () => {
      await c.create(`${base}/p`, b(''));
      const at = async (): Promise<number | undefined> => (await c.get(`${base}/p`))?.childChanges;
      const start = await at();
      assert.equal(typeof start, 'number');
      await c.create(`${base}/p/a`, b(''));
      assert.equal(await at(), start! + 1);
      await c.set(`${base}/p/a`, b('data')); // a child's data is not a change of the children
      assert.equal(await at(), start! + 1);
      await c.remove(`${base}/p/a`);
      assert.equal(await at(), start! + 2, 'a child that came and went leaves its trace');
      const other = await h.client();
      await other.create(`${base}/p/e`, b(''), 'ephemeral');
      await other.close();
      await eventually(async () => (await c.children(`${base}/p`))?.length === 0, {
        timeoutMs: 10_000,
        message: 'the ephemeral child goes',
      });
      assert.equal(await at(), start! + 4);
    });

    it('lists children sorted and creates parents with mkdirp', async () => {
      await c.mkdirp(`${base}/a/b/c`);
      await c.create(`${base}/a/z`, b(''));
      assert.deepEqual(await c.children(`${base}/a`), ['b', 'z']);
      assert.equal(await c.children(`${base}/none`), undefined);
      await c.mkdirp(`${base}/a/b/c`);
    });

    it('fires a data watch once on change, another client making the change', async () => {
      const other = await h.client();
      await c.create(`${base}/w`, b('0'));
      const { watcher, event } = nextEvent();
      let fired = 0;
      await c.get(`${base}/w`, (e) => {
        fired += 1;
        watcher(e);
      });
      await other.set(`${base}/w`, b('1'));
      assert.deepEqual(await event, { type: 'data', path: `${base}/w` });
      await other.set(`${base}/w`, b('2'));
      // Kept as a sleep: no event marks "a second firing did not happen"; give one 200 ms to show up.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(fired, 1, 'watches are one-shot');
    });

    it('fires a watch set on a missing node when it is created', async () => {
      const other = await h.client();
      const { watcher, event } = nextEvent();
      assert.equal(await c.get(`${base}/later`, watcher), undefined);
      await other.create(`${base}/later`, b('hi'));
      assert.deepEqual(await event, { type: 'created', path: `${base}/later` });
    });

    it('fires a children watch when a child appears', async () => {
      const other = await h.client();
      await c.mkdirp(`${base}/kids`);
      const { watcher, event } = nextEvent();
      assert.deepEqual(await c.children(`${base}/kids`, watcher), []);
      await other.create(`${base}/kids/one`, b(''));
      assert.deepEqual(await event, { type: 'children', path: `${base}/kids` });
    });

    it('numbers sequential nodes in creation order', async () => {
      await c.mkdirp(`${base}/seq`);
      const p1 = await c.create(`${base}/seq/n-`, b(''), 'persistent-sequential');
      const p2 = await c.create(`${base}/seq/n-`, b(''), 'ephemeral-sequential');
      assert.match(p1, /\/n-\d{10}$/);
      assert.ok(p2 > p1);
      assert.deepEqual(await c.children(`${base}/seq`), [p1.split('/').pop(), p2.split('/').pop()]);
    });

    it('removes ephemeral nodes when their session closes or expires', async () => {
      const member = await h.client();
      await member.create(`${base}/eph`, b(''), 'ephemeral');
      const { watcher, event } = nextEvent();
      assert.ok(await c.get(`${base}/eph`, watcher));
      await h.expire(member);
      assert.deepEqual(await event, { type: 'deleted', path: `${base}/eph` });
      assert.equal(await c.get(`${base}/eph`), undefined);
      const closer = await h.client();
      await closer.create(`${base}/eph2`, b(''), 'ephemeral');
      await closer.close();
      assert.equal(await c.get(`${base}/eph2`), undefined);
    });

    it('applies a transaction entirely or not at all', async () => {
      await c.create(`${base}/t1`, b('a'));
      await c.create(`${base}/t2`, b('a'));
      await assert.rejects(
        c.transaction([
          { op: 'set', path: `${base}/t1`, data: b('b') },
          { op: 'set', path: `${base}/t2`, data: b('b'), version: 7 },
        ]),
        { code: 'NW_CP_BAD_VERSION' },
      );
      assert.equal((await c.get(`${base}/t1`))?.data.toString(), 'a');
      await c.transaction([
        { op: 'set', path: `${base}/t1`, data: b('c') },
        { op: 'check', path: `${base}/t2`, version: 0 },
        { op: 'create', path: `${base}/t3`, data: b('c') },
        { op: 'remove', path: `${base}/t2` },
      ]);
      assert.equal((await c.get(`${base}/t1`))?.data.toString(), 'c');
      assert.equal((await c.get(`${base}/t3`))?.data.toString(), 'c');
      assert.equal(await c.get(`${base}/t2`), undefined);
    });

    it('reports an expired session to its listeners', async () => {
      const member = await h.client();
      const seen: string[] = [];
      member.onSession((e) => seen.push(e));
      await h.expire(member);
      await eventually(() => assert.ok(seen.includes('expired'), `events: ${seen.join(',')}`), {
        timeoutMs: 20_000,
        intervalMs: 50,
        message: 'the expiry reaches the session listeners',
      });
    });
  });
}
