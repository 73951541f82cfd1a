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
