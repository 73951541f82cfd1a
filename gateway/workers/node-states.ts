import type { GatewayConfig } from '../config/config-schema.js';
import { validateStates } from '../state/validate-states.js';
import type { AppState } from '../../protocol/app-state.js';

const DEFAULT_STATE: AppState = { mode: 'serve', epoch: 0 };

/**
 * The states a multi-worker gateway's primary has handed to its workers, by app, and the apps that
 * take traffic. A state is checked here (validateStates, the rules of a gateway's own state store)
 * before it goes to any worker, so the workers never disagree on whether it is valid, and it is
 * recorded before it is sent: a worker that starts meanwhile gets it at init, one already running
 * gets it in the apply that follows. Either way no worker serves a connection under an older state
 * than the ones the node has handed out.
 */
export class NodeStates {
  private readonly states = new Map<string, AppState>();
  private readonly readyApps = new Set<string>();

  constructor(private readonly config: () => GatewayConfig) {}

  /** Checks new states against the ones in force; throws (as a gateway's apply does) without recording anything. */
  validate(raw: Readonly<Record<string, unknown>>): Map<string, AppState> {
    return validateStates(raw, (app) => {
      const spec = this.config().apps[app];
      return spec && { state: this.states.get(app) ?? DEFAULT_STATE, config: spec };
    });
  }

  record(states: ReadonlyMap<string, AppState>): void {
    for (const [app, state] of states) this.states.set(app, state);
  }

  /** The app takes traffic: its state was applied by every worker, or it has none (the built-in default). */
  markReady(app: string): void {
    this.readyApps.add(app);
  }

  isReady(app: string): boolean {
    return this.readyApps.has(app);
  }

  /** A reload removed these apps: their states go (an app added again later starts anew, as in a gateway). */
  removed(apps: readonly string[]): void {
    for (const app of apps) {
      this.states.delete(app);
      this.readyApps.delete(app);
    }
  }

  /** What a starting worker gets: every state handed out, and the apps ready without one. */
  snapshot(): { states: Record<string, AppState>; ready: string[] } {
    return { states: Object.fromEntries(this.states), ready: [...this.readyApps].filter((a) => !this.states.has(a)) };
  }

  /** Every configured app's state in force (the built-in default where none was handed out), as GET /state shows it. */
  inForce(): Record<string, AppState> {
    return Object.fromEntries(Object.keys(this.config().apps).map((app) => [app, this.states.get(app) ?? DEFAULT_STATE]));
  }
}
