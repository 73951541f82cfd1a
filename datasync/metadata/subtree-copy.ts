import { performance } from 'node:perf_hooks';
import { joinPath, parentPath, type Coordinator, type NodeData, type Watcher } from '../../platform/coordinator/coordinator.js';
import { SyncError, isSyncError } from '../errors.js';
import { queueSubtreeRemoval } from './subtree-remove.js';
import { DEFAULT_BATCH_LIMITS, TransactionBatcher, type BatchLimits } from './transaction-batcher.js';
import { walkTree } from './tree-walk.js';

/** What a copy did. `nodes` and `bytes` count the persistent source nodes now at N2 and their data. */
export interface CopyFigures {
  readonly nodes: number;
  readonly bytes: number;
  readonly batches: number;
  readonly durationMs: number;
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  /** Nodes removed at N2 because they are not at N1 (only with deleteExtra). */
  readonly removed: number;
  /** Ephemeral nodes at N1, not copied. */
  readonly skippedEphemeral: number;
}

/** Options of copySubtree. */
export interface SubtreeCopyOptions {
  readonly source: Coordinator;
  /** Subtree root at N1 (under the source coordinator's chroot). */
  readonly sourcePath: string;
  readonly target: Coordinator;
  /** Where the subtree root goes at N2; missing parents are created. */
  readonly targetPath: string;
  /** Reads in flight at once (per side). Default 64. */
  readonly concurrency?: number;
  /** Most ops per transaction. Default 500. */
  readonly batchOps?: number;
  /** Most estimated bytes per transaction. Default 768 KiB (jute.maxbuffer is 1 MB). */
  readonly batchBytes?: number;
  /** Transactions in flight at once. Default 4. */
  readonly batchesInFlight?: number;
  /** Remove nodes at N2 that are not at N1. Default false. */
  readonly deleteExtra?: boolean;
}

/** A source node as a tree sync saw it; undefined when it does not exist. */
export interface SeenNode {
  readonly version: number;
  readonly ephemeral: boolean;
  /** Child names; [] for an ephemeral node. */
  readonly children: readonly string[];
}

/** Everything one tree sync needs; the follower keeps one and runs syncTree on parts of the tree. */
export interface TreeSyncContext {
  readonly source: Coordinator;
  readonly sourceRoot: string;
  readonly target: Coordinator;
  readonly targetRoot: string;
  readonly concurrency: number;
  readonly deleteExtra: boolean;
  readonly batcher: TransactionBatcher;
  /** Armed on every source read (data and children), so later changes are heard. */
  readonly watch?: Watcher;
  /** Told about every source node read (the follower's picture of N1). */
  readonly seen?: (sourcePath: string, node: SeenNode | undefined) => void;
}

export interface TreeSyncCounts {
  nodes: number;
  bytes: number;
  created: number;
  updated: number;
  unchanged: number;
  removed: number;
  skippedEphemeral: number;
}

