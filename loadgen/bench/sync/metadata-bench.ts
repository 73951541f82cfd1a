// The paper's Table 1: time to copy a ZooKeeper subtree from N1 to N2 against its node count.
// Called from `npm run bench:sync`; no CLI of its own.
import { randomBytes } from 'node:crypto';
import { joinPath, ZooKeeperCoordinator } from '../../../platform/index.js';
import { copySubtree, removeSubtree } from '../../../datasync/index.js';
import { syntheticTree, writeTree } from './synthetic-tree.js';

export interface MetadataBenchOptions {
  /** Ensemble, e.g. 127.0.0.1:21811,127.0.0.1:21812,127.0.0.1:21813. */
  readonly connectString: string;
  /** Tree sizes (nodes below the root), e.g. [1000, 5000, 10000, 50000, 100000]. */
  readonly sizes: number[];
  /** Mean data bytes per node. Default 64. */
  readonly dataBytes?: number;
  /** Copy settings; the copy's defaults otherwise. */
  readonly concurrency?: number;
  readonly batchOps?: number;
}

export interface MetadataBenchRow {
  /** Nodes copied (the tree plus its root). */
  readonly nodes: number;
  readonly seconds: number;
  readonly nodesPerSec: number;
  /** Transactions written at N2. */
  readonly batches: number;
}

/**
 * For each size: builds a source tree under a fresh chroot (batched, not timed), times
 * copySubtree to a fresh target chroot, then removes both (batched deletes), also on failure.
 * The source is read through the session that built it, so the copy sees the whole tree.
 */
// The bench stands in for an app's metadata ensembles, which run without Northwest's ACLs.
export async function runMetadataBench(opts: MetadataBenchOptions): Promise<MetadataBenchRow[]> {
  const rows: MetadataBenchRow[] = [];
  for (const size of opts.sizes) {
    const base = `/nw_meta_bench_${randomBytes(5).toString('hex')}`;
    const source = new ZooKeeperCoordinator({
      connectString: opts.connectString,
      chroot: joinPath(base, 'n1'),
      opTimeoutMs: 30_000,
      insecure: true,
    });
    const target = new ZooKeeperCoordinator({
      connectString: opts.connectString,
      chroot: joinPath(base, 'n2'),
      opTimeoutMs: 30_000,
      insecure: true,
    });
    try {
      await source.connect();
      await target.connect();
      await writeTree(source, '/app', syntheticTree(size, { dataBytes: opts.dataBytes ?? 64, seed: size }), {
        maxOps: 1000,
        maxBytes: 768 * 1024,
        maxInFlight: 4,
      });
      const figures = await copySubtree({
        source,
        sourcePath: '/app',
        target,
        targetPath: '/app',
        ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
        ...(opts.batchOps === undefined ? {} : { batchOps: opts.batchOps }),
      });
      if (figures.nodes !== size + 1) throw new Error(`metadata bench: copied ${figures.nodes} nodes of ${size + 1}`);
      const seconds = figures.durationMs / 1000;
      rows.push({ nodes: figures.nodes, seconds, nodesPerSec: figures.nodes / seconds, batches: figures.batches });
    } finally {
      await Promise.all([source.close(), target.close()]);
      const admin = new ZooKeeperCoordinator({ connectString: opts.connectString, chroot: '/', opTimeoutMs: 30_000, insecure: true });
      await admin.connect();
      try {
        await removeSubtree(admin, base, { concurrency: 64, limits: { maxOps: 1000, maxBytes: 768 * 1024, maxInFlight: 4 } });
      } finally {
        await admin.close();
      }
    }
  }
  return rows;
}
