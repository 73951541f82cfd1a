/**
 * The coordinator's error catalogue (ZooKeeper or embedded). The codes keep
 * their NW_CP_ prefix: the control plane's catalogue includes them, and
 * operators have alerted on them since before the coordinator was shared.
 */
import { CodedError, isCodedError, type CodedErrorOptions, type ErrorSpec } from '../coded-error.js';

export const COORDINATOR_ERRORS = {
  NW_CP_CONFIG_INVALID: { status: 400, message: 'control-plane configuration is invalid' },
  NW_CP_COORDINATOR_UNAVAILABLE: { status: 503, message: 'coordinator is not reachable' },
  NW_CP_SESSION_EXPIRED: { status: 503, message: 'coordinator session expired' },
  NW_CP_NODE_EXISTS: { status: 409, message: 'coordinator node already exists' },
  NW_CP_NO_NODE: { status: 404, message: 'coordinator node does not exist' },
  NW_CP_BAD_VERSION: { status: 409, message: 'coordinator node changed concurrently' },
  NW_CP_NOT_EMPTY: { status: 409, message: 'coordinator node has children' },
  NW_CP_NO_AUTH: { status: 403, message: 'coordinator refused access (ACL)' },
  NW_CP_COORDINATOR_ERROR: { status: 500, message: 'coordinator operation failed' },
  NW_CP_MEMBER_ID_IN_USE: { status: 409, message: 'another live coordinator session holds this fleet member id' },
  NW_CP_SESSION_TIMEOUT_TOO_SHORT: { status: 400, message: 'the negotiated coordinator session timeout leaves no margin above the lease' },
  NW_CP_DOCUMENT_INVALID: { status: 502, message: 'a coordinator document does not match the protocol schema' },
  // Thrown by the fleet barrier (fleet/ can use this catalogue only; the control plane's includes it).
  NW_CP_BARRIER_REFUSED: { status: 409, message: 'a live member refused the state the barrier waits for' },
} as const satisfies Record<string, ErrorSpec>;

export type CoordinatorErrorCode = keyof typeof COORDINATOR_ERRORS;

export class CoordinatorError extends CodedError<CoordinatorErrorCode> {
  override readonly name: string = 'CoordinatorError';

  constructor(code: CoordinatorErrorCode, detail?: string, options?: CodedErrorOptions) {
    super(COORDINATOR_ERRORS, code, detail, options);
  }
}

/** True for a coordinator error (from either implementation), optionally with one code. */
export function isCoordinatorError(err: unknown, code?: CoordinatorErrorCode): err is CodedError<CoordinatorErrorCode> {
  return isCodedError(err) && (code === undefined ? Object.hasOwn(COORDINATOR_ERRORS, err.code) : err.code === code);
}
