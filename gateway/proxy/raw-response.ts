import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayError } from '../errors.js';
import { RESPONSE_HEADERS } from '../../protocol/response-headers.js';
import type { HeaderMap } from './forward-headers.js';

/**
 * Writes a whole HTTP/1.1 response on a socket node's HTTP server has handed
 * over (an upgrade request has no ServerResponse), then closes the socket.
 */
export function endWithResponse(socket: Duplex, status: number, headers: HeaderMap, body: string | Buffer = ''): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  const all: HeaderMap = { ...headers, 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
  for (const [name, value] of Object.entries(all)) for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), typeof body === 'string' ? Buffer.from(body) : body]));
  (socket as Duplex & { destroySoon?: () => void }).destroySoon?.();
}

/** The gateway's JSON error reply (as RequestHandler sends it), with Retry-After when the error carries one. */
export function endWithError(socket: Duplex, err: GatewayError, requestId: string): void {
  const body = JSON.stringify({ error: { code: err.code, message: err.message, requestId } });
  const headers: HeaderMap = {
    'content-type': 'application/json',
    'x-request-id': requestId,
    [RESPONSE_HEADERS.deployment]: 'none',
    [RESPONSE_HEADERS.error]: err.code,
  };
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  endWithResponse(socket, err.status, headers, body);
}
