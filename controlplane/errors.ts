/**
 * The control plane's error catalogue: coordinator, fleet, migrations, DNS,
 * CLI and admin API. Codes are stable; `exitCode` is what the CLI exits with.
 */

export interface ControlErrorSpec {
  readonly status: number;
  readonly message: string;
}

export const CONTROL_ERRORS = {
  NW_CP_CONFIG_INVALID: { status: 400, message: 'control-plane configuration is invalid' },
  NW_CP_COORDINATOR_UNAVAILABLE: { status: 503, message: 'coordinator is not reachable' },
  NW_CP_SESSION_EXPIRED: { status: 503, message: 'coordinator session expired' },
  NW_CP_NODE_EXISTS: { status: 409, message: 'coordinator node already exists' },
  NW_CP_NO_NODE: { status: 404, message: 'coordinator node does not exist' },
  NW_CP_BAD_VERSION: { status: 409, message: 'coordinator node changed concurrently' },
  NW_CP_NOT_EMPTY: { status: 409, message: 'coordinator node has children' },
  NW_CP_NO_AUTH: { status: 403, message: 'coordinator refused access (ACL)' },
  NW_CP_COORDINATOR_ERROR: { status: 500, message: 'coordinator operation failed' },
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
  // Admin API
  NW_CP_ADMIN_UNAUTHORIZED: { status: 401, message: 'admin token missing or wrong' },
  NW_CP_ADMIN_NOT_FOUND: { status: 404, message: 'no such admin endpoint' },
  NW_CP_ADMIN_BAD_REQUEST: { status: 400, message: 'malformed admin request' },
  NW_CP_ADMIN_METHOD: { status: 405, message: 'method not allowed on this admin endpoint' },
  NW_CP_ADMIN_UNREACHABLE: { status: 503, message: 'control-plane admin API is not reachable' },
  NW_CP_WAIT_TIMEOUT: { status: 504, message: 'migration did not finish before the wait timeout (it keeps running)' },
  NW_CP_INTERNAL: { status: 500, message: 'unexpected control-plane failure' },
  // DNS
  NW_CP_DNS_ZONE_NOT_FOUND: { status: 404, message: 'DNS hosted zone does not exist' },
  NW_CP_DNS_INVALID_CHANGE: { status: 400, message: 'DNS provider rejected the change batch' },
  NW_CP_DNS_THROTTLED: { status: 503, message: 'DNS provider throttled the request' },
  NW_CP_DNS_TIMEOUT: { status: 504, message: 'DNS change not INSYNC before the deadline' },
  NW_CP_DNS_ERROR: { status: 502, message: 'DNS provider request failed' },
} as const satisfies Record<string, ControlErrorSpec>;

export type ControlErrorCode = keyof typeof CONTROL_ERRORS;

/** An error with a stable code, the HTTP status the admin API answers with, and optional details. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  readonly code: ControlErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ControlErrorCode, detail?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    const spec = CONTROL_ERRORS[code];
    super(detail ? `${spec.message}: ${detail}` : spec.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = spec.status;
    this.details = options?.details;
  }
}

export function isControlError(err: unknown, code?: ControlErrorCode): err is ControlError {
  return err instanceof ControlError && (code === undefined || err.code === code);
}
