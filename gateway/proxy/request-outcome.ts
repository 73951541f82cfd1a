import type { Logger } from '../../platform/logger.js';
import { RESPONSE_HEADERS } from '../../protocol/response-headers.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { AccessEntry, AccessLog } from '../observability/access-log.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { HeaderMap } from './forward-headers.js';

/** What both engines record a request's outcome with. */
export interface OutcomeServices {
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly accessLog: AccessLog;
}

/**
 * The catalogue error a request failed with: its own if it is one; a client that went away is not a
 * gateway fault, whatever its broken stream raised; anything else is an internal error.
 */
export function requestError(err: unknown, clientGone: boolean): GatewayError {
  if (isGatewayError(err)) return err;
  const message = (err as Error)?.message;
  return new GatewayError(clientGone ? 'NW_GW_CLIENT_ABORTED' : 'NW_GW_INTERNAL', message, { cause: err });
}

/** Counts the failure by app and code; an internal error is logged with its stack, the rest at debug. */
export function recordFailure(s: OutcomeServices, app: string, requestId: string, error: GatewayError): void {
  s.metrics.errors.inc([app, error.code]);
  if (error.code === 'NW_GW_INTERNAL') s.logger.error('gateway.request.internal_error', { app, requestId, err: error.cause ?? error });
  else s.logger.debug('gateway.request.error', { app, requestId, code: error.code, message: error.message });
}

/** The gateway's own reply to a failed request: a JSON body naming the code, with the served-by headers given. */
export function errorReply(error: GatewayError, requestId: string, servedBy: HeaderMap): { body: string; headers: HeaderMap } {
  const body = JSON.stringify({ error: { code: error.code, message: error.message, requestId } });
  const headers: HeaderMap = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...servedBy,
    [RESPONSE_HEADERS.error]: error.code,
  };
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  return { body, headers };
}

/** Status codes as label values: the same string every time (its hash kept), not a new one per request. */
const STATUS_LABELS: readonly string[] = Array.from({ length: 600 }, (_, i) => String(i));

function statusLabel(status: number): string {
  return STATUS_LABELS[status] ?? String(status);
}

/**
 * Counts a finished request (status 499: its client left first) and, when the access log is on,
 * writes its line: `entry` is called only then, so the per-request path builds no record for a log
 * that is off.
 */
export function recordFinished(
  s: OutcomeServices,
  app: string,
  mode: string,
  deployment: string,
  status: number,
  totalMs: number,
  entry: () => AccessEntry,
): void {
  s.metrics.requests.inc([app, mode, deployment, statusLabel(status)]);
  s.metrics.latency.observe([app, deployment], totalMs / 1000);
  if (s.accessLog.enabled) s.accessLog.record(entry());
}
