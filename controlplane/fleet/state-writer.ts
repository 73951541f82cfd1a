import { appModeSchema, dataModeSchema, migrationTagSchema, type AppMode, type DataMode, type MigrationTag } from '../../gateway/state/app-state.js';
import type { Coordinator, TransactionOp } from '../coordinator/coordinator.js';
import { ControlError } from '../errors.js';
import { encodeJson, layout } from '../layout.js';
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
 * (a fencing check on the migration log) go into the same transaction.
 */
export async function writeAppStates(c: Coordinator, states: Readonly<Record<string, DesiredAppState>>, guard: readonly TransactionOp[] = []): Promise<BarrierTarget[]> {
  const ops: TransactionOp[] = [...guard];
  const targets: BarrierTarget[] = [];
  for (const [app, state] of Object.entries(states)) {
    const { migration, data, ...mode } = state;
    const parsed = appModeSchema.safeParse(mode);
    if (!parsed.success) throw new ControlError('NW_CP_COORDINATOR_ERROR', `refusing to write an invalid state for ${app}: ${parsed.error.message}`);
    if (migration !== undefined) migrationTagSchema.parse(migration);
    const doc = encodeJson({ ...parsed.data, ...(migration ? { migration } : {}), ...(data ? { data: dataModeSchema.parse(data) } : {}) });
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
