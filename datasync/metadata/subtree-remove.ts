import { isCoordinatorError } from '../../platform/coordinator/coordinator-errors.js';
import { joinPath, type Coordinator } from '../../platform/coordinator/coordinator.js';
import { SyncError, isSyncError } from '../errors.js';
import { DEFAULT_BATCH_LIMITS, TransactionBatcher, type BatchLimits } from './transaction-batcher.js';
import { walkTree } from './tree-walk.js';

/** Every path of the subtree at `root` (root first, each parent before its children); [] if it does not exist. */
export async function listSubtree(coordinator: Coordinator, root: string, concurrency: number): Promise<string[]> {
  const paths: string[] = [];
  await walkTree([root], concurrency, async (path) => {
    const kids = await coordinator.children(path);
    if (kids === undefined) return [];
    paths.push(path);
    return kids.map((k) => joinPath(path, k));
  });
  return paths;
}

/**
 * Queues removes for the subtree at `root` on `batcher`, children before parents. Nodes created
 * under it meanwhile make a later batch fail (NOT_EMPTY); the caller decides whether to retry.
 */
export async function queueSubtreeRemoval(
  coordinator: Coordinator,
  root: string,
  batcher: TransactionBatcher,
  concurrency: number,
): Promise<number> {
  const paths = await listSubtree(coordinator, root, concurrency);
  for (let i = paths.length - 1; i >= 0; i -= 1) await batcher.add({ op: 'remove', path: paths[i] as string });
  return paths.length;
}

/** Options of removeSubtree. */
export interface RemoveSubtreeOptions {
  readonly concurrency?: number;
  readonly limits?: BatchLimits;
  /** Passes over a tree that keeps changing before giving up. Default 3. */
  readonly attempts?: number;
}

/**
 * Removes the subtree at `root` (the root too) with batched transactions; returns how many nodes
 * went. A no-op if it does not exist. Fails with NW_SYNC_METADATA_COPY_FAILED naming the path.
 */
export async function removeSubtree(coordinator: Coordinator, root: string, options: RemoveSubtreeOptions = {}): Promise<number> {
  const attempts = options.attempts ?? 3;
  let removed = 0;
  for (let attempt = 1; ; attempt += 1) {
    const batcher = new TransactionBatcher(coordinator, options.limits ?? DEFAULT_BATCH_LIMITS);
    try {
      await queueSubtreeRemoval(coordinator, root, batcher, options.concurrency ?? 32);
      await batcher.flush();
      return removed + batcher.figures().ops;
    } catch (err) {
      await batcher.reset();
      removed += batcher.figures().ops;
      const raced =
        isSyncError(err) && (isCoordinatorError(err.cause, 'NW_CP_NOT_EMPTY') || isCoordinatorError(err.cause, 'NW_CP_NO_NODE'));
      if (raced && attempt < attempts) continue;
      if (isSyncError(err)) throw err;
      throw new SyncError('NW_SYNC_METADATA_COPY_FAILED', `removing ${root}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
        details: { path: root },
      });
    }
  }
}
