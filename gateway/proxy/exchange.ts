import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config/config-schema.js';
import type { Logger } from '../../platform/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { AppRoute, RuntimeBinding } from '../state/routing-table.js';
import type { AppState, Deployment } from '../../protocol/app-state.js';
import type { GatewayError } from '../errors.js';
import type { InFlightWrites } from '../state/in-flight-writes.js';
import type { MirrorDivergences } from '../state/mirror-divergences.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { HeaderMap } from './forward-headers.js';
import type { ResponseMeter, UpstreamRequest } from './undici-forwarder.js';
import type { BufferBudget } from './buffer-budget.js';
import { checkDeclaredLength } from './request-body.js';
import type { AccessLog } from '../observability/access-log.js';
import { RESPONSE_HEADERS } from '../../protocol/response-headers.js';

/** Everything one request's handling needs, resolved once at the edge. */
export interface Exchange extends ResponseMeter, RuntimeBinding {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly startedAt: number;
  readonly path: string;
  /** The client's address, read as the request starts (node:http may have detached the socket by the time it ends). */
  readonly peer: string;
  readonly upstreamHeaders: HeaderMap;
  /** Set once a route is chosen; used for metrics and error headers. */
  route: AppRoute | undefined;
  /** Deployment whose reply the client gets ('none' for gateway-made replies). */
  servedBy: Deployment | 'none';
  /** The client sent `Expect: 100-continue` and has not been told to go on yet (see continueBody). */
  expectContinue: boolean;
  /** Bytes this request holds of the gateway's BufferBudget; given back when it ends. */
  bufferedBytes: number;
}

/** Called before a write is sent upstream; returning an error refuses it (lease fencing hooks in here). */
export type WriteGuard = (app: string, state: AppState) => GatewayError | undefined;

/** Shared services the mode handlers use. */
export interface ExchangeServices {
  readonly config: GatewayConfig;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly inFlightWrites: InFlightWrites;
  readonly mirrorDivergences: MirrorDivergences;
  readonly writeGuard: WriteGuard;
  readonly bufferBudget: BufferBudget;
  readonly accessLog: AccessLog;
}

/**
 * Sends the 100 Continue that a client with `Expect: 100-continue` waits for before its body,
 * once the gateway is going to read that body: a request refused before (unknown host, fence
 * hold full, lease, body too large, budget) gets its final status without the body being sent.
 */
export function continueBody(ex: Exchange): void {
  if (!ex.expectContinue) return;
  ex.expectContinue = false;
  ex.res.writeContinue();
}

/** Accepts the request's body for reading: 413 when its declared length is over `limit`, else continueBody. */
export function acceptBody(ex: Exchange, limit: number): void {
  checkDeclaredLength(ex.req, limit);
  continueBody(ex);
}

export function poolOf(route: AppRoute, d: Deployment): UpstreamPool {
  return d === 'n1' ? route.runtime.n1 : route.runtime.n2;
}

export function otherSide(d: Deployment): Deployment {
  return d === 'n1' ? 'n2' : 'n1';
}

/** The headers that tell a client (and our experiments) who served it and at which epoch. */
export function servedByHeaders(
  ex: Pick<Exchange, 'requestId' | 'route'>,
  deployment: Deployment | 'none',
  extra: HeaderMap = {},
): HeaderMap {
  const h: HeaderMap = { 'x-request-id': ex.requestId, [RESPONSE_HEADERS.deployment]: deployment, ...extra };
  if (ex.route) {
    h[RESPONSE_HEADERS.epoch] = String(ex.route.state.epoch);
    h[RESPONSE_HEADERS.mode] = ex.route.state.mode;
  }
  return h;
}

export function upstreamRequest(ex: Exchange, body: UpstreamRequest['body']): UpstreamRequest {
  return { method: ex.req.method ?? 'GET', path: ex.path, headers: ex.upstreamHeaders, body, meter: ex };
}
