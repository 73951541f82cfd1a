import { joinPath, type Coordinator } from '../../../platform/index.js';
import { DEFAULT_BATCH_LIMITS, TransactionBatcher, type BatchLimits } from '../../../datasync/index.js';
import { mulberry32 } from '../../load/prng.js';

/** One node of a synthetic metadata tree; `path` is relative to the tree's root ('/a/b'). */
export interface SyntheticNode {
  readonly path: string;
  readonly data: Buffer;
}

export interface SyntheticTreeOptions {
  /** Bytes of data per node on average (sizes vary 0..2×). Default 64. */
  readonly dataBytes?: number;
  readonly seed?: number;
}

const NAMES = ['config', 'services', 'locks', 'queue', 'leader', 'shard', 'member', 'app.v2', 'a-b_c', 'zürich', 'x'];

/**
 * `count` nodes (not counting the root), parents before children, with varied depth (a node hangs
 * under one of the recently made ones, or near the top) and varied data: empty, text, JSON and
 * binary with every byte value.
 */
export function syntheticTree(count: number, options: SyntheticTreeOptions = {}): SyntheticNode[] {
  const random = mulberry32(options.seed ?? 1);
  const mean = options.dataBytes ?? 64;
  const nodes: SyntheticNode[] = [];
  const pick = (n: number): number => Math.floor(random() * n);
  for (let i = 0; i < count; i += 1) {
    const roll = random();
    // Mostly under a recent node (deep chains), sometimes near the top (wide levels).
    const parent =
      nodes.length === 0 || roll < 0.15
        ? '/'
        : roll < 0.3
          ? (nodes[pick(Math.min(nodes.length, 20))] as SyntheticNode).path
          : (nodes[nodes.length - 1 - pick(Math.min(nodes.length, 40))] as SyntheticNode).path;
    const depth = parent.split('/').length;
    const at = depth > 12 ? '/' : parent;
    const path = joinPath(at, `${NAMES[i % NAMES.length]}-${i}`);
    const size = pick(2 * mean + 1);
    const kind = i % 4;
    let data: Buffer;
    if (kind === 0) data = Buffer.alloc(0);
    else if (kind === 1)
      data = Buffer.from(JSON.stringify({ i, host: `10.0.${i % 256}.${(i >> 8) % 256}`, pad: 'p'.repeat(Math.max(0, size - 40)) }));
    else if (kind === 2) data = Buffer.from('t'.repeat(size));
    else data = Buffer.from(Array.from({ length: size }, (_, j) => (j * 37 + i) % 256));
    nodes.push({ path, data });
  }
  return nodes;
}

/** Creates `root` (and its parents) and the nodes under it with batched transactions; returns the batch count. */
export async function writeTree(
  coordinator: Coordinator,
  root: string,
  nodes: readonly SyntheticNode[],
  limits: BatchLimits = DEFAULT_BATCH_LIMITS,
): Promise<number> {
  await coordinator.mkdirp(root);
  const batcher = new TransactionBatcher(coordinator, limits);
  for (const node of nodes) await batcher.add({ op: 'create', path: joinPath(root, node.path), data: node.data });
  await batcher.flush();
  return batcher.figures().batches;
}

/** Depth of the deepest node, for describing a tree. */
export function treeDepth(nodes: readonly SyntheticNode[]): number {
  return nodes.reduce((max, n) => Math.max(max, n.path.split('/').length - 1), 0);
}
