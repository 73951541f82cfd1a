import type { Duplex } from 'node:stream';
import type { GatewayErrorCode } from './errors.js';
import { GATEWAY_ERRORS } from './errors.js';
import type { Logger } from '../platform/logger.js';
import type { GatewayMetrics } from './observability/metrics.js';
import { RESPONSE_HEADERS } from '../protocol/response-headers.js';

/** Maps a parser / socket error code from node's HTTP server to our error code. */
export function clientErrorCode(nodeCode: string | undefined): GatewayErrorCode {
  switch (nodeCode) {
    case 'HPE_HEADER_OVERFLOW':
      return 'NW_GW_HEADERS_TOO_LARGE';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return 'NW_GW_CLIENT_TIMEOUT';
    default:
      return 'NW_GW_BAD_REQUEST';
  }
}

/**
 * A request the parser refused (smuggling attempts with both Content-Length
 * and Transfer-Encoding, bad framing, oversized headers, too slow): answer
 * with a 4xx if the socket still takes bytes, then close it. Nothing reaches
 * an upstream, so no upstream connection is poisoned.
 */
export function handleClientError(err: Error & { code?: string }, socket: Duplex, logger: Logger, metrics: GatewayMetrics): void {
  const code = clientErrorCode(err.code);
  metrics.errors.inc(['-', code]);
  logger.debug('gateway.client.error', { code, nodeCode: err.code, message: err.message });
  // A response already on its way for this request (a redirect sent before the body was read, its
  // malformed chunk found after) gets no second one behind it: node's own default handler keeps
  // the same rule. `_httpMessage` is the response node is writing on this socket.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const status = GATEWAY_ERRORS[code].status;
  const body = JSON.stringify({ error: { code, message: GATEWAY_ERRORS[code].message } });
  socket.end(
    `HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${RESPONSE_HEADERS.error}: ${code}\r\n\r\n${body}`,
  );
  (socket as Duplex & { destroySoon?: () => void }).destroySoon?.();
}