/** Maps a path under `fromRoot` to the same place under `toRoot`. */
export function mapPath(path: string, fromRoot: string, toRoot: string): string {
  const rest = fromRoot === '/' ? path : path.slice(fromRoot.length);
  return joinPath(toRoot, rest);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Makes the subtree at `start` (a source path under ctx.sourceRoot) equal at N2: creates what is
 * missing, sets what differs, removes extras when asked, skips ephemeral nodes. Ops go to
 * ctx.batcher (the caller flushes). `targetAbsent` says the node is known not to exist at N2, so
 * N2 is not read for it or below it. A missing `start` is NW_SYNC_METADATA_SOURCE_MISSING when
 * `requireStart`, else its copy at N2 is removed (with deleteExtra).
 */
export async function syncTree(ctx: TreeSyncContext, start: string, targetAbsent: boolean, requireStart: boolean): Promise<TreeSyncCounts> {
  const counts: TreeSyncCounts = { nodes: 0, bytes: 0, created: 0, updated: 0, unchanged: 0, removed: 0, skippedEphemeral: 0 };
  const { source, target, batcher, watch } = ctx;
  const removeAtTarget = async (path: string): Promise<void> => {
    if (ctx.deleteExtra) counts.removed += await queueSubtreeRemoval(target, path, batcher, ctx.concurrency);
  };

  const visit = async (task: {
    readonly path: string;
    readonly targetAbsent: boolean;
  }): Promise<Array<{ path: string; targetAbsent: boolean }>> => {
    const tp = mapPath(task.path, ctx.sourceRoot, ctx.targetRoot);
    let at = `reading ${task.path} at N1`;
    try {
      const [node, watchedKids, tnode] = await Promise.all([
        source.get(task.path, watch),
        watch ? source.children(task.path, watch) : Promise.resolve(undefined),
        task.targetAbsent ? Promise.resolve(undefined) : target.get(tp),
      ]);
      if (!node || node.ephemeralOwner) {
        if (!node && task.path === start && requireStart)
          throw new SyncError('NW_SYNC_METADATA_SOURCE_MISSING', task.path, { details: { path: task.path } });
        ctx.seen?.(task.path, node && { version: node.version, ephemeral: true, children: [] });
        if (node) counts.skippedEphemeral += 1;
        at = `removing ${tp} at N2`;
        if (tnode) await removeAtTarget(tp);
        return [];
      }
      const kids = watchedKids ?? (node.numChildren === 0 ? [] : ((await source.children(task.path)) ?? []));
      at = `reading ${tp} at N2`;
      const targetKids = tnode && tnode.numChildren !== 0 ? ((await target.children(tp)) ?? []) : [];
      at = `writing ${tp} at N2`;
      await writeNode(tnode, tp, node);
      ctx.seen?.(task.path, { version: node.version, ephemeral: false, children: kids });
      const here = new Set(kids);
      for (const extra of targetKids) if (!here.has(extra)) await removeAtTarget(joinPath(tp, extra));
      const there = new Set(targetKids);
      return kids.map((k) => ({ path: joinPath(task.path, k), targetAbsent: task.targetAbsent || !tnode || !there.has(k) }));
    } catch (err) {
      if (isSyncError(err)) throw err;
      throw new SyncError('NW_SYNC_METADATA_COPY_FAILED', `${at}: ${describe(err)}`, { cause: err, details: { path: task.path } });
    }
  };

  const writeNode = async (tnode: NodeData | undefined, tp: string, node: NodeData): Promise<void> => {
    counts.nodes += 1;
    counts.bytes += node.data.length;
    if (!tnode) {
      counts.created += 1;
      await batcher.add({ op: 'create', path: tp, data: node.data });
    } else if (!tnode.data.equals(node.data)) {
      counts.updated += 1;
      await batcher.add({ op: 'set', path: tp, data: node.data });
    } else counts.unchanged += 1;
  };

  await walkTree([{ path: start, targetAbsent }], ctx.concurrency, visit);
  return counts;
}

/** Creates the parents of `targetPath` at N2 (not the node itself). */
export async function ensureTargetParent(target: Coordinator, targetPath: string): Promise<void> {
  if (targetPath === '/') return;
  try {
    await target.mkdirp(parentPath(targetPath));
  } catch (err) {
    throw new SyncError('NW_SYNC_METADATA_COPY_FAILED', `creating the parents of ${targetPath} at N2: ${describe(err)}`, {
      cause: err,
      details: { path: targetPath },
    });
  }
}

/** The batch limits the options ask for, with the defaults. */
export function batchLimits(options: SubtreeCopyOptions): BatchLimits {
  return {
    maxOps: options.batchOps ?? DEFAULT_BATCH_LIMITS.maxOps,
    maxBytes: options.batchBytes ?? DEFAULT_BATCH_LIMITS.maxBytes,
    maxInFlight: options.batchesInFlight ?? DEFAULT_BATCH_LIMITS.maxInFlight,
  };
}

/** A tree-sync context from copy options (the follower adds its watch and its picture of N1). */
export function treeSyncContext(
  options: SubtreeCopyOptions,
  batcher: TransactionBatcher,
  extra: Pick<TreeSyncContext, 'watch' | 'seen'> = {},
): TreeSyncContext {
  return {
    source: options.source,
    sourceRoot: options.sourcePath,
    target: options.target,
    targetRoot: options.targetPath,
    concurrency: options.concurrency ?? 64,
    deleteExtra: options.deleteExtra ?? false,
    batcher,
    ...extra,
  };
}

/**
 * Copies the subtree at `sourcePath` (N1) to `targetPath` (N2), depth-first: reads with bounded
 * concurrency, writes parents before children in batched transactions, skips ephemeral nodes.
 * Idempotent: nodes already at N2 are compared and set only if their data differs. Not a
 * snapshot: changes made at N1 during the copy may or may not be in it (follow the subtree to
 * catch them). Fails with NW_SYNC_METADATA_SOURCE_MISSING or NW_SYNC_METADATA_COPY_FAILED.
 */
export async function copySubtree(options: SubtreeCopyOptions): Promise<CopyFigures> {
  const started = performance.now();
  const batcher = new TransactionBatcher(options.target, batchLimits(options));
  const ctx = treeSyncContext(options, batcher);
  let counts: TreeSyncCounts;
  try {
    await ensureTargetParent(options.target, options.targetPath);
    counts = await syncTree(ctx, options.sourcePath, false, true);
    await batcher.flush();
  } catch (err) {
    await batcher.reset();
    throw err;
  }
  return { ...counts, batches: batcher.figures().batches, durationMs: performance.now() - started };
}
