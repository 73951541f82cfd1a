import { joinPath, type WatchEvent } from '../../platform/coordinator/coordinator.js';
import { SyncError, isSyncError } from '../errors.js';
import {
  batchLimits,
  ensureTargetParent,
  mapPath,
  syncTree,
  treeSyncContext,
  type CopyFigures,
  type SeenNode,
  type SubtreeCopyOptions,
  type TreeSyncContext,
} from './subtree-copy.js';
import { queueSubtreeRemoval } from './subtree-remove.js';
import { DEFAULT_BATCH_LIMITS, TransactionBatcher } from './transaction-batcher.js';

/** Options of SubtreeFollower.start: those of copySubtree, plus error reporting. */
export interface SubtreeFollowOptions extends SubtreeCopyOptions {
  /** Failures the follower recovers from by re-scanning (a read, a write, a lost session). No-op by default. */
  readonly onError?: (err: SyncError) => void;
  /** Pause before the re-scan that follows a failure. Default 500 ms. */
  readonly retryDelayMs?: number;
}

/** Progress marks: changes seen at N1 (watch events, re-scans) and how far N2 has caught up, in that numbering. */
export interface SyncedUpTo {
  readonly seen: number;
  readonly applied: number;
  /** Date.now() of the last write committed at N2 while following; undefined before the first. */
  readonly lastAppliedAt: number | undefined;
}

/** What stop() returns: writes committed at N2 while following (the initial copy not counted). */
export interface FollowFigures {
  readonly applied: number;
  readonly lastAppliedAt: number | undefined;
}

/** One step of following: re-read a node's data, its child list, or a whole subtree (`scan`, the root's for a full re-scan). */
type Step = { readonly kind: 'data' | 'children' | 'scan'; readonly path: string; readonly initial?: boolean };
type Work = Step & { readonly seq: number };

/** Paths in `paths` that have no ancestor in it (sorted, so an ancestor comes before its descendants). */
function topmost(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of [...paths].sort()) if (!out.some((a) => p.startsWith(`${a}/`))) out.push(p);
  return out;
}

/**
 * Keeps a subtree at N2 equal to the one at N1 until stopped. start() copies the subtree with data
 * and children watches armed on every node it reads, so no change after a node's read is missed.
 * Watch events are handled one after another, in the order they arrive, each re-reading N1 (and
 * re-arming the watch, as watches fire once); the resulting creates, sets and deletes go to N2 in
 * that order through one batched writer. After a reconnect, an expired session or any failure the
 * whole subtree is re-scanned and diffed against what was seen before, so events that were missed
 * are caught. Nodes at N2 that were never seen at N1 are left alone unless `deleteExtra`.
 */
export class SubtreeFollower {
  private readonly ctx: TreeSyncContext;
  private readonly batcher: TransactionBatcher;
  private mirror = new Map<string, SeenNode>();
  private readonly queue: Work[] = [];
  private seq = 0;
  private appliedSeq = 0;
  private failedAt: number | undefined;
  private appliedOps = 0;
  private counting = false;
  private lastAppliedAt: number | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly waiters = new Set<() => void>();
  private initialFigures: Omit<CopyFigures, 'durationMs' | 'batches'> | undefined;

  private constructor(private readonly options: SubtreeFollowOptions) {
    this.batcher = new TransactionBatcher(options.target, batchLimits(options), (ops) => {
      if (!this.counting) return;
      this.appliedOps += ops;
      this.lastAppliedAt = Date.now();
    });
    this.ctx = treeSyncContext(options, this.batcher, {
      watch: (event) => this.onWatch(event),
      seen: (path, node) => (node && !node.ephemeral ? this.mirror.set(path, node) : this.mirror.delete(path)),
    });
    this.unsubscribe = options.source.onSession((event) => {
      if (event === 'connected') this.enqueueScan();
      else if (event === 'expired') void this.reconnect();
    });
  }

  /**
   * Copies the subtree (as copySubtree, watches armed) and follows it from then on. Rejects like
   * copySubtree, with nothing left running.
   */
  static async start(options: SubtreeFollowOptions): Promise<{ follower: SubtreeFollower; copied: CopyFigures }> {
    const started = performance.now();
    const follower = new SubtreeFollower(options);
    try {
      await ensureTargetParent(options.target, options.targetPath);
      const seq = follower.push({ kind: 'scan', path: options.sourcePath, initial: true });
      await follower.appliedThrough(seq, Number.POSITIVE_INFINITY);
    } catch (err) {
      await follower.shutdown();
      throw err;
    }
    follower.counting = true;
    const figures = follower.initialFigures ?? {
      nodes: 0,
      bytes: 0,
      created: 0,
      updated: 0,
      unchanged: 0,
      removed: 0,
      skippedEphemeral: 0,
    };
    return { follower, copied: { ...figures, batches: follower.batcher.figures().batches, durationMs: performance.now() - started } };
  }

