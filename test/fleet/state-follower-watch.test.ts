import assert from 'node:assert/strict';
import { StateFollower } from '../../fleet/state-follower.js';
import type { Coordinator, Watcher } from '../../platform/coordinator/coordinator.js';
import { EmbeddedCoordinator, EmbeddedStore } from '../../platform/coordinator/embedded-coordinator.js';
import { createLogger } from '../../platform/logger.js';
import { encodeJson, layout, TREE_ROOTS } from '../../protocol/coordinator-paths.js';
import { eventually } from '../support/eventually.js';

describe('state follower: watches', () => {
  it(
    'a change right after a watched read (its watch delivered before the read resumes) ' +
      'leaves the app watched (regression: flips picked up only by the reconcile)',
    async () => {
      const store = new EmbeddedStore();
      const cp = new EmbeddedCoordinator(store);
      await cp.connect();
      for (const root of TREE_ROOTS) await cp.mkdirp(root);
      await cp.mkdirp(layout.acks('shop'));
      await cp.create(layout.state('shop'), encodeJson({ mode: 'serve' }));
      const inner = new EmbeddedCoordinator(store);
      let changeAfterRead = false;
      // ZooKeeper delivers a watch event right behind the reply of the read that set it when the node
      // changes in between: the watcher then runs before the reader's await resumes.
      const coordinator = new Proxy(inner, {
        get(target, key, receiver) {
          if (key !== 'get') return Reflect.get(target, key, receiver);
          return async (path: string, watcher?: Watcher) => {
            const node = await target.get(path, watcher);
            if (changeAfterRead && watcher && path === layout.state('shop')) {
              changeAfterRead = false;
              await cp.set(layout.state('shop'), encodeJson({ mode: 'fence' }));
              await new Promise((r) => setImmediate(r)); // the watch event is delivered first
            }
            return node;
          };
        },
      }) as Coordinator;
      const applied: Array<[string, number]> = [];
      const follower = new StateFollower({
        coordinator,
        memberId: 'gw-1',
        kind: 'gateway',
        apps: ['shop'],
        reconcileMs: 60_000, // a missed watch would wait this long
        logger: createLogger('silent'),
        logPrefix: 'test',
        apply: async (_app, doc, epoch) => {
          applied.push([String(doc.mode), epoch]);
        },
      });
      await follower.start();
      try {
        assert.deepEqual(applied.at(-1), ['serve', 0]);
        changeAfterRead = true;
        await cp.set(layout.state('shop'), encodeJson({ mode: 'proxy' })); // fires the armed watch; its re-read races the next change
        await eventually(() => assert.deepEqual(applied.at(-1), ['fence', 2]), {
          timeoutMs: 2_000,
          message: 'the change that landed right after the re-read is applied',
        });
        // ...and the app is still watched: the next change is applied by its watch, not 60 s later.
        await cp.set(layout.state('shop'), encodeJson({ mode: 'proxy' }));
        await eventually(() => assert.deepEqual(applied.at(-1), ['proxy', 3]), {
          timeoutMs: 2_000,
          message: 'the next change is applied by a watch',
        });
      } finally {
        await follower.stop();
        await inner.close();
        await cp.close();
      }
    },
  );
});
