import { z } from 'zod';
import type { AppConfig } from '../config/config-schema.js';
import { GatewayError } from '../errors.js';
import { formatIssues } from '../../platform/config-file.js';
import { parseAppState, type AppState } from '../../protocol/app-state.js';

/** One app as a state is checked against: the state in force and the app's config. */
export interface AppInForce {
  readonly state: AppState;
  readonly config: AppConfig;
}

function sameState(a: AppState, b: AppState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Checks new states (app name to document) against what is in force, all or nothing: an unknown app
 * (NW_GW_STATE_UNKNOWN_APP), a document that is no state or a redirect without the app's
 * publicOrigin (NW_GW_STATE_INVALID), an older epoch, or the same epoch with another state
 * (NW_GW_STATE_STALE_EPOCH) refuses every one. The same rules for a gateway's state store and for
 * the primary of a multi-worker gateway, which checks a state before it hands it to its workers.
 */
export function validateStates(
  raw: Readonly<Record<string, unknown>>,
  inForce: (app: string) => AppInForce | undefined,
): Map<string, AppState> {
  const parsed = new Map<string, AppState>();
  for (const [app, doc] of Object.entries(raw)) {
    const current = inForce(app);
    if (!current) throw new GatewayError('NW_GW_STATE_UNKNOWN_APP', app);
    let state: AppState;
    try {
      state = parseAppState(doc);
    } catch (err) {
      if (err instanceof z.ZodError) throw new GatewayError('NW_GW_STATE_INVALID', `\n${formatIssues(`state of ${app}`, err.issues)}`);
      throw err;
    }
    if (state.mode === 'redirect' && !current.config.n2.publicOrigin) {
      throw new GatewayError('NW_GW_STATE_INVALID', `state of ${app}: redirect needs apps.${app}.n2.publicOrigin in the gateway config`);
    }
    const cur = current.state;
    if (state.epoch < cur.epoch || (state.epoch === cur.epoch && !sameState(state, cur) && cur.epoch !== 0)) {
      throw new GatewayError('NW_GW_STATE_STALE_EPOCH', `${app}: got epoch ${state.epoch}, applied ${cur.epoch}`);
    }
    parsed.set(app, state);
  }
  return parsed;
}