  syncedUpTo(): SyncedUpTo {
    return { seen: this.seq, applied: this.appliedSeq, lastAppliedAt: this.lastAppliedAt };
  }

  /**
   * Resolves once every change N1 had notified when flush() was called is applied at N2. A read at
   * N1 first lets the server deliver the watch events it owes (they come before the reply). N1's
   * ensemble is read through one server: a change the server has not yet seen is not covered.
   * Rejects (NW_SYNC_METADATA_COPY_FAILED) if N1 cannot be read or N2 is not caught up within `timeoutMs`.
   */
  async flush(timeoutMs = 30_000): Promise<SyncedUpTo> {
    if (this.stopped) throw new SyncError('NW_SYNC_METADATA_COPY_FAILED', 'follower is stopped');
    try {
      await this.options.source.get(this.options.sourcePath);
    } catch (err) {
      throw new SyncError('NW_SYNC_METADATA_COPY_FAILED', `flush: reading ${this.options.sourcePath} at N1: ${(err as Error).message}`, {
        cause: err,
        details: { path: this.options.sourcePath },
      });
    }
    await new Promise((resolve) => setImmediate(resolve));
    await this.appliedThrough(this.seq, timeoutMs);
    return this.syncedUpTo();
  }

  /** Flushes (as flush()), then stops following; resolves with what was applied. Stops even if the flush fails, then rejects. */
  async stop(timeoutMs = 30_000): Promise<FollowFigures> {
    let failure: unknown;
    if (!this.stopped) await this.flush(timeoutMs).catch((err: unknown) => (failure = err));
    await this.shutdown();
    if (failure) throw failure;
    return { applied: this.appliedOps, lastAppliedAt: this.lastAppliedAt };
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    clearTimeout(this.retryTimer);
    this.queue.length = 0;
    await this.loop;
    await this.batcher.reset();
    for (const wake of this.waiters) wake();
  }

  private onWatch(event: WatchEvent): void {
    if (this.stopped) return;
    if (event.type === 'data' || event.type === 'children') this.push({ kind: event.type, path: event.path });
    // Ephemeral nodes (lock and member churn) are not in the picture and were never copied.
    else if (event.type === 'deleted' && !this.mirror.has(event.path)) return;
    // A node deleted (and maybe created again before its parent's list is re-read) or created:
    // re-scan just that subtree, which compares with N2 and drops what vanished.
    else if (!this.queue.some((w) => w.kind === 'scan' && w.path === event.path)) this.push({ kind: 'scan', path: event.path });
  }

  /** Queues a full re-scan unless one is waiting already; it makes the work waiting before it moot. */
  private enqueueScan(): void {
    const root = this.options.sourcePath;
    if (this.stopped || this.queue.some((w) => w.kind === 'scan' && w.path === root)) return;
    this.queue.length = 0;
    this.push({ kind: 'scan', path: root });
  }

