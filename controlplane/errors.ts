/**
 * The control plane's error catalogue: coordinator, fleet, migrations, DNS,
 * CLI and admin API. Codes are stable; `exitCode` is what the CLI exits with.
 */

import { CodedError, isCodedError, type CodedErrorOptions, type ErrorSpec } from '../platform/coded-error.js';
import { COORDINATOR_ERRORS } from '../platform/coordinator/coordinator-errors.js';

export const CONTROL_ERRORS = {
  // The coordinator's codes (platform/coordinator/coordinator-errors.ts)
  ...COORDINATOR_ERRORS,
  // Migrations
  NW_CP_PLAN_INVALID: { status: 400, message: 'migration plan is invalid' },
  NW_CP_UNKNOWN_APP: { status: 404, message: 'no live gateway serves this app' },
  NW_CP_APP_BUSY: { status: 409, message: 'app is already part of a migration in progress' },
  NW_CP_MIGRATION_NOT_FOUND: { status: 404, message: 'no such migration' },
  NW_CP_MIGRATION_FINISHED: { status: 409, message: 'migration has already finished' },
  NW_CP_MIGRATION_LOG_CORRUPT: { status: 500, message: 'migration log in the coordinator is unreadable' },
  NW_CP_NOT_LEADER: { status: 409, message: 'this control plane lost leadership' },
  NW_CP_BARRIER_TIMEOUT: { status: 504, message: 'not every live member acked the new state in time' },
  NW_CP_N2_UNHEALTHY: { status: 503, message: 'N2 failed its health checks' },
  NW_CP_SYNC_FAILED: { status: 500, message: 'a sync hook failed' },
  NW_CP_UNKNOWN_SYNC_HOOK: { status: 400, message: 'plan names a sync hook that is not registered' },
  NW_CP_FINALIZE_REFUSED: { status: 409, message: 'only a done migration whose sync hooks have a finalize step can be finalized' },
  NW_CP_FINALIZE_FAILED: { status: 500, message: "a sync hook's finalize step failed" },
  NW_CP_ANALYSIS_FAILED: { status: 503, message: "N2 went over a limit of the plan's analysis gates" },
  NW_CP_ANALYSIS_UNREADABLE: { status: 503, message: "no gateway's metrics could be read for the plan's analysis gates" },
  // Admin API
  NW_CP_ADMIN_UNAUTHORIZED: { status: 401, message: 'admin token missing or wrong' },
  NW_CP_ADMIN_NOT_FOUND: { status: 404, message: 'no such admin endpoint' },
  NW_CP_ADMIN_BAD_REQUEST: { status: 400, message: 'malformed admin request' },
  NW_CP_ADMIN_METHOD: { status: 405, message: 'method not allowed on this admin endpoint' },
  NW_CP_ADMIN_UNREACHABLE: { status: 503, message: 'control-plane admin API is not reachable' },
  NW_CP_DASHBOARD_SESSION: { status: 401, message: 'no dashboard session: sign in at /dashboard with the admin token' },
  NW_CP_DASHBOARD_CSRF: { status: 403, message: "dashboard request without its session's CSRF token" },
  NW_CP_WAIT_TIMEOUT: { status: 504, message: 'migration did not finish before the wait timeout (it keeps running)' },
  NW_CP_INTERNAL: { status: 500, message: 'unexpected control-plane failure' },
  NW_CP_UNHANDLED_REJECTION: { status: 500, message: 'a promise rejection nobody handled (logged; the control plane keeps running)' },
  NW_CP_UNCAUGHT_EXCEPTION: { status: 500, message: 'an exception nobody caught (logged; the control-plane process exits)' },
  // DNS
  NW_CP_DNS_ZONE_NOT_FOUND: { status: 404, message: 'DNS hosted zone does not exist' },
  NW_CP_DNS_INVALID_CHANGE: { status: 400, message: 'DNS provider rejected the change batch' },
  NW_CP_DNS_THROTTLED: { status: 503, message: 'DNS provider throttled the request' },
  NW_CP_DNS_TIMEOUT: { status: 504, message: 'DNS change not INSYNC before the deadline' },
  NW_CP_DNS_ERROR: { status: 502, message: 'DNS provider request failed' },
} as const satisfies Record<string, ErrorSpec>;

export type ControlErrorCode = keyof typeof CONTROL_ERRORS;

/** An error with a stable code, the HTTP status the admin API answers with, and optional details. */
export class ControlError extends CodedError<ControlErrorCode> {
  override readonly name: string = 'ControlError';

  constructor(code: ControlErrorCode, detail?: string, options?: CodedErrorOptions) {
    super(CONTROL_ERRORS, code, detail, options);
  }
}

/** True for a control-plane error, the coordinator's included, optionally with one code. */
export function isControlError(err: unknown, code?: ControlErrorCode): err is CodedError<ControlErrorCode> {
  return isCodedError(err) && (code === undefined ? Object.hasOwn(CONTROL_ERRORS, err.code) : err.code === code);
}
