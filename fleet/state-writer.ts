import {
  appModeSchema,
  dataModeSchema,
  migrationTagSchema,
  type AppMode,
  type DataMode,
  type MigrationTag,
} from '../protocol/app-state.js';
import type { Coordinator, TransactionOp } from '../platform/coordinator/coordinator.js';
import { CoordinatorError, isCoordinatorError } from '../platform/coordinator/coordinator-errors.js';
import { encodeJson, layout } from '../protocol/coordinator-paths.js';
import type { BarrierTarget } from './fleet-barrier.js';

/** A state as the control plane writes it: the mode document plus the migration tag. */
export type DesiredAppState = AppMode & { readonly migration?: MigrationTag; readonly data?: DataMode };

/** Current epoch (version) of an app's state node, or undefined if none was ever written. */
export async function currentEpoch(c: Coordinator, app: string): Promise<number | undefined> {
  return (await c.get(layout.state(app)))?.version;
}

/**
 * Writes several apps' desired states in one transaction (a composite service
 * flips as one: every state or none), each as a compare-and-set against the
 * version read just before, so two writers can never interleave. Returns the
 * epoch each app's state now has — what the barrier waits for. `guard` ops
 * (a fencing check on the migration log) go into the same transaction. With
 * `known` epochs (what this writer wrote last) the compare-and-set goes out
 * without a read first; if any moved, it falls back to reading them.
 */
export async function writeAppStates(
  c: Coordinator,
  states: Readonly<Record<string, DesiredAppState>>,
  guard: readonly TransactionOp[] = [],
  /** Epochs this writer last wrote (from an earlier call): the set is sent at once, without reading first. */
  known?: ReadonlyMap<string, number>,
): Promise<BarrierTarget[]> {
  const docs = Object.entries(states).map(([app, state]) => [app, stateDocument(app, state)] as const);
  if (known && docs.every(([app]) => known.has(app))) {
    const ops: TransactionOp[] = [
      ...guard,
      ...docs.map(([app, data]) => ({ op: 'set' as const, path: layout.state(app), data, version: known.get(app)! })),
    ];
    try {
      await c.transaction(ops);
      return docs.map(([app]) => ({ app, epoch: known.get(app)! + 1 }));
    } catch (err) {
      // Someone else wrote a state since (or the guard moved): read and try once the long way.
      if (!isCoordinatorError(err, 'NW_CP_BAD_VERSION') && !isCoordinatorError(err, 'NW_CP_NO_NODE')) throw err;
    }
  }
  const ops: TransactionOp[] = [...guard];
  const targets: BarrierTarget[] = [];
  for (const [app, doc] of docs) {
    await c.mkdirp(layout.acks(app));
    const node = await c.get(layout.state(app));
    if (node) {
      ops.push({ op: 'set', path: layout.state(app), data: doc, version: node.version });
      targets.push({ app, epoch: node.version + 1 });
    } else {
      ops.push({ op: 'create', path: layout.state(app), data: doc });
      targets.push({ app, epoch: 0 });
    }
  }
  await c.transaction(ops);
  return targets;
}

/** The state node's document; refuses an invalid state. */
function stateDocument(app: string, state: DesiredAppState): Buffer {
  const { migration, data, ...mode } = state;
  const parsed = appModeSchema.safeParse(mode);
  if (!parsed.success)
    throw new CoordinatorError('NW_CP_COORDINATOR_ERROR', `refusing to write an invalid state for ${app}: ${parsed.error.message}`);
  if (migration !== undefined) migrationTagSchema.parse(migration);
  return encodeJson({ ...parsed.data, ...(migration ? { migration } : {}), ...(data ? { data: dataModeSchema.parse(data) } : {}) });
}