  private async reconnect(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.options.source.connect(); // emits 'connected', which queues the re-scan
        return;
      } catch (err) {
        this.report(err, `reconnecting to N1`);
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 500));
      }
    }
  }

  private push(work: Step): number {
    this.seq += 1;
    this.queue.push({ ...work, seq: this.seq });
    this.loop ??= this.drain().finally(() => (this.loop = undefined));
    return this.seq;
  }

  private async drain(): Promise<void> {
    let lastDone = 0;
    let sinceFlush = 0;
    while (this.queue.length > 0 && !this.stopped) {
      const work = this.queue.shift() as Work;
      try {
        await this.handle(work);
        lastDone = work.seq;
        sinceFlush += 1;
        if (work.kind === 'scan' || this.queue.length === 0 || sinceFlush >= (this.options.batchOps ?? DEFAULT_BATCH_LIMITS.maxOps)) {
          await this.batcher.flush();
          sinceFlush = 0;
          const fullScan = work.kind === 'scan' && work.path === this.options.sourcePath;
          if (this.failedAt !== undefined && fullScan && work.seq > this.failedAt) this.failedAt = undefined;
          if (this.failedAt === undefined) this.advance(lastDone);
        }
      } catch (err) {
        if (work.initial) {
          this.failInitial(err);
          return;
        }
        this.report(err, `following (${work.kind} of ${work.path})`);
        this.failedAt ??= work.seq;
        await this.batcher.reset();
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.enqueueScan(), this.options.retryDelayMs ?? 500);
      }
    }
  }

  private initialError: unknown;

  private failInitial(err: unknown): void {
    this.initialError = err;
    this.queue.length = 0;
    for (const wake of this.waiters) wake();
  }

  private advance(seq: number): void {
    this.appliedSeq = Math.max(this.appliedSeq, seq);
    for (const wake of this.waiters) wake();
  }

  /** Waits until work `seq` and everything before it is applied at N2. */
  private async appliedThrough(seq: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.appliedSeq < seq) {
      if (this.initialError !== undefined) throw this.initialError;
      if (this.stopped) throw new SyncError('NW_SYNC_METADATA_COPY_FAILED', 'follower stopped before N2 caught up');
      const left = deadline - Date.now();
      if (left <= 0)
        throw new SyncError(
          'NW_SYNC_METADATA_COPY_FAILED',
          `N2 not caught up within ${timeoutMs} ms (applied ${this.appliedSeq} of ${seq})`,
          { details: { path: this.options.targetPath } },
        );
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 2 ** 31 - 1));
        this.waiters.add(wake);
      });
    }
  }

  private report(err: unknown, what: string): void {
    const error = isSyncError(err)
      ? err
      : new SyncError('NW_SYNC_METADATA_COPY_FAILED', `${what}: ${(err as Error).message}`, { cause: err });
    try {
      this.options.onError?.(error);
    } catch {
      // A throwing reporter must not stop the follower.
    }
  }

  private async handle(work: Work): Promise<void> {
    if (work.kind === 'scan') return this.scan(work.path, work.initial === true);
    const known = this.mirror.get(work.path);
    if (!known) return; // not (or no longer) a persistent node of the subtree as far as we know
    if (work.kind === 'data') {
      const node = await this.options.source.get(work.path, this.ctx.watch);
      // Gone, or deleted and created again: the 'deleted' event's subtree re-scan deals with it.
      if (!node || node.ephemeralOwner || node.version <= known.version) return;
      this.mirror.set(work.path, { ...known, version: node.version });
      await this.batcher.add({ op: 'set', path: this.toTarget(work.path), data: node.data });
      return;
    }
    const now = await this.options.source.children(work.path, this.ctx.watch);
    if (now === undefined) return; // gone: the 'deleted' event's re-scan deals with it
    this.mirror.set(work.path, { ...known, children: now });
    const before = new Set(known.children);
    const added = now.filter((k) => !before.has(k)).map((k) => joinPath(work.path, k));
    const after = new Set(now);
    const gone = known.children.filter((k) => !after.has(k)).map((k) => joinPath(work.path, k));
    for (const path of gone) if (this.mirror.has(path)) await this.removeAtTarget([path]);
    for (const path of added) await this.scan(path, false);
  }

  /**
   * Re-reads the subtree at `path` (watches armed), makes N2 equal and removes at N2 what was seen
   * under it before and is gone now. Reads N2 only after what is queued for it is committed.
   */
  private async scan(path: string, initial: boolean): Promise<void> {
    await this.batcher.flush();
    const within = (p: string): boolean => p === path || path === '/' || p.startsWith(`${path}/`);
    const before = new Map([...this.mirror].filter(([p]) => within(p)));
    for (const p of before.keys()) this.mirror.delete(p);
    try {
      const counts = await syncTree(this.ctx, path, false, initial);
      if (initial) this.initialFigures = counts;
    } catch (err) {
      for (const [p, node] of before) if (!this.mirror.has(p)) this.mirror.set(p, node);
      throw err;
    }
    const vanished = [...before.keys()].filter((p) => !this.mirror.has(p));
    for (const p of topmost(vanished)) await this.removeAtTarget([p]);
  }

  /** Removes at N2 the copies of source nodes that are gone (their subtrees too); forgets them. */
  private async removeAtTarget(sourcePaths: readonly string[]): Promise<void> {
    if (sourcePaths.length > 0) await this.batcher.flush(); // the listing below must see every queued create
    for (const path of topmost(sourcePaths)) {
      for (const known of [...this.mirror.keys()]) if (known === path || known.startsWith(`${path}/`)) this.mirror.delete(known);
      const tp = this.toTarget(path);
      if (tp !== '/') await queueSubtreeRemoval(this.options.target, tp, this.batcher, this.ctx.concurrency);
    }
  }

  private toTarget(sourcePath: string): string {
    return mapPath(sourcePath, this.options.sourcePath, this.options.targetPath);
  }
}
