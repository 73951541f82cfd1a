import type { Coordinator } from '../../platform/coordinator/coordinator.js';
import { isCoordinatorError } from '../../platform/coordinator/coordinator-errors.js';
import { layout } from '../../protocol/coordinator-paths.js';
import { SyncError } from '../errors.js';

/** An entity-group lock this session holds. */
export interface HeldEntityGroupLock {
  /** The lock node (ephemeral-sequential). */
  readonly path: string;
  /** Throws NW_SYNC_LOCK_LOST unless the lock node still exists in a live session. */
  assertHeld(): Promise<void>;
  /** Removes the lock node (and the group's node if nobody else waits); never throws. */
  release(): Promise<void>;
}

const PREFIX = 'lock-';
/** ZooKeeper node names cannot hold '/'; encoding also keeps '.' and '..' out. */
const groupNode = (group: string): string => encodeURIComponent(group).replace(/\./g, '%2E');

/**
 * The ZooKeeper lock recipe for one entity group: an ephemeral-sequential
 * node under /datalocks/<app>/<group>/, the lowest sequence holds the lock,
 * every other waiter watches only its predecessor (no herd). Gives up with
 * NW_SYNC_LOCK_TIMEOUT after `timeoutMs` (removing its node), and with
 * NW_SYNC_LOCK_LOST if the session expires while waiting or holding.
 */
export async function acquireEntityGroupLock(c: Coordinator, app: string, group: string, timeoutMs: number): Promise<HeldEntityGroupLock> {
  if (group.length === 0 || group.length > 512)
    throw new SyncError('NW_SYNC_CONFIG_INVALID', `entity group key must be 1-512 characters, got ${group.length}`);
  const dir = layout.dataLock(app, groupNode(group));
  const deadline = performance.now() + timeoutMs;
  let lost = false;
  let wake: () => void = () => undefined;
  const unsubscribe = c.onSession((e) => {
    if (e === 'expired') {
      lost = true;
      wake();
    }
  });
  let mine: string | undefined;
  const release = async (): Promise<void> => {
    unsubscribe();
    if (mine === undefined) return;
    await c.remove(mine).catch(() => undefined);
    // Leave no empty group nodes behind; a waiter that loses this race re-creates the node.
    await c.remove(dir).catch(() => undefined);
  };
  try {
    for (let attempt = 0; mine === undefined; attempt++) {
      await c.mkdirp(dir);
      try {
        mine = await c.create(`${dir}/${PREFIX}`, Buffer.alloc(0), 'ephemeral-sequential');
      } catch (err) {
        // Another holder's release removed the group node between our mkdirp and create.
        if (!isCoordinatorError(err, 'NW_CP_NO_NODE') || attempt >= 5) throw err;
      }
    }
    const name = mine.slice(mine.lastIndexOf('/') + 1);
    for (;;) {
      if (lost) throw new SyncError('NW_SYNC_LOCK_LOST', `${app}/${group}: session expired while waiting`);
      const woke = new Promise<void>((r) => (wake = r));
      const waiters = ((await c.children(dir)) ?? []).filter((n) => n.startsWith(PREFIX)).sort();
      const i = waiters.indexOf(name);
      if (i < 0) throw new SyncError('NW_SYNC_LOCK_LOST', `${app}/${group}: lock node vanished while waiting`);
      if (i === 0) break;
      const predecessor = await c.get(`${dir}/${waiters[i - 1]}`, () => wake());
      if (!predecessor) continue;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new SyncError('NW_SYNC_LOCK_TIMEOUT', `${app}/${group}: not acquired within ${timeoutMs} ms (${i} ahead)`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([woke, new Promise<void>((r) => (timer = setTimeout(r, remaining)))]);
      clearTimeout(timer);
    }
  } catch (err) {
    await release();
    if (err instanceof SyncError) throw err;
    if (isCoordinatorError(err, 'NW_CP_SESSION_EXPIRED'))
      throw new SyncError('NW_SYNC_LOCK_LOST', `${app}/${group}: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  const path = mine;
  return {
    path,
    async assertHeld() {
      let exists = false;
      try {
        exists = !lost && (await c.get(path)) !== undefined;
      } catch (err) {
        throw new SyncError('NW_SYNC_LOCK_LOST', `${app}/${group}: ${(err as Error).message}`, { cause: err });
      }
      if (!exists || lost) throw new SyncError('NW_SYNC_LOCK_LOST', `${app}/${group}: lock node is gone`);
    },
    release,
  };
}
