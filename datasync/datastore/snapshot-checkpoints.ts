import { z } from 'zod';
import { joinPath, type Coordinator } from '../../platform/coordinator/coordinator.js';
import { SyncError } from '../errors.js';
import { splitRing, type TokenRange } from './token-ranges.js';

/**
 * Per-range progress of a snapshot copy, kept in the coordinator so a copy
 * that was aborted or crashed resumes where it stopped:
 *
 *   <root>/<ks.table>            { v: 1, ranges: N }   the plan, fixed on first run
 *   <root>/<ks.table>/<index>    { v: 1, done, completeThrough, rows, bytes, updatedAt }
 *
 * <root> is usually layout.syncDatastore(migrationId).
 */

const TOKEN = z.string().regex(/^-?\d{1,19}$/);

const planSchema = z.strictObject({ v: z.literal(1), ranges: z.number().int().min(1).max(1_000_000) });

const rangeSchema = z.strictObject({
  v: z.literal(1),
  done: z.boolean(),
  /** Every partition with a token at or below this is copied. */
  completeThrough: TOKEN,
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  updatedAt: z.string(),
});

export interface RangeCheckpoint {
  readonly done: boolean;
  readonly completeThrough: bigint;
  /** Rows and bytes copied in this range so far, over all runs. */
  readonly rows: number;
  readonly bytes: number;
}

export interface TablePlan {
  readonly ranges: readonly TokenRange[];
  /** Checkpoints found, by range index. */
  readonly checkpoints: ReadonlyMap<number, RangeCheckpoint>;
}

function corrupt(path: string, why: string, cause?: unknown): SyncError {
  return new SyncError('NW_SYNC_CHECKPOINT_CORRUPT', `${path}: ${why}`, { cause, details: { path } });
}

function parseJson<T>(path: string, data: Buffer, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw corrupt(path, 'not JSON', err);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw corrupt(path, parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  return parsed.data;
}

export class SnapshotCheckpoints {
  private readonly existing = new Set<string>();

  constructor(
    private readonly coordinator: Coordinator,
    readonly root: string,
  ) {}

  tablePath(table: string): string {
    return joinPath(this.root, table);
  }

  rangePath(table: string, index: number): string {
    return joinPath(this.root, table, String(index));
  }

  /**
   * The table's ranges and their checkpoints. The first run fixes the range
   * count (`ranges`); later runs keep the stored one so checkpoints line up.
   */
  async loadTable(table: string, ranges: number): Promise<TablePlan> {
    const path = this.tablePath(table);
    const node = await this.coordinator.get(path);
    let count = ranges;
    if (node) {
      count = parseJson(path, node.data, planSchema).ranges;
    } else {
      await this.coordinator.mkdirp(this.root);
      try {
        await this.coordinator.create(path, Buffer.from(JSON.stringify({ v: 1, ranges })));
      } catch (err) {
        // a concurrent first run may have created it: read what it wrote
        const again = await this.coordinator.get(path);
        if (!again) throw err;
        count = parseJson(path, again.data, planSchema).ranges;
      }
    }
    this.existing.add(path);
    const checkpoints = new Map<number, RangeCheckpoint>();
    for (const child of (await this.coordinator.children(path)) ?? []) {
      const index = Number(child);
      const childPath = this.rangePath(table, index);
      if (!/^\d+$/.test(child) || index >= count) throw corrupt(childPath, `not a range index of a ${count}-range plan`);
      const data = await this.coordinator.get(childPath);
      if (!data) continue;
      const cp = parseJson(childPath, data.data, rangeSchema);
      checkpoints.set(index, { done: cp.done, completeThrough: BigInt(cp.completeThrough), rows: cp.rows, bytes: cp.bytes });
      this.existing.add(childPath);
    }
    return { ranges: splitRing(count), checkpoints };
  }

  async save(table: string, index: number, cp: RangeCheckpoint): Promise<void> {
    const path = this.rangePath(table, index);
    const data = Buffer.from(
      JSON.stringify({
        v: 1,
        done: cp.done,
        completeThrough: cp.completeThrough.toString(),
        rows: cp.rows,
        bytes: cp.bytes,
        updatedAt: new Date().toISOString(),
      }),
    );
    if (this.existing.has(path)) {
      await this.coordinator.set(path, data);
      return;
    }
    const node = await this.coordinator.get(path);
    if (node) await this.coordinator.set(path, data);
    else await this.coordinator.create(path, data);
    this.existing.add(path);
  }

  /** Removes every checkpoint under the root (after the migration no longer needs them). */
  async clear(): Promise<void> {
    await removeTree(this.coordinator, this.root);
    this.existing.clear();
  }
}

async function removeTree(coordinator: Coordinator, path: string): Promise<void> {
  const kids = await coordinator.children(path);
  if (kids === undefined) return;
  for (const k of kids) await removeTree(coordinator, joinPath(path, k));
  await coordinator.remove(path).catch(async (err: unknown) => {
    if ((await coordinator.get(path)) !== undefined) throw err;
  });
}
