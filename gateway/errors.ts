/**
 * The gateway's error catalogue. Every failure path in the data plane and the
 * admin API maps to exactly one code here; the code is stable (operators grep
 * logs and alert on it) and the HTTP status is what a client sees.
 */

import { CodedError, type CodedErrorOptions, type ErrorSpec } from '../platform/coded-error.js';

export const GATEWAY_ERRORS = {
  NW_GW_CONFIG_INVALID: { status: 500, message: 'configuration is invalid' },
  NW_GW_RELOAD_INVALID: { status: 422, message: 'the config file is invalid; the reload changed nothing' },
  NW_GW_RELOAD_REFUSED: { status: 409, message: 'the new config changes what a reload cannot change; the reload changed nothing' },
  NW_GW_RELOAD_UNAVAILABLE: { status: 409, message: 'this gateway was not started from a config file; there is nothing to reload' },
  NW_GW_APP_REMOVED: {
    status: 421,
    message: 'a reload removed this app (or gave its host to another) while the write was held; not forwarded',
  },
  NW_GW_TLS_CONFIG_INVALID: { status: 500, message: 'a certificate, key or CA file named in the config cannot be read or used' },
  NW_GW_TLS_HANDSHAKE_FAILED: { status: 400, message: 'a client connection failed its TLS handshake' },
  NW_GW_BAD_REQUEST: { status: 400, message: 'malformed request' },
  NW_GW_MISSING_HOST: { status: 400, message: 'request has no Host header' },
  NW_GW_INVALID_HOST: { status: 400, message: 'Host (or the request target authority) is not a valid host[:port]' },
  NW_GW_UNKNOWN_HOST: { status: 421, message: 'no application is configured for this Host' },
  NW_GW_HEADERS_TOO_LARGE: { status: 431, message: 'request headers too large' },
  NW_GW_BODY_TOO_LARGE: { status: 413, message: 'request body too large' },
  NW_GW_CLIENT_TIMEOUT: { status: 408, message: 'client sent the request too slowly' },
  NW_GW_CLIENT_ABORTED: { status: 499, message: 'client closed the connection before the response was complete' },
  NW_GW_CLIENT_SEND_TIMEOUT: { status: 408, message: 'client stopped reading its response; connection closed' },
  NW_GW_NO_HEALTHY_UPSTREAM: { status: 503, message: 'no healthy upstream server' },
  NW_GW_UPSTREAM_QUEUE_FULL: { status: 503, message: 'too many requests waiting for an upstream connection; retry' },
  NW_GW_BUFFER_BUDGET_SPENT: { status: 503, message: 'gateway buffer budget for request bodies is spent; retry' },
  NW_GW_UPSTREAM_CONNECT_FAILED: { status: 502, message: 'could not connect to upstream' },
  NW_GW_UPSTREAM_CONNECT_TIMEOUT: { status: 504, message: 'timed out connecting to upstream' },
  NW_GW_UPSTREAM_HEADERS_TIMEOUT: { status: 504, message: 'upstream did not send response headers in time' },
  NW_GW_UPSTREAM_IDLE_TIMEOUT: { status: 504, message: 'upstream response body stalled' },
  NW_GW_UPSTREAM_RESET: { status: 502, message: 'upstream closed the connection' },
  NW_GW_UPSTREAM_PROTOCOL: { status: 502, message: 'upstream sent an invalid response' },
  NW_GW_MIRROR_DIVERGED: {
    status: 502,
    message: 'a mirrored write had outcomes of different classes on N1 and N2 (logged; the client got the primary outcome)',
  },
  NW_GW_WRITE_HOLD_TIMEOUT: { status: 503, message: 'write held during handover fence timed out; retry' },
  NW_GW_WRITE_HOLD_FULL: { status: 503, message: 'too many writes held during handover fence; retry' },
  NW_GW_LEASE_EXPIRED: { status: 503, message: 'gateway lost contact with the coordinator; write refused; retry' },
  NW_GW_NOT_READY: { status: 503, message: "gateway has not loaded this app's state yet; retry" },
  NW_GW_SHUTTING_DOWN: { status: 503, message: 'gateway is shutting down' },
  NW_GW_STATE_INVALID: { status: 400, message: 'state document is invalid' },
  NW_GW_STATE_STALE_EPOCH: { status: 409, message: 'state epoch is older than the applied one' },
  NW_GW_STATE_UNKNOWN_APP: { status: 404, message: 'no such application' },
  NW_GW_DRAIN_TIMEOUT: { status: 504, message: 'in-flight requests did not drain before the deadline' },
  NW_GW_ADMIN_UNAUTHORIZED: { status: 401, message: 'admin token missing or wrong' },
  NW_GW_ADMIN_NOT_FOUND: { status: 404, message: 'no such admin endpoint' },
  NW_GW_ADMIN_METHOD: { status: 405, message: 'method not allowed on this admin endpoint' },
  NW_GW_ADMIN_FLEET_MEMBER: { status: 409, message: 'this gateway is a fleet member: its state is set through the coordinator only' },
  NW_GW_WEBSOCKET_FAILED: { status: 502, message: 'websocket upgrade to upstream failed' },
  NW_GW_WEBSOCKET_FENCED: { status: 503, message: 'websocket upgrade refused while the app is fenced; retry' },
  NW_GW_WEBSOCKET_ROUTE_CHANGED: { status: 503, message: 'the app moved while the websocket was being opened; retry' },
  NW_GW_ENGINE_FALLBACK: {
    status: 500,
    message: 'the raw engine is unavailable (the llhttp binding is missing or failed its self-test); the node engine serves',
  },
  NW_GW_WORKER_EXITED: {
    status: 500,
    message: 'a worker process of a multi-worker gateway exited unexpectedly (logged; it is restarted)',
  },
  NW_GW_WORKER_UNRESPONSIVE: {
    status: 500,
    message: 'a worker process did not answer its primary in time (logged; it is killed and restarted)',
  },
  NW_GW_NO_WORKER: { status: 503, message: 'no worker process took the connection in time; it was closed unanswered' },
  NW_GW_INTERNAL: { status: 500, message: 'internal gateway error' },
  NW_GW_UNHANDLED_REJECTION: { status: 500, message: 'a promise rejection nobody handled (logged; the gateway keeps serving)' },
  NW_GW_UNCAUGHT_EXCEPTION: { status: 500, message: 'an exception nobody caught (logged; the gateway process exits)' },
} as const satisfies Record<string, ErrorSpec>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/** An error with a stable code and the HTTP status a client sees for it. */
export class GatewayError extends CodedError<GatewayErrorCode> {
  override readonly name: string = 'GatewayError';

  constructor(code: GatewayErrorCode, detail?: string, options?: CodedErrorOptions) {
    super(GATEWAY_ERRORS, code, detail, options);
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
