import { GatewayError } from '../errors.js';
import { allowedWriteTargets, type AppState, type Deployment } from '../../protocol/app-state.js';
import type { InFlightWrites } from './in-flight-writes.js';
import { RoutingTable, type AppRoute, type AppRuntime } from './routing-table.js';
import { validateStates } from './validate-states.js';

/** What applying a state did, per app. */
export interface AppApplyResult {
  readonly app: string;
  readonly epoch: number;
  readonly mode: AppState['mode'];
  readonly previousMode: AppState['mode'];
  /** Writes that had been held by a fence and were let go by this state. */
  readonly releasedWrites: number;
  /** Deployments whose in-flight writes had to finish before this apply returned. */
  readonly drained: readonly Deployment[];
  readonly drainMs: number;
}

export interface ApplyResult {
  readonly apps: readonly AppApplyResult[];
}

/**
 * Holds the routing table and applies new app states as whole-table swaps.
 * Applies are serialised; each returns only after writes that the new state
 * forbids have drained (what a fleet member acks on).
 */
export class StateStore {
  private current: RoutingTable;
  private queue: Promise<unknown> = Promise.resolve();
  onApplied: (result: AppApplyResult) => void = () => undefined;

  constructor(
    runtimes: readonly AppRuntime[],
    initial: ReadonlyMap<string, AppState>,
    private readonly inFlight: InFlightWrites,
    private readonly drainMs: number,
  ) {
    this.current = new RoutingTable(
      runtimes.map((runtime): AppRoute => ({ runtime, state: initial.get(runtime.name) ?? { mode: 'serve', epoch: 0 } })),
    );
  }

  readonly table = (): RoutingTable => this.current;

  /**
   * A reload: the apps and their runtimes change in one swap. Every app that stays keeps the state
   * in force (a fenced app stays fenced); a new one starts at serve, epoch 0, like at start. An
   * apply still draining is not disturbed: it already swapped its own table, this one carries its state.
   */
  replaceRuntimes(runtimes: readonly AppRuntime[]): void {
    const before = this.current;
    this.current = new RoutingTable(
      runtimes.map((runtime): AppRoute => ({ runtime, state: before.byApp.get(runtime.name)?.state ?? { mode: 'serve', epoch: 0 } })),
    );
  }

  snapshot(): Record<string, AppState> {
    const out: Record<string, AppState> = {};
    for (const [name, r] of this.current.byApp) out[name] = r.state;
    return out;
  }

  /** Applies several apps' states in one swap (a composite service flips as one). */
  apply(raw: Readonly<Record<string, unknown>>): Promise<ApplyResult> {
    const run = this.queue.then(() => this.applyNow(raw));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(raw: Readonly<Record<string, unknown>>): Promise<ApplyResult> {
    // Every state is checked first: nothing is applied unless all are valid.
    const next = validateStates(raw, (app) => {
      const route = this.current.byApp.get(app);
      return route && { state: route.state, config: route.runtime.config };
    });
    const before = this.current;
    let table = before;
    for (const [app, state] of next) table = table.withState(app, state);
    this.current = table;

    const waits = [...next].map(async ([app, state]): Promise<AppApplyResult> => {
      const prev = before.byApp.get(app)!;
      const released = state.mode === 'fence' ? 0 : prev.runtime.hold.release();
      const allowed = allowedWriteTargets(state);
      const forbidden = (['n1', 'n2'] as const).filter((d) => !allowed.has(d));
      const t0 = performance.now();
      const ok = await this.inFlight.waitForDrain(app, new Set(forbidden), this.drainMs);
      const drainMs = performance.now() - t0;
      if (!ok) {
        throw new GatewayError('NW_GW_DRAIN_TIMEOUT', `${app}: writes to ${forbidden.join(',')} still in flight after ${this.drainMs} ms`);
      }
      const result: AppApplyResult = {
        app,
        epoch: state.epoch,
        mode: state.mode,
        previousMode: prev.state.mode,
        releasedWrites: released,
        drained: forbidden,
        drainMs,
      };
      this.onApplied(result);
      return result;
    });
    return { apps: await Promise.all(waits) };
  }
}
